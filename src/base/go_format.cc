// Values printed as Go prints them (see go_format.h).
#include "base/go_format.h"

#include <cstdint>

namespace gannet {

std::string GoDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  // A whole number and a fraction with trailing zeros dropped: "1.5", "2".
  auto fixed = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t frac = v % unit;
    if (frac == 0) return s;
    std::string digits = std::to_string(unit + frac).substr(1);
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    return s + "." + digits;
  };
  if (u < 1'000'000'000) {
    if (u < 1'000) return sign + std::to_string(u) + "ns";
    if (u < 1'000'000) return sign + fixed(u, 1'000) + "\u00b5s";
    return sign + fixed(u, 1'000'000) + "ms";
  }
  uint64_t hours = u / 3'600'000'000'000;
  uint64_t rest = u % 3'600'000'000'000;
  uint64_t minutes = rest / 60'000'000'000;
  std::string secs = fixed(rest % 60'000'000'000, 1'000'000'000) + "s";
  if (hours > 0) return sign + std::to_string(hours) + "h" + std::to_string(minutes) + "m" + secs;
  if (minutes > 0) return sign + std::to_string(minutes) + "m" + secs;
  return sign + secs;
}

}  // namespace gannet
