// Store construction by type: `-st MEMORY` (the default), `-st FILE` or `-st SQL`.
// Every store runs the conformance suite of tests/streaming/store_conformance.h.
#pragma once

#include <memory>

#include "streaming/store/store.h"

namespace gannet::streaming::store {

// The store for options.type ("MEMORY", "FILE", "SQL"; already upper case), with
// options.limits validated. Errors: "unsupported store type: X", the limits' validation
// texts, the store's own.
Result<std::unique_ptr<Store>> CreateStore(const StoreOptions& options);

}  // namespace gannet::streaming::store
