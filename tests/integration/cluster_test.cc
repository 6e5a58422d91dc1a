// Clusters of real server processes on loopback: messages, queues, headers, request/reply and
// no-responders across routes; interest that comes and goes; a mesh completed by gossip from
// one seed; a node killed with SIGKILL and restarted. Every topology runs with Gannet nodes
// only, and mixed with nats-server 2.9.10 nodes (each kind as the seed, each kind killed).
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "integration_util.h"
#include "test_cluster.h"
#include "tls_support.h"

namespace gannet::test {
namespace {

class ClusterTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string kinds() const { return GetParam(); }
};

TEST_P(ClusterTest, MessagesCrossEveryRouteBothWays) {
  TestCluster cluster(kinds(), Routing::kFullMesh);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  for (size_t to = 0; to < cluster.size(); ++to) {
    auto sub = cluster.Client(to);
    sub->Send("SUB data.> 9\r\n");
    sub->Flush();
    for (size_t from = 0; from < cluster.size(); ++from) {
      if (from == to) continue;
      ASSERT_TRUE(cluster.WaitRouted(from, to));  // the new data.> interest too
    }
    for (size_t from = 0; from < cluster.size(); ++from) {
      if (from == to) continue;
      auto pub = cluster.Client(from);
      std::string body = "from " + std::to_string(from);
      pub->Send(PubBytes("data.x." + std::to_string(from), "r." + std::to_string(from), body));
      pub->Flush();
    }
    std::vector<Msg> msgs = ReadMsgs(*sub, cluster.size() - 1);
    ASSERT_EQ(msgs.size(), cluster.size() - 1) << "at node " << to;
    std::set<std::string> bodies;
    for (const Msg& m : msgs) {
      EXPECT_EQ(m.sid, "9");
      EXPECT_EQ(m.reply, "r." + m.subject.substr(7));
      bodies.insert(m.payload);
    }
    EXPECT_EQ(bodies.size(), cluster.size() - 1);
  }
}

TEST_P(ClusterTest, QueueGroupsDeliverEachMessageOnceClusterWide) {
  TestCluster cluster(kinds(), Routing::kFullMesh);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  // Two members on every node, and a plain wildcard subscriber on the last node.
  std::vector<std::unique_ptr<RawConn>> members;
  for (size_t i = 0; i < cluster.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      members.push_back(cluster.Client(i));
      members.back()->Send("SUB work.* workers 1\r\n");
      members.back()->Flush();
    }
  }
  auto watcher = cluster.Client(cluster.size() - 1);
  watcher->Send("SUB work.* 2\r\n");
  watcher->Flush();
  for (size_t i = 1; i < cluster.size(); ++i) ASSERT_TRUE(cluster.WaitRouted(0, i));
  // Interest of every member reached node 0 (a probe proves the routes carry it; the queue
  // weights travel on the same routes before it).
  auto pub = cluster.Client(0);
  constexpr int kMsgs = 300;
  std::string batch;
  for (int i = 0; i < kMsgs; ++i) batch += PubBytes("work.job", "", "job" + std::to_string(i));
  pub->Send(batch);
  pub->Flush();
  std::vector<Msg> seen = ReadMsgs(*watcher, kMsgs);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMsgs));
  // Read every member until the jobs add up (a PING/PONG per member and round: whatever the
  // server sent before its PONG has arrived).
  std::map<std::string, int> per_job;
  std::vector<std::string> pending(members.size());
  size_t total = 0;
  for (auto deadline = Clock::now() + 10s; total < kMsgs && Clock::now() < deadline;) {
    total = 0;
    per_job.clear();
    for (size_t i = 0; i < members.size(); ++i) {
      pending[i] += members[i]->Flush();
      for (const Msg& msg : ParseStream(pending[i]).msgs) {
        per_job[msg.payload]++;
        total++;
      }
    }
  }
  EXPECT_EQ(total, static_cast<size_t>(kMsgs));
  EXPECT_EQ(per_job.size(), static_cast<size_t>(kMsgs));
  for (const auto& [job, n] : per_job) EXPECT_EQ(n, 1) << job;
}

TEST_P(ClusterTest, HeadersRequestReplyAndNoRespondersAcrossRoutes) {
  TestCluster cluster(kinds(), Routing::kFullMesh);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  size_t last = cluster.size() - 1;
  auto responder = cluster.Client(last);
  responder->Send("SUB svc.time 1\r\n");
  responder->Flush();
  ASSERT_TRUE(cluster.WaitRouted(0, last));
  auto requestor = cluster.Client(0);
  requestor->Send("SUB _INBOX.me.* 5\r\n");
  requestor->Flush();
  ASSERT_TRUE(cluster.WaitRouted(last, 0));
  // A request with headers crosses the route as HMSG, the reply comes back.
  const std::string headers = "NATS/1.0\r\nTrace: 1\r\n\r\n";
  requestor->Send("HPUB svc.time _INBOX.me.1 " + std::to_string(headers.size()) + " " +
                  std::to_string(headers.size() + 3) + "\r\n" + headers + "now\r\n");
  std::vector<Msg> got = ReadMsgs(*responder, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].verb, "HMSG");
  EXPECT_EQ(got[0].headers, headers);
  EXPECT_EQ(got[0].payload, "now");
  EXPECT_EQ(got[0].reply, "_INBOX.me.1");
  responder->Send(PubBytes(got[0].reply, "", "12:00"));
  responder->Flush();
  std::vector<Msg> reply = ReadMsgs(*requestor, 1);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].subject, "_INBOX.me.1");
  EXPECT_EQ(reply[0].payload, "12:00");
  // Nobody anywhere listens on svc.none: no responders.
  requestor->Send(PubBytes("svc.none", "_INBOX.me.2", "?"));
  std::string rest = requestor->ReadUntil("503", 5s);
  EXPECT_NE(rest.find("HMSG _INBOX.me.2 5 16 16\r\nNATS/1.0 503"), std::string::npos) << rest;
}

TEST_P(ClusterTest, UnsubscribeAndAutoUnsubscribePropagate) {
  TestCluster cluster(kinds(), Routing::kFullMesh);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  auto sub = cluster.Client(1);
  sub->Send("SUB gone 1\r\nSUB twice 2\r\nUNSUB 2 2\r\n");
  sub->Flush();
  ASSERT_TRUE(cluster.WaitRouted(0, 1));
  auto pub = cluster.Client(0);
  for (int i = 0; i < 5; ++i) pub->Send(PubBytes("twice", "", std::to_string(i)));
  pub->Send(PubBytes("gone", "", "before"));
  pub->Flush();
  std::vector<Msg> got = ReadMsgs(*sub, 3);
  ASSERT_EQ(got.size(), 3u);  // two of "twice", then "gone"
  EXPECT_EQ(got[0].payload, "0");
  EXPECT_EQ(got[1].payload, "1");
  EXPECT_EQ(got[2].payload, "before");
  sub->Send("UNSUB 1\r\n");
  sub->Flush();
  // The RS- travels before this probe's RS+ on the same route: once the probe gets through,
  // a publish on "gone" finds no interest.
  ASSERT_TRUE(cluster.WaitRouted(0, 1));
  pub->Send(PubBytes("gone", "", "after") + PubBytes("twice", "", "more"));
  pub->Flush();
  sub->Send("SUB barrier 3\r\n");
  sub->Flush();
  ASSERT_TRUE(cluster.WaitRouted(0, 1));
  pub->Send(PubBytes("barrier", "", "end"));
  pub->Flush();
  std::vector<Msg> after = ReadMsgs(*sub, 1);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].subject, "barrier");
}

TEST_P(ClusterTest, NodesNamingOneSeedFormAFullMeshByGossip) {
  if (kinds().size() < 3) GTEST_SKIP() << "needs three nodes";
  TestCluster cluster(kinds(), Routing::kSeed);
  ASSERT_TRUE(cluster.StartAll());
  // Node 1 and node 2 only know node 0. Messages never cross two routes, so 1 -> 2 works only
  // over a route between them, which gossip from node 0 made.
  ASSERT_TRUE(cluster.WaitRouted(1, 2));
  ASSERT_TRUE(cluster.WaitRouted(2, 1));
  ASSERT_TRUE(cluster.WaitMesh());
}

TEST_P(ClusterTest, KilledSeedComesBackAndItsRoutesReturn) {
  if (kinds().size() < 3) GTEST_SKIP() << "needs three nodes";
  TestCluster cluster(kinds(), Routing::kSeed);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  cluster.node(0).process->Signal(SIGKILL);
  cluster.node(0).process->Stop();
  // The others keep their own route.
  ASSERT_TRUE(cluster.WaitRouted(1, 2));
  // The seed restarts on the same ports; the others dial it again (explicit routes retry
  // forever) and it learns of both.
  ASSERT_TRUE(cluster.node(0).Start());
  ASSERT_TRUE(cluster.WaitMesh(30s));
}

TEST_P(ClusterTest, LameDuckNodeLeavesItsPeersConnectUrls) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  TestCluster cluster(kinds(), Routing::kFullMesh);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  // A client of node 1 that takes INFO updates (protocol 1, a PING answered).
  RawConn client;
  ASSERT_TRUE(client.Connect(cluster.node(1).client_port));
  nlohmann::json info = nlohmann::json::parse(client.ReadLine().substr(5));
  client.Send("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
  client.ReadUntil("PONG\r\n");
  std::string a_url = "127.0.0.1:" + std::to_string(cluster.node(0).client_port);
  auto urls = info.value("connect_urls", nlohmann::json::array());
  ASSERT_NE(std::find(urls.begin(), urls.end(), a_url), urls.end()) << info.dump();
  cluster.node(0).process->Signal(SIGUSR2);
  // Node 1 sends its clients an INFO without node 0's URL.
  std::string line;
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    line = client.ReadLine(1s);
    if (line.rfind("INFO ", 0) == 0) break;
    if (line == "PING") client.Send("PONG\r\n");
  }
  ASSERT_EQ(line.rfind("INFO ", 0), 0u) << "no INFO update";
  auto update = nlohmann::json::parse(line.substr(5));
  auto left = update.value("connect_urls", nlohmann::json::array());
  EXPECT_EQ(std::find(left.begin(), left.end(), a_url), left.end()) << update.dump();
}

TEST_P(ClusterTest, AStuckClientBehindARouteIsCutAndTheRouteStays) {
  if (kinds() != "GG") GTEST_SKIP() << "Gannet's isolation of a slow consumer behind a route";
  TestCluster cluster(kinds(), Routing::kFullMesh);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  auto normal = cluster.Client(1);
  normal->Send("SUB flood 1\r\n");
  normal->Flush();
  auto stuck = cluster.Client(1);
  stuck->Send("SUB flood 1\r\n");
  stuck->Flush();
  ASSERT_TRUE(cluster.WaitRouted(0, 1));
  // 96 MB from node 0: more than the stuck client's max_pending (64 MB) on node 1. The route
  // into node 1 is never paused for it: it is cut there, the normal subscriber gets all.
  auto pub = cluster.Client(0);
  MessageCounter got(*normal, 96 * 16);
  const std::string msg = PubBytes("flood", "", std::string(65536, 'x'));
  for (int batch = 0; batch < 96; ++batch) {
    std::string bytes;
    for (int i = 0; i < 16; ++i) bytes += msg;
    ASSERT_TRUE(pub->Send(bytes));
  }
  got.Join();
  EXPECT_EQ(got.count(), 96 * 16);
  EXPECT_NE(cluster.node(1).process->Output().find("Slow Consumer Detected"), std::string::npos);
  // No route was closed but the duplicates of the first moments (both nodes dial each other).
  for (size_t i = 0; i < 2; ++i) {
    std::string out = cluster.node(i).process->Output();
    for (size_t at = 0; (at = out.find("Router connection closed: ", at)) != std::string::npos;) {
      at += 26;
      EXPECT_EQ(out.compare(at, 15, "Duplicate Route"), 0) << "node " << i << ": " << out;
    }
  }
  ASSERT_TRUE(cluster.WaitRouted(0, 1));
}

TEST_P(ClusterTest, RouteAuthorizationAcceptsAndRefusesAsTheReference) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  const std::string auth = "  authorization { user: ruser, password: rpass, timeout: 2 }\n";
  {
    TestCluster good(kinds(), Routing::kFullMesh, auth, {}, "ruser:rpass@");
    ASSERT_TRUE(good.StartAll());
    EXPECT_TRUE(good.WaitMesh());
  }
  // The routes carry a wrong password: no route comes up either way.
  TestCluster bad(kinds(), Routing::kFullMesh, auth, {}, "ruser:wrong@");
  ASSERT_TRUE(bad.StartAll());
  EXPECT_FALSE(bad.WaitRouted(0, 1, 3s));
  EXPECT_FALSE(bad.WaitRouted(1, 0, 1s));
}

TEST_P(ClusterTest, RouteTlsAcceptsTheClusterCaAndRefusesAnother) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  const TestCerts& certs = Certs();
  auto tls = [&](const std::string& cert, const std::string& key) {
    return "  tls { cert_file: \"" + cert + "\", key_file: \"" + key + "\", ca_file: \"" +
           certs.ca + "\", timeout: 2 }\n";
  };
  {
    TestCluster good(kinds(), Routing::kFullMesh, tls(certs.route_cert, certs.route_key));
    ASSERT_TRUE(good.StartAll());
    EXPECT_TRUE(good.WaitMesh());
  }
  // Node 1's certificate comes from another CA: the handshake fails both ways.
  TestCluster bad(kinds(), Routing::kFullMesh, {}, {}, {}, [&](size_t i) {
    return i == 0 ? tls(certs.route_cert, certs.route_key)
                  : tls(certs.route2_cert, certs.route2_key);
  });
  ASSERT_TRUE(bad.StartAll());
  EXPECT_FALSE(bad.WaitRouted(0, 1, 3s));
}

TEST_P(ClusterTest, AccountsStayApartAndShareStreamsAndServicesAcrossNodes) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  const std::string accounts = R"(accounts {
  A: { users: [{user: a, password: a}],
       exports: [{stream: "events.>"}, {service: "svc.>"}] }
  B: { users: [{user: b, password: b}],
       imports: [{stream: {account: A, subject: "events.>"}, prefix: "from_a"},
                 {service: {account: A, subject: "svc.time"}, to: "time"}] }
}
)";
  TestCluster cluster(kinds(), Routing::kFullMesh, {}, accounts);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh(20s, "a"));
  ASSERT_TRUE(cluster.WaitMesh(20s, "b"));
  // Isolation: B's publish on "secret" does not reach A's subscriber on another node.
  auto a_sub = cluster.Client(1, "a");
  a_sub->Send("SUB secret 1\r\nSUB svc.time 2\r\n");
  a_sub->Flush();
  // A stream import across nodes: A publishes on node 0, B subscribes on node 1.
  auto b_sub = cluster.Client(1, "b");
  b_sub->Send("SUB from_a.events.> 3\r\nSUB _INBOX.b.* 4\r\n");
  b_sub->Flush();
  ASSERT_TRUE(cluster.WaitRouted(0, 1, 20s, "a"));
  ASSERT_TRUE(cluster.WaitRouted(0, 1, 20s, "b"));
  auto a_pub = cluster.Client(0, "a");
  auto b_pub = cluster.Client(0, "b");
  b_pub->Send(PubBytes("secret", "", "no"));
  b_pub->Flush();
  std::vector<Msg> imported;
  for (auto deadline = Clock::now() + 10s; imported.empty() && Clock::now() < deadline;) {
    a_pub->Send(PubBytes("events.order", "", "o1"));
    a_pub->Flush();
    imported = ReadMsgs(*b_sub, 1, 200ms);
  }
  ASSERT_FALSE(imported.empty());
  EXPECT_EQ(imported[0].subject, "from_a.events.order");
  EXPECT_EQ(imported[0].sid, "3");
  EXPECT_EQ(imported[0].payload, "o1");
  // A service import across nodes: B asks "time" on node 0, A answers on node 1.
  auto b_req = cluster.Client(0, "b");
  b_req->Send("SUB _INBOX.req.* 9\r\n");
  b_req->Flush();
  std::vector<Msg> request;
  for (auto deadline = Clock::now() + 10s; request.empty() && Clock::now() < deadline;) {
    b_req->Send(PubBytes("time", "_INBOX.req.1", "now?"));
    b_req->Flush();
    for (const Msg& m : ReadMsgs(*a_sub, 1, 200ms)) {
      if (m.sid == "2") request.push_back(m);
    }
  }
  ASSERT_FALSE(request.empty()) << "the request did not reach the exporter's responder";
  EXPECT_EQ(request[0].subject, "svc.time");
  EXPECT_NE(request[0].reply, "_INBOX.req.1");  // mapped into the exporting account
  a_sub->Send(PubBytes(request[0].reply, "", "noon"));
  a_sub->Flush();
  std::vector<Msg> reply = ReadMsgs(*b_req, 1, 5s);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(reply[0].subject, "_INBOX.req.1");
  EXPECT_EQ(reply[0].payload, "noon");
  // Nothing of B's "secret" reached account A.
  for (const Msg& m : ReadMsgs(*a_sub, 1, 300ms)) EXPECT_NE(m.subject, "secret");
}

TEST_P(ClusterTest, ReloadAddsAndRemovesRoutes) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  // Node 0 names no route at first; node 1 is not told of node 0 either.
  TestCluster cluster(kinds(), Routing::kSeed);
  auto conf = [&](bool with_route) {
    return "cluster {\n  name: c\n  listen: 127.0.0.1:" +
           std::to_string(cluster.node(0).cluster_port) + "\n  routes: [" +
           (with_route ? "nats-route://127.0.0.1:" + std::to_string(cluster.node(1).cluster_port)
                       : std::string()) +
           "]\n}\n";
  };
  cluster.RewriteConfig(0, conf(false));
  cluster.RewriteConfig(1, "cluster {\n  name: c\n  listen: 127.0.0.1:" +
                               std::to_string(cluster.node(1).cluster_port) + "\n}\n");
  ASSERT_TRUE(cluster.StartAll());
  EXPECT_FALSE(cluster.WaitRouted(0, 1, 1s));
  cluster.RewriteConfig(0, conf(true));
  cluster.node(0).process->Signal(SIGHUP);
  ASSERT_TRUE(cluster.WaitRouted(0, 1));
  ASSERT_TRUE(cluster.WaitRouted(1, 0));
  cluster.RewriteConfig(0, conf(false));
  cluster.node(0).process->Signal(SIGHUP);
  // The route is closed and not dialed again.
  auto gone = [&] { return !cluster.WaitRouted(0, 1, 500ms); };
  bool closed = false;
  for (auto deadline = Clock::now() + 10s; !closed && Clock::now() < deadline;) closed = gone();
  EXPECT_TRUE(closed);
  EXPECT_FALSE(cluster.WaitRouted(0, 1, 2s));
}

// Reloads node i with `config` in place of its accounts block and waits for the outcome.
void ReloadAccounts(TestCluster& cluster, size_t i, const std::string& from,
                    const std::string& to) {
  Node& node = cluster.node(i);
  std::ifstream in(node.config_path);
  std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = conf.find(from);
  if (at == std::string::npos) Fail("accounts block not found in " + node.config_path);
  conf.replace(at, from.size(), to);
  cluster.RewriteConfig(i, conf);
  auto outcomes = [&] {
    std::string log = node.process->Output();
    size_t n = 0;
    for (std::string_view m : {"Reloaded server configuration", "Failed to reload"}) {
      for (size_t p = log.find(m); p != std::string::npos; p = log.find(m, p + 1)) ++n;
    }
    return std::make_pair(n, log);
  };
  size_t before = outcomes().first;
  node.process->Signal(SIGHUP);
  for (auto deadline = Clock::now() + 10s;;) {
    auto [n, log] = outcomes();
    if (n > before) {
      if (log.find("Failed to reload") != std::string::npos) Fail("reload failed:\n" + log);
      return;
    }
    if (Clock::now() > deadline) Fail("no reload outcome logged:\n" + log);
    std::this_thread::sleep_for(5ms);  // polling the server's log
  }
}

// Publishes on `pub` until `sub` receives it (interest crossing the route), then checks the
// subject it arrived under.
::testing::AssertionResult DeliveredAcross(RawConn& pub, RawConn& sub, const std::string& subject,
                                           const std::string& want_subject) {
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    pub.Send(PubBytes(subject, "", "p"));
    pub.Flush();
    std::string got = sub.ReadUntil("MSG " + want_subject + " ", 200ms);
    if (!got.empty()) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << subject << " never arrived as " << want_subject;
}

// Reloads that change accounts on every node of a cluster (reload.go reloadAuthorization): an
// added account's interest crosses the routes (RS+ in it), a removed one's clients are closed,
// a changed stream import moves the interest standing for the importer's existing
// subscriptions (to another subject of the exporter); U's traffic across the route loses nothing,
// counted exactly.
TEST_P(ClusterTest, ReloadChangesAccounts) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  const std::string kept =
      "  A: { users: [ {user: a, password: a} ], exports: [{stream: \"news.>\"}, {stream: "
      "\"sport.>\"}] }\n"
      "  U: { users: [ {user: u, password: u} ] }\n";
  const std::string v1 = "accounts {\n" + kept + "  R: { users: [ {user: r, password: r} ] }\n}\n";
  auto with_n = [&](const std::string& subject) {
    return "accounts {\n" + kept +
           "  N: { users: [ {user: n, password: n} ], imports: [{stream: {account: A, subject: "
           "\"" +
           subject + "\"}, prefix: a}] }\n}\n";
  };
  TestCluster cluster(kinds(), Routing::kFullMesh, {}, v1);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh(20s, "u"));
  auto r = cluster.Client(1, "r");
  r->Send("SUB x 1\r\n");
  auto sub = cluster.Client(1, "u");
  auto pub = cluster.Client(0, "u");
  sub->Send("SUB steady 1\r\nPING\r\n");
  ASSERT_NE(sub->ReadUntil("PONG\r\n", 5s), "");
  ASSERT_TRUE(DeliveredAcross(*pub, *sub, "steady", "steady"));  // the interest crossed
  sub->Flush(500ms);

  constexpr int kMessages = 50000;
  MessageCounter counter(*sub, kMessages);
  std::thread publisher([&] {
    for (int i = 0; i < kMessages / 100; ++i) {
      std::string batch;
      for (int k = 0; k < 100; ++k) batch += PubBytes("steady", "", "m");
      pub->Send(batch);
      if (i % 50 == 0) pub->Flush(10s);  // paced by the server's PONG
    }
  });
  for (int i = 0; i < 5000 && counter.count() < 1000; ++i) {
    std::this_thread::sleep_for(1ms);  // until the traffic flows
  }
  ReloadAccounts(cluster, 0, v1, with_n("news.>"));
  ReloadAccounts(cluster, 1, v1, with_n("news.>"));
  publisher.join();
  counter.Join();
  EXPECT_EQ(counter.count(), kMessages);
  EXPECT_FALSE(counter.closed());
  EXPECT_TRUE(ClosesWith(*r, ""));

  // The new account's interest crosses the routes both ways.
  ASSERT_TRUE(cluster.WaitRouted(0, 1, 20s, "n"));
  ASSERT_TRUE(cluster.WaitRouted(1, 0, 20s, "n"));
  // Its import of A's stream: A publishes on node 0, N subscribes on node 1.
  auto a = cluster.Client(0, "a");
  auto n = cluster.Client(1, "n");
  n->Send("SUB a.news.> 1\r\nSUB a.sport.> 2\r\n");
  EXPECT_TRUE(DeliveredAcross(*a, *n, "news.x", "a.news.x"));
  // The import changes under N's existing subscriptions: a.sport.> now stands for interest in
  // A's sport.> on node 1 (RS+ from node 1), a.news.> for nothing (RS-).
  ReloadAccounts(cluster, 0, with_n("news.>"), with_n("sport.>"));
  ReloadAccounts(cluster, 1, with_n("news.>"), with_n("sport.>"));
  n->Flush(300ms);
  EXPECT_TRUE(DeliveredAcross(*a, *n, "sport.y", "a.sport.y"));
  a->Send(PubBytes("news.z", "", "gone") + PubBytes("sport.z", "", "last"));
  a->Flush();
  std::string rest = n->ReadUntil("last\r\n", 5s);
  EXPECT_NE(rest.find("MSG a.sport.z 2 4\r\nlast\r\n"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("a.news"), std::string::npos) << rest;
}

// The nodes of a cluster are reloaded one by one: node 1 hears of interest in account N before
// its own reload adds N. Gannet keeps that interest and takes it in with the reload, so N's
// messages published on node 1 reach node 0's subscriber. (nats-server 2.9.10 drops interest
// in an account it does not have: Gannet nodes only.)
TEST_P(ClusterTest, InterestInAnAccountAddedLaterIsKept) {
  if (kinds() != "GG") GTEST_SKIP() << "the reference drops it";
  const std::string v1 = "accounts {\n  U: { users: [ {user: u, password: u} ] }\n}\n";
  const std::string v2 =
      "accounts {\n  U: { users: [ {user: u, password: u} ] }\n"
      "  N: { users: [ {user: n, password: n} ] }\n}\n";
  TestCluster cluster(kinds(), Routing::kFullMesh, {}, v1);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh(20s, "u"));
  ReloadAccounts(cluster, 0, v1, v2);
  auto n0 = cluster.Client(0, "n");
  n0->Send("SUB late 1\r\nPING\r\n");
  ASSERT_NE(n0->ReadUntil("PONG\r\n", 5s), "");
  // A message of U sent on the same route after the RS+: once it arrives, node 1 has read
  // the RS+ for N (and had no account N to put it in).
  auto u1 = cluster.Client(1, "u");
  auto u0 = cluster.Client(0, "u");
  u1->Send("SUB marker 1\r\nPING\r\n");
  ASSERT_NE(u1->ReadUntil("PONG\r\n", 5s), "");
  ASSERT_TRUE(DeliveredAcross(*u0, *u1, "marker", "marker"));
  ReloadAccounts(cluster, 1, v1, v2);
  auto n1 = cluster.Client(1, "n");
  n1->Send(PubBytes("late", "", "kept"));
  n1->Flush();
  EXPECT_NE(n0->ReadUntil("kept\r\n", 5s).find("MSG late 1 4\r\nkept"), std::string::npos);
}

TEST_P(ClusterTest, FirstPingGetsAnInfoWhenTheClusterChangedSinceConnect) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  TestCluster cluster(kinds(), Routing::kSeed);
  ASSERT_TRUE(cluster.node(0).Start());
  // A client of node 0 before node 1 exists; its first PING comes after node 1 joined.
  RawConn client;
  ASSERT_TRUE(client.Connect(cluster.node(0).client_port));
  client.ReadLine();
  client.Send("CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
  ASSERT_TRUE(cluster.node(1).Start());
  ASSERT_TRUE(cluster.WaitRouted(1, 0));
  client.Send("PING\r\n");
  EXPECT_EQ(client.ReadLine(), "PONG");
  std::string info = client.ReadLine();
  ASSERT_EQ(info.rfind("INFO ", 0), 0u) << info;
  auto urls = nlohmann::json::parse(info.substr(5)).value("connect_urls", nlohmann::json::array());
  std::string b_url = "127.0.0.1:" + std::to_string(cluster.node(1).client_port);
  EXPECT_NE(std::find(urls.begin(), urls.end(), b_url), urls.end()) << info;
}

TEST_P(ClusterTest, ExportPermissionsKeepSubjectsOnTheirServer) {
  if (kinds().size() != 2) GTEST_SKIP() << "two nodes";
  // Node 0 exports everything but secret.>: node 1's interest in it is not accepted.
  TestCluster cluster(kinds(), Routing::kFullMesh, {}, {}, {}, [](size_t i) {
    return i == 0 ? "  permissions { export: { deny: [\"secret.>\"] } }\n" : "";
  });
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh());
  auto sub = cluster.Client(1);
  sub->Send("SUB secret.x 1\r\nSUB public.x 2\r\n");
  sub->Flush();
  ASSERT_TRUE(cluster.WaitRouted(0, 1));
  auto pub = cluster.Client(0);
  pub->Send(PubBytes("secret.x", "", "s") + PubBytes("public.x", "", "p"));
  pub->Flush();
  std::vector<Msg> got = ReadMsgs(*sub, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "public.x");
  EXPECT_TRUE(ReadMsgs(*sub, 1, 300ms).empty());
}

INSTANTIATE_TEST_SUITE_P(Topologies, ClusterTest,
                         ::testing::Values("GG", "GGG", "NGG", "GNN", "NG", "GN"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gannet::test
