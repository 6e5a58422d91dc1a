// The lock that makes one server of a fault-tolerance group (--ft_group) the active one, on the
// store the group shares: for a FILE store an fcntl write lock on <dir>/.rootdir.lck (the file
// the reference locks; the kernel releases it when the holder dies, even by kill -9), for an SQL
// store the StoreLock row (the reference's: the owner's id and a tick it advances while it
// lives, sql_lock.cc). Standbys try it without blocking until it is theirs; the store is opened
// only then.
#pragma once

#include <memory>
#include <string>

#include "streaming/store/store.h"

namespace gannet::streaming::store {

class ExclusiveLock {
 public:
  virtual ~ExclusiveLock() = default;
  // True when this process holds the lock (from now until it is destroyed); false when another
  // server does. `peer_silent`: no heartbeat of an active server was seen for the missed
  // interval; an SQL lock whose tick also stopped moving is taken over only then.
  virtual Result<bool> TryLock(bool peer_silent) = 0;
  // The id the lock is held under, for an SQL store's fencing (SqlStoreOptions::fence_owner);
  // empty for a FILE lock.
  virtual std::string OwnerId() const { return {}; }
};

// The lock for options.type: FILE or SQL; MEMORY (nothing is shared) is refused.
Result<std::unique_ptr<ExclusiveLock>> CreateExclusiveLock(const StoreOptions& options);

}  // namespace gannet::streaming::store
