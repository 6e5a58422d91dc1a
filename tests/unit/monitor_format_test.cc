// Go-compatible text forms used by the monitoring endpoints, and query parameter decoding.
#include "server/monitor/monitor_format.h"

#include <gtest/gtest.h>

#include "server/monitor/http_server.h"

namespace gannet {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(MonitorFormat, RttIsTruncatedToMicrosecondsBelowOneMillisecond) {
  EXPECT_EQ(FormatRtt(820'123), "820\u00b5s");
  EXPECT_EQ(FormatRtt(3'363'893), "3.363893ms");
  EXPECT_EQ(FormatRtt(0), "0s");
}

TEST(MonitorFormat, Uptime) {
  EXPECT_EQ(FormatUptime(nanoseconds(999'999'999)), "0s");
  EXPECT_EQ(FormatUptime(seconds(302)), "5m2s");
  EXPECT_EQ(FormatUptime(seconds(3 * 3600 + 5)), "3h0m5s");
  EXPECT_EQ(FormatUptime(seconds(2 * 86400 + 3600)), "2d1h0m0s");
  EXPECT_EQ(FormatUptime(seconds(367LL * 86400)), "1y2d0h0m0s");
}

TEST(MonitorFormat, Rfc3339NanoDropsTrailingZeros) {
  using std::chrono::system_clock;
  system_clock::time_point t{
      std::chrono::duration_cast<system_clock::duration>(nanoseconds(1'795'670'695'055'093'000LL))};
  EXPECT_EQ(FormatRfc3339Nano(t), "2026-11-26T05:24:55.055093Z");
  system_clock::time_point whole{
      std::chrono::duration_cast<system_clock::duration>(seconds(1'795'670'695LL))};
  EXPECT_EQ(FormatRfc3339Nano(whole), "2026-11-26T05:24:55Z");
}

TEST(MonitorFormat, QueryValuesParseAsGoStrconv) {
  std::string err;
  EXPECT_EQ(ParseGoBool("subs", "", err), false);
  EXPECT_EQ(ParseGoBool("subs", "T", err), true);
  EXPECT_EQ(ParseGoBool("subs", "0", err), false);
  EXPECT_FALSE(ParseGoBool("subs", "yes", err));
  EXPECT_EQ(
      err, "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"yes\": invalid syntax");
  EXPECT_EQ(ParseGoInt("limit", "-3", err), -3);
  EXPECT_EQ(ParseGoInt("limit", "+3", err), 3);
  EXPECT_FALSE(ParseGoInt("limit", "99999999999999999999", err));
  EXPECT_EQ(err,
            "Error decoding int for 'limit': strconv.Atoi: parsing \"99999999999999999999\": "
            "value out of range");
  EXPECT_EQ(ParseGoUint("cid", "42", err), 42u);
  EXPECT_FALSE(ParseGoUint("cid", "+1", err));
}

TEST(HttpRequest, ParamsArePercentDecodedFirstValueWins) {
  HttpRequest r;
  r.query = "test=foo%2Ebar&callback=cb&test=other&empty=&a+b=c+d&bad=%zz";
  EXPECT_EQ(r.Param("test"), "foo.bar");
  EXPECT_EQ(r.Param("callback"), "cb");
  EXPECT_EQ(r.Param("empty"), "");
  EXPECT_EQ(r.Param("missing"), "");
  EXPECT_EQ(r.Param("a b"), "c d");
  EXPECT_EQ(r.Param("bad"), "");
  std::string out;
  EXPECT_FALSE(HttpServer::PercentDecode("%4", out, false));
  EXPECT_TRUE(HttpServer::PercentDecode("/a%20b+c", out, false));
  EXPECT_EQ(out, "/a b+c");
}

}  // namespace
}  // namespace gannet
