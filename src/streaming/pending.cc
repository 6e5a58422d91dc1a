// Pending acks of a subscription (see pending.h).
#include "streaming/pending.h"

#include <algorithm>

namespace gannet::streaming {

namespace {
template <typename Deque>
auto LowerBound(Deque& d, uint64_t seq) {
  return std::lower_bound(d.begin(), d.end(), seq,
                          [](const PendingSet::Entry& e, uint64_t s) { return e.seq < s; });
}
}  // namespace

const PendingSet::Entry* PendingSet::Find(uint64_t seq) const {
  // A message sent for the first time is past every pending one: no search.
  if (entries_.empty() || seq > entries_.back().seq || seq < entries_.front().seq) return nullptr;
  auto it = LowerBound(entries_, seq);
  if (it == entries_.end() || it->seq != seq || it->expire == kAcked) return nullptr;
  return &*it;
}

PendingSet::Entry* PendingSet::Find(uint64_t seq) {
  if (entries_.empty() || seq > entries_.back().seq || seq < entries_.front().seq) return nullptr;
  auto it = LowerBound(entries_, seq);
  if (it == entries_.end() || it->seq != seq || it->expire == kAcked) return nullptr;
  return &*it;
}

void PendingSet::Add(uint64_t seq, int64_t expire) {
  if (expire == kAcked) expire = 0;
  if (entries_.empty() || entries_.back().seq < seq) {
    entries_.push_back({seq, expire, 0});
    ++live_;
    return;
  }
  auto it = LowerBound(entries_, seq);
  if (it != entries_.end() && it->seq == seq) {
    if (it->expire == kAcked) {
      ++live_;
      it->redeliveries = 0;
    }
    it->expire = expire;
    return;
  }
  entries_.insert(it, {seq, expire, 0});
  ++live_;
}

bool PendingSet::Remove(uint64_t seq) {
  if (live_ == 0) return false;
  if (entries_.front().seq == seq && entries_.front().expire != kAcked) {
    entries_.pop_front();
  } else {
    auto it = LowerBound(entries_, seq);
    if (it == entries_.end() || it->seq != seq || it->expire == kAcked) return false;
    it->expire = kAcked;
  }
  --live_;
  while (!entries_.empty() && entries_.front().expire == kAcked) entries_.pop_front();
  while (!entries_.empty() && entries_.back().expire == kAcked) entries_.pop_back();
  // Tombstones in the middle: compact when they outnumber the live entries.
  if (entries_.size() > 64 && entries_.size() > 2 * live_) Compact();
  return true;
}

void PendingSet::Compact() {
  std::deque<Entry> kept;
  for (const Entry& e : entries_) {
    if (e.expire != kAcked) kept.push_back(e);
  }
  entries_.swap(kept);
}

void PendingSet::Clear() {
  entries_.clear();
  live_ = 0;
}

std::vector<PendingSet::Entry> PendingSet::Sorted() const {
  std::vector<Entry> out;
  out.reserve(live_);
  for (const Entry& e : entries_) {
    if (e.expire != kAcked) out.push_back(e);
  }
  return out;
}

std::vector<PendingSet::Entry> PendingSet::SortedByExpiry() const {
  std::vector<Entry> out = Sorted();
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    // Unknown expiries (0) first, by sequence; then by expiry, then sequence.
    if ((a.expire == 0) != (b.expire == 0)) return a.expire == 0;
    if (a.expire != b.expire) return a.expire < b.expire;
    return a.seq < b.seq;
  });
  return out;
}

}  // namespace gannet::streaming
