// Durations in configuration values: Go's time.ParseDuration and the reference's bare-number rule.
#include "conf/duration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "conf/parser.h"

namespace gannet::conf {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

std::string DurationError(std::string_view text) {
  std::string error;
  if (ParseGoDuration(text, &error)) return "parsed";
  return error;
}

TEST(ConfDuration, GoSyntax) {
  EXPECT_EQ(ParseGoDuration("0"), nanoseconds(0));
  EXPECT_EQ(ParseGoDuration("2s"), seconds(2));
  EXPECT_EQ(ParseGoDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseGoDuration("1h30m"), minutes(90));
  EXPECT_EQ(ParseGoDuration("1m"), minutes(1));
  EXPECT_EQ(ParseGoDuration("-1.5h"), -minutes(90));
  EXPECT_EQ(ParseGoDuration("+5s"), seconds(5));
  EXPECT_EQ(ParseGoDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(ParseGoDuration(".5s"), milliseconds(500));
  EXPECT_EQ(ParseGoDuration("3us"), microseconds(3));
  EXPECT_EQ(ParseGoDuration("3\xC2\xB5s"), microseconds(3));
  EXPECT_EQ(ParseGoDuration("7ns"), nanoseconds(7));
  EXPECT_EQ(ParseGoDuration("2h45m30.5s"), hours(2) + minutes(45) + milliseconds(30500));
  EXPECT_EQ(ParseGoDuration("9223372036854775807ns"), nanoseconds(INT64_MAX));
  EXPECT_EQ(ParseGoDuration("-9223372036854775808ns"), nanoseconds(INT64_MIN));
}

TEST(ConfDuration, GoErrors) {
  EXPECT_EQ(DurationError(""), "time: invalid duration \"\"");
  EXPECT_EQ(DurationError("xyz"), "time: invalid duration \"xyz\"");
  EXPECT_EQ(DurationError("1"), "time: missing unit in duration \"1\"");
  EXPECT_EQ(DurationError("1d"), "time: unknown unit \"d\" in duration \"1d\"");
  EXPECT_EQ(DurationError("."), "time: invalid duration \".\"");
  EXPECT_EQ(DurationError("-"), "time: invalid duration \"-\"");
  EXPECT_EQ(DurationError("9223372036854775808ns"),
            "time: invalid duration \"9223372036854775808ns\"");
  EXPECT_EQ(DurationError("3000000h"), "time: invalid duration \"3000000h\"");
  EXPECT_EQ(DurationError("1s2"), "time: missing unit in duration \"1s2\"");
}

TEST(ConfDuration, FromConfigValues) {
  ParseResult config =
      ParseString("a = \"2s\"\nb = \"2m30s\"\nc = 30\nd = \"2x\"\ne = [1 ]\nf = 1m\ng = 1.5");
  ASSERT_TRUE(config.ok()) << config.error->ToString();

  DurationResult a = ToDuration("write_deadline", *config.root.Find("a"));
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(a.value, seconds(2));
  EXPECT_FALSE(a.warning.has_value());

  DurationResult b = ToDuration("ping_interval", *config.root.Find("b"));
  EXPECT_EQ(b.value, seconds(150));

  // A bare number is seconds, with the reference's warning.
  DurationResult c = ToDuration("ping_interval", *config.root.Find("c"));
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.value, seconds(30));
  EXPECT_EQ(c.warning, "<string>:3:5: ping_interval should be converted to a duration");

  DurationResult d = ToDuration("write_deadline", *config.root.Find("d"));
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.error,
            "<string>:4:5: error parsing write_deadline: time: unknown unit \"x\" in duration "
            "\"2x\"");

  DurationResult e = ToDuration("write_deadline", *config.root.Find("e"));
  EXPECT_FALSE(e.ok());
  EXPECT_NE(e.error->find("got a array"), std::string::npos);

  // `1m` unquoted is the integer 1000000: a million seconds, as in the reference.
  DurationResult f = ToDuration("lame_duck_duration", *config.root.Find("f"));
  EXPECT_EQ(f.value, seconds(1000000));
  EXPECT_TRUE(f.warning.has_value());

  EXPECT_FALSE(ToDuration("x", *config.root.Find("g")).ok());
}

}  // namespace
}  // namespace gannet::conf
