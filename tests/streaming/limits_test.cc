// Store limits: channel names, validation texts, inheritance through wildcards, the startup
// table.
#include <gtest/gtest.h>

#include "streaming/store/limits.h"

namespace gannet::streaming::store {
namespace {

TEST(ChannelNames, Validity) {
  EXPECT_TRUE(IsChannelNameValid("foo", false));
  EXPECT_TRUE(IsChannelNameValid("foo.bar", false));
  EXPECT_FALSE(IsChannelNameValid("", false));
  EXPECT_FALSE(IsChannelNameValid(".foo", false));
  EXPECT_FALSE(IsChannelNameValid("foo.", false));
  EXPECT_FALSE(IsChannelNameValid("foo..bar", false));
  EXPECT_FALSE(IsChannelNameValid("foo/bar", false));
  EXPECT_FALSE(IsChannelNameValid("foo.*", false));
  EXPECT_FALSE(IsChannelNameValid("foo.>", false));
  EXPECT_TRUE(IsChannelNameValid("foo.*", true));
  EXPECT_TRUE(IsChannelNameValid("foo.>", true));
  EXPECT_TRUE(IsChannelNameValid("*.bar.>", true));
  EXPECT_FALSE(IsChannelNameValid("foo.>.bar", true));
  EXPECT_FALSE(IsChannelNameValid("foo*", true));
  EXPECT_FALSE(IsChannelNameValid("foo.b*", true));
  EXPECT_TRUE(IsChannelNameLiteral("foo.bar"));
  EXPECT_FALSE(IsChannelNameLiteral("foo.*"));
}

TEST(Limits, NegativeGlobalsRefused) {
  StoreLimits l;
  l.max_channels = -1;
  EXPECT_EQ(BuildLimits(l).message(), "max channels limit cannot be negative (-1)");
  l = {};
  l.global.max_subscriptions = -2;
  EXPECT_EQ(BuildLimits(l).message(), "max subscriptions limit cannot be negative (-2)");
  l = {};
  l.global.max_bytes = -3;
  EXPECT_EQ(BuildLimits(l).message(), "max bytes limit cannot be negative (-3)");
  l = {};
  l.global.max_age = std::chrono::seconds(-1);
  EXPECT_EQ(BuildLimits(l).message(), "max age limit cannot be negative (-1s)");
  l = {};
  l.global.max_inactivity = std::chrono::minutes(-1);
  EXPECT_EQ(BuildLimits(l).message(), "max inactivity limit cannot be negative (-1m0s)");
}

TEST(Limits, PerChannelValidation) {
  StoreLimits l;
  l.per_channel["foo..bar"] = {};
  EXPECT_EQ(BuildLimits(l).message(), "invalid channel name \"foo..bar\"");
  l = {};
  l.max_channels = 1;
  l.per_channel["a"] = {};
  l.per_channel["b"] = {};
  l.per_channel["c.*"] = {};  // wildcards do not count
  EXPECT_EQ(BuildLimits(l).message(),
            "too many channels defined (2). The max channels limit is set to 1");
}

TEST(Limits, InheritanceThroughWildcards) {
  StoreLimits l;
  l.global.max_msgs = 100;
  l.global.max_bytes = 1000;
  l.per_channel["foo.>"].max_msgs = 50;
  l.per_channel["foo.bar.>"].max_age = std::chrono::hours(2);
  l.per_channel["foo.bar.baz"].max_bytes = -1;  // unlimited
  l.per_channel["other"].max_subscriptions = 5;
  ASSERT_TRUE(BuildLimits(l).ok());
  const auto& foo = l.per_channel["foo.>"];
  EXPECT_EQ(foo.max_msgs, 50);
  EXPECT_EQ(foo.max_bytes, 1000);
  const auto& foobar = l.per_channel["foo.bar.>"];
  EXPECT_EQ(foobar.max_msgs, 50);  // from foo.>
  EXPECT_EQ(foobar.max_age, std::chrono::hours(2));
  const auto& baz = l.per_channel["foo.bar.baz"];
  EXPECT_EQ(baz.max_bytes, 0);  // unlimited
  EXPECT_EQ(baz.max_msgs, 50);
  EXPECT_EQ(baz.max_age, std::chrono::hours(2));

  EXPECT_EQ(LimitsForChannel(l, "foo.x").max_msgs, 50);
  EXPECT_EQ(LimitsForChannel(l, "foo.bar.x").max_age, std::chrono::hours(2));
  EXPECT_EQ(LimitsForChannel(l, "foo.bar.baz").max_bytes, 0);
  EXPECT_EQ(LimitsForChannel(l, "other").max_subscriptions, 5);
  EXPECT_EQ(LimitsForChannel(l, "nope").max_msgs, 100);
  // "foo" alone is not under "foo.>".
  EXPECT_EQ(LimitsForChannel(l, "foo").max_msgs, 100);
}

TEST(Limits, MostSpecificWildcardWins) {
  StoreLimits l;
  l.per_channel["a.>"].max_msgs = 1;
  l.per_channel["a.*"].max_msgs = 2;
  l.per_channel["a.b.*"].max_msgs = 3;
  ASSERT_TRUE(BuildLimits(l).ok());
  EXPECT_EQ(LimitsForChannel(l, "a.x").max_msgs, 2);
  EXPECT_EQ(LimitsForChannel(l, "a.b.c").max_msgs, 3);
  EXPECT_EQ(LimitsForChannel(l, "a.x.y.z").max_msgs, 1);
}

TEST(Limits, DefaultTable) {
  StoreLimits l;
  ASSERT_TRUE(BuildLimits(l).ok());
  std::vector<std::string> want = {
      "---------- Store Limits ----------", "Channels:                  100 *",
      "--------- Channels Limits --------", "  Subscriptions:          1000 *",
      "  Messages     :       1000000 *",   "  Bytes        :     976.56 MB *",
      "  Age          :     unlimited *",   "  Inactivity   :     unlimited *",
      "----------------------------------",
  };
  EXPECT_EQ(PrintLimits(l), want);
}

TEST(Limits, TableWithChannels) {
  StoreLimits l;
  l.max_channels = 10;
  l.global.max_msgs = 10000;
  l.global.max_bytes = 10 * 1024 * 1024;
  l.global.max_age = std::chrono::hours(1);
  l.per_channel["foo.>"].max_msgs = 400;
  l.per_channel["foo.bar.>"].max_age = std::chrono::hours(2);
  l.per_channel["baz"].max_msgs = -1;
  ASSERT_TRUE(BuildLimits(l).ok());
  std::vector<std::string> lines = PrintLimits(l);
  std::vector<std::string> want = {
      "---------- Store Limits ----------",  "Channels:                   10",
      "--------- Channels Limits --------",  "  Subscriptions:          1000 *",
      "  Messages     :         10000",      "  Bytes        :      10.00 MB",
      "  Age          :        1h0m0s",      "  Inactivity   :     unlimited *",
      "-------- List of Channels ---------", "baz",
      " |-> Messages             unlimited", "foo.>",
      " |-> Messages                   400", " foo.bar.>",
      "  |-> Age                    2h0m0s", "-----------------------------------",
  };
  EXPECT_EQ(lines, want);
}

TEST(Limits, FriendlyBytes) {
  EXPECT_EQ(FriendlyBytes(512), "512 B");
  EXPECT_EQ(FriendlyBytes(1024), "1.00 KB");
  EXPECT_EQ(FriendlyBytes(1024000000), "976.56 MB");
  EXPECT_EQ(FriendlyBytes(int64_t{3} << 30), "3.00 GB");
}

}  // namespace
}  // namespace gannet::streaming::store
