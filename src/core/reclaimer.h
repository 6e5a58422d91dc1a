// Quiescent-state-based reclamation: frees objects (subscriptions, connections) that other
// worker threads may still point to, once every worker has passed a quiescent point after the
// object was retired. This is what lets the message path read the subject index and deliver to
// other threads' connections without a reference count or lock per message.
//
// Protocol: a worker calls Quiescent() at the top of each event-loop iteration (it holds no
// pointers from shared structures across that call) and GoingIdle() before blocking in epoll,
// so an idle worker never holds reclamation back.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace gannet {

class Reclaimer {
 public:
  explicit Reclaimer(size_t num_participants);

  // Announces that participant `id` holds no shared pointers. `before_announce` runs after the
  // epoch is read and before it is published (workers drain their match cache there).
  template <typename F>
  void Quiescent(size_t id, F&& before_announce) {
    // Publish first, then drain: a collector that saw this slot idle (or older) read it before
    // the store, so everything retired before that read is visible to what runs after it.
    uint64_t epoch = epoch_.load(std::memory_order_seq_cst);
    slots_[id].seen.store(epoch, std::memory_order_seq_cst);
    before_announce();
    if (pending_.load(std::memory_order_relaxed) > 0) Collect();
  }
  void GoingIdle(size_t id) { slots_[id].seen.store(kIdle, std::memory_order_release); }

  // Frees `deleter` once all participants have been quiescent since now. Any thread.
  void Retire(std::function<void()> deleter);
  // Runs the deleters that are safe to run now. Any thread.
  void Collect();
  // At shutdown, when no participant runs any more.
  void CollectAll();

 private:
  static constexpr uint64_t kIdle = UINT64_MAX;
  struct alignas(64) Slot {
    std::atomic<uint64_t> seen{kIdle};
  };
  struct Retired {
    uint64_t epoch;
    std::function<void()> deleter;
  };

  std::unique_ptr<Slot[]> slots_;
  size_t num_slots_;
  alignas(64) std::atomic<uint64_t> epoch_{1};
  std::atomic<size_t> pending_{0};
  std::mutex mu_;
  std::vector<Retired> retired_;
};

}  // namespace gannet
