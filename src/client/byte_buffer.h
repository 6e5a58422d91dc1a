// A growable byte buffer for protocol output: the publish path reserves space and writes into
// it with memcpy, with no zero-filling and no per-message allocation once it has grown. A
// partial write consumes from the front by moving an offset; the bytes are moved only when
// space runs out at the back.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace gannet::client::detail {

class ByteBuffer {
 public:
  // Makes room for n more bytes and returns where to write them; size() grows by n.
  // Inline (the publish path's one bounds check); growing is out of line.
  [[gnu::always_inline]] char* Extend(size_t n) {
    if (end_ + n > cap_) [[unlikely]]
      MakeRoom(n);
    char* p = data_.get() + end_;
    end_ += n;
    return p;
  }
  void Append(std::string_view s) {
    if (!s.empty()) std::memcpy(Extend(s.size()), s.data(), s.size());
  }
  // Drops the first n bytes (a partial write).
  void Consume(size_t n) {
    begin_ += std::min(n, size());
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void Clear() { begin_ = end_ = 0; }
  // Frees the memory when it has grown beyond `keep`, so a burst does not pin it forever.
  void Shrink(size_t keep) {
    if (cap_ > keep && empty()) {
      data_.reset();
      cap_ = 0;
    }
  }
  void Swap(ByteBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(begin_, o.begin_);
    std::swap(end_, o.end_);
    std::swap(cap_, o.cap_);
  }
  const char* data() const { return data_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::string_view view() const { return std::string_view(data(), size()); }

 private:
  [[gnu::noinline]] void MakeRoom(size_t n) {
    size_t live = size();
    if (live + n <= cap_ && begin_ >= live) {
      // Enough room once the consumed front is reclaimed, and the move is cheap.
      std::memmove(data_.get(), data_.get() + begin_, live);
    } else {
      size_t cap = std::max({live + n, cap_ * 2, static_cast<size_t>(16 * 1024)});
      std::unique_ptr<char[]> d(new char[cap]);  // not value-initialized
      if (live) std::memcpy(d.get(), data_.get() + begin_, live);
      data_ = std::move(d);
      cap_ = cap;
    }
    begin_ = 0;
    end_ = live;
  }
  std::unique_ptr<char[]> data_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t cap_ = 0;
};

}  // namespace gannet::client::detail
