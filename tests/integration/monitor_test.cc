// The monitoring endpoints over HTTP, each test run against gannet-server and nats-server: the
// same scenario must give the same answers (fields, types, error texts, content types).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <set>
#include <thread>

#include "http_client.h"
#include "integration_util.h"
#include "monitor_cluster.h"

namespace gannet::test {
namespace {

using Json = nlohmann::json;

// Polls `check` until it holds or the deadline passes.
bool WaitFor(const std::function<bool()>& check, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return check();
}

class MonitorTest : public ProtocolTest {
 protected:
  // Starts the server with monitoring on a free port (plus `args`).
  void StartMonitored(std::vector<std::string> args = {}) {
    http_port_ = FreeTcpPort();
    args.insert(args.begin(), {"-m", std::to_string(http_port_)});
    Start(args);
  }

  HttpResult Get(const std::string& target) { return HttpGet(http_port_, target); }

  // GETs a JSON endpoint, asserting 200 and the JSON content type.
  Json GetJson(const std::string& target) {
    HttpResult r = Get(target);
    if (r.status != 200) Fail(target + " answered " + std::to_string(r.status) + ": " + r.body);
    EXPECT_EQ(r.Header("content-type"), "application/json") << target;
    return Json::parse(r.body);
  }

  std::vector<uint64_t> Cids(const Json& connz) {
    std::vector<uint64_t> cids;
    for (const Json& c : connz["connections"]) cids.push_back(c["cid"].get<uint64_t>());
    return cids;
  }

  int http_port_ = 0;
};

TEST_P(MonitorTest, VarzCountsMessagesAndConnections) {
  StartMonitored();
  auto sub = Client();
  auto pub = Client();
  EXPECT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*pub, PubBytes("foo", "", "hello") + PubBytes("foo", "", "world!")), "");
  ASSERT_FALSE(sub->ReadUntil("world!\r\n").empty());

  Json varz;
  ASSERT_TRUE(WaitFor([&] {
    varz = GetJson("/varz");
    return varz["out_msgs"] == 2;
  })) << varz.dump(2);
  EXPECT_EQ(varz["in_msgs"], 2);
  EXPECT_EQ(varz["in_bytes"], 11);
  EXPECT_EQ(varz["out_bytes"], 11);
  EXPECT_EQ(varz["connections"], 2);
  EXPECT_EQ(varz["total_connections"], 2);
  EXPECT_EQ(varz["version"], "2.9.10");
  EXPECT_EQ(varz["http_port"], http_port_);
  EXPECT_EQ(varz["max_payload"], 1048576);
  EXPECT_EQ(varz["ping_interval"], 120000000000LL);
  EXPECT_EQ(varz["http_req_stats"]["/varz"].get<int>() >= 1, true);
  EXPECT_TRUE(varz["start"].is_string());
  EXPECT_TRUE(varz["mem"].get<int64_t>() > 0);
}

TEST_P(MonitorTest, ConnzDescribesEachConnection) {
  StartMonitored();
  auto a = Client(R"({"verbose":false,"name":"alpha","lang":"raw","version":"9.9"})");
  EXPECT_EQ(SendAndFlush(*a, "SUB foo 1\r\nSUB bar q 2\r\n" + PubBytes("foo", "", "xyz")),
            MsgBytes("foo", "1", "", "xyz"));
  Json connz = GetJson("/connz?subs=detail");
  ASSERT_EQ(connz["num_connections"], 1) << connz.dump(2);
  EXPECT_EQ(connz["total"], 1);
  EXPECT_EQ(connz["offset"], 0);
  EXPECT_EQ(connz["limit"], 1024);
  const Json& c = connz["connections"][0];
  EXPECT_EQ(c["kind"], "Client");
  EXPECT_EQ(c["type"], "nats");
  EXPECT_EQ(c["ip"], "127.0.0.1");
  EXPECT_EQ(c["name"], "alpha");
  EXPECT_EQ(c["lang"], "raw");
  EXPECT_EQ(c["version"], "9.9");
  EXPECT_EQ(c["subscriptions"], 2);
  EXPECT_EQ(c["in_msgs"], 1);
  EXPECT_EQ(c["out_msgs"], 1);
  EXPECT_EQ(c["in_bytes"], 3);
  EXPECT_EQ(c["out_bytes"], 3);
  std::set<std::string> subjects;
  for (const Json& s : c["subscriptions_list_detail"]) {
    subjects.insert(s["subject"].get<std::string>());
    EXPECT_EQ(s["cid"], c["cid"]);
    if (s["subject"] == "bar") {
      EXPECT_EQ(s["qgroup"], "q");
    } else {
      EXPECT_EQ(s["msgs"], 1);
    }
  }
  EXPECT_EQ(subjects, (std::set<std::string>{"foo", "bar"}));
  Json plain = GetJson("/connz?subs=1");
  std::set<std::string> listed;
  for (const Json& s : plain["connections"][0]["subscriptions_list"]) listed.insert(s);
  EXPECT_EQ(listed, subjects);
}

TEST_P(MonitorTest, ConnzSortsByEveryKey) {
  StartMonitored();
  // Client i has i subscriptions and has published i messages of i bytes.
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 1; i <= 4; ++i) {
    conns.push_back(Client());
    std::string cmds;
    for (int s = 0; s < i; ++s)
      cmds += "SUB s" + std::to_string(s) + " " + std::to_string(s) + "\r\n";
    for (int m = 0; m < i; ++m) cmds += PubBytes("nobody", "", std::string(i, 'x'));
    EXPECT_EQ(SendAndFlush(*conns.back(), cmds), "");
  }
  Json by_cid = GetJson("/connz");
  std::vector<uint64_t> cids = Cids(by_cid);
  ASSERT_EQ(cids.size(), 4u);
  EXPECT_TRUE(std::is_sorted(cids.begin(), cids.end()));
  std::vector<uint64_t> reversed(cids.rbegin(), cids.rend());
  for (const char* key : {"subs", "msgs_from", "bytes_from"}) {
    EXPECT_EQ(Cids(GetJson(std::string("/connz?sort=") + key)), reversed) << key;
  }
  EXPECT_EQ(Cids(GetJson("/connz?sort=start")), cids);
  // The remaining keys are accepted and list every connection.
  for (const char* key : {"cid", "pending", "msgs_to", "bytes_to", "last", "idle", "uptime"}) {
    Json j = GetJson(std::string("/connz?sort=") + key);
    EXPECT_EQ(j["num_connections"], 4) << key;
  }
  for (const char* key : {"stop", "reason"}) {
    EXPECT_EQ(GetJson(std::string("/connz?state=closed&sort=") + key)["total"], 0) << key;
  }
}

TEST_P(MonitorTest, ConnzPagesAndFindsOneConnection) {
  StartMonitored();
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 5; ++i) conns.push_back(Client());
  std::vector<uint64_t> all = Cids(GetJson("/connz"));
  ASSERT_EQ(all.size(), 5u);
  Json page = GetJson("/connz?offset=1&limit=2");
  EXPECT_EQ(page["num_connections"], 2);
  EXPECT_EQ(page["total"], 5);
  EXPECT_EQ(page["offset"], 1);
  EXPECT_EQ(page["limit"], 2);
  EXPECT_EQ(Cids(page), (std::vector<uint64_t>{all[1], all[2]}));
  Json past = GetJson("/connz?offset=10");
  EXPECT_EQ(past["num_connections"], 0);
  EXPECT_TRUE(past["connections"].empty());
  Json one = GetJson("/connz?cid=" + std::to_string(all[3]));
  EXPECT_EQ(one["limit"], 1);
  EXPECT_EQ(Cids(one), std::vector<uint64_t>{all[3]});
  EXPECT_EQ(GetJson("/connz?acc=$G")["num_connections"], 5);
}

TEST_P(MonitorTest, ConnzBadParametersGet400WithTheReferenceText) {
  StartMonitored();
  const std::pair<std::string, std::string> cases[] = {
      {"/connz?sort=foo", "invalid sorting option: foo"},
      {"/connz?sort=stop", "sort by stop only valid on closed connections"},
      {"/connz?sort=reason&state=open", "sort by reason only valid on closed connections"},
      {"/connz?limit=x",
       "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"},
      {"/connz?offset=1.5",
       "Error decoding int for 'offset': strconv.Atoi: parsing \"1.5\": invalid syntax"},
      {"/connz?cid=-1",
       "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"},
      {"/connz?state=zz", "Error decoding state for zz"},
      {"/connz?subs=zz",
       "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"zz\": invalid syntax"},
      {"/connz?auth=2",
       "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"2\": invalid syntax"},
      {"/subsz?test=foo.*", "invalid test subject, must be valid publish subject: foo.*"},
  };
  for (const auto& [target, text] : cases) {
    HttpResult r = Get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body, text) << target;
    EXPECT_EQ(r.Header("content-type"), "text/plain; charset=utf-8") << target;
  }
  EXPECT_EQ(GetJson("/healthz")["status"], "ok");  // still serving
}

TEST_P(MonitorTest, ClosedConnectionsKeepTheirReason) {
  StartMonitored();
  auto stays = Client();
  auto leaves = Client(R"({"verbose":false,"name":"leaver"})");
  EXPECT_EQ(SendAndFlush(*leaves, "SUB gone 7\r\n"), "");
  ASSERT_TRUE(leaves->Send("PUB foo 2000000\r\n"));
  ASSERT_TRUE(leaves->WaitClosed());
  Json closed;
  ASSERT_TRUE(WaitFor([&] {
    closed = GetJson("/connz?state=closed&subs=1");
    return closed["total"] == 1;
  })) << closed.dump(2);
  const Json& c = closed["connections"][0];
  EXPECT_EQ(c["reason"], "Maximum Message Payload Exceeded");
  EXPECT_EQ(c["name"], "leaver");
  EXPECT_TRUE(c["stop"].is_string());
  EXPECT_EQ(c["subscriptions"], 1);
  EXPECT_EQ(c["subscriptions_list"], Json::array({"gone"}));
  Json all = GetJson("/connz?state=all");
  EXPECT_EQ(all["total"], 2);
  EXPECT_EQ(all["num_connections"], 2);
  Json open = GetJson("/connz");
  EXPECT_EQ(open["total"], 1);
  EXPECT_FALSE(open["connections"][0].contains("stop"));
  EXPECT_EQ(GetJson("/connz?state=closed&sort=reason")["num_connections"], 1);
  Json by_cid = GetJson("/connz?state=closed&cid=" + c["cid"].dump());
  EXPECT_EQ(by_cid["num_connections"], 1);
}

TEST_P(MonitorTest, SubszListsAndTestsSubscriptions) {
  StartMonitored();
  auto a = Client();
  EXPECT_EQ(SendAndFlush(*a, "SUB foo.* 1\r\nSUB foo.bar q 2\r\nSUB baz 3\r\n"), "");
  Json matched = GetJson("/subsz?subs=1&test=foo.bar");
  std::set<std::string> subjects;
  for (const Json& s : matched["subscriptions_list"]) {
    if (s["cid"] == 0 || s["account"] != "$G") continue;  // the reference's own subscriptions
    subjects.insert(s["subject"].get<std::string>());
  }
  EXPECT_EQ(subjects, (std::set<std::string>{"foo.*", "foo.bar"}));
  Json stats = GetJson("/subsz");
  EXPECT_GE(stats["num_subscriptions"].get<int>(), 3);
  EXPECT_TRUE(stats["cache_hit_rate"].is_number());
  EXPECT_FALSE(stats.contains("subscriptions_list"));
  Json alias = GetJson("/subscriptionsz");
  EXPECT_EQ(alias["num_subscriptions"], stats["num_subscriptions"]);
  Json page = GetJson("/subsz?subs=1&offset=1&limit=1");
  EXPECT_EQ(page["subscriptions_list"].size(), 1u);
  EXPECT_EQ(page["offset"], 1);
  EXPECT_EQ(page["limit"], 1);
}

TEST_P(MonitorTest, SubszReportsCacheFanout) {
  StartMonitored();
  auto subs = Client();
  EXPECT_EQ(SendAndFlush(*subs, "SUB fan 1\r\nSUB fan 2\r\nSUB fan q 3\r\n"), "");
  auto pub = Client();
  // Repeated lookups of one subject get it cached (Gannet caches on the second miss).
  std::string pubs;
  for (int i = 0; i < 3; ++i) pubs += PubBytes("fan", "", "x");
  EXPECT_EQ(SendAndFlush(*pub, pubs), "");
  Json stats = GetJson("/subsz");
  EXPECT_GE(stats["num_cache"].get<int>(), 1) << stats.dump(2);
  // Two plain subscriptions and one queue group.
  EXPECT_GE(stats["max_fanout"].get<int>(), 3) << stats.dump(2);
  EXPECT_GT(stats["avg_fanout"].get<double>(), 0) << stats.dump(2);
  EXPECT_GE(stats["num_matches"].get<int>(), 3) << stats.dump(2);
}

TEST_P(MonitorTest, JsonpContentTypesAndUnknownPaths) {
  StartMonitored();
  HttpResult jsonp = Get("/varz?callback=render");
  EXPECT_EQ(jsonp.status, 200);
  EXPECT_EQ(jsonp.Header("content-type"), "application/javascript");
  ASSERT_GT(jsonp.body.size(), 8u);
  EXPECT_EQ(jsonp.body.substr(0, 7), "render(");
  EXPECT_EQ(jsonp.body.back(), ')');
  EXPECT_TRUE(Json::accept(jsonp.body.substr(7, jsonp.body.size() - 8)));
  HttpResult health = Get("/healthz");
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(Get("/healthz?callback=cb").body, R"(cb({"status":"ok"}))");
  HttpResult root = Get("/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(root.body.find("connz"), std::string::npos);
  EXPECT_EQ(Get("/nothere").status, 404);
  EXPECT_EQ(Get("/varz/extra").status, 404);
  for (const char* empty : {"/routez", "/gatewayz", "/leafz", "/accountz"}) {
    Json j = GetJson(empty);
    EXPECT_TRUE(j["server_id"].is_string()) << empty;
  }
  EXPECT_EQ(GetJson("/routez")["num_routes"], 0);
  EXPECT_EQ(GetJson("/leafz")["leafnodes"], 0);
}

TEST_P(MonitorTest, BadHttpGets400AndServerKeepsRunning) {
  StartMonitored();
  EXPECT_EQ(HttpRaw(http_port_, "GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(HttpRaw(http_port_, "GET /varz HTTP/1.1\r\nno colon here\r\n\r\n").status, 400);
  // Keep-alive: two pipelined requests on one connection, both answered.
  HttpResult two = HttpRaw(http_port_,
                           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t first = two.raw.find(R"({"status":"ok"})");
  ASSERT_NE(first, std::string::npos) << two.raw;
  EXPECT_NE(two.raw.find(R"({"status":"ok"})", first + 1), std::string::npos) << two.raw;
  // The monitoring port and the client port both still work.
  EXPECT_EQ(GetJson("/healthz")["status"], "ok");
  auto c = Client();
  EXPECT_EQ(SendAndFlush(*c, "SUB a 1\r\n" + PubBytes("a", "", "ok")),
            MsgBytes("a", "1", "", "ok"));
}

TEST_P(MonitorTest, BasePathAndPortFromConfig) {
  http_port_ = FreeTcpPort();
  StartWithConfig("http: \"127.0.0.1:" + std::to_string(http_port_) +
                  "\"\nhttp_base_path: \"/mon\"\n");
  EXPECT_EQ(GetJson("/mon/varz")["http_base_path"], "/mon");
  EXPECT_EQ(Get("/varz").status, 404);
  EXPECT_EQ(GetJson("/mon/connz")["num_connections"], 0);
}

TEST_P(MonitorTest, ConnzShowsAndFiltersAuthorizedUsers) {
  StartMonitored({"--user", "alice", "--pass", "secret"});
  auto a = Client(R"({"verbose":false,"user":"alice","pass":"secret"})");
  Json with_auth = GetJson("/connz?auth=1");
  ASSERT_EQ(with_auth["num_connections"], 1) << with_auth.dump(2);
  EXPECT_EQ(with_auth["connections"][0]["authorized_user"], "alice");
  EXPECT_FALSE(GetJson("/connz")["connections"][0].contains("authorized_user"));
  EXPECT_EQ(GetJson("/connz?auth=1&user=alice")["num_connections"], 1);
  EXPECT_EQ(GetJson("/connz?auth=1&user=bob")["num_connections"], 0);
}

TEST_P(MonitorTest, MonitorPortInUseStopsTheServerWithAClearError) {
  // Hold a port, then ask the server to monitor on it.
  int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ServerProcess server(kind(), {"-a", "127.0.0.1", "-m", std::to_string(port)});
  EXPECT_FALSE(server.Start(3s));
  EXPECT_NE(server.Output().find("can't listen to the monitor port: listen tcp 127.0.0.1:" +
                                 std::to_string(port) + ": bind: address already in use"),
            std::string::npos)
      << server.Output();
  close(holder);
}

TEST_P(MonitorTest, RoutezSubsParameterAsTheReference) {
  StartMonitored();
  Json plain = GetJson("/routez");
  EXPECT_EQ(plain["num_routes"], 0);
  EXPECT_EQ(plain["routes"], Json::array());
  EXPECT_FALSE(plain.contains("import"));
  EXPECT_EQ(GetJson("/routez?subs=detail")["num_routes"], 0);
  HttpResult bad = Get("/routez?subs=x");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body,
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax");
  // Without a cluster: an empty cluster object and no routes.
  Json varz = GetJson("/varz");
  EXPECT_EQ(varz["cluster"], Json::object());
  EXPECT_EQ(varz["routes"], 0);
  EXPECT_EQ(varz["remotes"], 0);
  EXPECT_FALSE(varz.contains("connect_urls"));
}

// A two-node cluster of the server under test (see monitor_cluster.h), both nodes queried.
class MonitorClusterTest : public ::testing::TestWithParam<ServerKind> {};

TEST_P(MonitorClusterTest, VarzShowsTheClusterAndItsRoute) {
  MonitoredCluster cluster(GetParam());
  for (const auto* node : {&cluster.a, &cluster.b}) {
    const auto& peer = node == &cluster.a ? cluster.b : cluster.a;
    Json varz = node->Get("/varz");
    EXPECT_EQ(varz["routes"], 1);
    EXPECT_EQ(varz["remotes"], 1);
    const Json& c = varz["cluster"];
    EXPECT_EQ(c["name"], "c") << c.dump(2);
    EXPECT_EQ(c["addr"], "127.0.0.1");
    EXPECT_EQ(c["cluster_port"], node->cluster_port);
    EXPECT_EQ(c["auth_timeout"], 2);
    EXPECT_EQ(c["urls"], Json::array({"127.0.0.1:" + std::to_string(peer.cluster_port)}));
    EXPECT_EQ(c["tls_timeout"], 2);
    EXPECT_FALSE(c.contains("tls_required"));
    EXPECT_FALSE(c.contains("tls_verify"));
    // The client URLs of both nodes, this one's first.
    ASSERT_TRUE(MonitoredCluster::WaitFor([&] {
      varz = node->Get("/varz");
      return varz["connect_urls"].size() == 2;
    })) << varz.dump(2);
    EXPECT_EQ(varz["connect_urls"][0], MonitoredCluster::ClientUrl(*node));
    EXPECT_EQ(varz["connect_urls"][1], MonitoredCluster::ClientUrl(peer));
  }
}

TEST_P(MonitorClusterTest, RoutezDescribesTheRouteAndItsTraffic) {
  MonitoredCluster cluster(GetParam());
  std::string id_a = cluster.a.Get("/varz")["server_id"];
  std::string id_b = cluster.b.Get("/varz")["server_id"];
  // A subscriber on b (a plain and a queue subscription), a publisher on a.
  RawConn sub;
  ASSERT_TRUE(sub.Connect(cluster.b.port));
  Handshake(sub);
  ASSERT_TRUE(sub.Send("SUB foo 1\r\nSUB bar q 2\r\n"));
  ASSERT_EQ(sub.Flush(), "");
  // b's interest has reached a once a's route lists both subjects.
  Json routez;
  ASSERT_TRUE(MonitoredCluster::WaitFor([&] {
    routez = cluster.a.Get("/routez?subs=1");
    if (routez["routes"].size() != 1) return false;
    std::set<std::string> subjects;
    for (const Json& s : routez["routes"][0].value("subscriptions_list", Json::array())) {
      subjects.insert(s.get<std::string>());
    }
    return subjects.count("foo") == 1 && subjects.count("bar") == 1;
  })) << routez.dump(2);
  RawConn pub;
  ASSERT_TRUE(pub.Connect(cluster.a.port));
  Handshake(pub);
  ASSERT_TRUE(pub.Send(PubBytes("foo", "", "one") + PubBytes("foo", "", "two") +
                       PubBytes("foo", "", "three")));
  ASSERT_EQ(pub.Flush(), "");
  ASSERT_FALSE(sub.ReadUntil("three\r\n").empty());

  // Three messages of 3, 3 and 5 bytes went from a to b over the route (the reference's
  // route also carries its system account's traffic: at least, not exactly).
  ASSERT_TRUE(MonitoredCluster::WaitFor([&] {
    routez = cluster.b.Get("/routez");
    return routez["routes"].size() == 1 && routez["routes"][0]["in_msgs"] >= 3;
  })) << routez.dump(2);
  Json on_a = cluster.a.Get("/routez");
  EXPECT_EQ(on_a["server_id"], id_a);
  EXPECT_EQ(on_a["num_routes"], 1);
  EXPECT_FALSE(on_a.contains("import"));
  EXPECT_FALSE(on_a.contains("export"));
  const Json& ra = on_a["routes"][0];
  EXPECT_EQ(ra["remote_id"], id_b);
  // Whether a side dialed the route it kept depends on timing (see the test below).
  EXPECT_TRUE(ra["is_configured"].is_boolean());
  EXPECT_TRUE(ra["did_solicit"].is_boolean());
  EXPECT_EQ(ra["ip"], "127.0.0.1");
  EXPECT_GT(ra["port"].get<int>(), 0);
  EXPECT_GE(ra["out_msgs"].get<int64_t>(), 3);
  EXPECT_GE(ra["out_bytes"].get<int64_t>(), 11);
  EXPECT_GE(ra["subscriptions"].get<int64_t>(), 2);
  EXPECT_TRUE(ra["pending_size"].is_number_integer());
  // Nothing stays pending on an idle route (a moment's system traffic may be in flight).
  EXPECT_TRUE(MonitoredCluster::WaitFor([&] {
    Json now = cluster.a.Get("/routez");
    return now["routes"].size() == 1 && now["routes"][0]["pending_size"] == 0;
  }));
  EXPECT_TRUE(ra["rtt"].is_string());
  EXPECT_TRUE(ra["uptime"].is_string());
  EXPECT_TRUE(ra["idle"].is_string());
  EXPECT_TRUE(ra["start"].is_string());
  EXPECT_TRUE(ra["last_activity"].is_string());
  EXPECT_FALSE(ra.contains("subscriptions_list"));
  const Json& rb = routez["routes"][0];
  EXPECT_EQ(rb["remote_id"], id_a);
  EXPECT_GE(rb["in_bytes"].get<int64_t>(), 11);
  // One connection: each side's port is the other's address of it.
  EXPECT_TRUE(ra["port"] == cluster.b.cluster_port || rb["port"] == cluster.a.cluster_port)
      << ra.dump(2) << rb.dump(2);

  // subs=detail: b's queue subscription as the reference shows a route's: the subject, the
  // group, "<account> <subject> <queue>" as sid, and the route's id as cid.
  Json detail = cluster.a.Get("/routez?subs=detail")["routes"][0];
  EXPECT_FALSE(detail.contains("subscriptions_list"));
  bool found = false;
  for (const Json& s : detail["subscriptions_list_detail"]) {
    if (s["subject"] != "bar") continue;
    found = true;
    EXPECT_EQ(s["qgroup"], "q");
    EXPECT_EQ(s["sid"], "$G bar q");
    EXPECT_EQ(s["cid"], detail["rid"]);
    EXPECT_TRUE(s["msgs"].is_number());
    EXPECT_FALSE(s.contains("account"));
  }
  EXPECT_TRUE(found) << detail.dump(2);
}

// Each node names the other in `routes`. The first to start accepts the second's route before
// its own dial gets through; the reference keeps dialing its configured peer, finds that route
// a duplicate and "upgrades" the accepted one (route.go registerRoute): within a second or so
// both sides show their route as solicited and configured. Disabled: gannet-server's routes
// manager does not dial a peer it is already connected to, so its first node keeps showing
// false for both. Enable once src/server/cluster does as the reference.
TEST_P(MonitorClusterTest, ARouteToAConfiguredPeerEndsUpSolicitedOnBothSides) {
  MonitoredCluster cluster(GetParam());
  for (const auto* node : {&cluster.a, &cluster.b}) {
    Json route;
    EXPECT_TRUE(MonitoredCluster::WaitFor(
        [&] {
          route = node->Get("/routez")["routes"][0];
          return route["did_solicit"] == true && route["is_configured"] == true;
        },
        5s))
        << route.dump(2);
  }
}

TEST_P(MonitorClusterTest, RoutezShowsTheClusterPermissions) {
  std::unique_ptr<MonitoredCluster> cluster;
  try {
    cluster =
        std::make_unique<MonitoredCluster>(GetParam(),
                                           "  permissions {\n"
                                           "    import: { allow: [\">\"], deny: [\"secret.>\"] }\n"
                                           "    export: { deny: \"private.>\" }\n"
                                           "  }");
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find("\"permissions\" is not supported yet") != std::string::npos) {
      GTEST_SKIP() << "cluster permissions are not read yet: " << e.what();
    }
    throw;
  }
  Json routez = cluster->a.Get("/routez");
  EXPECT_EQ(routez["import"], Json::parse(R"({"allow":[">"],"deny":["secret.>"]})"));
  EXPECT_EQ(routez["export"], Json::parse(R"({"deny":["private.>"]})"));
  // Each route shows the permissions its peer announced (the same here).
  ASSERT_EQ(routez["routes"].size(), 1u);
  EXPECT_EQ(routez["routes"][0]["import"], routez["import"]);
  EXPECT_EQ(routez["routes"][0]["export"], routez["export"]);
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(MonitorTest);
GANNET_INSTANTIATE_FOR_BOTH_SERVERS(MonitorClusterTest);

}  // namespace
}  // namespace gannet::test
