// Byte comparisons for the message path, inline: a call to memcmp per message (a subject against
// the cache's last key, a routed message's account against the last one) cost more than the
// compare itself for the few dozen bytes these are.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace gannet {

// Whether n bytes at a and b are equal: 8 bytes per step, the last step overlapping.
inline bool EqualBytes(const char* a, const char* b, size_t n) {
  if (n < 8) return std::memcmp(a, b, n) == 0;
  auto word = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  for (size_t i = 0; i + 8 < n; i += 8) {
    if (word(a + i) != word(b + i)) return false;
  }
  return word(a + n - 8) == word(b + n - 8);
}

inline bool EqualBytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && EqualBytes(a.data(), b.data(), a.size());
}

}  // namespace gannet
