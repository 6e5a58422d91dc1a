// Clusters of real server processes on loopback, of any mix of kinds ("GGN": two Gannets and a
// nats-server), for the cluster tests and the system account tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "integration_util.h"

namespace gannet::test {

using Clock = std::chrono::steady_clock;

// One node: its ports, its config file, its process (restartable on the same ports).
struct Node {
  ServerKind kind;
  int client_port = 0;
  int cluster_port = 0;
  std::string config_path;
  std::unique_ptr<ServerProcess> process;

  bool Start() {
    process = std::make_unique<ServerProcess>(
        kind, std::vector<std::string>{"-a", "127.0.0.1", "-p", std::to_string(client_port), "-c",
                                       config_path});
    return process->Start();
  }
};

// "GGN": node 0 is a Gannet, node 2 a nats-server. Node 0 is the seed: with kSeed every other
// node names only it; with kFullMesh every node names all the others.
enum class Routing { kSeed, kFullMesh };

class TestCluster {
 public:
  // `extra_cluster` goes into every node's cluster {} block, `extra_top` at the top of every
  // config file; `route_userinfo` ("user:pass@") into every route URL; `per_node` may change a
  // node's cluster extra (by index).
  TestCluster(std::string_view kinds, Routing routing, std::string extra_cluster = {},
              std::string extra_top = {}, std::string route_userinfo = {},
              std::function<std::string(size_t)> per_node = nullptr) {
    for (char k : kinds) {
      Node n;
      n.kind = k == 'N' ? ServerKind::kNatsServer : ServerKind::kGannet;
      n.client_port = FreeTcpPort();
      n.cluster_port = FreeTcpPort();
      nodes_.push_back(std::move(n));
    }
    for (size_t i = 0; i < nodes_.size(); ++i) {
      std::string routes;
      for (size_t j = 0; j < nodes_.size(); ++j) {
        if (j == i || (routing == Routing::kSeed && j != 0)) continue;
        if (!routes.empty()) routes += ", ";
        routes += "nats-route://" + route_userinfo +
                  "127.0.0.1:" + std::to_string(nodes_[j].cluster_port);
      }
      std::string conf = extra_top + "cluster {\n  name: c\n  listen: 127.0.0.1:" +
                         std::to_string(nodes_[i].cluster_port) + "\n  routes: [" + routes + "]\n" +
                         (per_node ? per_node(i) : extra_cluster) + "}\n";
      nodes_[i].config_path = dir_.Write("node" + std::to_string(i) + ".conf", conf);
    }
  }

  bool StartAll() {
    for (Node& n : nodes_) {
      if (!n.Start()) return false;
    }
    return true;
  }
  Node& node(size_t i) { return nodes_[i]; }
  // Rewrites node i's config file (then SIGHUP it to reload).
  void RewriteConfig(size_t i, const std::string& content) {
    dir_.Write("node" + std::to_string(i) + ".conf", content);
  }
  size_t size() const { return nodes_.size(); }

  // A client of node i (CONNECT with headers and no_responders; `user`: as that user, whose
  // password is the same).
  std::unique_ptr<RawConn> Client(size_t i, std::string_view user = {}) {
    auto c = std::make_unique<RawConn>();
    if (!c->Connect(nodes_[i].client_port)) Fail("cannot connect to node " + std::to_string(i));
    std::string creds;
    if (!user.empty()) {
      creds = R"(,"user":")" + std::string(user) + R"(","pass":")" + std::string(user) + "\"";
    }
    Handshake(*c, R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true)" +
                      creds + "}");
    if (c->Flush().find("-ERR") != std::string::npos) Fail("handshake refused");
    return c;
  }

  // Waits until a subscriber on `to` receives what a publisher on `from` sends: routes up and
  // interest propagated between the two. Probes on a fresh subject each time.
  ::testing::AssertionResult WaitRouted(size_t from, size_t to,
                                        std::chrono::milliseconds timeout = 20s,
                                        std::string_view user = {}) {
    auto sub = Client(to, user);
    auto pub = Client(from, user);
    std::string subject =
        "probe." + std::to_string(from) + "." + std::to_string(to) + "." + std::to_string(++probe_);
    sub->Send("SUB " + subject + " 1\r\n");
    sub->Flush();
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pub->Send(PubBytes(subject, "", "p"));
      pub->Flush();
      if (!sub->ReadUntil("MSG " + subject, 200ms).empty()) return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "no route from node " << from << " to node " << to;
  }
  ::testing::AssertionResult WaitMesh(std::chrono::milliseconds timeout = 20s,
                                      std::string_view user = {}) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (size_t j = 0; j < nodes_.size(); ++j) {
        if (i == j) continue;
        if (auto r = WaitRouted(i, j, timeout, user); !r) return r;
      }
    }
    return ::testing::AssertionSuccess();
  }

 private:
  TempDir dir_;
  std::vector<Node> nodes_;
  int probe_ = 0;
};

// Reads MSG/HMSG frames from `conn` until `count` arrived or `timeout` passed with nothing new.
inline std::vector<Msg> ReadMsgs(RawConn& conn, size_t count,
                                 std::chrono::milliseconds timeout = 5s) {
  std::vector<Msg> out;
  std::string acc;
  auto deadline = Clock::now() + timeout;
  while (out.size() < count && Clock::now() < deadline) {
    std::string got = conn.Flush(timeout);
    acc += got;
    Parsed p = ParseStream(acc);
    out = p.msgs;
    if (got.empty()) std::this_thread::sleep_for(10ms);
  }
  return out;
}

}  // namespace gannet::test
