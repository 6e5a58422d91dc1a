// Quiescent-state-based reclamation (see reclaimer.h).
#include "core/reclaimer.h"

namespace gannet {

Reclaimer::Reclaimer(size_t num_participants)
    : slots_(std::make_unique<Slot[]>(num_participants)), num_slots_(num_participants) {}

void Reclaimer::Retire(std::function<void()> deleter) {
  std::lock_guard lock(mu_);
  // Tag with the current epoch, then advance it: a participant that later reads an epoch
  // greater than the tag has synchronized with everything done before this retirement.
  uint64_t tag = epoch_.fetch_add(1, std::memory_order_acq_rel);
  retired_.push_back(Retired{tag, std::move(deleter)});
  pending_.store(retired_.size(), std::memory_order_relaxed);
}

void Reclaimer::Collect() {
  std::vector<Retired> candidates;
  {
    std::lock_guard lock(mu_);
    candidates.swap(retired_);
  }
  // Read the slots only after taking the candidates: each candidate was retired before these
  // reads, so a participant that looks idle or past its tag cannot still hold it.
  uint64_t min_seen = kIdle;
  for (size_t i = 0; i < num_slots_; ++i) {
    uint64_t seen = slots_[i].seen.load(std::memory_order_seq_cst);
    if (seen < min_seen) min_seen = seen;
  }
  std::vector<Retired> keep;
  for (auto& r : candidates) {
    if (r.epoch < min_seen) {
      r.deleter();
    } else {
      keep.push_back(std::move(r));
    }
  }
  std::lock_guard lock(mu_);
  for (auto& r : keep) retired_.push_back(std::move(r));
  pending_.store(retired_.size(), std::memory_order_relaxed);
}

void Reclaimer::CollectAll() {
  std::vector<Retired> all;
  {
    std::lock_guard lock(mu_);
    all.swap(retired_);
    pending_.store(0, std::memory_order_relaxed);
  }
  for (auto& r : all) r.deleter();
}

}  // namespace gannet
