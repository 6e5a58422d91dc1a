// Gannet's client library against a two-node cluster: it learns the other node from INFO
// connect_urls, and when the node it is connected to is killed (SIGKILL), it fails over to the
// other and its messages keep arriving. Run with Gannet clusters and with nats-server clusters.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>

#include "client_test_util.h"
#include "gannet/client.h"
#include "server_process.h"
#include "server_test.h"

namespace gannet::test {
namespace {

using namespace std::chrono_literals;
using client::Connection;
using client::Options;
using client::Status;

class ClusterClientTest : public ::testing::TestWithParam<ServerKind> {};

TEST_P(ClusterClientTest, LearnsTheOtherNodeAndFailsOverToIt) {
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

  // The subscriber is on B; the publisher is given only A's URL.
  Options so;
  so.servers = {b.url()};
  auto sub_conn = Connection::Connect(so);
  ASSERT_TRUE(sub_conn.ok()) << sub_conn.error();
  Counter received;
  auto sub = sub_conn->Subscribe("fail.over", [&](const client::Message&) { received.Add(); });
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(sub_conn->Flush(), Status::kOk);

  Counter discovered, reconnected;
  Options o;
  o.servers = {a.url()};
  o.reconnect_wait = 100ms;
  o.on_discovered_servers = [&](const std::vector<std::string>&) { discovered.Add(); };
  o.on_reconnected = [&](const std::string&) { reconnected.Add(); };
  auto pub = Connection::Connect(o);
  ASSERT_TRUE(pub.ok()) << pub.error();
  // A knows B once the route is up; the publisher learns B from A's INFO (at connect or in an
  // update). Messages reach B's subscriber once B's interest reached A.
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       received.value() == 0 && std::chrono::steady_clock::now() < deadline;) {
    ASSERT_EQ(pub->Publish("fail.over", "before"), Status::kOk);
    ASSERT_EQ(pub->Flush(), Status::kOk);
    received.WaitFor(1, 100ms);
  }
  ASSERT_GE(received.value(), 1);
  auto servers = pub->servers();
  std::string b_port = ":" + std::to_string(b.port());
  ASSERT_TRUE(std::any_of(servers.begin(), servers.end(), [&](const std::string& s) {
    return s.size() > b_port.size() && s.ends_with(b_port);
  })) << "the publisher did not learn node B";

  int before = received.value();
  a.Signal(SIGKILL);
  a.Stop();
  ASSERT_TRUE(reconnected.WaitFor(1, 20s)) << "no failover to node B";
  ASSERT_EQ(pub->Publish("fail.over", "after"), Status::kOk);
  ASSERT_EQ(pub->Flush(), Status::kOk);
  EXPECT_TRUE(received.WaitFor(before + 1, 10s));
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS_SANITIZED(ClusterClientTest);

}  // namespace
}  // namespace gannet::test
