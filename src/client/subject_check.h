// Subject checks on the client side: what would break the protocol's framing (whitespace,
// control characters) or can never match (empty tokens) is refused before it is sent.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace gannet::client::detail {

inline bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Tokens separated by '.', none empty, no whitespace. Wildcards are the server's business.
inline bool IsValidSubscribeSubject(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (IsSeparator(c) || c == '\0') return false;
    if (c == '.' && prev == '.') return false;
    prev = c;
  }
  return true;
}

// Publishing only has to keep the control line intact: the reference clients check no more.
// Every separator is a byte below 0x21, so eight bytes at a time are first tested for any such
// byte (one subtraction and two masks); only a word that has one is looked at byte by byte.
[[gnu::always_inline]] inline bool IsValidPublishSubject(std::string_view s) {
  if (s.empty()) return false;
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  auto has_low_byte = [&](uint64_t w) { return ((w - kOnes * 0x21) & ~w & kHigh) != 0; };
  auto word_ok = [&](const char* w8) {
    uint64_t w;
    std::memcpy(&w, w8, 8);
    if (!has_low_byte(w)) return true;
    for (int j = 0; j < 8; ++j) {
      if (IsSeparator(w8[j])) return false;
    }
    return true;
  };
  const char* p = s.data();
  size_t n = s.size();
  if (n < 8) {
    for (size_t i = 0; i < n; ++i) {
      if (IsSeparator(p[i])) return false;
    }
    return true;
  }
  for (size_t i = 0; i + 8 <= n; i += 8) {
    if (!word_ok(p + i)) return false;
  }
  return n % 8 == 0 || word_ok(p + n - 8);  // the tail, overlapping the last full word
}

inline bool IsValidQueueName(std::string_view q) {
  for (char c : q) {
    if (IsSeparator(c) || c == '\0') return false;
  }
  return !q.empty();
}

}  // namespace gannet::client::detail
