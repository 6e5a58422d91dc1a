// Pending sequences of a subscription (see file_seq_set.h).
#include "streaming/store/file_seq_set.h"

#include <algorithm>
#include <bit>

namespace gannet::streaming::store::file {

bool SeqSet::Add(uint64_t seq) {
  const uint64_t w = seq >> 6;
  const uint64_t bit = uint64_t{1} << (seq & 63);
  if (words_.empty()) {
    if (overflow_.count(seq)) return false;
    base_word_ = w;
    words_.push_back(0);
  } else if (w < base_word_) {
    if (base_word_ - w + words_.size() > kMaxWindowWords) return overflow_.insert(seq).second;
    words_.insert(words_.begin(), static_cast<size_t>(base_word_ - w), 0);
    base_word_ = w;
  } else if (w - base_word_ >= words_.size()) {
    if (w - base_word_ + 1 > kMaxWindowWords) return overflow_.insert(seq).second;
    words_.resize(static_cast<size_t>(w - base_word_ + 1), 0);
  }
  uint64_t& word = words_[static_cast<size_t>(w - base_word_)];
  if (word & bit) return false;
  if (overflow_.count(seq)) return false;
  word |= bit;
  ++bitmap_count_;
  return true;
}

bool SeqSet::Remove(uint64_t seq) {
  const uint64_t w = seq >> 6;
  if (!words_.empty() && w >= base_word_ && w - base_word_ < words_.size()) {
    uint64_t& word = words_[static_cast<size_t>(w - base_word_)];
    const uint64_t bit = uint64_t{1} << (seq & 63);
    if (word & bit) {
      word &= ~bit;
      --bitmap_count_;
      TrimWindow();
      return true;
    }
  }
  return overflow_.erase(seq) != 0;
}

bool SeqSet::Contains(uint64_t seq) const {
  const uint64_t w = seq >> 6;
  if (!words_.empty() && w >= base_word_ && w - base_word_ < words_.size() &&
      (words_[static_cast<size_t>(w - base_word_)] & (uint64_t{1} << (seq & 63)))) {
    return true;
  }
  return overflow_.count(seq) != 0;
}

void SeqSet::TrimWindow() {
  if (bitmap_count_ == 0) {
    words_.clear();
    return;
  }
  while (words_.front() == 0) {
    words_.pop_front();
    ++base_word_;
  }
  while (words_.back() == 0) words_.pop_back();
}

std::vector<uint64_t> SeqSet::Sorted() const {
  std::vector<uint64_t> out;
  out.reserve(size());
  for (size_t i = 0; i < words_.size(); ++i) {
    uint64_t word = words_[i];
    while (word != 0) {
      const int b = std::countr_zero(word);
      out.push_back(((base_word_ + i) << 6) + static_cast<uint64_t>(b));
      word &= word - 1;
    }
  }
  if (!overflow_.empty()) {
    const size_t mid = out.size();
    out.insert(out.end(), overflow_.begin(), overflow_.end());
    std::inplace_merge(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(mid), out.end());
  }
  return out;
}

void SeqSet::Clear() {
  words_.clear();
  overflow_.clear();
  bitmap_count_ = 0;
}

}  // namespace gannet::streaming::store::file
