// `gannet stream pub|sub|bench` as a user runs them, against a real gannet-streaming.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "stan_harness.h"
#include "tool_process.h"

namespace gannet::streaming::test {
namespace {

// `gannet ARGS...`.
class Tool : public gannet::test::ToolProcess {
 public:
  explicit Tool(std::vector<std::string> args) : ToolProcess(GANNET_CLI_PATH, std::move(args)) {}
};

class StreamCli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.Output(); }
  void TearDown() override {
    server_.Stop();
    EXPECT_EQ(server_.SanitizerReport(), "");
  }
  // `gannet stream VERB -s URL ARGS...`
  std::vector<std::string> Cmd(const std::string& verb, std::vector<std::string> args) {
    std::vector<std::string> v = {"stream", verb, "-s", server_.url()};
    v.insert(v.end(), args.begin(), args.end());
    return v;
  }
  void Publish(const std::string& channel, int from, int to) {
    for (int i = from; i <= to; ++i) {
      Tool pub(Cmd("pub", {channel, "m" + std::to_string(i)}));
      ASSERT_EQ(pub.Wait(), 0) << pub.err();
    }
  }
  static size_t Lines(const std::string& s) {
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
  }

  StanServer server_;
};

TEST_F(StreamCli, PubThenSubFromEveryStartPosition) {
  Tool pub(Cmd("pub", {"orders", "hello"}));
  ASSERT_EQ(pub.Wait(), 0) << pub.err();
  EXPECT_NE(pub.out().find("Published 5 bytes to channel \"orders\""), std::string::npos)
      << pub.out();
  Publish("orders", 2, 3);

  Tool all(Cmd("sub", {"orders", "--all", "--count", "3"}));
  ASSERT_EQ(all.Wait(), 0) << all.err();
  EXPECT_EQ(all.out(),
            "[#1] Received on \"orders\" seq 1\nhello\n\n"
            "[#2] Received on \"orders\" seq 2\nm2\n\n"
            "[#3] Received on \"orders\" seq 3\nm3\n\n");
  Tool seq(Cmd("sub", {"orders", "--seq", "2", "--count", "2", "--raw"}));
  ASSERT_EQ(seq.Wait(), 0) << seq.err();
  EXPECT_EQ(seq.out(), "m2\nm3\n");
  Tool last(Cmd("sub", {"orders", "--last", "--count", "1", "--raw"}));
  ASSERT_EQ(last.Wait(), 0) << last.err();
  EXPECT_EQ(last.out(), "m3\n");
  Tool since(Cmd("sub", {"orders", "--since", "1h", "--count", "3", "--raw"}));
  ASSERT_EQ(since.Wait(), 0) << since.err();
  EXPECT_EQ(since.out(), "hello\nm2\nm3\n");

  // Without a start option: new messages only.
  Tool fresh(Cmd("sub", {"orders", "--count", "1", "--raw"}));
  ASSERT_TRUE(fresh.WaitForStderr("Subscribing on channel \"orders\"")) << fresh.err();
  Publish("orders", 4, 4);
  ASSERT_EQ(fresh.Wait(), 0) << fresh.err();
  EXPECT_EQ(fresh.out(), "m4\n");

  Tool clash(Cmd("sub", {"orders", "--all", "--last"}));
  EXPECT_EQ(clash.Wait(), 2);
}

TEST_F(StreamCli, DurableResumesWhereItStopped) {
  Publish("audit", 1, 3);
  Tool first(Cmd("sub", {"audit", "--all", "--durable", "d", "--client-id", "auditor", "--count",
                         "2", "--raw"}));
  ASSERT_EQ(first.Wait(), 0) << first.err();
  EXPECT_EQ(first.out(), "m1\nm2\n");
  // m3 may have arrived before the first exited: it was not printed, so not acknowledged.
  Tool second(
      Cmd("sub", {"audit", "--durable", "d", "--client-id", "auditor", "--count", "1", "--raw"}));
  ASSERT_EQ(second.Wait(), 0) << second.err();
  EXPECT_EQ(second.out(), "m3\n");
}

TEST_F(StreamCli, UnsubscribeOnExitForgetsTheDurable) {
  Publish("tmp", 1, 2);
  Tool first(Cmd("sub", {"tmp", "--all", "--durable", "d", "--client-id", "c", "--count", "1",
                         "--unsubscribe", "--raw"}));
  ASSERT_EQ(first.Wait(), 0) << first.err();
  EXPECT_EQ(first.out(), "m1\n");
  // The durable is gone: the same name starts afresh, from --all.
  Tool second(
      Cmd("sub", {"tmp", "--all", "--durable", "d", "--client-id", "c", "--count", "2", "--raw"}));
  ASSERT_EQ(second.Wait(), 0) << second.err();
  EXPECT_EQ(second.out(), "m1\nm2\n");
}

TEST_F(StreamCli, QueueMembersShareAChannel) {
  Tool a(Cmd("sub", {"jobs", "--queue", "w", "--raw"}));
  Tool b(Cmd("sub", {"jobs", "--queue", "w", "--raw"}));
  ASSERT_TRUE(a.WaitForStderr("in queue group w")) << a.err();
  ASSERT_TRUE(b.WaitForStderr("in queue group w")) << b.err();
  Tool pub(Cmd("pub", {"jobs", "job", "--count", "20", "--async", "--quiet"}));
  ASSERT_EQ(pub.Wait(), 0) << pub.err();
  EXPECT_EQ(pub.out(), "");
  ASSERT_TRUE(WaitFor([&] { return Lines(a.out()) + Lines(b.out()) >= 20; }));
  a.Signal(SIGTERM);
  b.Signal(SIGTERM);
  ASSERT_EQ(a.Wait(), 0) << a.err();
  ASSERT_EQ(b.Wait(), 0) << b.err();
  EXPECT_EQ(Lines(a.out()) + Lines(b.out()), 20u);
  EXPECT_GT(Lines(a.out()), 0u);
  EXPECT_GT(Lines(b.out()), 0u);
}

TEST_F(StreamCli, BenchJson) {
  Tool async(Cmd("bench", {"--msgs", "5000", "--size", "16", "--sub", "1", "--json"}));
  ASSERT_EQ(async.Wait(60s), 0) << async.err() << async.out();
  auto j = nlohmann::json::parse(async.out());
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["mode"], "stream");
  EXPECT_EQ(j["sync"], false);
  EXPECT_EQ(j["received"], 5000);
  EXPECT_EQ(j["lost"], 0);
  EXPECT_GT(j["pub_rate"].get<double>(), 0);
  EXPECT_GT(j["sub_rate"].get<double>(), 0);
  EXPECT_GT(j["ack_p50_us"].get<double>(), 0);
  EXPECT_LE(j["ack_p50_us"].get<double>(), j["ack_p99_us"].get<double>());
  EXPECT_LE(j["ack_p99_us"].get<double>(), j["ack_max_us"].get<double>());

  Tool sync(Cmd("bench", {"--msgs", "300", "--pub", "3", "--sync", "--json"}));
  ASSERT_EQ(sync.Wait(60s), 0) << sync.err() << sync.out();
  auto s = nlohmann::json::parse(sync.out());
  EXPECT_EQ(s["ok"], true);
  EXPECT_EQ(s["sync"], true);
  EXPECT_EQ(s["pub_clients"].size(), 3u);
  EXPECT_EQ(s["errors"], 0);
}

TEST_F(StreamCli, SubEndsWhenTheConnectionIsLost) {
  Tool sub(Cmd("sub", {"gone", "--ping-interval", "1s", "--ping-max-out", "2"}));
  ASSERT_TRUE(sub.WaitForStderr("Subscribing on channel \"gone\"")) << sub.err();
  server_.Stop(/*kill=*/true);
  EXPECT_EQ(sub.Wait(20s), 1) << sub.err();
  EXPECT_NE(sub.err().find("Connection lost: stan: connection lost due to PING failure"),
            std::string::npos)
      << sub.err();
}

TEST_F(StreamCli, WrongClusterIdIsReported) {
  Tool pub(Cmd("pub", {"x", "y", "--cluster-id", "nope", "--connect-wait", "500ms"}));
  EXPECT_EQ(pub.Wait(), 1);
  EXPECT_NE(pub.err().find("cannot connect to streaming cluster 'nope'"), std::string::npos)
      << pub.err();
  EXPECT_NE(pub.err().find("stan: connect request timeout (possibly wrong cluster ID?)"),
            std::string::npos)
      << pub.err();
}

}  // namespace
}  // namespace gannet::streaming::test
