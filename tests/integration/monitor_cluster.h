// Two servers of one kind routed to each other on loopback, each with monitoring: the cluster
// the monitoring tests (monitor_test.cc, monitor_compat_test.cc) query /routez and /varz on.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "http_client.h"
#include "integration_util.h"

namespace gannet::test {

class MonitoredCluster {
 public:
  struct Node {
    std::unique_ptr<ServerProcess> server;
    int port = 0;
    int http_port = 0;
    int cluster_port = 0;

    nlohmann::json Get(const std::string& target) const {
      HttpResult r = HttpGet(http_port, target);
      if (r.status != 200) Fail(target + " answered " + std::to_string(r.status) + ": " + r.body);
      return nlohmann::json::parse(r.body);
    }
  };

  // Starts both nodes, each naming the other in `routes`, and waits until each has its route
  // in /routez. `cluster_extra` is added inside both cluster {} blocks (permissions, say).
  explicit MonitoredCluster(ServerKind kind, const std::string& cluster_extra = "") {
    // A port that was free a moment ago may be taken by the time a node binds it (an
    // outgoing connection's local port, say): then both nodes start again on new ports.
    for (int attempt = 1;; ++attempt) {
      PickPorts();
      std::string error;
      if (Start(kind, a, b, cluster_extra, error) && Start(kind, b, a, cluster_extra, error)) break;
      a.server.reset();
      b.server.reset();
      if (attempt == 3 || error.find("in use") == std::string::npos) Fail(error);
    }
    auto one_route = [](const Node& n) {
      HttpResult r = HttpGet(n.http_port, "/routez");
      return r.status == 200 && nlohmann::json::parse(r.body)["num_routes"] == 1;
    };
    if (!WaitFor([&] { return one_route(a) && one_route(b); }, std::chrono::seconds(15))) {
      Fail("the two nodes did not route to each other:\n" + a.server->Output() + "\n" +
           b.server->Output());
    }
  }

  // Polls `check` until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& check,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (check()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return check();
  }

  static std::string ClientUrl(const Node& n) { return "127.0.0.1:" + std::to_string(n.port); }

  Node a, b;

 private:
  // Six distinct ports (FreeTcpPort may give the same one twice).
  void PickPorts() {
    std::set<int> taken;
    for (int* port :
         {&a.port, &a.http_port, &a.cluster_port, &b.port, &b.http_port, &b.cluster_port}) {
      do {
        *port = FreeTcpPort();
      } while (!taken.insert(*port).second);
    }
  }

  bool Start(ServerKind kind, Node& node, const Node& peer, const std::string& cluster_extra,
             std::string& error) {
    std::string conf = dir_.Write(
        "node" + std::to_string(node.port) + ".conf",
        "cluster {\n  name: c\n  listen: 127.0.0.1:" + std::to_string(node.cluster_port) +
            "\n  routes: [nats-route://127.0.0.1:" + std::to_string(peer.cluster_port) + "]\n" +
            cluster_extra + "\n}\n");
    node.server = std::make_unique<ServerProcess>(
        kind,
        std::vector<std::string>{"-c", conf, "-a", "127.0.0.1", "-p", std::to_string(node.port),
                                 "-m", std::to_string(node.http_port)});
    if (node.server->Start()) return true;
    error = "node did not start:\n" + node.server->Output();
    return false;
  }

  TempDir dir_;
};

}  // namespace gannet::test
