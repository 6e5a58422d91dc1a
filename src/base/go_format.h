// Values printed as the reference (a Go program) prints them, for log lines, errors and JSON.
#pragma once

#include <chrono>
#include <string>

namespace gannet {

// A duration as Go's time.Duration.String: "0s", "750ms", "1.5s", "2m0s", "1h0m0s", "3µs".
std::string GoDuration(std::chrono::nanoseconds d);

}  // namespace gannet
