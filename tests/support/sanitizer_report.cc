// The one scan for sanitizer reports in a child process's output.
#include "sanitizer_report.h"

#include <gtest/gtest.h>

#include <string>

namespace gannet::test {

std::string_view FindSanitizerReport(std::string_view output) {
  // UndefinedBehaviorSanitizer's report lines start "file:line:col: runtime error:", which a
  // config error of the reference's (copied by Gannet) also does; its closing "SUMMARY:
  // UndefinedBehaviorSanitizer" line is what tells them apart.
  std::string_view first;
  size_t first_at = std::string_view::npos;
  for (std::string_view marker :
       {"AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "UndefinedBehaviorSanitizer"}) {
    size_t at = output.find(marker);
    if (at < first_at) {
      first = marker;
      first_at = at;
    }
  }
  return first;
}

void ExpectNoSanitizerReport(std::string_view what, std::string_view output) {
  std::string_view marker = FindSanitizerReport(output);
  if (marker.empty()) return;
  // The report with some context before it, not a whole trace log.
  size_t at = output.find(marker);
  size_t from = at > 2000 ? at - 2000 : 0;
  ADD_FAILURE() << what << " reported " << marker << "; its output from there:\n"
                << (from > 0 ? "...\n" : "") << output.substr(from, 20000);
}

}  // namespace gannet::test
