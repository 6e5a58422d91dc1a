// Raft clustering (--clustered) end to end, with a history checker: a NATS server
// (gannet-server), 3 or 5 gannet-streaming nodes with their own FILE stores, a libnats
// publisher publishing asynchronously and a durable subscriber, while a fault is injected:
//  - kill_leader: the leader is killed with SIGKILL;
//  - isolate_leader: the leader is frozen (SIGSTOP: cut off from the Raft group and from NATS,
//    a partition of one node) until another leads, then thawed: it must step down (it restarts
//    as a follower) and rejoin;
//  - partition_leader: the leader (and one follower, of 5) is cut off from the other nodes' Raft
//    traffic while NATS still reaches everyone (a test hook of the Raft transport, see
//    RaftNode::CheckPartition), then the partition heals;
//  - empty_disk: a follower is killed, its disk wiped, restarted; then the other follower is
//    killed, so every later PubAck needs the wiped node, and then the leader too: the wiped node
//    must lead, with the whole history;
//  - leader_keeps_the_only_copy: a follower is stopped for good, then the leader is killed and
//    the other follower killed and wiped, and both started again: the old leader's store, cut
//    back to its last snapshot, is the only live copy of the committed messages.
// The FILE store's scenarios, and the 3-node ones on the SQL store too (each node a database of
// its own on one PostgreSQL or MariaDB server the test starts; empty_disk empties the database).
// After the fault: every message whose PubAck the publisher saw is delivered from the first
// sequence, the sequences are gapless (never reused, never skipped). The failover time is from
// the fault to the first PubAck of a message published after it (a probe publisher with a
// 100 ms PubAck wait).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "server_process.h"
#include "sql_servers.h"
#include "stan_harness.h"

namespace gannet::streaming::test {
namespace {

using Clock = std::chrono::steady_clock;

// The nodes started by these tests inherit it (tsan_cluster.supp says why), added to the
// TSAN_OPTIONS already set (make test-tsan sets halt_on_error=1) unless they name suppressions.
const bool kTsanSuppressions = [] {
  const char* set = ::getenv("TSAN_OPTIONS");
  std::string options = set ? set : "";
  if (options.find("suppressions=") == std::string::npos) {
    if (!options.empty()) options += ':';
    options += "suppressions=" GANNET_SOURCE_DIR "/tests/streaming/tsan_cluster.supp";
    ::setenv("TSAN_OPTIONS", options.c_str(), 1);
  }
  return true;
}();

struct Journal {
  std::mutex mu;
  std::vector<uint8_t> acked;  // by message index
  std::atomic<uint64_t> acks{0};
  std::atomic<uint64_t> errors{0};
};

struct AckCtx {
  Journal* journal;
  uint64_t index;
};

void OnAck(const char* /*guid*/, const char* error, void* closure) {
  auto* ctx = static_cast<AckCtx*>(closure);
  if (error) {
    ctx->journal->errors.fetch_add(1);
  } else {
    std::lock_guard lk(ctx->journal->mu);
    ctx->journal->acked[ctx->index] = 1;
    ctx->journal->acks.fetch_add(1);
  }
  delete ctx;
}

stanConnection* ConnectClient(const std::string& url, const std::string& id, std::string* error,
                              int ack_wait_ms = 2000,
                              const std::string& cluster_id = "test-cluster") {
  stanConnOptions* opts = nullptr;
  stanConnOptions_Create(&opts);
  stanConnOptions_SetURL(opts, url.c_str());
  stanConnOptions_SetMaxPubAcksInflight(opts, 1024, 1.0);
  stanConnOptions_SetPubAckWait(opts, ack_wait_ms);
  stanConnOptions_SetConnectionWait(opts, 5000);
  stanConnection* sc = nullptr;
  natsStatus s = stanConnection_Connect(&sc, cluster_id.c_str(), id.c_str(), opts);
  stanConnOptions_Destroy(opts);
  if (s != NATS_OK) {
    *error = LastError(s);
    return nullptr;
  }
  return sc;
}

// Closes and destroys a libnats Streaming connection when the scope ends, unless it already
// was (the pointer is then null). Declared after what the connection's callbacks use, so that a
// failed assertion, returning early, closes the connection first: its PubAck and message
// callbacks would otherwise run on destroyed objects.
class CloseAtExit {
 public:
  explicit CloseAtExit(stanConnection*& conn, std::function<void()> before = {})
      : conn_(conn), before_(std::move(before)) {}
  ~CloseAtExit() { Close(); }
  void Close() {
    if (!conn_) return;
    if (before_) before_();
    stanConnection_Close(conn_);
    stanConnection_Destroy(conn_);
    conn_ = nullptr;
  }
  CloseAtExit(const CloseAtExit&) = delete;
  CloseAtExit& operator=(const CloseAtExit&) = delete;

 private:
  stanConnection*& conn_;
  std::function<void()> before_;
};

// A publisher publishing asynchronously ("m<index>" on `channel`) on its own thread until
// stopped, each PubAck journaled.
class AsyncPublisher {
 public:
  static constexpr uint64_t kMax = 4000000;
  AsyncPublisher(stanConnection* conn, std::string channel) {
    j_.acked.resize(kMax);
    thread_ = std::thread([this, conn, channel = std::move(channel)] {
      for (uint64_t i = 0; i < kMax && !stop_.load(); ++i) {
        const std::string data = "m" + std::to_string(i);
        auto* ctx = new AckCtx{&j_, i};
        if (stanConnection_PublishAsync(conn, channel.c_str(), data.data(),
                                        static_cast<int>(data.size()), OnAck, ctx) != NATS_OK) {
          delete ctx;
          continue;
        }
        published_.store(i + 1);
      }
    });
  }
  // A failed assertion returns early: the thread stops and is joined all the same.
  ~AsyncPublisher() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t acks() const { return j_.acks.load(); }
  uint64_t errors() const { return j_.errors.load(); }
  uint64_t published() const { return published_.load(); }
  // After Stop: the acknowledged messages, and how many of them `history` lacks.
  uint64_t Lost(const History& history, uint64_t& acked) const {
    uint64_t lost = 0;
    acked = 0;
    for (uint64_t i = 0; i < published_.load(); ++i) {
      if (!j_.acked[i]) continue;
      ++acked;
      if (!history.stored.count("m" + std::to_string(i))) ++lost;
    }
    return lost;
  }

 private:
  Journal j_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> published_{0};
  std::thread thread_;
};

uint64_t AcksPerPhase() {
  const char* env = std::getenv("GANNET_CLUSTER_ACKS");
  const long long n = env ? std::atoll(env) : 0;
  return n > 0 ? static_cast<uint64_t>(n) : 3000;
}

// The index of the newest Raft snapshot in a node's log directory (libraft names them
// snapshot-<term>-<index>-<timestamp>, with a .meta beside each), 0 with none.
uint64_t NewestSnapshotIndex(const std::string& raft_dir) {
  uint64_t newest = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(raft_dir, ec)) {
    const std::string name = e.path().filename().string();
    unsigned long long term = 0, index = 0, stamp = 0;
    if (std::sscanf(name.c_str(), "snapshot-%llu-%llu-%llu", &term, &index, &stamp) == 3) {
      newest = std::max<uint64_t>(newest, index);
    }
  }
  return newest;
}

// An SQL node's database.
std::string NodeDatabase(const std::string& node_id) { return "raft_" + node_id; }

// One node of the cluster and its directory.
struct Node {
  std::string id;
  std::string dir;
  int raft_port = 0;
  std::unique_ptr<StanServer> server;
  bool down = false;
};

class Cluster {
 public:
  // `sql`: the nodes' SQL stores are databases of their own on that server (else FILE stores);
  // `error` says why they could not be made.
  Cluster(const std::string& nats_url, int n, const std::string& cluster_id = "test-cluster",
          std::vector<std::string> extra = {}, SqlServer* sql = nullptr,
          std::string* error = nullptr) {
    char tmpl[] = "/tmp/gannet-raft-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(partition_dir());
    // The nodes inherit it (see RaftNode::CheckPartition).
    ::setenv("GANNET_RAFT_PARTITION_DIR", partition_dir().c_str(), 1);
    for (int i = 0; i < n; ++i) {
      Node node;
      node.id = std::string(1, static_cast<char>('a' + i));
      node.dir = root_ + "/" + node.id;
      node.raft_port = gannet::test::FreeTcpPort();
      nodes_.push_back(std::move(node));
    }
    for (Node& node : nodes_) {
      std::string peers;
      for (const Node& o : nodes_) {
        if (o.id == node.id) continue;
        if (!peers.empty()) peers += ",";
        peers += o.id;
      }
      std::vector<std::string> args{"-ns",
                                    nats_url,
                                    "-cid",
                                    cluster_id,
                                    "--clustered",
                                    "--cluster_node_id",
                                    node.id,
                                    "--cluster_peers",
                                    peers,
                                    "--cluster_raft_listen",
                                    "127.0.0.1:" + std::to_string(node.raft_port)};
      if (sql) {
        // The Raft log where a FILE node keeps it (the tests look at it there).
        const std::string db = NodeDatabase(node.id);
        if (std::string err = sql->AddDatabase(db); !err.empty() && error) *error = err;
        args.insert(args.end(), {"-st", "SQL", "--sql_driver", sql->driver_name(), "--sql_source",
                                 sql->Source(db), "--cluster_log_path", node.dir + "/.raft"});
      } else {
        args.insert(args.end(), {"-st", "FILE", "--dir", node.dir});
      }
      args.insert(args.end(), extra.begin(), extra.end());
      node.server = std::make_unique<StanServer>(std::move(args), /*embedded=*/false);
      node.server->SetReadyMarker("Cluster node");
    }
  }
  ~Cluster() {
    for (Node& n : nodes_) {
      if (n.server->Running()) {
        ::kill(n.server->pid(), SIGCONT);
        n.server->Stop(/*kill=*/true);
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  bool StartAll() {
    for (Node& n : nodes_) {
      if (!n.server->Start()) return false;
    }
    return true;
  }
  std::vector<Node>& nodes() { return nodes_; }
  // Test partitions: a file per node id here lists the nodes it may talk Raft with.
  std::string partition_dir() const { return root_ + "/partition"; }

  // The node serving now: its log's last start is followed by "Streaming Server is ready" (and
  // not by a restart).
  Node* Serving() {
    for (Node& n : nodes_) {
      if (n.down || !n.server->Running()) continue;
      std::string out = n.server->Output();
      size_t start = out.rfind("Cluster node \"");
      if (start == std::string::npos) continue;
      // A deposed leader says so before its process starts again.
      size_t restart = out.rfind("restarting the node as a follower");
      if (restart != std::string::npos && restart > start) continue;
      if (out.find("Streaming Server is ready", start) != std::string::npos) return &n;
    }
    return nullptr;
  }
  Node* WaitServing(std::chrono::milliseconds timeout = 30s) {
    Node* out = nullptr;
    WaitFor([&] { return (out = Serving()) != nullptr; }, timeout);
    return out;
  }
  std::string Outputs() {
    std::string s;
    for (Node& n : nodes_) s += "==== node " + n.id + "\n" + n.server->Output();
    return s;
  }

 private:
  std::string root_;
  std::vector<Node> nodes_;
};

struct Scenario {
  int nodes;
  std::string fault;           // kill_leader | isolate_leader | empty_disk | ...
  std::string store = "FILE";  // FILE | postgres | mysql (SQL, a database per node)
};

void PrintTo(const Scenario& s, std::ostream* os) {
  *os << s.nodes << " nodes, " << s.fault << ", " << s.store;
}

class StanCluster : public ::testing::TestWithParam<Scenario> {};

// The Raft snapshot settings of the fault tests (a test's few hundred entries see many).
constexpr int kSnapshotThreshold = 16;
constexpr int kTrailingLogs = 8;
std::vector<std::string> SmallSnapshots() {
  return {"--cluster_snapshot_threshold", std::to_string(kSnapshotThreshold),
          "--cluster_trailing_logs", std::to_string(kTrailingLogs)};
}

TEST_P(StanCluster, NoAcknowledgedMessageIsLostAcrossTheFault) {
  const Scenario sc = GetParam();
  gannet::test::ServerProcess nats(gannet::test::ServerKind::kGannet);
  ASSERT_TRUE(nats.Start()) << nats.Output();
  // Small snapshot thresholds: the faults happen across Raft snapshots and truncated logs (a
  // restarted or wiped node is restored from a snapshot and fetches the messages it lacks).
  // 64 KB log segments (a test hook): old ones are removed after a snapshot.
  ::setenv("GANNET_RAFT_SEGMENT_SIZE", "65536", 1);
  struct Unset {
    ~Unset() { ::unsetenv("GANNET_RAFT_SEGMENT_SIZE"); }
  } unset;
  SqlServer* sql = nullptr;
  std::string sql_error;
  if (sc.store != "FILE") {
    sql = SharedServer(sc.store, &sql_error);
    ASSERT_NE(sql, nullptr) << sql_error;
  }
  Cluster cluster(nats.url(), sc.nodes, "test-cluster", SmallSnapshots(), sql, &sql_error);
  ASSERT_EQ(sql_error, "");
  ASSERT_TRUE(cluster.StartAll()) << cluster.Outputs();
  Node* leader = cluster.WaitServing();
  ASSERT_NE(leader, nullptr) << cluster.Outputs();

  std::string error;
  stanConnection* sub_conn = ConnectClient(nats.url(), "subscriber", &error);
  ASSERT_NE(sub_conn, nullptr) << error;
  Collector received;
  SubscribeOptions so;
  so.durable = "dur";
  so.start = SubscribeOptions::Start::kFirst;
  so.max_inflight = 4096;
  StanSub sub = Subscribe(sub_conn, "raft", received, so, &error);
  CloseAtExit close_sub_conn(sub_conn, [&] { sub.reset(); });
  ASSERT_TRUE(sub) << error;

  stanConnection* pub = ConnectClient(nats.url(), "publisher", &error);
  ASSERT_NE(pub, nullptr) << error;
  AsyncPublisher publisher(pub, "raft");
  CloseAtExit close_pub(pub, [&] { publisher.Stop(); });
  stanConnection* probe = ConnectClient(nats.url(), "probe", &error, 100);
  ASSERT_NE(probe, nullptr) << error;
  CloseAtExit close_probe(probe);
  // A probe waiting 100 ms for each PubAck times the failover finely. A machine too loaded to
  // commit within 100 ms (sanitizers, tests in parallel) would never see one: after 10 s a
  // second probe waits 2 s for its PubAck instead.
  stanConnection* patient_probe = nullptr;
  CloseAtExit close_patient_probe(patient_probe);
  auto probe_until_acked = [&](std::chrono::milliseconds timeout) {
    const std::chrono::milliseconds fine = std::min<std::chrono::milliseconds>(timeout, 10s);
    if (WaitFor([&] { return stanConnection_Publish(probe, "raft.probe", "p", 1) == NATS_OK; },
                fine)) {
      return true;
    }
    return WaitFor(
        [&] {
          if (!patient_probe) {
            std::string ignored;
            patient_probe = ConnectClient(nats.url(), "patient-probe", &ignored, 2000);
            if (!patient_probe) return false;
          }
          return stanConnection_Publish(patient_probe, "raft.probe", "p", 1) == NATS_OK;
        },
        timeout - fine);
  };

  const uint64_t phase = AcksPerPhase();
  ASSERT_TRUE(WaitFor([&] { return publisher.acks() >= phase; }, 120s)) << cluster.Outputs();
  int faults = 0;
  int64_t failover_ms = -1;
  std::vector<Node*> followers;
  for (Node& n : cluster.nodes()) {
    if (&n != leader) followers.push_back(&n);
  }

  if (sc.fault == "kill_leader" || sc.fault == "isolate_leader") {
    const auto at = Clock::now();
    if (sc.fault == "kill_leader") {
      leader->server->Stop(/*kill=*/true);
      leader->down = true;
    } else {
      leader->server->Signal(SIGSTOP);
      leader->down = true;
    }
    ++faults;
    ASSERT_TRUE(probe_until_acked(30s)) << cluster.Outputs();
    failover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - at).count();
    Node* next = cluster.WaitServing();
    ASSERT_NE(next, nullptr);
    ASSERT_NE(next, leader);
    if (sc.fault == "isolate_leader") {
      // Thawed, it learns of the new term: it must restart as a follower, not serve.
      const std::string before = leader->server->Output();
      leader->server->Signal(SIGCONT);
      ASSERT_TRUE(WaitFor(
          [&] {
            std::string out = leader->server->Output();
            return out.size() > before.size() &&
                   out.find("restarting the node as a follower", before.size()) !=
                       std::string::npos &&
                   out.find("Cluster node \"", before.size()) != std::string::npos;
          },
          30s))
          << leader->server->Output();
      leader->down = false;
      // The deposed leader's store is suspect (its marker): cut back to its own last snapshot,
      // or, when the last snapshot on disk is not its own (one the new leader sent as it
      // thawed), dropped and restored from that snapshot with the messages fetched from the
      // other nodes (or rebuilt from its log).
      const std::string after = leader->server->Output().substr(before.size());
      ASSERT_TRUE(after.find("its store is kept and cut back", 0) != std::string::npos ||
                  after.find("its store is dropped", 0) != std::string::npos)
          << leader->server->Output();
      std::istringstream lines(leader->server->Output().substr(before.size()));
      for (std::string line; std::getline(lines, line);) {
        if (line.find("Restor") != std::string::npos ||
            line.find("Clustered:") != std::string::npos) {
          std::printf("[ raft     ] old leader: %s\n", line.c_str());
        }
      }
    }
  } else if (sc.fault == "leader_keeps_the_only_copy") {
    // The deposed leader's store may be the only live one holding the committed messages: one
    // follower stopped for good, then the leader killed and the other follower killed and
    // wiped, both started again. The old leader keeps its store, cut back to its last snapshot
    // (it used to drop it, and then its restore and the wiped node's waited for each other's
    // fetches until the stopped node came back): it leads again, the wiped node fetches the
    // messages from it, and PubAcks come while the third node is still down.
    Node* wiped = followers[0];
    Node* stopped = followers[1];
    stopped->server->Stop(/*kill=*/true);
    stopped->down = true;
    ++faults;
    const uint64_t acked = publisher.acks();
    // Long enough for several snapshots past the stopped follower's log.
    ASSERT_TRUE(WaitFor([&] { return publisher.acks() >= acked + 2 * phase; }, 120s));
    const std::string leader_before = leader->server->Output();
    const std::string wiped_before = wiped->server->Output();
    const auto at = Clock::now();
    leader->server->Stop(/*kill=*/true);
    wiped->server->Stop(/*kill=*/true);
    faults += 2;
    std::error_code ec;
    std::filesystem::remove_all(wiped->dir, ec);
    if (sql) {
      ASSERT_EQ(sql->AddDatabase(NodeDatabase(wiped->id)), "");  // an empty database
    }
    ASSERT_TRUE(leader->server->Start()) << leader->server->Output();
    ASSERT_TRUE(wiped->server->Start()) << wiped->server->Output();
    ASSERT_TRUE(probe_until_acked(60s)) << cluster.Outputs();
    failover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - at).count();
    // The wiped node's log is empty: only the old leader can lead.
    ASSERT_EQ(cluster.WaitServing(), leader) << cluster.Outputs();
    const std::string old_leader = leader->server->Output().substr(leader_before.size());
    EXPECT_NE(old_leader.find("its store is kept and cut back to its last snapshot"),
              std::string::npos)
        << old_leader;
    EXPECT_EQ(old_leader.find("its store is dropped"), std::string::npos) << old_leader;
    EXPECT_NE(old_leader.find("the store was cut back to the snapshot"), std::string::npos)
        << old_leader;
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string out = wiped->server->Output().substr(wiped_before.size());
          return out.find("Restored a Raft snapshot") != std::string::npos &&
                 out.find("messages fetched") != std::string::npos;
        },
        60s))
        << cluster.Outputs();
    for (const auto& [who, out] :
         {std::pair{"old leader", old_leader},
          std::pair{"wiped", wiped->server->Output().substr(wiped_before.size())}}) {
      std::istringstream lines(out);
      for (std::string line; std::getline(lines, line);) {
        if (line.find("Restor") != std::string::npos ||
            line.find("led before") != std::string::npos || line.find("cut") != std::string::npos) {
          std::printf("[ raft     ] %s: %s\n", who, line.c_str());
        }
      }
    }
  } else if (sc.fault == "partition_leader") {
    // The leader (with one follower, of 5) is cut off from the others' Raft traffic; NATS still
    // connects everyone, so the old leader still receives publishes: it must acknowledge none
    // it cannot commit, step down, and rejoin once the partition heals.
    std::vector<Node*> minority{leader};
    if (sc.nodes == 5) minority.push_back(followers[0]);
    auto in_minority = [&](const Node& n) {
      return std::find(minority.begin(), minority.end(), &n) != minority.end();
    };
    const std::string before = leader->server->Output();
    for (Node& n : cluster.nodes()) {
      std::string side;
      for (Node& o : cluster.nodes()) {
        if (&o == &n || in_minority(o) != in_minority(n)) continue;
        side += (side.empty() ? "" : ",") + o.id;
      }
      std::ofstream(cluster.partition_dir() + "/" + n.id) << side;
    }
    ++faults;
    // The nodes look for their file every 20 ms: the partition holds once all of them said so.
    ASSERT_TRUE(WaitFor(
        [&] {
          for (Node& n : cluster.nodes()) {
            if (n.server->Output().find("Raft partition (test)") == std::string::npos) {
              return false;
            }
          }
          return true;
        },
        10s));
    const auto at = Clock::now();
    ASSERT_TRUE(probe_until_acked(30s)) << cluster.Outputs();
    failover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - at).count();
    ASSERT_TRUE(WaitFor(
        [&] {
          return leader->server->Output().find("restarting the node as a follower",
                                               before.size()) != std::string::npos;
        },
        30s))
        << leader->server->Output();
    Node* next = cluster.WaitServing();
    ASSERT_NE(next, nullptr);
    ASSERT_FALSE(in_minority(*next));
    const uint64_t acked = publisher.acks();
    ASSERT_TRUE(WaitFor([&] { return publisher.acks() >= acked + phase; }, 120s));
    for (Node& n : cluster.nodes()) std::filesystem::remove(cluster.partition_dir() + "/" + n.id);
  } else if (sc.fault == "empty_disk" || sc.fault == "restart_follower") {
    // restart_follower: the follower keeps its disk; it is restored from its own snapshot, then
    // from the leader's (its log is behind the leader's truncated one), and fetches the
    // messages its store lacks.
    Node* wiped = followers[0];
    Node* other = followers[1];
    wiped->server->Stop(/*kill=*/true);
    std::error_code ec;
    if (sc.fault == "empty_disk") {
      std::filesystem::remove_all(wiped->dir, ec);
      if (sql) {
        ASSERT_EQ(sql->AddDatabase(NodeDatabase(wiped->id)), "");  // an empty database
      }
    }
    ++faults;
    // The live nodes' newest snapshots when the follower stopped. Its log ends at most
    // kSnapshotThreshold entries (and a few in flight) past them.
    uint64_t snapshot_at_stop = 0;
    for (Node* n : {leader, other}) {
      snapshot_at_stop = std::max(snapshot_at_stop, NewestSnapshotIndex(n->dir + "/.raft"));
    }
    const uint64_t acked = publisher.acks();
    // Long enough for several snapshots past the stopped follower's log.
    ASSERT_TRUE(WaitFor([&] { return publisher.acks() >= acked + 2 * phase; }, 120s));
    // And until both live nodes' logs begin past it (a snapshot, less the trailing entries),
    // so that the restarted follower needs a snapshot from whichever leads, and fetches the
    // messages after its store's. Acknowledgements alone do not say so: an SQL store commits
    // them in few, large entries (this wait was missing, and a restart_follower run on
    // PostgreSQL or MariaDB then caught up from the log and fetched nothing).
    const uint64_t past = snapshot_at_stop + 2 * kSnapshotThreshold + kTrailingLogs;
    ASSERT_TRUE(WaitFor(
        [&] {
          return NewestSnapshotIndex(leader->dir + "/.raft") >= past &&
                 NewestSnapshotIndex(other->dir + "/.raft") >= past;
        },
        120s))
        << "no snapshot past index " << past << "\n"
        << cluster.Outputs();
    const auto restart_at = Clock::now();
    ASSERT_TRUE(wiped->server->Start()) << wiped->server->Output();
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string out = wiped->server->Output();
          return out.find("Restored a Raft snapshot") != std::string::npos &&
                 out.find("messages fetched") != std::string::npos;
        },
        60s))
        << cluster.Outputs();
    {
      // Its restore, as it logged it.
      std::istringstream lines(wiped->server->Output());
      for (std::string line; std::getline(lines, line);) {
        if (line.find("Restor") != std::string::npos)
          std::printf("[ raft     ] %s\n", line.c_str());
      }
    }
    std::printf("[ raft     ] %s: the follower restarted and restored a snapshot in %lld ms\n",
                sc.fault.c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restart_at)
                        .count()));
    // Without the other follower, a majority needs the wiped node: PubAcks mean it caught up.
    other->server->Stop(/*kill=*/true);
    other->down = true;
    ++faults;
    const uint64_t acked2 = publisher.acks();
    ASSERT_TRUE(WaitFor([&] { return publisher.acks() >= acked2 + phase; }, 120s))
        << cluster.Outputs();
    // Then the leader dies and the other comes back: only the wiped node has the whole log.
    const auto at = Clock::now();
    leader->server->Stop(/*kill=*/true);
    leader->down = true;
    ++faults;
    ASSERT_TRUE(other->server->Start()) << other->server->Output();
    other->down = false;
    ASSERT_TRUE(probe_until_acked(30s)) << cluster.Outputs();
    failover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - at).count();
    ASSERT_EQ(cluster.WaitServing(), wiped) << cluster.Outputs();
  }
  const uint64_t acked_at_fault = publisher.acks();
  ASSERT_TRUE(WaitFor([&] { return publisher.acks() >= acked_at_fault + phase; }, 120s))
      << cluster.Outputs();
  publisher.Stop();
  close_probe.Close();
  close_patient_probe.Close();
  close_pub.Close();

  // The durable subscriber carried on past the fault.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = received.Snapshot();
        return !got.empty() && got.back().seq > acked_at_fault;
      },
      60s))
      << received.Count() << " received\n"
      << cluster.Outputs();
  close_sub_conn.Close();

  // The Raft logs stay bounded: snapshots were taken and the oldest segments removed. (A node
  // that restarted late in the run, a thawed old leader say, may still be catching up: waited
  // for.)
  for (Node& n : cluster.nodes()) {
    if (n.down || !n.server->Running()) continue;
    bool snapshot = false, first_segment = false;
    size_t segments = 0;
    std::string listing;
    auto inspect = [&] {
      snapshot = first_segment = false;
      segments = 0;
      listing.clear();
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(n.dir + "/.raft", ec)) {
        const std::string name = e.path().filename().string();
        listing += name + " ";
        if (name.rfind("snapshot-", 0) == 0) snapshot = true;
        if (name.rfind("0000000000000001-", 0) == 0) first_segment = true;
        if (name.rfind("open-", 0) == 0 || std::isdigit(static_cast<unsigned char>(name[0]))) {
          ++segments;
        }
      }
      return snapshot && !first_segment;
    };
    WaitFor(inspect, 30s);
    EXPECT_TRUE(snapshot) << n.id << ": " << listing;
    EXPECT_FALSE(first_segment) << n.id << ": " << listing;
    // At most threshold + trailing entries (one or more per closed segment), and open ones.
    EXPECT_LE(segments, static_cast<size_t>(kSnapshotThreshold + kTrailingLogs + 4))
        << n.id << ": " << listing;
  }

  // The history: everything stored, from the first sequence.
  History history = ReadHistory(nats.url(), "raft");
  ASSERT_TRUE(history.ok);
  uint64_t acked = 0;
  const uint64_t lost = publisher.Lost(history, acked);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(history.duplicates, 0u);
  std::printf(
      "[ raft     ] %d nodes, %s, %s: faults %d, published %llu, acknowledged %llu, stored %zu, "
      "lost %llu, duplicates %zu, failover (fault to first new PubAck) %lld ms\n",
      sc.nodes, sc.fault.c_str(), sc.store.c_str(), faults,
      static_cast<unsigned long long>(publisher.published()),
      static_cast<unsigned long long>(acked), history.msgs.size(),
      static_cast<unsigned long long>(lost), history.duplicates,
      static_cast<long long>(failover_ms));
}

INSTANTIATE_TEST_SUITE_P(
    Raft, StanCluster,
    ::testing::Values(
        Scenario{3, "kill_leader"}, Scenario{5, "kill_leader"}, Scenario{3, "restart_follower"},
        Scenario{3, "isolate_leader"}, Scenario{5, "isolate_leader"},
        Scenario{3, "partition_leader"}, Scenario{5, "partition_leader"}, Scenario{3, "empty_disk"},
        Scenario{3, "kill_leader", "postgres"}, Scenario{3, "restart_follower", "postgres"},
        Scenario{3, "isolate_leader", "postgres"}, Scenario{3, "empty_disk", "postgres"},
        Scenario{3, "kill_leader", "mysql"}, Scenario{3, "restart_follower", "mysql"},
        Scenario{3, "isolate_leader", "mysql"}, Scenario{3, "empty_disk", "mysql"},
        Scenario{3, "leader_keeps_the_only_copy"},
        Scenario{3, "leader_keeps_the_only_copy", "postgres"},
        Scenario{3, "leader_keeps_the_only_copy", "mysql"}),
    [](const auto& info) {
      return "Nodes" + std::to_string(info.param.nodes) + "_" + info.param.fault +
             (info.param.store == "FILE" ? "" : "_" + info.param.store);
    });

// Every node's database ends with the whole channel, `want` messages from sequence 1, gapless.
void ExpectWholeDatabases(SqlServer& sql, Cluster& cluster, uint64_t want) {
  for (Node& n : cluster.nodes()) {
    std::string counts;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto c = store::sql::Connection::Open(sql.driver(), sql.Source(NodeDatabase(n.id)));
          if (!c.ok()) return false;
          const std::string q = "SELECT COUNT(*), MIN(seq), MAX(seq) FROM Messages";
          if (!(*c)->Prepare("counts", q)) return false;
          auto r = (*c)->Exec("counts", {});
          if (!r.ok() || r->rows.empty()) return false;
          counts = std::to_string(r->rows.Uint(0, 0)) + " rows, " +
                   std::to_string(r->rows.Uint(0, 1)) + "-" + std::to_string(r->rows.Uint(0, 2));
          return r->rows.Uint(0, 0) == want && r->rows.Uint(0, 1) == 1 &&
                 r->rows.Uint(0, 2) == want;
        },
        60s))
        << "node " << n.id << ": " << counts << ", want " << want << "\n"
        << n.server->Output();
  }
}

// The SQL cluster tests' common run: a PostgreSQL server with a database per node, a NATS
// server, a 3-node cluster serving, and an async publisher past its first phase; Finish stops
// the publisher and checks the history (nothing acknowledged lost, no duplicates) and that every
// node's database ends with the whole channel.
class StanClusterSql : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    sql_ = SharedServer("postgres", &error);
    ASSERT_NE(sql_, nullptr) << error;
    ASSERT_TRUE(nats_.Start()) << nats_.Output();
    cluster_ =
        std::make_unique<Cluster>(nats_.url(), 3, "test-cluster", SmallSnapshots(), sql_, &error);
    ASSERT_EQ(error, "");
    ASSERT_TRUE(cluster_->StartAll()) << cluster_->Outputs();
    leader_ = cluster_->WaitServing();
    ASSERT_NE(leader_, nullptr) << cluster_->Outputs();
    pub_ = ConnectClient(nats_.url(), "publisher", &error);
    ASSERT_NE(pub_, nullptr) << error;
    publisher_ = std::make_unique<AsyncPublisher>(pub_, "raft");
    ASSERT_TRUE(WaitFor([&] { return publisher_->acks() >= phase_; }, 120s)) << cluster_->Outputs();
  }
  void TearDown() override {
    if (publisher_) publisher_->Stop();
    if (pub_) {
      stanConnection_Close(pub_);
      stanConnection_Destroy(pub_);
    }
  }
  // Waits for one more phase of acknowledgements.
  ::testing::AssertionResult AnotherPhase() {
    const uint64_t acked = publisher_->acks();
    if (WaitFor([&] { return publisher_->acks() >= acked + phase_; }, 120s)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << cluster_->Outputs();
  }
  void Finish(const char* what) {
    publisher_->Stop();
    for (Node& n : cluster_->nodes()) ASSERT_TRUE(n.server->Running()) << n.server->Output();
    History history = ReadHistory(nats_.url(), "raft");
    ASSERT_TRUE(history.ok);
    uint64_t acknowledged = 0;
    const uint64_t lost = publisher_->Lost(history, acknowledged);
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(history.duplicates, 0u);
    ExpectWholeDatabases(*sql_, *cluster_, history.msgs.size() + 1);
    std::printf(
        "[ raft     ] %s (postgres): published %llu, acknowledged %llu, PubAck errors %llu, "
        "stored %zu, lost %llu, duplicates %zu\n",
        what, static_cast<unsigned long long>(publisher_->published()),
        static_cast<unsigned long long>(acknowledged),
        static_cast<unsigned long long>(publisher_->errors()), history.msgs.size(),
        static_cast<unsigned long long>(lost), history.duplicates);
  }

  SqlServer* sql_ = nullptr;
  gannet::test::ServerProcess nats_{gannet::test::ServerKind::kGannet};
  std::unique_ptr<Cluster> cluster_;
  Node* leader_ = nullptr;
  stanConnection* pub_ = nullptr;
  std::unique_ptr<AsyncPublisher> publisher_;
  const uint64_t phase_ = AcksPerPhase() / 3;
};

// A database error mid-apply is an error, not a crash, on the SQL store (PostgreSQL, a database
// per node): the Messages table of a node refuses every insert for a while (a CHECK constraint
// no row meets, NOT VALID so that the rows already there stay). A follower logs the error and
// restarts (its store lacks what was committed: it must not lead with it), then catches up once
// the database takes inserts again; the leader's flush fails, so its PubAcks are errors until
// then. Every acknowledged message is in the history, and every node's database ends with the
// whole channel.
TEST_F(StanClusterSql, ADatabaseErrorMidApplyIsAnErrorNotACrash) {
  Node* leader = leader_;
  Node* follower = &cluster_->nodes()[leader == &cluster_->nodes()[0] ? 1 : 0];
  auto run = [&](const Node& n, const std::string& stmt) -> std::string {
    auto c = store::sql::Connection::Open(sql_->driver(), sql_->Source(NodeDatabase(n.id)));
    if (!c.ok()) return c.status().message();
    store::Status st = (*c)->Run(stmt);
    return st ? "" : st.message();
  };
  const std::string refuse =
      "ALTER TABLE Messages ADD CONSTRAINT gannet_fault CHECK (seq < 0) NOT VALID";
  const std::string accept = "ALTER TABLE Messages DROP CONSTRAINT gannet_fault";

  // The follower's database refuses: the error is logged, the node restarts (same process id,
  // execv), and the others go on acknowledging.
  std::string before = follower->server->Output();
  ASSERT_EQ(run(*follower, refuse), "");
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string out = follower->server->Output();
        return out.find("Unable to apply a replicated entry", before.size()) != std::string::npos &&
               out.find("restarting the node as a follower", before.size()) != std::string::npos;
      },
      30s))
      << follower->server->Output();
  {
    const std::string out = follower->server->Output();
    const size_t at = out.find("Unable to apply a replicated entry", before.size());
    std::printf("[ raft     ] follower: %s\n", out.substr(at, out.find('\n', at) - at).c_str());
  }
  ASSERT_TRUE(AnotherPhase());
  ASSERT_EQ(run(*follower, accept), "");
  ASSERT_TRUE(follower->server->Running()) << follower->server->Output();

  // The leader's database refuses: its flushes fail, its PubAcks are errors, nothing crashes.
  before = leader->server->Output();
  const uint64_t errors = publisher_->errors();
  ASSERT_EQ(run(*leader, refuse), "");
  ASSERT_TRUE(WaitFor(
      [&] {
        return publisher_->errors() > errors &&
               leader->server->Output().find("Unable to flush msg store", before.size()) !=
                   std::string::npos;
      },
      30s))
      << leader->server->Output();
  ASSERT_EQ(run(*leader, accept), "");
  ASSERT_TRUE(AnotherPhase());
  Finish("database errors mid-apply");
}

// The database server is killed (kill -9) and comes back after longer than the SQL store's
// reconnection window: the leader's flushes fail (PubAck errors), the followers fail to apply,
// restart and wait for their databases; once the server is back, the cluster serves again with
// nothing acknowledged lost, and every database ends whole.
TEST_F(StanClusterSql, TheDatabaseServerGoneForAWhileComesBack) {
  sql_->Kill();
  // A follower gave up on its database, restarted and waits for it.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (Node& n : cluster_->nodes()) {
          if (n.server->Output().find("retrying until it opens") != std::string::npos) return true;
        }
        return false;
      },
      90s))
      << cluster_->Outputs();
  ASSERT_EQ(sql_->Start(), "");
  ASSERT_TRUE(AnotherPhase());
  Finish("database server killed and restarted");
}

// Bad input is an error, not a crash: a catch-up reply that does not parse is logged and asked
// again (a NATS client answers the first requests with garbage), and a node whose snapshot file
// was damaged refuses to start with an error (exit status 1, no signal).
TEST(StanClusterSnapshots, BadInputIsAnErrorNotACrash) {
  gannet::test::ServerProcess nats(gannet::test::ServerKind::kGannet);
  ASSERT_TRUE(nats.Start()) << nats.Output();
  // The nodes answer catch-up requests 200 ms late (a test hook): the garbage comes first.
  ::setenv("GANNET_CATCHUP_REPLY_DELAY_MS", "200", 1);
  struct Unset {
    ~Unset() { ::unsetenv("GANNET_CATCHUP_REPLY_DELAY_MS"); }
  } unset;
  Cluster cluster(nats.url(), 3, "test-cluster",
                  {"--cluster_snapshot_threshold", "8", "--cluster_trailing_logs", "4"});
  ASSERT_TRUE(cluster.StartAll()) << cluster.Outputs();
  Node* leader = cluster.WaitServing();
  ASSERT_NE(leader, nullptr) << cluster.Outputs();
  Node* follower = &cluster.nodes()[leader == &cluster.nodes()[0] ? 1 : 0];
  std::string error;
  stanConnection* pub = ConnectClient(nats.url(), "pub", &error);
  ASSERT_NE(pub, nullptr) << error;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(stanConnection_Publish(pub, "bad", "x", 1), NATS_OK);
    }
  };
  publish(50);  // one entry each: several snapshots

  // Garbage answers to the first catch-up requests.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats.url().c_str()), NATS_OK);
  struct Liar {
    natsConnection* nc;
    std::atomic<int> answered{0};
  } liar{nc};
  natsSubscription* lsub = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(
                &lsub, nc, "_STAN.snap.test-cluster.>",
                [](natsConnection* c, natsSubscription*, natsMsg* m, void* closure) {
                  auto* l = static_cast<Liar*>(closure);
                  if (natsMsg_GetReply(m) && l->answered.fetch_add(1) < 3) {
                    natsConnection_PublishString(c, natsMsg_GetReply(m), "GCUPgarbage");
                  }
                  natsMsg_Destroy(m);
                },
                &liar),
            NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc), NATS_OK);

  follower->server->Stop(/*kill=*/true);
  publish(50);  // the leader's log moves past the stopped follower's
  ASSERT_TRUE(follower->server->Start()) << follower->server->Output();
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string out = follower->server->Output();
        return out.find("messages fetched") != std::string::npos &&
               out.find("Restored a Raft snapshot") != std::string::npos;
      },
      60s))
      << follower->server->Output();
  EXPECT_NE(follower->server->Output().find("not a catch-up reply"), std::string::npos)
      << follower->server->Output();
  {
    std::istringstream lines(follower->server->Output());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("catch-up reply") != std::string::npos) {
        std::printf("[ raft     ] garbage reply: %s\n", line.c_str());
      }
    }
  }
  EXPECT_GE(liar.answered.load(), 1);
  EXPECT_TRUE(follower->server->Running());
  natsSubscription_Destroy(lsub);
  natsConnection_Destroy(nc);

  // A damaged snapshot file: the node says so and exits.
  ASSERT_EQ(follower->server->Stop(), 0) << follower->server->Output();
  size_t damaged = 0;
  for (const auto& e : std::filesystem::directory_iterator(follower->dir + "/.raft")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("snapshot-", 0) != 0 || name.find(".meta") != std::string::npos) continue;
    const auto size = std::filesystem::file_size(e.path());
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << std::string(size, 'Z');
    ++damaged;
  }
  ASSERT_GT(damaged, 0u);
  const std::string before = follower->server->Output();
  EXPECT_FALSE(follower->server->Start(5s));
  const int status = follower->server->WaitExit(20s);
  const std::string after = follower->server->Output().substr(before.size());
  EXPECT_EQ(status, 1) << after;
  EXPECT_NE(after.find("snapshot"), std::string::npos) << after;
  {
    std::istringstream lines(after);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("[ERR]") != std::string::npos || line.find("[FTL]") != std::string::npos ||
          line.find("snapshot") != std::string::npos) {
        std::printf("[ raft     ] damaged snapshot (exit status %d): %s\n", status, line.c_str());
      }
    }
  }
  follower->down = true;
  stanConnection_Close(pub);
  stanConnection_Destroy(pub);
}

// Two streaming clusters on one NATS server, each its own Raft group (the same node ids in
// both): each stores only its own messages, and one's failover leaves the other serving.
TEST(StanClusters, TwoClustersOnOneNatsAreIndependent) {
  gannet::test::ServerProcess nats(gannet::test::ServerKind::kGannet);
  ASSERT_TRUE(nats.Start()) << nats.Output();
  Cluster east(nats.url(), 3, "east");
  Cluster west(nats.url(), 3, "west");
  ASSERT_TRUE(east.StartAll()) << east.Outputs();
  ASSERT_TRUE(west.StartAll()) << west.Outputs();
  Node* east_leader = east.WaitServing();
  ASSERT_NE(east_leader, nullptr) << east.Outputs();
  ASSERT_NE(west.WaitServing(), nullptr) << west.Outputs();
  std::string error;
  stanConnection* e = ConnectClient(nats.url(), "pe", &error, 2000, "east");
  ASSERT_NE(e, nullptr) << error;
  stanConnection* w = ConnectClient(nats.url(), "pw", &error, 2000, "west");
  ASSERT_NE(w, nullptr) << error;
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(stanConnection_Publish(e, "ch", "east", 4), NATS_OK);
    ASSERT_EQ(stanConnection_Publish(w, "ch", "west", 4), NATS_OK);
  }
  // 2 s for each PubAck: a probe that timed out on a slow commit would still add a message.
  stanConnection* e_probe = ConnectClient(nats.url(), "pe2", &error, 2000, "east");
  ASSERT_NE(e_probe, nullptr) << error;
  east_leader->server->Stop(/*kill=*/true);
  east_leader->down = true;
  // West is not disturbed; east fails over.
  ASSERT_EQ(stanConnection_Publish(w, "ch", "west", 4), NATS_OK);
  ASSERT_TRUE(
      WaitFor([&] { return stanConnection_Publish(e_probe, "ch", "east", 4) == NATS_OK; }, 30s))
      << east.Outputs();
  auto read_all = [&](stanConnection* sc, size_t want, const char* data) {
    Collector all;
    SubscribeOptions first;
    first.start = SubscribeOptions::Start::kFirst;
    StanSub sub = Subscribe(sc, "ch", all, first, &error);
    EXPECT_TRUE(sub) << error;
    EXPECT_TRUE(all.WaitCount(want, 30s)) << all.Count();
    auto msgs = all.Snapshot();
    for (size_t k = 0; k < msgs.size(); ++k) {
      EXPECT_EQ(msgs[k].seq, k + 1);
      EXPECT_EQ(msgs[k].data, data);
    }
  };
  read_all(e, 51, "east");
  read_all(w, 51, "west");
  for (stanConnection* c : {e, w, e_probe}) {
    stanConnection_Close(c);
    stanConnection_Destroy(c);
  }
}

// --cluster_bootstrap without a node id: a one-node cluster whose generated id is kept with the
// Raft log, so that after a restart the node is the same member of its configuration, leads
// again and has its messages (rebuilt from the log).
TEST(StanClusterBootstrap, OneNodeClusterRestartsAsTheSameNode) {
  gannet::test::ServerProcess nats(gannet::test::ServerKind::kGannet);
  ASSERT_TRUE(nats.Start()) << nats.Output();
  char tmpl[] = "/tmp/gannet-raft-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  // Snapshots every 4 entries: the restart restores one (a group of one keeps its store, as
  // no other node could give its messages back).
  StanServer s(
      {"-ns", nats.url(), "-st", "FILE", "--dir", dir, "--clustered", "--cluster_bootstrap",
       "--cluster_snapshot_threshold", "4", "--cluster_trailing_logs", "2"},
      /*embedded=*/false);
  s.EnableMonitoring();
  ASSERT_TRUE(s.Start()) << s.Output();  // "Streaming Server is ready": it leads
  auto serverz = gannet::test::HttpGet(s.http_port(), "/streaming/serverz");
  EXPECT_NE(serverz.body.find("CLUSTERED"), std::string::npos) << serverz.body;
  EXPECT_NE(serverz.body.find("Leader"), std::string::npos) << serverz.body;
  std::string error;
  {
    StanConn c = Connect(nats.url(), "p", &error);
    ASSERT_TRUE(c) << error;
    for (int i = 0; i < 10; ++i) ASSERT_EQ(Publish(c.get(), "boot", std::to_string(i)), "");
  }
  ASSERT_EQ(s.Stop(), 0) << s.Output();
  ASSERT_TRUE(s.Start()) << s.Output();
  const std::string out = s.Output();
  const size_t first = out.find("Cluster node \"");
  const size_t second = out.find("Cluster node \"", first + 1);
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_EQ(out.substr(first, 40), out.substr(second, 40)) << "the same node id";
  EXPECT_NE(out.find("led a one-node group before this start", first), std::string::npos) << out;
  EXPECT_NE(out.find("Restored a Raft snapshot", first), std::string::npos) << out;
  StanConn c = Connect(nats.url(), "r", &error);
  ASSERT_TRUE(c) << error;
  Collector all;
  SubscribeOptions o;
  o.start = SubscribeOptions::Start::kFirst;
  StanSub sub = Subscribe(c.get(), "boot", all, o, &error);
  ASSERT_TRUE(sub) << error;
  ASSERT_TRUE(all.WaitCount(10)) << all.Count();
  auto msgs = all.Snapshot();
  for (size_t k = 0; k < msgs.size(); ++k) EXPECT_EQ(msgs[k].data, std::to_string(k));
  sub.reset();
  c.reset();
  s.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Auto configuration, as the reference's: a seed node bootstraps a one-node cluster, nodes
// started with neither peers nor bootstrap ask to join (_STAN.raft.<cid>.join) and become
// voters; then the seed dies and a joined node takes over with every message.
// A leader killed before it took any snapshot (the default threshold, 1024 entries) has none of
// its own to cut its store back to: its next start drops the store and replays the whole log.
TEST(StanClusterRestart, ALeaderWithoutASnapshotOfItsOwnDropsItsStore) {
  gannet::test::ServerProcess nats(gannet::test::ServerKind::kGannet);
  ASSERT_TRUE(nats.Start()) << nats.Output();
  Cluster cluster(nats.url(), 3);
  ASSERT_TRUE(cluster.StartAll()) << cluster.Outputs();
  Node* leader = cluster.WaitServing();
  ASSERT_NE(leader, nullptr) << cluster.Outputs();
  std::string error;
  // PubAcks waited for 2 s: a publish to the killed leader times out soon.
  stanConnection* c = ConnectClient(nats.url(), "p", &error);
  ASSERT_NE(c, nullptr) << error;
  CloseAtExit close_c(c);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Publish(c, "drop", std::to_string(i)), "");
  const std::string before = leader->server->Output();
  leader->server->Stop(/*kill=*/true);
  leader->down = true;
  Node* next = cluster.WaitServing();
  ASSERT_NE(next, nullptr) << cluster.Outputs();
  for (int i = 20; i < 30; ++i) {
    ASSERT_TRUE(WaitFor([&] { return Publish(c, "drop", std::to_string(i)).empty(); }, 30s))
        << cluster.Outputs();
  }
  ASSERT_TRUE(leader->server->Start()) << leader->server->Output();
  leader->down = false;
  const std::string after = leader->server->Output().substr(before.size());
  EXPECT_NE(after.find("its store is dropped"), std::string::npos) << after;
  EXPECT_EQ(after.find("cut back"), std::string::npos) << after;
  // The node that led second goes: the first one, its store rebuilt from its log, and the third
  // serve the whole history.
  next->server->Stop(/*kill=*/true);
  next->down = true;
  ASSERT_TRUE(WaitFor([&] { return Publish(c, "drop", "30").empty(); }, 30s)) << cluster.Outputs();
  Collector all;
  SubscribeOptions o;
  o.start = SubscribeOptions::Start::kFirst;
  StanSub sub = Subscribe(c, "drop", all, o, &error);
  ASSERT_TRUE(sub) << error;
  ASSERT_TRUE(all.WaitCount(31)) << all.Count();
  auto msgs = all.Snapshot();
  for (size_t k = 0; k < msgs.size(); ++k) EXPECT_EQ(msgs[k].data, std::to_string(k));
  sub.reset();
}

TEST(StanClusterJoin, NodesJoinASeedAndTakeOver) {
  gannet::test::ServerProcess nats(gannet::test::ServerKind::kGannet);
  ASSERT_TRUE(nats.Start()) << nats.Output();
  char tmpl[] = "/tmp/gannet-raft-XXXXXX";
  const std::string root = ::mkdtemp(tmpl);
  auto args = [&](const std::string& id, bool seed) {
    std::vector<std::string> a{"-ns", nats.url(), "-st", "FILE", "--dir", root + "/" + id,
                               "--clustered", "--cluster_node_id", id, "--cluster_raft_listen",
                               "127.0.0.1:" + std::to_string(gannet::test::FreeTcpPort()),
                               // The joining nodes get a snapshot and fetch the messages.
                               "--cluster_snapshot_threshold", "16", "--cluster_trailing_logs",
                               "8"};
    if (seed) a.push_back("--cluster_bootstrap");
    return a;
  };
  StanServer seed(args("a", true), /*embedded=*/false);
  ASSERT_TRUE(seed.Start()) << seed.Output();
  std::string error;
  StanConn c = Connect(nats.url(), "p", &error);
  ASSERT_TRUE(c) << error;
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Publish(c.get(), "join", std::to_string(i)), "");
  StanServer b(args("b", false), /*embedded=*/false);
  StanServer d(args("d", false), /*embedded=*/false);
  for (StanServer* s : {&b, &d}) {
    s->SetReadyMarker("Cluster node");
    ASSERT_TRUE(s->Start()) << s->Output();
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return b.Output().find("Joined the cluster as a voter") != std::string::npos &&
               d.Output().find("Joined the cluster as a voter") != std::string::npos;
      },
      30s))
      << seed.Output() << b.Output() << d.Output();
  for (int i = 100; i < 200; ++i) ASSERT_EQ(Publish(c.get(), "join", std::to_string(i)), "");
  seed.Stop(/*kill=*/true);
  ASSERT_TRUE(WaitFor(
      [&] {
        return b.Output().find("Streaming Server is ready") != std::string::npos ||
               d.Output().find("Streaming Server is ready") != std::string::npos;
      },
      30s))
      << b.Output() << d.Output();
  Collector all;
  SubscribeOptions o;
  o.start = SubscribeOptions::Start::kFirst;
  o.max_inflight = 1000;
  StanSub sub = Subscribe(c.get(), "join", all, o, &error);
  ASSERT_TRUE(sub) << error;
  ASSERT_TRUE(all.WaitCount(200)) << all.Count();
  auto msgs = all.Snapshot();
  for (size_t k = 0; k < msgs.size(); ++k) {
    EXPECT_EQ(msgs[k].seq, k + 1);
    EXPECT_EQ(msgs[k].data, std::to_string(k));
  }
  sub.reset();
  c.reset();
  b.Stop();
  d.Stop();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}

// Embedded NATS servers routed together (no -ns): each node's process is also one of the NATS
// cluster's servers; clients connected to any of them reach the leader, and after the leader's
// process dies (its NATS server with it) the clients of the others carry on.
TEST(StanClusterEmbedded, RoutedEmbeddedServersAndFailover) {
  char tmpl[] = "/tmp/gannet-raft-XXXXXX";
  const std::string root = ::mkdtemp(tmpl);
  const std::vector<std::string> ids{"a", "b", "c"};
  std::vector<int> route_ports;
  for (size_t i = 0; i < ids.size(); ++i) route_ports.push_back(gannet::test::FreeTcpPort());
  std::string routes;
  for (int p : route_ports) {
    routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(p);
  }
  std::vector<std::unique_ptr<StanServer>> nodes;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string peers;
    for (const std::string& o : ids) {
      if (o != ids[i]) peers += (peers.empty() ? "" : ",") + o;
    }
    nodes.push_back(std::make_unique<StanServer>(std::vector<std::string>{
        "--cluster", "nats://127.0.0.1:" + std::to_string(route_ports[i]), "--cluster_name", "stan",
        "--routes", routes, "-st", "FILE", "--dir", root + "/" + ids[i], "--clustered",
        "--cluster_node_id", ids[i], "--cluster_peers", peers, "--cluster_raft_listen",
        "127.0.0.1:" + std::to_string(gannet::test::FreeTcpPort())}));
    nodes.back()->SetReadyMarker("Cluster node");
    ASSERT_TRUE(nodes.back()->Start()) << nodes.back()->Output();
  }
  auto serving = [&]() -> int {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i]->Running() &&
          nodes[i]->Output().find("Streaming Server is ready") != std::string::npos) {
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  int leader = -1;
  ASSERT_TRUE(WaitFor([&] { return (leader = serving()) >= 0; }, 30s));
  // A client of another node's NATS server.
  const int other = (leader + 1) % 3;
  const int third = (leader + 2) % 3;
  std::string error;
  stanConnection* pub = nullptr;
  ASSERT_TRUE(WaitFor(
      [&] {
        pub = ConnectClient(nodes[static_cast<size_t>(other)]->url(), "p", &error, 100);
        return pub != nullptr;
      },
      30s))
      << error;
  for (int i = 0; i < 100; ++i) {
    const std::string d = std::to_string(i);
    ASSERT_TRUE(WaitFor(
        [&] {
          return stanConnection_Publish(pub, "emb", d.data(), static_cast<int>(d.size())) ==
                 NATS_OK;
        },
        10s));
  }
  nodes[static_cast<size_t>(leader)]->Stop(/*kill=*/true);
  ASSERT_TRUE(WaitFor([&] { return stanConnection_Publish(pub, "emb", "100", 3) == NATS_OK; }, 30s))
      << nodes[static_cast<size_t>(other)]->Output() << nodes[static_cast<size_t>(third)]->Output();
  StanConn reader = Connect(nodes[static_cast<size_t>(third)]->url(), "r", &error);
  ASSERT_TRUE(reader) << error;
  Collector all;
  SubscribeOptions o;
  o.start = SubscribeOptions::Start::kFirst;
  o.max_inflight = 1000;
  StanSub sub = Subscribe(reader.get(), "emb", all, o, &error);
  ASSERT_TRUE(sub) << error;
  ASSERT_TRUE(all.WaitCount(101)) << all.Count();
  // Retried publishes (a PubAck lost with the dying leader) may be stored twice: every value is
  // there, in order of first appearance, and the sequences are gapless.
  auto msgs = all.Snapshot();
  std::set<std::string> seen;
  for (size_t k = 0; k < msgs.size(); ++k) {
    EXPECT_EQ(msgs[k].seq, k + 1);
    seen.insert(msgs[k].data);
  }
  for (int i = 0; i <= 100; ++i) EXPECT_TRUE(seen.count(std::to_string(i))) << i;
  sub.reset();
  reader.reset();
  stanConnection_Close(pub);
  stanConnection_Destroy(pub);
  for (auto& n : nodes) n->Stop(/*kill=*/true);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}

// Flags: the combinations the reference refuses, refused.
TEST(StanClusterFlags, BadCombinationsAreRefused) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  } cases[] = {
      {{"--clustered", "--cluster_bootstrap"}, "clustering requires a FILE or SQL store"},
      {{"--clustered", "-st", "FILE", "--dir", "/tmp/x", "--cluster_bootstrap", "--cluster_peers",
        "a,b"},
       "cannot bootstrap the cluster"},
      {{"--clustered", "-st", "FILE", "--dir", "/tmp/x", "--cluster_node_id", "a",
        "--cluster_peers", "b", "--ft_group", "g"},
       "cannot use fault tolerance with clustering"},
      {{"--clustered", "-st", "FILE", "--dir", "/tmp/x", "--cluster_peers", "b"},
       "--cluster_node_id is required"},
  };
  for (const Case& c : cases) {
    StanServer s(c.args, /*embedded=*/false);
    EXPECT_FALSE(s.Start(5s));
    EXPECT_NE(s.Output().find(c.error), std::string::npos) << s.Output();
  }
}

}  // namespace
}  // namespace gannet::streaming::test
