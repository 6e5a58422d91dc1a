// Subject checks on the client side: what would break the protocol's framing (whitespace,
// control characters) or can never match (empty tokens) is refused before it is sent.
#pragma once

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
inline bool IsValidPublishSubject(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (IsSeparator(c)) return false;
  }
  return true;
}

inline bool IsValidQueueName(std::string_view q) {
  for (char c : q) {
    if (IsSeparator(c) || c == '\0') return false;
  }
  return !q.empty();
}

}  // namespace gannet::client::detail
