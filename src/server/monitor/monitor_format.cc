// Go-compatible text forms for monitoring (see monitor_format.h).
#include "server/monitor/monitor_format.h"

#include <charconv>
#include <ctime>

#include "base/go_format.h"

namespace gannet {

std::string FormatRfc3339Nano(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac != 0) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "%09lld", static_cast<long long>(frac));
    std::string d = digits;
    while (!d.empty() && d.back() == '0') d.pop_back();
    out += '.';
    out += d;
  }
  out += 'Z';
  return out;
}

std::string FormatRtt(int64_t ns) {
  if (ns > 1000 && ns < 1'000'000) ns -= ns % 1000;
  return GoDuration(std::chrono::nanoseconds(ns));
}

std::string FormatUptime(std::chrono::nanoseconds d) {
  int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  int64_t mins = secs / 60, hours = mins / 60, days = hours / 24, years = days / 365;
  char buf[96];
  if (years > 0) {
    std::snprintf(buf, sizeof buf, "%lldy%lldd%lldh%lldm%llds", static_cast<long long>(years),
                  static_cast<long long>(days % 365), static_cast<long long>(hours % 24),
                  static_cast<long long>(mins % 60), static_cast<long long>(secs % 60));
  } else if (days > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%lldh%lldm%llds", static_cast<long long>(days),
                  static_cast<long long>(hours % 24), static_cast<long long>(mins % 60),
                  static_cast<long long>(secs % 60));
  } else if (hours > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%lldm%llds", static_cast<long long>(hours),
                  static_cast<long long>(mins % 60), static_cast<long long>(secs % 60));
  } else if (mins > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(mins),
                  static_cast<long long>(secs % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(secs));
  }
  return buf;
}

std::optional<bool> ParseGoBool(std::string_view param, std::string_view text, std::string& error) {
  if (text.empty()) return false;
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == f) return false;
  }
  error = "Error decoding boolean for '" + std::string(param) + "': strconv.ParseBool: parsing \"" +
          std::string(text) + "\": invalid syntax";
  return std::nullopt;
}

namespace {

template <typename T>
std::optional<T> ParseGoNumber(std::string_view param, std::string_view text, std::string& error,
                               const char* type, const char* func) {
  if (text.empty()) return T{0};
  std::string_view digits = text;
  if constexpr (std::is_signed_v<T>) {
    if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  }
  T value{};
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() &&
      digits[0] != '+') {
    return value;
  }
  const char* why = ec == std::errc::result_out_of_range ? "value out of range" : "invalid syntax";
  error = std::string("Error decoding ") + type + " for '" + std::string(param) + "': " + func +
          ": parsing \"" + std::string(text) + "\": " + why;
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ParseGoInt(std::string_view param, std::string_view text,
                                  std::string& error) {
  return ParseGoNumber<int64_t>(param, text, error, "int", "strconv.Atoi");
}

std::optional<uint64_t> ParseGoUint(std::string_view param, std::string_view text,
                                    std::string& error) {
  return ParseGoNumber<uint64_t>(param, text, error, "uint64", "strconv.ParseUint");
}

}  // namespace gannet
