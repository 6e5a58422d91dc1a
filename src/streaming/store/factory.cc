// Store construction by type (see factory.h).
#include "streaming/store/factory.h"

#include "streaming/store/file_store.h"
#include "streaming/store/memory_store.h"

namespace gannet::streaming::store {

Result<std::unique_ptr<Store>> CreateStore(const StoreOptions& options) {
  if (options.type == "MEMORY") return MemoryStore::Create(options.limits);
  if (options.type == "FILE") return CreateFileStore(options);
  if (options.type == "SQL") {
    return Status(Code::kNotSupported, "the SQL store is not supported yet by gannet-streaming");
  }
  return Status(Code::kInvalid, "unsupported store type: " + options.type);
}

}  // namespace gannet::streaming::store
