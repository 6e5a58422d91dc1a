// Store construction by type (see factory.h).
#include "streaming/store/factory.h"

#include "streaming/store/file_store.h"
#include "streaming/store/memory_store.h"
#include "streaming/store/sql_store.h"

namespace gannet::streaming::store {

Result<std::unique_ptr<Store>> CreateStore(const StoreOptions& options) {
  if (options.type == "MEMORY") return MemoryStore::Create(options.limits);
  if (options.type == "FILE") return CreateFileStore(options);
  if (options.type == "SQL") return SqlStore::Create(options);
  return Status(Code::kInvalid, "unsupported store type: " + options.type);
}

}  // namespace gannet::streaming::store
