// Configuration durations (see duration.h).
#include "conf/duration.h"

#include "base/strings.h"

#include <cstdint>

namespace gannet::conf {

namespace {

constexpr uint64_t kLimit = uint64_t{1} << 63;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The nanoseconds in one `unit`, 0 if it is not one.
uint64_t UnitNanoseconds(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1000;  // us, µs, μs
  if (unit == "ms") return uint64_t{1000} * 1000;
  if (unit == "s") return uint64_t{1000} * 1000 * 1000;
  if (unit == "m") return uint64_t{60} * 1000 * 1000 * 1000;
  if (unit == "h") return uint64_t{3600} * 1000 * 1000 * 1000;
  return 0;
}

}  // namespace

std::optional<std::chrono::nanoseconds> ParseGoDuration(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<std::chrono::nanoseconds> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  const std::string invalid = "time: invalid duration " + Quoted(text);
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return fail(invalid);
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) return fail(invalid);
    // The integer part.
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (whole > kLimit / 10) return fail(invalid);
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kLimit) return fail(invalid);
    }
    const bool has_whole = i > 0;
    s.remove_prefix(i);
    // The fraction.
    uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool overflow = false;
      size_t j = 0;
      for (; j < s.size() && IsDigit(s[j]); ++j) {
        if (overflow) continue;
        if (fraction > (kLimit - 1) / 10) {
          overflow = true;
          continue;
        }
        const uint64_t next = fraction * 10 + static_cast<uint64_t>(s[j] - '0');
        if (next > kLimit) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      has_fraction = j > 0;
      s.remove_prefix(j);
    }
    if (!has_whole && !has_fraction) return fail(invalid);
    size_t unit_end = 0;
    while (unit_end < s.size() && s[unit_end] != '.' && !IsDigit(s[unit_end])) ++unit_end;
    if (unit_end == 0) return fail("time: missing unit in duration " + Quoted(text));
    const std::string_view unit = s.substr(0, unit_end);
    s.remove_prefix(unit_end);
    const uint64_t unit_ns = UnitNanoseconds(unit);
    if (unit_ns == 0) {
      return fail("time: unknown unit " + Quoted(unit) + " in duration " + Quoted(text));
    }
    if (whole > kLimit / unit_ns) return fail(invalid);
    whole *= unit_ns;
    if (fraction > 0) {
      whole += static_cast<uint64_t>(static_cast<double>(fraction) *
                                     (static_cast<double>(unit_ns) / scale));
      if (whole > kLimit) return fail(invalid);
    }
    total += whole;
    if (total > kLimit) return fail(invalid);
  }
  if (negative) {
    return std::chrono::nanoseconds(total == kLimit ? INT64_MIN : -static_cast<int64_t>(total));
  }
  if (total > kLimit - 1) return fail(invalid);
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

DurationResult ToDuration(std::string_view field, const Value& value) {
  DurationResult result;
  const std::string where = value.position().ToString() + ": ";
  if (value.IsString()) {
    std::string error;
    if (auto parsed = ParseGoDuration(value.AsString(), &error)) {
      result.value = *parsed;
    } else {
      result.error = where + "error parsing " + std::string(field) + ": " + error;
    }
    return result;
  }
  if (value.IsInteger()) {
    // Backward compatible with the old form: a number of seconds.
    const int64_t seconds = value.AsInteger();
    constexpr int64_t kMaxSeconds = INT64_MAX / 1000000000;
    if (seconds > kMaxSeconds || seconds < -kMaxSeconds) {
      result.error = where + "error parsing " + std::string(field) + ": " +
                     std::to_string(seconds) + " seconds is out of the range of a duration";
      return result;
    }
    result.value = std::chrono::seconds(seconds);
    result.warning = where + std::string(field) + " should be converted to a duration";
    return result;
  }
  result.error = where + "error parsing " + std::string(field) + ": expected a duration " +
                 "string such as \"2s\" or a number of seconds, got a " + KindName(value.kind());
  return result;
}

}  // namespace gannet::conf
