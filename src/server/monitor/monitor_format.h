// Text forms the monitoring endpoints share with the reference: Go's time and duration
// formats, the reference's uptime form, and Go's strconv error texts for bad query values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gannet {

// RFC 3339 with nanoseconds, UTC, trailing zeros of the fraction dropped (Go's RFC3339Nano):
// "2026-11-26T05:24:55.0550930Z" -> "2026-11-26T05:24:55.055093Z".
std::string FormatRfc3339Nano(std::chrono::system_clock::time_point t);
// A round-trip time as the reference reports it (truncated to microseconds below 1ms).
std::string FormatRtt(int64_t ns);
// The reference's uptime form: "0s", "5m2s", "3h0m5s", "2d1h0m0s", "1y2d0h0m0s".
std::string FormatUptime(std::chrono::nanoseconds d);

// Query values parsed as Go's strconv does, with the reference's 400 texts on failure.
// Each returns std::nullopt and sets `error` on bad input; "" parses as the default.
std::optional<bool> ParseGoBool(std::string_view param, std::string_view text, std::string& error);
std::optional<int64_t> ParseGoInt(std::string_view param, std::string_view text,
                                  std::string& error);
std::optional<uint64_t> ParseGoUint(std::string_view param, std::string_view text,
                                    std::string& error);

}  // namespace gannet
