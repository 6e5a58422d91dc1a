// The base layer's helpers: case folding, JSON and Go-style quoting, Go's duration format.
#include <gtest/gtest.h>

#include "base/go_format.h"
#include "base/strings.h"

namespace gannet {
namespace {

using namespace std::chrono_literals;

TEST(GoDuration, AsGoPrintsIt) {
  EXPECT_EQ(GoDuration(0s), "0s");
  EXPECT_EQ(GoDuration(42ns), "42ns");
  EXPECT_EQ(GoDuration(820ns), "820ns");
  EXPECT_EQ(GoDuration(820us), "820\u00b5s");
  EXPECT_EQ(GoDuration(1500ns), "1.5\u00b5s");
  EXPECT_EQ(GoDuration(3'363'893ns), "3.363893ms");
  EXPECT_EQ(GoDuration(500ms), "500ms");
  EXPECT_EQ(GoDuration(1500us), "1.5ms");
  EXPECT_EQ(GoDuration(1500ms), "1.5s");
  EXPECT_EQ(GoDuration(10s), "10s");
  EXPECT_EQ(GoDuration(90s), "1m30s");
  EXPECT_EQ(GoDuration(2min), "2m0s");
  EXPECT_EQ(GoDuration(62'500ms), "1m2.5s");
  EXPECT_EQ(GoDuration(1h), "1h0m0s");
  EXPECT_EQ(GoDuration(2h), "2h0m0s");
  EXPECT_EQ(GoDuration(-2ms), "-2ms");
}

TEST(Strings, CaseFoldingIsAsciiOnly) {
  EXPECT_EQ(AsciiLower("Max_Payload"), "max_payload");
  EXPECT_EQ(AsciiLower("\xc3\x84"), "\xc3\x84");  // not locale-dependent
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-length"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "abd"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "ab"));
}

TEST(Strings, JsonQuoteEscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("x\ny\r\tz"), "\"x\\ny\\r\\tz\"");
  EXPECT_EQ(JsonQuote(std::string("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(JsonEscaped("plain"), "plain");
}

TEST(Strings, QuotedAndTrimSpace) {
  EXPECT_EQ(Quoted("foo.bar"), "\"foo.bar\"");
  EXPECT_EQ(TrimSpace("  CN=alice "), "CN=alice");
  EXPECT_EQ(TrimSpace("\tx "), "\tx");
}

}  // namespace
}  // namespace gannet
