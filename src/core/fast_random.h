// A small, fast pseudo-random generator (xorshift64) for choices on the message path: which
// queue group member gets a message, the jitter of the first PING. Not for anything secret.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gannet {

class FastRandom {
 public:
  explicit FastRandom(uint64_t seed) : state_(seed | 1) {}
  uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  // A uniformly chosen index in [0, n); n must be > 0. The modulo bias is below 2^-40 for any
  // realistic n (n is a queue group's size).
  size_t Below(size_t n) { return n <= 1 ? 0 : static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

}  // namespace gannet
