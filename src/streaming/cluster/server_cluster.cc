// A clustered Streaming server (--clustered): the StreamingServer's side of Raft.
//
// Every node keeps its own FILE store. Followers do not serve: they apply each committed Raft
// entry (cluster/commands.h) to their store on the Raft thread. The leader serves the protocol
// as a standalone server does, over a ReplicatingStore (cluster/replicating_store.h) whose
// flushes wait for the batch's entry to be committed before the PubAcks go out. A node that
// becomes leader first applies every earlier entry (a barrier), then reopens its store and
// recovers it exactly as a fault-tolerance standby taking over (ft.cc): clients, subscriptions
// and pending messages come back and what was pending is redelivered.
//
// A node's store is rebuilt from the Raft log at each start (it is wiped in Open: the log is
// kept whole, no snapshot is taken), and a leader that loses its leadership (or cannot commit)
// restarts its own process (execv): its store may hold changes the cluster did not commit, and
// the restarted node rebuilds it from the log as any follower.
#include <fcntl.h>
#include <linux/close_range.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "streaming/cluster/commands.h"
#include "streaming/cluster/raft_node.h"
#include "streaming/cluster/replicating_store.h"
#include "streaming/log.h"
#include "streaming/nuid.h"
#include "streaming/server.h"
#include "streaming/store/factory.h"

namespace gannet::streaming {

namespace {
constexpr std::chrono::milliseconds kAnnounceInterval{250};
constexpr std::chrono::seconds kReplicateTimeout{5};
char** g_argv = nullptr;
std::atomic<bool> g_shutting_down{false};
}  // namespace

void SetProcessArgs(char** argv) { g_argv = argv; }
void NoteShuttingDown() { g_shutting_down = true; }

std::string StreamingServer::AnnounceSubject() const {
  return "_STAN.raft." + opts_.cluster_id + ".addr";
}

void StreamingServer::RestartProcess(const char* why) {
  if (g_shutting_down.load()) {
    // Stopping anyway (the other nodes may be stopping too): no new process.
    STAN_INFO("%s while shutting down", why);
    std::fflush(stdout);
    ::_exit(0);
  }
  static std::atomic<bool> restarting{false};
  if (restarting.exchange(true)) {
    for (;;) ::pause();  // another thread is restarting the process
  }
  STAN_ERROR("%s: restarting the node as a follower", why);
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_argv) {
    // Close-on-exec rather than closed now: the other threads (libuv's, NATS') still use them,
    // and a descriptor closed under libuv aborts the process before execv.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const int fd = std::atoi(e.path().filename().c_str());
        if (fd > 2) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
    ::execv("/proc/self/exe", g_argv);
  }
  ::_exit(1);
}

std::string StreamingServer::OpenClustered() {
  namespace fs = std::filesystem;
  // A node id not given is a NUID kept with the Raft log, so a restart is the same node (the
  // log's configuration names it).
  if (opts_.cluster.node_id.empty()) {
    std::error_code ec;
    fs::create_directories(opts_.cluster.log_path, ec);
    const std::string path = opts_.cluster.log_path + "/node_id";
    std::ifstream in(path);
    std::getline(in, opts_.cluster.node_id);
    if (opts_.cluster.node_id.empty()) {
      opts_.cluster.node_id = NextNuid();
      std::ofstream out(path);
      out << opts_.cluster.node_id << "\n";
      if (!out.flush()) return "unable to write " + path;
    }
  }
  // The store is rebuilt from the Raft log: what a previous run left is removed (but the log,
  // when it lives under the store's directory).
  std::error_code ec;
  fs::create_directories(opts_.store.dir, ec);
  if (ec) return "unable to create " + opts_.store.dir + ": " + ec.message();
  const fs::path log = fs::weakly_canonical(opts_.cluster.log_path, ec);
  for (const auto& e : fs::directory_iterator(opts_.store.dir, ec)) {
    const fs::path p = fs::weakly_canonical(e.path(), ec);
    const std::string ps = p.string(), ls = log.string();
    if (ls == ps || ls.rfind(ps + "/", 0) == 0) continue;
    fs::remove_all(e.path(), ec);
  }
  // The Raft log (fsync'd by libraft at every append) is what survives a crash; the store is
  // rebuilt from it at each start, so fsyncs of the store would be paid for nothing.
  if (opts_.store.file.do_sync) {
    STAN_INFO(
        "Clustered: the FILE store is not fsync'd (the Raft log is, and the store is "
        "rebuilt from it)");
    opts_.store.file.do_sync = false;
  }
  auto st = store::CreateStore(opts_.store);
  if (!st) return st.status().message();
  cluster_store_ = std::move(st).value();
  auto rec = cluster_store_->Recover();
  if (!rec) return rec.status().message();
  std::random_device rd;
  incarnation_ = (uint64_t{rd()} << 32) | rd();
  return {};
}

std::string StreamingServer::StartClustered() {
  raft_ = std::make_unique<cluster::RaftNode>();
  // The nodes' Raft addresses, as announced (on the client library's thread).
  auto sub = link_.connection().Subscribe(AnnounceSubject(), [this](client::Message& m) {
    std::string_view d = m.data();
    auto sp = d.find(' ');
    if (sp == std::string_view::npos) return;
    raft_->SetPeerAddress(std::string(d.substr(0, sp)), std::string(d.substr(sp + 1)));
  });
  if (!sub) return "unable to subscribe to the cluster's address subject: " + sub.error();
  cluster_sub_ = std::move(sub).value();

  cluster::RaftNodeOptions ro;
  ro.node_id = opts_.cluster.node_id;
  ro.peers = opts_.cluster.peers;
  ro.bootstrap = opts_.cluster.bootstrap;
  ro.log_dir = opts_.cluster.log_path;
  ro.listen = opts_.cluster.raft_listen;
  ro.election_timeout_ms = static_cast<unsigned>(opts_.cluster.election_timeout.count());
  ro.heartbeat_timeout_ms = static_cast<unsigned>(opts_.cluster.heartbeat_timeout.count());
  if (opts_.cluster.raft_logging) ::setenv("LIBRAFT_TRACE", "1", 1);
  std::string err = raft_->Start(
      ro, [this](std::string_view entry) { OnClusterApply(entry); },
      [this](bool leader) { OnClusterLeader(leader); });
  if (!err.empty()) return "unable to start Raft: " + err;
  loop_.PostTask([this] { AnnounceRaftAddress(); });
  if (!opts_.cluster.bootstrap && opts_.cluster.peers.empty()) {
    cluster_join_thread_ = std::thread([this] { RunJoin(); });
  }
  STAN_INFO("Cluster node \"%s\" started, Raft on %s, log in %s", opts_.cluster.node_id.c_str(),
            raft_->listen_address().c_str(), opts_.cluster.log_path.c_str());
  return {};
}

std::string StreamingServer::JoinSubject() const {
  return "_STAN.raft." + opts_.cluster_id + ".join";
}

// The joining node's thread: asks until a leader answers that it is a voter.
void StreamingServer::RunJoin() {
  bool reported = false;
  while (!cluster_stop_.load()) {
    auto reply =
        link_.connection().Request(JoinSubject(), opts_.cluster.node_id, std::chrono::seconds(1));
    if (reply.ok()) {
      std::string_view answer = reply->data();
      if (answer == "ok") {
        STAN_INFO("Joined the cluster as a voter");
        return;
      }
      if (!reported) {
        STAN_INFO("Joining the cluster: %.*s", static_cast<int>(answer.size()), answer.data());
      }
      reported = true;
    }
    for (int i = 0; i < 10 && !cluster_stop_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

std::string StreamingServer::ServeJoins() {
  // On the client library's thread; the answer goes out from the Raft thread.
  auto sub = link_.connection().Subscribe(JoinSubject(), [this](client::Message& m) {
    if (m.reply().empty()) return;
    const std::string node(m.data());
    const std::string reply(m.reply());
    raft_->AddVoter(node, [this, node, reply](const std::string& err) {
      if (err.empty()) {
        STAN_INFO("Node \"%s\" is a voter of the cluster", node.c_str());
      }
      link_.connection().Publish(reply, err.empty() ? std::string("ok") : "error: " + err);
    });
  });
  if (!sub) return "unable to subscribe to the cluster's join subject: " + sub.error();
  cluster_join_sub_ = std::move(sub).value();
  return {};
}

// On the loop, every kAnnounceInterval: "node_id host:port" for the other nodes' transports.
void StreamingServer::AnnounceRaftAddress() {
  link_.PublishNow(AnnounceSubject(), opts_.cluster.node_id + " " + raft_->listen_address());
  loop_.AddTimer(kAnnounceInterval, [this] { AnnounceRaftAddress(); });
}

// On the Raft thread, for every committed entry.
void StreamingServer::OnClusterApply(std::string_view entry) {
  uint64_t origin = 0, incarnation = 0;
  if (!cluster::ReadEntryHeader(entry, origin, incarnation)) {
    std::string hex;
    for (size_t i = 0; i < std::min<size_t>(entry.size(), 48); ++i) {
      hex += Format("%02x", static_cast<unsigned>(static_cast<uint8_t>(entry[i])));
    }
    STAN_ERROR("Ignoring a replicated entry of an unknown format (%zu bytes: %s)", entry.size(),
               hex.c_str());
    return;
  }
  // The leader applied its own entries to its store when it made them.
  if (origin == raft_->raft_id() && incarnation == incarnation_) return;
  std::lock_guard lk(cluster_mu_);
  if (cluster_active_) RestartProcess("Another node's entry was committed while serving");
  if (!cluster_store_) return;
  if (store::Status s = cluster::ApplyEntry(entry, *cluster_store_); !s) {
    STAN_ERROR("Unable to apply a replicated entry: %s", s.message().c_str());
  }
}

// On the Raft thread.
void StreamingServer::OnClusterLeader(bool leader) {
  if (!leader) {
    if (cluster_activating_.load()) RestartProcess("Lost the cluster's leadership");
    return;
  }
  if (cluster_activating_.exchange(true)) return;
  STAN_INFO("Server is the cluster's leader");
  cluster_thread_ = std::thread([this] { ActivateClustered(); });
}

void StreamingServer::ActivateClustered() {
  {
    std::lock_guard lk(cluster_mu_);
    cluster_store_->Close();
    cluster_store_.reset();
    auto st = store::CreateStore(opts_.store);
    if (!st) {
      STAN_FATAL("Failed to activate: %s", st.status().message().c_str());
      RestartProcess("Cannot open the store");
    }
    store_ = std::make_unique<cluster::ReplicatingStore>(
        std::move(st).value(), [this](const std::string& ops) {
          std::string entry;
          entry.reserve(cluster::kEntryHeaderSize + ops.size() + 8);
          cluster::AppendEntryHeader(entry, raft_->raft_id(), incarnation_);
          entry += ops;
          cluster::PadEntry(entry);
          store::Status s = raft_->Propose(std::move(entry), kReplicateTimeout);
          // The local store holds what the cluster may not have: start again from the log.
          if (!s) RestartProcess(s.message().c_str());
          return s;
        });
    cluster_active_ = true;
  }
  std::string err = Activate();
  if (err.empty()) err = ServeJoins();
  if (!err.empty()) {
    STAN_FATAL("Failed to activate: %s", err.c_str());
    RestartProcess("Activation failed");
  }
}

}  // namespace gannet::streaming
