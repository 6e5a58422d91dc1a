// The sequences a subscription has been sent and not acknowledged, as the FILE store keeps them
// for compaction and recovery: a bitmap over a sliding window of sequences (an add or an ack is a
// bit flip, no allocation per message), with a small ordered set for the rare sequence too far
// from the window (a message left unacknowledged while millions passed, or damaged data), so
// memory stays bounded whatever the sequences are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <vector>

namespace gannet::streaming::store::file {

class SeqSet {
 public:
  // True when `seq` was not in the set.
  bool Add(uint64_t seq);
  // True when `seq` was in the set.
  bool Remove(uint64_t seq);
  bool Contains(uint64_t seq) const;
  size_t size() const { return bitmap_count_ + overflow_.size(); }
  bool empty() const { return size() == 0; }
  // Every sequence, ascending.
  std::vector<uint64_t> Sorted() const;
  void Clear();

  // The window's maximum span, in 64-sequence words (4 M sequences, 512 KB).
  static constexpr size_t kMaxWindowWords = size_t{1} << 16;

 private:
  void TrimWindow();

  uint64_t base_word_ = 0;  // words_[0] holds sequences base_word_ * 64 ..
  std::deque<uint64_t> words_;
  size_t bitmap_count_ = 0;
  std::set<uint64_t> overflow_;
};

}  // namespace gannet::streaming::store::file
