// SharedSnapshot<T>: a shared_ptr that one thread replaces (a reload) while others take copies
// of it (accepts, interest changes, monitoring). Not for the per-message path: each Load() takes
// a mutex.
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 implements it with a lock bit that
// ThreadSanitizer cannot see, so every store is reported as racing with every load; a plain
// mutex costs as little at these rates and keeps the TSan build meaningful.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace gannet {

template <typename T>
class SharedSnapshot {
 public:
  SharedSnapshot() = default;
  SharedSnapshot(const SharedSnapshot&) = delete;
  SharedSnapshot& operator=(const SharedSnapshot&) = delete;

  std::shared_ptr<T> Load() const {
    std::lock_guard lock(mu_);
    return ptr_;
  }
  void Store(std::shared_ptr<T> next) {
    std::shared_ptr<T> old;  // released outside the lock
    std::lock_guard lock(mu_);
    old = std::exchange(ptr_, std::move(next));
  }

 private:
  mutable std::mutex mu_;  // a leaf: nothing is taken under it
  std::shared_ptr<T> ptr_;
};

}  // namespace gannet
