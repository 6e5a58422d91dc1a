// The messages a subscription was sent and has not acknowledged yet, with the time each one's
// ack wait expires (the reference's subState.acksPending).
//
// Kept sorted by sequence in a deque: first deliveries come in sequence order and acks mostly
// in order too, so adding is a push_back and acking pops from the front; an ack out of order
// is a binary search and a tombstone. Nothing is allocated per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace gannet::streaming {

class PendingSet {
 public:
  struct Entry {
    uint64_t seq;
    int64_t expire;  // ns since the epoch; 0 when not known yet (recovered after a restart)
    uint32_t redeliveries = 0;  // how many times it was sent again (not persisted)
  };

  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  bool Contains(uint64_t seq) const { return Find(seq) != nullptr; }
  // The expiry of `seq`, or nullptr when not pending.
  const Entry* Find(uint64_t seq) const;
  Entry* Find(uint64_t seq);

  // Adds `seq` (or updates its expiry when already pending).
  void Add(uint64_t seq, int64_t expire);
  // Removes `seq`; false when it was not pending.
  bool Remove(uint64_t seq);
  void Clear();

  // Every pending entry in sequence order.
  std::vector<Entry> Sorted() const;
  // Every pending entry ordered by expiry; those whose expiry is unknown (0, after a restart)
  // first, in sequence order.
  std::vector<Entry> SortedByExpiry() const;

 private:
  static constexpr int64_t kAcked = -1;
  void Compact();

  std::deque<Entry> entries_;  // ascending seq; expire == kAcked for removed ones
  size_t live_ = 0;
};

}  // namespace gannet::streaming
