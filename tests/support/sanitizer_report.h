// The one scan for sanitizer reports in a child process's output (a sanitized gannet-server or
// gannet tool may report without crashing: the test that started it must fail all the same).
#pragma once

#include <string_view>

namespace gannet::test {

// The sanitizer report marker (AddressSanitizer, LeakSanitizer, ThreadSanitizer,
// UndefinedBehaviorSanitizer) that comes first in `output`, or "" if none does.
std::string_view FindSanitizerReport(std::string_view output);

// Adds a failure to the running test if `output`, what the child `what` printed, holds a
// sanitizer report.
void ExpectNoSanitizerReport(std::string_view what, std::string_view output);

}  // namespace gannet::test
