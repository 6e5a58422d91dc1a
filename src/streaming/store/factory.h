// Store construction by type: `-st MEMORY` (the default) or `-st FILE` (and SQL later).
//
// The FILE store plugs in by providing streaming/store/file_store.h with
//   Result<std::unique_ptr<Store>> CreateFileStore(const StoreOptions& options);
// (in namespace gannet::streaming::store) and its sources under src/streaming/store/: the
// factory picks it up when that header exists. Until then `-st FILE` is a clear error. Every
// store runs the conformance suite of tests/streaming/store_conformance.h.
#pragma once

#include <memory>

#include "streaming/store/store.h"

namespace gannet::streaming::store {

// The store for options.type ("MEMORY", "FILE", "SQL"; already upper case), with
// options.limits validated. Errors: "unsupported store type: X", "the FILE store is not
// built yet", the limits' validation texts, the store's own.
Result<std::unique_ptr<Store>> CreateStore(const StoreOptions& options);

// True when this build has a FILE store.
bool FileStoreAvailable();

}  // namespace gannet::streaming::store
