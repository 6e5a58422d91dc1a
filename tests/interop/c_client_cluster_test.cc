// The official C client (libnats) against a two-node cluster, Gannet's and the reference's:
// given one node's URL it learns the other (INFO connect_urls), and when that node is killed
// with SIGKILL it reconnects to the other and its publishes reach a subscriber there.
#include <nats/nats.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "server_process.h"
#include "server_test.h"

namespace gannet::test {
namespace {

using namespace std::chrono_literals;

void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<std::atomic<int>*>(closure)->fetch_add(1);
  natsMsg_Destroy(msg);
}

void OnReconnected(natsConnection*, void* closure) {
  static_cast<std::atomic<int>*>(closure)->fetch_add(1);
}

template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class InteropClusterTest : public ::testing::TestWithParam<ServerKind> {};

TEST_P(InteropClusterTest, FailsOverToTheNodeItLearned) {
  int cluster_a = FreeTcpPort(), cluster_b = FreeTcpPort();
  TempDir dir;
  std::string conf_a = dir.Write(
      "a.conf", "cluster { name: c, listen: 127.0.0.1:" + std::to_string(cluster_a) + " }\n");
  std::string conf_b = dir.Write(
      "b.conf", "cluster { name: c, listen: 127.0.0.1:" + std::to_string(cluster_b) +
                    ", routes: [nats-route://127.0.0.1:" + std::to_string(cluster_a) + "] }\n");
  ServerProcess a(GetParam(), {"-c", conf_a});
  ServerProcess b(GetParam(), {"-c", conf_b});
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());

  natsConnection* sub_nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&sub_nc, b.url().c_str()), NATS_OK);
  std::atomic<int> received{0};
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&sub, sub_nc, "c.fail.over", OnMessage, &received), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(sub_nc), NATS_OK);

  natsOptions* opts = nullptr;
  ASSERT_EQ(natsOptions_Create(&opts), NATS_OK);
  ASSERT_EQ(natsOptions_SetURL(opts, a.url().c_str()), NATS_OK);
  ASSERT_EQ(natsOptions_SetReconnectWait(opts, 100), NATS_OK);
  std::atomic<int> reconnected{0};
  ASSERT_EQ(natsOptions_SetReconnectedCB(opts, OnReconnected, &reconnected), NATS_OK);
  natsConnection* pub_nc = nullptr;
  ASSERT_EQ(natsConnection_Connect(&pub_nc, opts), NATS_OK);
  // Until B's interest reached A (and A's INFO told the client about B).
  ASSERT_TRUE(WaitUntil(
      [&] {
        natsConnection_PublishString(pub_nc, "c.fail.over", "before");
        natsConnection_Flush(pub_nc);
        return received.load() > 0;
      },
      20s));
  char** servers = nullptr;
  int count = 0;
  ASSERT_EQ(natsConnection_GetDiscoveredServers(pub_nc, &servers, &count), NATS_OK);
  bool knows_b = false;
  std::string b_port = ":" + std::to_string(b.port());
  for (int i = 0; i < count; ++i) {
    knows_b |= std::string(servers[i]).ends_with(b_port);
    free(servers[i]);
  }
  free(servers);
  ASSERT_TRUE(knows_b) << "libnats did not learn node B";

  int before = received.load();
  a.Signal(SIGKILL);
  a.Stop();
  ASSERT_TRUE(WaitUntil([&] { return reconnected.load() > 0; }, 20s)) << "no failover";
  ASSERT_EQ(natsConnection_PublishString(pub_nc, "c.fail.over", "after"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(pub_nc), NATS_OK);
  EXPECT_TRUE(WaitUntil([&] { return received.load() > before; }, 10s));

  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pub_nc);
  natsConnection_Destroy(sub_nc);
  natsOptions_Destroy(opts);
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(InteropClusterTest);

}  // namespace
}  // namespace gannet::test
