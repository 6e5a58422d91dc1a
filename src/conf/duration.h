// Durations in configuration values: Go's time.ParseDuration, and the reference's rule that a
// bare number is a count of seconds (with a warning).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "conf/value.h"

namespace gannet::conf {

// Go's time.ParseDuration: "300ms", "-1.5h", "2h45m", "1µs", "0". On failure, nullopt and
// `error` set to Go's text (time: invalid duration "x", time: missing unit in duration "1",
// time: unknown unit "d" in duration "1d").
std::optional<std::chrono::nanoseconds> ParseGoDuration(std::string_view text,
                                                        std::string* error = nullptr);

struct DurationResult {
  std::chrono::nanoseconds value{0};
  // "file:line:col: <field> should be converted to a duration" for a bare integer (seconds).
  std::optional<std::string> warning;
  // "file:line:col: error parsing <field>: time: ..." for a bad string or another kind.
  std::optional<std::string> error;

  bool ok() const { return !error.has_value(); }
};

// The duration of the option `field` given as `value`, as the reference's parseDuration reads
// it: a string in Go's duration syntax, or an integer number of seconds with a warning.
DurationResult ToDuration(std::string_view field, const Value& value);

}  // namespace gannet::conf
