// gannet-streaming with -ns: against the reference nats-server 2.9.10 and against
// gannet-server, pub/sub and a durable through the external NATS, the server's own monitoring
// listener, and reconnecting after the NATS server restarts.
#include <gtest/gtest.h>

#include "http_client.h"
#include "server_process.h"
#include "stan_harness.h"

namespace gannet::streaming::test {
namespace {

using gannet::test::ServerKind;
using gannet::test::ServerProcess;

class StanExternal : public ::testing::TestWithParam<ServerKind> {};

TEST_P(StanExternal, PublishSubscribeThroughAnExternalNats) {
  ServerProcess nats(GetParam());
  ASSERT_TRUE(nats.Start()) << nats.Output();
  StanServer server({"-ns", nats.url()}, false);
  server.EnableMonitoring();
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(nats.url(), "ext", &err);
  ASSERT_TRUE(sc) << err;
  for (int i = 1; i <= 20; ++i) ASSERT_EQ(Publish(sc.get(), "ext", std::to_string(i)), "");
  Collector c;
  SubscribeOptions o;
  o.start = SubscribeOptions::Start::kFirst;
  o.durable = "d";
  StanSub sub = Subscribe(sc.get(), "ext", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(20));
  EXPECT_EQ(c.Snapshot().back().seq, 20u);
  // The monitoring endpoints on a listener of their own.
  auto r = gannet::test::HttpGet(server.http_port(), "/streaming/channelsz?channel=ext");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"last_seq\": 20"), std::string::npos) << r.body;
  sub.reset();
  sc.reset();
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(server.SanitizerReport(), "");
}

TEST_P(StanExternal, ReconnectsWhenNatsRestarts) {
  const int port = gannet::test::FreeTcpPort();
  ServerProcess nats(GetParam(), {"-a", "127.0.0.1", "-p", std::to_string(port)});
  ASSERT_TRUE(nats.Start()) << nats.Output();
  StanServer server({"-ns", nats.url()}, false);
  ASSERT_TRUE(server.Start()) << server.Output();
  nats.Stop();
  ASSERT_TRUE(nats.Start()) << nats.Output();
  ASSERT_TRUE(WaitFor(
      [&] { return server.Output().find("reconnected to NATS Server") != std::string::npos; }));
  std::string err;
  StanConn sc;
  ASSERT_TRUE(WaitFor([&] {
    sc = Connect(nats.url(), "after", &err);
    return sc != nullptr;
  })) << err;
  EXPECT_EQ(Publish(sc.get(), "foo", "x"), "");
}

INSTANTIATE_TEST_SUITE_P(Servers, StanExternal,
                         ::testing::Values(ServerKind::kNatsServer, ServerKind::kGannet),
                         [](const auto& info) { return gannet::test::ServerKindName(info.param); });

}  // namespace
}  // namespace gannet::streaming::test
