// Store construction by type (see factory.h).
#include "streaming/store/factory.h"

#include "streaming/store/memory_store.h"

#if __has_include("streaming/store/file_store.h")
#include "streaming/store/file_store.h"
#define GANNET_HAVE_FILE_STORE 1
#else
#define GANNET_HAVE_FILE_STORE 0
#endif

namespace gannet::streaming::store {

bool FileStoreAvailable() { return GANNET_HAVE_FILE_STORE != 0; }

Result<std::unique_ptr<Store>> CreateStore(const StoreOptions& options) {
  if (options.type == "MEMORY") return MemoryStore::Create(options.limits);
  if (options.type == "FILE") {
#if GANNET_HAVE_FILE_STORE
    return CreateFileStore(options);
#else
    return Status(Code::kNotSupported,
                  "the FILE store is not built yet in this gannet-streaming (use -st MEMORY)");
#endif
  }
  if (options.type == "SQL") {
    return Status(Code::kNotSupported, "the SQL store is not supported yet by gannet-streaming");
  }
  return Status(Code::kInvalid, "unsupported store type: " + options.type);
}

}  // namespace gannet::streaming::store
