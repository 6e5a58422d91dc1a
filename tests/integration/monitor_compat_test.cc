// The monitoring JSON of gannet-server against the reference's for one scenario on one server
// and one on a two-node cluster: every key nats-server returns must exist in ours with the same
// JSON type (recursively, through connection, route and subscription lists). And /metrics read
// by a real Prometheus text parser.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "http_client.h"
#include "integration_util.h"
#include "json_shape.h"
#include "monitor_cluster.h"

namespace gannet::test {
namespace {

using Json = nlohmann::json;

bool WaitFor(const std::function<bool()>& check, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return check();
}

// The endpoints compared, with the queries that fill in their optional parts.
const char* const kEndpoints[] = {"/varz",
                                  "/connz?subs=detail",
                                  "/connz?state=closed&subs=1",
                                  "/connz?state=all&auth=1",
                                  "/routez",
                                  "/subsz",
                                  "/subsz?subs=1",
                                  "/subscriptionsz",
                                  "/healthz",
                                  "/accountz",
                                  "/gatewayz",
                                  "/leafz"};

// A server with monitoring, put through the same scenario: a named subscriber (a plain and a
// queue subscription), a publisher that sent three messages, and one connection closed for a
// payload over the limit.
struct Scenario {
  std::unique_ptr<ServerProcess> server;
  int http_port = 0;
  std::vector<std::unique_ptr<RawConn>> conns;
  std::map<std::string, Json> docs;

  explicit Scenario(ServerKind kind) {
    http_port = FreeTcpPort();
    server = std::make_unique<ServerProcess>(
        kind, std::vector<std::string>{"-m", std::to_string(http_port)});
    if (!server->Start()) Fail("server did not start");
    auto sub = Connect(R"({"verbose":false,"name":"subscriber","lang":"raw","version":"1.2.3"})");
    if (!sub->Send("SUB foo 1\r\nSUB bar q 2\r\n") || !sub->Flush().empty()) Fail("SUB");
    auto pub = Connect(R"({"verbose":false})");
    std::string three =
        PubBytes("foo", "", "one") + PubBytes("foo", "", "two") + PubBytes("foo", "", "three");
    if (!pub->Send(three) || !pub->Flush().empty()) Fail("PUB");
    if (sub->ReadUntil("three\r\n").empty()) Fail("delivery");
    auto leaver = Connect(R"({"verbose":false,"name":"leaver"})");
    if (!leaver->Send("SUB gone 9\r\nPUB foo 2000000\r\n") || !leaver->WaitClosed()) {
      Fail("the oversized publish did not close the connection");
    }
    conns.push_back(std::move(sub));
    conns.push_back(std::move(pub));
    bool closed_listed = WaitFor([&] {
      HttpResult r = HttpGet(http_port, "/connz?state=closed");
      return r.status == 200 && Json::parse(r.body)["total"] == 1;
    });
    if (!closed_listed) Fail("the closed connection never showed in /connz?state=closed");
    for (const char* e : kEndpoints) {
      HttpResult r = HttpGet(http_port, e);
      if (r.status != 200) Fail(std::string(e) + " answered " + std::to_string(r.status));
      docs[e] = Json::parse(r.body);
    }
  }

  std::unique_ptr<RawConn> Connect(std::string_view connect_json) {
    auto c = std::make_unique<RawConn>();
    if (!c->Connect(server->port())) Fail("connect");
    Handshake(*c, connect_json);
    if (!c->Flush().empty()) Fail("CONNECT refused");
    return c;
  }
};

// A two-node cluster put through one scenario: b has a named subscriber (a plain and a queue
// subscription), a publisher on a sent it three messages across the route. Then /varz and
// /routez of node a.
struct ClusterScenario {
  MonitoredCluster cluster;
  RawConn sub, pub;  // open while the scenario lives
  std::map<std::string, Json> docs;

  static constexpr const char* kEndpoints[] = {"/varz", "/routez", "/routez?subs=1",
                                               "/routez?subs=detail"};

  explicit ClusterScenario(ServerKind kind) : cluster(kind) {
    if (!sub.Connect(cluster.b.port) || !pub.Connect(cluster.a.port)) Fail("connect");
    Handshake(sub, R"({"verbose":false,"name":"subscriber"})");
    Handshake(pub);
    if (!sub.Send("SUB foo 1\r\nSUB bar q 2\r\n") || !sub.Flush().empty()) Fail("SUB");
    bool interest = MonitoredCluster::WaitFor([&] {
      Json r = cluster.a.Get("/routez?subs=1");
      if (r["routes"].size() != 1) return false;
      size_t n = 0;
      for (const Json& s : r["routes"][0].value("subscriptions_list", Json::array())) {
        n += s == "foo" || s == "bar";
      }
      return n == 2;
    });
    if (!interest) Fail("b's subscriptions never reached a");
    std::string three =
        PubBytes("foo", "", "one") + PubBytes("foo", "", "two") + PubBytes("foo", "", "three");
    if (!pub.Send(three) || !pub.Flush().empty()) Fail("PUB");
    if (sub.ReadUntil("three\r\n").empty()) Fail("delivery across the route");
    for (const char* e : kEndpoints) docs[e] = cluster.a.Get(e);
  }
};

TEST(MonitorCompatTest, ShapeCheckFindsMissingKeysAndTypeChanges) {
  Json ref = Json::parse(R"({"a":1,"b":"x","list":[{"cid":1},{"cid":2,"name":"n"}]})");
  Json ours = Json::parse(R"({"a":1.5,"b":2,"list":[{"cid":1}],"extra":true})");
  std::vector<std::string> problems;
  CompareShape(ref, ours, "", problems);
  EXPECT_EQ(problems, (std::vector<std::string>{".b: reference string, ours number",
                                                ".list[].name: missing"}));
}

TEST(MonitorCompatTest, EveryReferenceKeyExistsWithTheSameType) {
  Scenario ours(ServerKind::kGannet);
  Scenario ref(ServerKind::kNatsServer);
  for (const char* e : kEndpoints) {
    std::vector<std::string> problems;
    CompareShape(ref.docs[e], ours.docs[e], e, problems);
    EXPECT_TRUE(problems.empty()) << e << ":\n  " << ::testing::PrintToString(problems)
                                  << "\nreference: " << ref.docs[e].dump(2)
                                  << "\nours: " << ours.docs[e].dump(2);
  }
  // And the figures of the scenario agree.
  for (const char* key : {"connections", "total_connections", "in_msgs", "out_msgs"}) {
    EXPECT_EQ(ours.docs["/varz"][key], ref.docs["/varz"][key]) << key;
  }
  EXPECT_EQ(ours.docs["/connz?state=all&auth=1"]["total"],
            ref.docs["/connz?state=all&auth=1"]["total"]);
  EXPECT_EQ(ours.docs["/connz?state=closed&subs=1"]["connections"][0]["reason"],
            ref.docs["/connz?state=closed&subs=1"]["connections"][0]["reason"]);
}

TEST(MonitorCompatTest, ClusterEndpointsHaveEveryReferenceKeyWithTheSameType) {
  ClusterScenario ours(ServerKind::kGannet);
  ClusterScenario ref(ServerKind::kNatsServer);
  for (const char* e : ClusterScenario::kEndpoints) {
    std::vector<std::string> problems;
    CompareShape(ref.docs[e], ours.docs[e], e, problems);
    EXPECT_TRUE(problems.empty()) << e << ":\n  " << ::testing::PrintToString(problems)
                                  << "\nreference: " << ref.docs[e].dump(2)
                                  << "\nours: " << ours.docs[e].dump(2);
  }
  // The reference omits what is empty: ours has no key it lacks, at the top of /routez and in
  // each route, nor in /varz's cluster object.
  auto keys = [](const Json& j) {
    std::set<std::string> out;
    for (auto& [k, v] : j.items()) out.insert(k);
    return out;
  };
  for (const char* e : ClusterScenario::kEndpoints) {
    if (std::string(e) == "/varz") continue;
    EXPECT_EQ(keys(ours.docs[e]), keys(ref.docs[e])) << e;
    EXPECT_EQ(keys(ours.docs[e]["routes"][0]), keys(ref.docs[e]["routes"][0])) << e;
  }
  EXPECT_EQ(keys(ours.docs["/varz"]["cluster"]), keys(ref.docs["/varz"]["cluster"]));
  // And the figures that do not depend on the server's own internals agree.
  for (const char* key : {"routes", "remotes"}) {
    EXPECT_EQ(ours.docs["/varz"][key], ref.docs["/varz"][key]) << key;
  }
  EXPECT_EQ(ours.docs["/varz"]["cluster"]["name"], ref.docs["/varz"]["cluster"]["name"]);
  EXPECT_EQ(ours.docs["/varz"]["cluster"]["addr"], ref.docs["/varz"]["cluster"]["addr"]);
  EXPECT_EQ(ours.docs["/varz"]["cluster"]["auth_timeout"],
            ref.docs["/varz"]["cluster"]["auth_timeout"]);
  EXPECT_EQ(ours.docs["/varz"]["cluster"]["tls_timeout"],
            ref.docs["/varz"]["cluster"]["tls_timeout"]);
  EXPECT_EQ(ours.docs["/varz"]["connect_urls"].size(), ref.docs["/varz"]["connect_urls"].size());
  EXPECT_EQ(ours.docs["/routez"]["num_routes"], ref.docs["/routez"]["num_routes"]);
  EXPECT_EQ(ours.docs["/routez"]["routes"][0]["ip"], ref.docs["/routez"]["routes"][0]["ip"]);
}

// Runs Debian's python3-prometheus-client parser over an exposition; one line per sample:
// "<name> <value> <labels as JSON>".
std::vector<std::string> ParseWithPrometheusClient(const std::string& exposition,
                                                   std::string& error) {
  TempDir dir;
  std::string input = dir.Write("metrics.txt", exposition);
  std::string script =
      dir.Write("parse.py",
                "import json, sys\n"
                "from prometheus_client.parser import "
                "text_string_to_metric_families\n"
                "for fam in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
                "    for s in fam.samples:\n"
                "        print(fam.type, s.name, repr(s.value), "
                "json.dumps(s.labels, sort_keys=True))\n");
  std::string cmd = "/usr/bin/python3 " + script + " " + input + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    error = "cannot run python3";
    return {};
  }
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  if (status != 0) {
    error = "python3-prometheus-client failed (is it installed? make deps): " + out;
    return {};
  }
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < out.size()) {
    size_t nl = out.find('\n', at);
    lines.push_back(out.substr(at, nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return lines;
}

TEST(MonitorCompatTest, MetricsParseAsPrometheusTextWithTheExportersNames) {
  Scenario ours(ServerKind::kGannet);
  HttpResult r = HttpGet(ours.http_port, "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  std::string error;
  std::vector<std::string> samples = ParseWithPrometheusClient(r.body, error);
  ASSERT_TRUE(error.empty()) << error;
  const Json& varz = ours.docs["/varz"];
  std::string id = varz["server_id"];
  std::map<std::string, double> values;
  std::map<std::string, std::string> types;
  for (const std::string& line : samples) {
    // "<type> <name> <value> <labels>"
    size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
    ASSERT_NE(c, std::string::npos) << line;
    std::string name = line.substr(a + 1, b - a - 1);
    Json labels = Json::parse(line.substr(c + 1));
    EXPECT_EQ(labels["server_id"], id) << line;
    values[name] = std::stod(line.substr(b + 1, c - b - 1));
    types[name] = line.substr(0, a);
  }
  EXPECT_EQ(values["gnatsd_varz_connections"], 2);
  EXPECT_EQ(values["gnatsd_varz_total_connections"], 3);
  EXPECT_EQ(values["gnatsd_varz_in_msgs"], varz["in_msgs"].get<double>());
  EXPECT_EQ(values["gnatsd_varz_out_msgs"], 3);
  // The clients' two and the system account's own (its services' subscriptions).
  EXPECT_EQ(values["gnatsd_varz_subscriptions"], varz["subscriptions"].get<double>());
  EXPECT_GT(values["gnatsd_varz_subscriptions"], 2);
  EXPECT_EQ(values["gnatsd_varz_max_payload"], 1048576);
  EXPECT_EQ(values["gnatsd_varz_version"], 1);
  EXPECT_EQ(values["gnatsd_connz_num_connections"], 2);
  EXPECT_EQ(values["gnatsd_connz_subscriptions"], 2);
  EXPECT_EQ(types["gnatsd_connz_in_msgs_total"], "counter");  // the parser adds _total
  EXPECT_EQ(values["gnatsd_connz_out_msgs_total"], 3);
  EXPECT_EQ(values["gnatsd_routez_num_routes"], 0);
  EXPECT_EQ(values["gnatsd_subsz_num_subscriptions"], values["gnatsd_varz_subscriptions"]);
  EXPECT_EQ(types["gnatsd_subsz_num_subscriptions"], "gauge");
}

// The route figures of /metrics, with the names and labels of the exporter's routez collector.
TEST(MonitorCompatTest, MetricsOfAClusterHaveTheExportersRouteSeries) {
  ClusterScenario ours(ServerKind::kGannet);
  Json routez = ours.cluster.a.Get("/routez");
  const Json& route = routez["routes"][0];
  std::string error;
  std::vector<std::string> samples =
      ParseWithPrometheusClient(HttpGet(ours.cluster.a.http_port, "/metrics").body, error);
  ASSERT_TRUE(error.empty()) << error;
  std::map<std::string, double> values;
  std::map<std::string, Json> labels;
  for (const std::string& line : samples) {
    size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
    ASSERT_NE(c, std::string::npos) << line;
    std::string name = line.substr(a + 1, b - a - 1);
    if (name.rfind("gnatsd_routez_", 0) == 0) {
      EXPECT_EQ(line.substr(0, a), "gauge") << line;
    }
    values[name] = std::stod(line.substr(b + 1, c - b - 1));
    labels[name] = Json::parse(line.substr(c + 1));
  }
  EXPECT_EQ(values["gnatsd_varz_routes"], 1);
  EXPECT_EQ(values["gnatsd_varz_remotes"], 1);
  EXPECT_EQ(values["gnatsd_routez_num_routes"], 1);
  EXPECT_EQ(labels["gnatsd_routez_server_id"]["value"], routez["server_id"]);
  EXPECT_EQ(values["gnatsd_routez_route_info"], 1);
  const Json& info = labels["gnatsd_routez_route_info"];
  EXPECT_EQ(info["rid"], std::to_string(route["rid"].get<uint64_t>()));
  EXPECT_EQ(info["remote_id"], route["remote_id"]);
  EXPECT_EQ(info["ip"], "127.0.0.1");
  for (const char* key : {"remote_name", "account", "compression"}) {
    EXPECT_TRUE(info.contains(key)) << key;
  }
  // The counters only grow: at least what /routez showed a moment before.
  for (const char* key : {"in_msgs", "out_msgs", "in_bytes", "out_bytes"}) {
    std::string name = std::string("gnatsd_routez_route_") + key;
    EXPECT_GE(values[name], route[key].get<double>()) << name;
    EXPECT_EQ(labels[name], Json({{"server_id", routez["server_id"]}, {"rid", info["rid"]}}));
  }
  EXPECT_GE(values["gnatsd_routez_route_out_msgs"], 3);
  EXPECT_GE(values["gnatsd_routez_route_subscriptions"], 2);
  EXPECT_GE(values["gnatsd_routez_route_rtt_seconds"], 0);
  EXPECT_GE(values["gnatsd_routez_route_uptime_seconds"], 0);
}

TEST(MonitorCompatTest, MetricsPerConnectionWhenAsked) {
  Scenario ours(ServerKind::kGannet);
  std::string error;
  auto plain = ParseWithPrometheusClient(HttpGet(ours.http_port, "/metrics").body, error);
  ASSERT_TRUE(error.empty()) << error;
  for (const std::string& line : plain) {
    EXPECT_EQ(line.find("gnatsd_connz_conn_"), std::string::npos) << "only when asked: " << line;
  }
  auto detailed =
      ParseWithPrometheusClient(HttpGet(ours.http_port, "/metrics?conns=1").body, error);
  ASSERT_TRUE(error.empty()) << error;
  // One pending_bytes and one subscriptions sample per open connection, labelled by cid.
  std::set<std::string> cids;
  double subs = 0;
  for (const std::string& line : detailed) {
    size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
    std::string name = line.substr(a + 1, b - a - 1);
    if (name == "gnatsd_connz_conn_pending_bytes") {
      cids.insert(Json::parse(line.substr(c + 1))["cid"].get<std::string>());
    }
    if (name == "gnatsd_connz_conn_subscriptions") subs += std::stod(line.substr(b + 1, c - b - 1));
  }
  EXPECT_EQ(cids.size(), 2u);
  EXPECT_EQ(subs, 2);
}

}  // namespace
}  // namespace gannet::test
