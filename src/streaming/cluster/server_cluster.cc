// A clustered Streaming server (--clustered): the StreamingServer's side of Raft.
//
// Every node keeps its own FILE or SQL store (an SQL node: a database of its own; its Raft log
// is on disk all the same). Followers do not serve: they apply each committed Raft
// entry (cluster/commands.h) to their store on the applier thread (in log order, so that the
// Raft thread never waits for the store). The leader serves the protocol
// as a standalone server does, over a ReplicatingStore (cluster/replicating_store.h) whose
// flushes wait for the batch's entry to be committed before the PubAcks go out. A node that
// becomes leader first applies every earlier entry (a barrier), then reopens its store and
// recovers it exactly as a fault-tolerance standby taking over (ft.cc): clients, subscriptions
// and pending messages come back and what was pending is redelivered.
//
// Snapshots hold the committed state without the messages (cluster::ClusterState, kept on the
// Raft thread from the applied entries). A node keeps its store across restarts; a restore
// (the last snapshot at start, or one the leader sends a lagging follower) makes the store's
// clients and subscriptions the snapshot's and fetches the message ranges the store lacks from
// another node (_STAN.snap.<cluster id>.<channel>); the entries after the snapshot are then
// applied as usual (idempotently). A leader that loses its leadership (or cannot commit)
// restarts its own process (execv): its store may hold changes the cluster did not commit,
// known at start by the marker it wrote when it activated (kLeaderMarker). Its store is then
// cut back to its own last snapshot (each channel's messages past the snapshot's last
// sequence removed, the log replaying the rest); when raft_start restores no snapshot this
// node took, it is dropped, then restored from the last snapshot and the other nodes
// (OpenClustered, StartClustered).
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
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
#include "streaming/store/sql_store.h"

namespace gannet::streaming {

namespace {
constexpr const char* kLeaderMarker = "/leader";  // in the Raft log directory
// The last snapshots this node took (not one a leader sent), index and digest: see
// OpenClustered.
constexpr const char* kOwnSnapshot = "/own_snapshot";
// Set across the restart that follows a store failure (RunApplier): that start waits for the
// store to open instead of failing (a database down for a while comes back).
constexpr const char* kStoreRetryEnv = "GANNET_CLUSTER_STORE_RETRY";
constexpr size_t kCatchUpReplyMax = size_t{512} * 1024;  // bytes of messages per catch-up reply
constexpr std::chrono::milliseconds kCatchUpTimeout{2000};
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

namespace {

// libraft's files (libuv I/O) and ours in the Raft log directory.
bool IsRaftFile(const std::string& name) {
  return name == "metadata1" || name == "metadata2" || name == "node_id" ||
         name == std::string_view(kLeaderMarker).substr(1) ||
         name.rfind(std::string_view(kOwnSnapshot).substr(1), 0) == 0 ||
         name.rfind("open-", 0) == 0 || name.rfind("snapshot-", 0) == 0 ||
         (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) &&
          name.find('-') != std::string::npos);
}

// A snapshot's bytes, as noted (kOwnSnapshot) and compared at start (FNV-1a, 64 bits).
uint64_t SnapshotDigest(std::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

// The last snapshots this node took, oldest first (kOwnSnapshot: "index digest" a line).
std::vector<StreamingServer::OwnSnapshot> StreamingServer::ReadOwnSnapshots() const {
  std::ifstream in(opts_.cluster.log_path + kOwnSnapshot);
  std::vector<OwnSnapshot> out;
  for (OwnSnapshot o; in >> o.index >> o.digest;) out.push_back(o);
  return out;
}

// Drops the store: a FILE store's files, but the Raft log's when it lives under the store's
// directory (by default <dir>/raft, where a channel named "raft" keeps its files too); an SQL
// store's rows (each node has a database of its own; the log is on disk).
std::string StreamingServer::WipeStoreButLog() {
  namespace fs = std::filesystem;
  if (opts_.store.type == "SQL") {
    store::Status s = store::SqlStore::Drop(opts_.store.sql);
    return s ? std::string() : "unable to drop the SQL store: " + s.message();
  }
  std::error_code ec;
  const std::string ls = fs::weakly_canonical(opts_.cluster.log_path, ec).string();
  for (const auto& e : fs::directory_iterator(opts_.store.dir, ec)) {
    const std::string ps = fs::weakly_canonical(e.path(), ec).string();
    if (ls == ps) {
      for (const auto& f : fs::directory_iterator(e.path(), ec)) {
        if (!IsRaftFile(f.path().filename().string())) fs::remove_all(f.path(), ec);
      }
      continue;
    }
    if (ls.rfind(ps + "/", 0) == 0) continue;  // a parent of the log (not wiped: rare layout)
    fs::remove_all(e.path(), ec);
  }
  return {};
}

std::string StreamingServer::DropClusterStore() {
  if (cluster_store_) {
    cluster_store_->Close();
    cluster_store_.reset();
  }
  if (std::string err = WipeStoreButLog(); !err.empty()) return err;
  auto st = store::CreateStore(opts_.store);
  if (!st) return st.status().message();
  cluster_store_ = std::move(st).value();
  auto rec = cluster_store_->Recover();
  if (!rec) return rec.status().message();
  cluster_recovered_ = std::move(*rec);
  if (!cluster_recovered_) cluster_recovered_.emplace();
  return {};
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
  // The store is kept. A node that led before this start (the marker) may hold messages the
  // cluster did not commit, under sequences the next leader reused, past what was committed
  // when it stopped leading: its store is cut back to its last snapshot. A snapshot this node
  // took holds committed entries only, and none applied after its store ran ahead of the
  // commit (OnClusterApply restarts the process on another node's entry while it serves, before
  // the state takes it; a lost leadership restarts it too): every message up to a channel's last
  // sequence in it is committed and in this store as committed, and what follows may not be.
  // So raft_start's restore of that snapshot cuts each channel's tail past it (RestoreStore),
  // and the log replays what came after. Only a snapshot this node took (its digest noted in
  // kOwnSnapshot, checked in OnClusterRestore) is cut to: one a leader sent as this node
  // stopped leading (libraft writes it before its restore is refused) may hold another leader's
  // messages under this store's sequences. With no such snapshot (StartClustered) the store is
  // dropped (but the Raft log, when it lives under the store's directory): the restore of the
  // last snapshot, if any, fetches the messages from the other nodes, or the whole log is
  // replayed.
  std::error_code ec;
  if (opts_.store.type == "FILE") {
    fs::create_directories(opts_.store.dir, ec);
    if (ec) return "unable to create " + opts_.store.dir + ": " + ec.message();
  }
  // The marker holds the number of voters when it was written: a node that led a group of one
  // keeps its store (no other leader can have reused its sequences, and no other node could
  // give the messages back; what it stored and did not commit was never acknowledged).
  cluster_own_snapshots_ = ReadOwnSnapshots();
  if (fs::exists(opts_.cluster.log_path + kLeaderMarker, ec)) {
    std::ifstream in(opts_.cluster.log_path + kLeaderMarker);
    int voters = 0;
    in >> voters;
    if (voters == 1) {
      STAN_INFO("Clustered: this node led a one-node group before this start: its store is kept");
      fs::remove(opts_.cluster.log_path + kLeaderMarker, ec);
    } else {
      // The marker stays until the cut (RestoreStore) or the drop (StartClustered) is done: a
      // start that fails or stops before does it again (a cut is idempotent, and no snapshot is
      // noted as this node's meanwhile: one taken then may hold entries applied to the state
      // while the store was not cut yet).
      STAN_INFO(
          "Clustered: this node led before this start: its store may hold messages the cluster "
          "did not commit");
      cluster_cut_tails_ = true;
    }
  }
  // --cluster_sync (the reference's "file sync after every write to the Raft log and message
  // store"): the Raft log is fsync'd by libraft at every append whatever the flag; with it the
  // store is fsync'd at every batch too (--file_sync, true by default), without it not: after
  // an OS crash the store may then lack what it had applied (a restore fetches it again) or not
  // recover at all (it is then dropped and restored from the cluster, below).
  if (opts_.store.type == "FILE" && !opts_.cluster.sync && opts_.store.file.do_sync) {
    STAN_INFO(
        "Clustered: the FILE store is not fsync'd (--cluster_sync=false: only the Raft "
        "log is)");
    opts_.store.file.do_sync = false;
  }
  auto st = store::CreateStore(opts_.store);
  if (const char* retry = std::getenv(kStoreRetryEnv); retry && *retry == '1') {
    ::unsetenv(kStoreRetryEnv);
    for (int attempt = 1; !st; ++attempt) {
      // main blocks the signals until it serves: a SIGINT or SIGTERM waits here, pending.
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 &&
          (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1)) {
        return "stopped while waiting for the store to open: " + st.status().message();
      }
      if (attempt % 10 == 1) {
        STAN_ERROR("Clustered: unable to open the store (%s): retrying until it opens",
                   st.status().message().c_str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      st = store::CreateStore(opts_.store);
    }
  }
  if (!st) return st.status().message();
  cluster_store_ = std::move(st).value();
  auto rec = cluster_store_->Recover();
  if (!rec) {
    // The cluster has everything committed: the snapshot's restore fetches the messages from
    // the other nodes, the log replays the rest.
    STAN_ERROR(
        "Clustered: unable to recover the store (%s): it is dropped and restored from "
        "the cluster",
        rec.status().message().c_str());
    if (std::string err = DropClusterStore(); !err.empty()) return err;
    // Nothing left to cut: the marker's work is done.
    if (cluster_cut_tails_.exchange(false)) fs::remove(opts_.cluster.log_path + kLeaderMarker, ec);
  } else {
    cluster_recovered_ = std::move(*rec);
    if (!cluster_recovered_) cluster_recovered_.emplace();
  }
  cluster_state_ = std::make_unique<cluster::ClusterState>();
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
  ro.snapshot_threshold = static_cast<unsigned>(opts_.cluster.snapshot_threshold);
  ro.snapshot_trailing = static_cast<unsigned>(opts_.cluster.trailing_logs);
  if (opts_.cluster.raft_logging) ::setenv("LIBRAFT_TRACE", "1", 1);
  // Other nodes' restores fetch message ranges from this one (leader or follower).
  auto snap_sub = link_.connection().Subscribe(CatchUpPrefix() + ">",
                                               [this](client::Message& m) { HandleCatchUp(m); });
  if (!snap_sub)
    return "unable to subscribe to the cluster's catch-up subject: " + snap_sub.error();
  cluster_snap_sub_ = std::move(snap_sub).value();
  const auto started = std::chrono::steady_clock::now();
  cluster_start_thread_ = std::this_thread::get_id();
  std::string err = raft_->Start(
      ro, [this](std::string_view entry) { OnClusterApply(entry); },
      [this](bool leader) { OnClusterLeader(leader); }, [this] { return TakeClusterSnapshot(); },
      [this](std::string_view snap) { return OnClusterRestore(snap); });
  if (!err.empty()) return "unable to start Raft: " + err;
  // The applier starts now (what the Raft thread applied meanwhile waits in its queue), so that
  // the store of a node that led, when raft_start restored no snapshot this node took, is
  // dropped before any entry or restore reaches it.
  if (cluster_cut_tails_.load() && !cluster_cut_verified_.load()) {
    STAN_INFO(
        "Clustered: this node led before this start and its last snapshot is not one it took (or "
        "it has none): its store is dropped and restored from the cluster (snapshot, other "
        "nodes, log)");
    std::lock_guard lk(cluster_mu_);
    if (std::string e = DropClusterStore(); !e.empty()) return e;
    cluster_cut_tails_ = false;
    std::error_code ec;
    std::filesystem::remove(opts_.cluster.log_path + kLeaderMarker, ec);
  }
  cluster_applier_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stan-apply");
    RunApplier();
  });
  STAN_INFO("Raft started in %lld ms",
            static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count()));
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
        WriteLeaderMarker(raft_->VoterCount());  // no longer a group of one
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
  const bool own = origin == raft_->raft_id() && incarnation == incarnation_;
  // Another leader's entry: this node lost its leadership, and its store may hold what the
  // cluster did not commit. The process restarts before the state takes the entry, so that no
  // snapshot this node takes holds an entry its store may disagree with (OpenClustered cuts the
  // store back to such a snapshot).
  if (!own && cluster_serving_.load()) {
    RestartProcess("Another node's entry was committed while serving");
  }
  if (!cluster_state_->Apply(entry)) {
    STAN_ERROR("A replicated entry does not parse: the snapshots may miss part of it");
  }
  // The leader applied its own entries to its store when it made them.
  if (own) return;
  EnqueueApply(ApplyItem{false, std::string(entry), nullptr});
}

// Any thread: the applier thread applies entries and restores to the store in Raft order, so
// that a restore fetching messages over NATS never blocks the Raft thread (which must go on
// acknowledging entries: the node answering the fetch may need them committed).
void StreamingServer::EnqueueApply(ApplyItem item) {
  std::lock_guard lk(apply_mu_);
  if (item.restore) {
    ++restores_queued_;
    cluster_restoring_ = true;  // no catch-up answers from this store until restored
  }
  apply_queue_.push_back(std::move(item));
  apply_cv_.notify_all();
}

void StreamingServer::RunApplier() {
  for (;;) {
    ApplyItem item;
    {
      std::unique_lock lk(apply_mu_);
      apply_cv_.wait(lk, [&] { return apply_stop_ || !apply_queue_.empty(); });
      if (apply_stop_) return;
      item = std::move(apply_queue_.front());
      apply_queue_.pop_front();
      applying_ = true;
    }
    {
      std::lock_guard lk(cluster_mu_);
      if (item.restore) {
        store::Status s =
            RestoreSnapshot(*item.restore_state, item.at_start && cluster_cut_tails_.load());
        if (!s) {
          if (cluster_stop_.load()) return;
          STAN_ERROR("Unable to restore a Raft snapshot: %s", s.message().c_str());
          // The store is part-way: the next start restores the last snapshot again.
          RestartProcess("Snapshot restore failed");
        }
      } else if (cluster_store_) {
        cluster_recovered_.reset();  // what the start recovered is not the store any more
        if (store::Status s = cluster::ApplyEntry(item.entry, *cluster_store_); !s) {
          STAN_ERROR("Unable to apply a replicated entry: %s", s.message().c_str());
          if (s.code() == store::Code::kIo && !cluster_stop_.load()) {
            // A write the store (its disk, its database) refused: the store now lacks what was
            // committed, and this node must not lead with it. The next start recovers the store
            // as it is, restores the last snapshot (fetching the messages it lacks) and replays
            // the log. A second's pause: a store that keeps failing does not spin.
            // The next start waits for the store to open (a database that went away).
            std::this_thread::sleep_for(std::chrono::seconds(1));
            ::setenv(kStoreRetryEnv, "1", 1);
            RestartProcess("The store failed to apply a committed entry");
          }
        }
      }
    }
    std::lock_guard lk(apply_mu_);
    if (item.restore && --restores_queued_ == 0) cluster_restoring_ = false;
    applying_ = false;
    apply_cv_.notify_all();
  }
}

void StreamingServer::StopApplier() {
  {
    std::lock_guard lk(apply_mu_);
    apply_stop_ = true;
    apply_cv_.notify_all();
  }
  if (cluster_applier_.joinable()) cluster_applier_.join();
}

// On the Raft thread.
void StreamingServer::OnClusterLeader(bool leader) {
  if (!leader) {
    if (cluster_activating_.load()) RestartProcess("Lost the cluster's leadership");
    return;
  }
  if (cluster_activating_.exchange(true)) return;
  STAN_INFO("Server is the cluster's leader");
  const int voters = raft_->VoterCount();
  cluster_thread_ = std::thread([this, voters] { ActivateClustered(voters); });
}

// The leader marker (see OpenClustered), written and fsync'd before the store runs ahead of the
// commit, with the group's number of voters.
void StreamingServer::WriteLeaderMarker(int voters) {
  const std::string marker = opts_.cluster.log_path + kLeaderMarker;
  const std::string tmp = marker + ".tmp";
  const std::string text = std::to_string(voters) + "\n";
  int fd = ::open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), marker.c_str()) == 0;
  if (!ok) {
    STAN_FATAL("Unable to write %s: %s", marker.c_str(), std::strerror(errno));
    RestartProcess("Cannot write the leader marker");
  }
  int dfd = ::open(opts_.cluster.log_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// On the Raft thread, libraft taking a snapshot of the state at the last applied entry. Its
// index and digest are noted as this node's before libraft writes it, with the few before it
// (libraft keeps the last two snapshots, and a process killed while it writes one restarts from the
// one before). Not fsync'd: a note lost, or one whose snapshot was not written, only makes a
// deposed leader's next start drop its store, as without it. Not while a cut is pending: the
// state may then hold entries the store was not cut for.
std::string StreamingServer::TakeClusterSnapshot() {
  std::string state = cluster_state_->Encode();
  if (!cluster_cut_tails_.load()) {
    constexpr size_t kKept = 8;
    cluster_own_snapshots_.push_back({raft_->last_applied(), SnapshotDigest(state)});
    if (cluster_own_snapshots_.size() > kKept) {
      cluster_own_snapshots_.erase(cluster_own_snapshots_.begin());
    }
    const std::string path = opts_.cluster.log_path + kOwnSnapshot;
    const std::string tmp = path + ".tmp";
    std::ofstream out(tmp, std::ios::trunc);
    for (const OwnSnapshot& o : cluster_own_snapshots_) out << o.index << " " << o.digest << "\n";
    out.close();
    std::error_code ec;
    if (out) std::filesystem::rename(tmp, path, ec);
  }
  return state;
}

void StreamingServer::ActivateClustered(int voters) {
  {
    // Every committed entry is in the store first (the applier may still be restoring).
    std::unique_lock alk(apply_mu_);
    apply_cv_.wait(alk, [&] { return apply_stop_ || (apply_queue_.empty() && !applying_); });
  }
  {
    std::lock_guard lk(cluster_mu_);
    // From here the store runs ahead of the commit: a next start must not trust its tail.
    WriteLeaderMarker(voters);
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
    cluster_serving_ = true;
  }
  std::string err = Activate();
  if (err.empty()) err = ServeJoins();
  if (!err.empty()) {
    STAN_FATAL("Failed to activate: %s", err.c_str());
    RestartProcess("Activation failed");
  }
}

std::string StreamingServer::CatchUpPrefix() const {
  return "_STAN.snap." + opts_.cluster_id + ".";
}

// On the Raft thread (a snapshot the leader sent), or Start's thread (the last snapshot on disk):
// the snapshot becomes the state at once; the store follows on the applier thread.
bool StreamingServer::OnClusterRestore(std::string_view snapshot) {
  auto snap = std::make_shared<cluster::ClusterState>();
  if (std::string err = cluster::ClusterState::Decode(snapshot, *snap); !err.empty()) {
    STAN_ERROR("Unable to restore a Raft snapshot (%zu bytes): %s", snapshot.size(), err.c_str());
    return false;
  }
  if (cluster_serving_.load()) {
    STAN_ERROR("Unable to restore a Raft snapshot: the node serves as the leader");
    return false;
  }
  *cluster_state_ = *snap;
  // raft_start's restore runs on the thread that started Raft, before the Raft thread runs.
  const bool at_start = std::this_thread::get_id() == cluster_start_thread_;
  if (at_start && cluster_cut_tails_.load()) {
    // A node that led: its store is cut back to this snapshot if this node took it.
    const uint64_t digest = SnapshotDigest(snapshot);
    for (const OwnSnapshot& o : cluster_own_snapshots_) {
      if (o.digest != digest) continue;
      STAN_INFO(
          "Clustered: its store is kept and cut back to its last snapshot (index %llu, taken by "
          "this node), the log replaying the rest",
          static_cast<unsigned long long>(o.index));
      cluster_cut_verified_ = true;
      break;
    }
  }
  EnqueueApply(ApplyItem{true, {}, std::move(snap), at_start});
  return true;
}

// The applier thread, under cluster_mu_.
store::Status StreamingServer::RestoreSnapshot(const cluster::ClusterState& snap, bool cut) {
  const auto started = std::chrono::steady_clock::now();
  if (!cluster_store_) return store::Status(store::Code::kInvalid, "no follower store");
  store::Status s = RestoreStore(snap, cut);
  if (!s) return s;
  if (cut) {
    // Cut and flushed: the marker's work is done.
    std::error_code ec;
    std::filesystem::remove(opts_.cluster.log_path + kLeaderMarker, ec);
    cluster_cut_tails_ = false;
    STAN_INFO("Clustered: the store was cut back to the snapshot; the leader marker is removed");
  }
  STAN_INFO("Restored a Raft snapshot (%zu channels, %zu clients) in %lld ms", snap.channels.size(),
            snap.clients.size(),
            static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count()));
  return store::Status::Ok();
}

// Under cluster_mu_: makes the follower's store the snapshot's state.
store::Status StreamingServer::RestoreStore(const cluster::ClusterState& snap, bool cut) {
  using store::Status;
  // What the store holds: as recovered at start, else recovered again now.
  std::optional<store::RecoveredState> have = std::move(cluster_recovered_);
  cluster_recovered_.reset();
  if (!have) {
    cluster_store_->Close();
    cluster_store_.reset();
    auto st = store::CreateStore(opts_.store);
    if (!st) return st.status();
    cluster_store_ = std::move(st).value();
    auto rec = cluster_store_->Recover();
    if (!rec) return rec.status();
    have = std::move(*rec);
    if (!have) have.emplace();
  }
  store::Store& st = *cluster_store_;
  if (snap.has_info) {
    if (Status s = st.Init(snap.info); !s) return s;
  }
  // Clients: the snapshot's.
  std::map<std::string, store::ClientInfo> local;
  for (const store::ClientInfo& c : have->clients) local[c.id] = c;
  for (const auto& [id, c] : local) {
    auto it = snap.clients.find(id);
    if (it == snap.clients.end() || it->second.hb_inbox != c.hb_inbox ||
        it->second.conn_id != c.conn_id) {
      if (Status s = st.DeleteClient(id); !s && s.code() != store::Code::kNotFound) return s;
      local.erase(id);
      if (local.empty()) break;
    }
  }
  for (const auto& [id, c] : snap.clients) {
    if (local.count(id)) continue;
    if (Status s = st.AddClient(c); !s) return s;
  }
  // A log in the earlier default place, <dir>/raft, is also the directory of a channel "raft"
  // (the FILE store recovers it as one): deleting that channel would delete the log.
  std::error_code ec;
  const auto log_dir = std::filesystem::weakly_canonical(opts_.cluster.log_path, ec);
  auto holds_log = [&](const std::string& name) {
    if (opts_.store.type != "FILE") return false;
    std::error_code e;
    return std::filesystem::weakly_canonical(opts_.store.dir + "/" + name, e) == log_dir;
  };
  // Channels the snapshot does not have.
  for (const auto& [name, rc] : have->channels) {
    if (snap.channels.count(name) || holds_log(name)) continue;
    if (Status s = st.DeleteChannel(name); !s && s.code() != store::Code::kNotFound) return s;
  }
  std::vector<store::ChannelStore*> touched;
  for (const auto& [channel, sc] : snap.channels) {
    const std::string& name = channel;  // a lambda below captures it (not a structured binding)
    store::ChannelStore* cs = st.LookupChannel(name);
    std::vector<uint64_t> local_subs;
    if (auto it = have->channels.find(name); it != have->channels.end()) {
      for (const auto& rs : it->second.subscriptions) local_subs.push_back(rs.state.id);
    }
    auto recreate = [&]() -> Status {
      if (holds_log(name)) {
        return Status(store::Code::kInvalid,
                      "channel \"" + name + "\" shares its directory with the Raft log (" +
                          opts_.cluster.log_path + "): move the log (--cluster_log_path)");
      }
      if (Status s = st.DeleteChannel(name); !s && s.code() != store::Code::kNotFound) return s;
      auto created = st.CreateChannel(name);
      if (!created) return created.status();
      cs = *created;
      local_subs.clear();
      return Status::Ok();
    };
    if (cs && cut && cs->msgs->LastSequence() > sc.last) {
      // Past the snapshot, this node's store may hold what it stored as leader and the cluster
      // did not commit (OpenClustered): the log replays what was committed.
      STAN_INFO(
          "Restore: channel \"%s\": messages %llu-%llu cut (stored as leader, past the "
          "snapshot)",
          name.c_str(), static_cast<unsigned long long>(sc.last + 1),
          static_cast<unsigned long long>(cs->msgs->LastSequence()));
      if (Status s = cs->msgs->TruncateAfter(sc.last); !s) return s;
    }
    if (cs) {
      const uint64_t last = cs->msgs->LastSequence();
      // A store whose messages all precede the snapshot's first cannot continue at that first.
      if (last != 0 && sc.first > last + 1) {
        STAN_INFO("Restore: channel \"%s\" holds %llu-%llu, the snapshot %llu-%llu: %s",
                  name.c_str(), static_cast<unsigned long long>(cs->msgs->FirstSequence()),
                  static_cast<unsigned long long>(last), static_cast<unsigned long long>(sc.first),
                  static_cast<unsigned long long>(sc.last),
                  "dropping it and fetching the snapshot's range");
        if (Status s = recreate(); !s) return s;
      }
    } else {
      auto created = st.CreateChannel(name);
      if (!created) return created.status();
      cs = *created;
    }
    // The messages the store lacks, up to the snapshot's last.
    if (sc.first != 0 && sc.last >= sc.first) {
      uint64_t from = std::max(cs->msgs->LastSequence() + 1, sc.first);
      if (from <= sc.last) {
        uint64_t gap_at = 0;
        Status s = FetchMessages(name, cs, from, sc.last, gap_at);
        if (!s && gap_at != 0) {
          // The other node's first is past what this store holds: start the channel there.
          if (s = recreate(); !s) return s;
          s = FetchMessages(name, cs, gap_at, sc.last, gap_at);
        }
        if (!s) return s;
      }
    }
    // Subscriptions: the snapshot's, with their ids and pending sequences.
    for (uint64_t id : local_subs) {
      if (Status s = cs->subs->DeleteSub(id); !s && s.code() != store::Code::kNotFound) return s;
    }
    for (const auto& [id, ss] : sc.subs) {
      if (Status s = cluster::CreateSubWithId(*cs->subs, ss.state); !s) return s;
      for (uint64_t p : ss.pending) {
        if (Status s = cs->subs->AddSeqPending(id, p); !s) return s;
      }
      if (Status s = cs->subs->UpdateSub(ss.state); !s) return s;
    }
    touched.push_back(cs);
  }
  if (Status s = st.FlushBatch(touched); !s) return s;
  for (store::ChannelStore* cs : touched) {
    if (Status s = cs->subs->Flush(); !s) return s;
  }
  return Status::Ok();
}

// Stores the messages [from, to] of `channel`, fetched from whichever node answers first (one
// that has applied up to `to`). Asks again until answered (or the server stops). kNotFound
// with `gap_at` set when the answering node's first sequence is past this store's last + 1.
store::Status StreamingServer::FetchMessages(const std::string& channel, store::ChannelStore* cs,
                                             uint64_t from, uint64_t to, uint64_t& gap_at) {
  using store::Status;
  gap_at = 0;
  const std::string subject = CatchUpPrefix() + channel;
  const uint64_t total = to - from + 1;
  STAN_INFO("Restore: fetching messages %llu-%llu of channel \"%s\"",
            static_cast<unsigned long long>(from), static_cast<unsigned long long>(to),
            channel.c_str());
  int failures = 0;
  auto wait_a_bit = [&] {
    ++failures;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 * failures)));
  };
  while (from <= to) {
    if (cluster_stop_.load() || g_shutting_down.load()) {
      return Status(store::Code::kClosed, "shutting down during a catch-up");
    }
    auto reply =
        link_.connection().Request(subject, cluster::EncodeFetchRequest(from, to), kCatchUpTimeout);
    if (!reply.ok()) {
      if (failures % 5 == 0) {
        STAN_INFO("Restore: no node sent messages %llu-%llu of channel \"%s\" yet (%s)",
                  static_cast<unsigned long long>(from), static_cast<unsigned long long>(to),
                  channel.c_str(), reply.error().c_str());
      }
      wait_a_bit();
      continue;
    }
    cluster::FetchReply fr;
    if (std::string err = cluster::DecodeFetchReply(reply->data(), fr); !err.empty()) {
      STAN_ERROR("Restore: channel \"%s\": %s (%zu bytes): asking again", channel.c_str(),
                 err.c_str(), reply->data().size());
      wait_a_bit();
      continue;
    }
    const uint64_t start = fr.msgs.empty() ? fr.first : fr.msgs.front().seq;
    if (start != from && !(start > from && start == fr.first)) {
      STAN_ERROR("Restore: channel \"%s\": asked from %llu, got a reply from %llu: asking again",
                 channel.c_str(), static_cast<unsigned long long>(from),
                 static_cast<unsigned long long>(start));
      wait_a_bit();
      continue;
    }
    if (start > from) {
      // Removed by the limits at the other node since the snapshot.
      const uint64_t last = cs->msgs->LastSequence();
      if (last != 0 && start > last + 1) {
        gap_at = start;
        return Status(store::Code::kNotFound, "the other node's first sequence is past ours");
      }
      if (start > to) return Status::Ok();
      from = start;
      if (fr.msgs.empty()) continue;
    }
    if (fr.msgs.empty()) {
      wait_a_bit();
      continue;
    }
    for (const cluster::FetchedMsg& m : fr.msgs) {
      if (m.seq > to) break;
      if (Status s = cs->msgs->Store(m.seq, m.timestamp, m.record); !s) return s;
      from = m.seq + 1;
    }
    store::ChannelStore* one[] = {cs};
    if (Status s = cluster_store_->FlushBatch(one); !s) return s;
    failures = 0;
  }
  STAN_INFO("Restore: channel \"%s\": %llu messages fetched", channel.c_str(),
            static_cast<unsigned long long>(total));
  return Status::Ok();
}

// On the client library's thread: another node's restore asks for messages of a channel.
void StreamingServer::HandleCatchUp(const client::Message& m) {
  if (m.reply().empty()) return;
  const std::string prefix = CatchUpPrefix();
  std::string_view subject = m.subject();
  if (subject.size() <= prefix.size()) return;
  const std::string channel(subject.substr(prefix.size()));
  uint64_t from = 0, to = 0;
  if (!cluster::DecodeFetchRequest(m.data(), from, to)) {
    STAN_ERROR("Ignoring a malformed catch-up request for channel \"%s\" (%zu bytes)",
               channel.c_str(), m.data().size());
    return;
  }
  if (cluster_restoring_.load() || cluster_cut_tails_.load()) return;
  // Only a node that has applied up to `to` answers (its store holds committed messages only
  // up to there: a follower's everything, a leader's up to what it proposed).
  auto build = [channel, from, to](store::Store& st) -> std::optional<std::string> {
    store::ChannelStore* cs = st.LookupChannel(channel);
    if (!cs || cs->msgs->LastSequence() < to) return std::nullopt;
    const uint64_t first = cs->msgs->FirstSequence();
    cluster::FetchReplyWriter w(first);
    for (uint64_t seq = std::max(from, first); seq <= to && w.size() < kCatchUpReplyMax; ++seq) {
      auto r = cs->msgs->Lookup(seq);
      if (!r.ok() || !r->found()) break;
      w.Add(seq, r->timestamp, r->record);
    }
    return w.Finish();
  };
  std::optional<std::string> out;
  bool leader = false;
  {
    std::unique_lock lk(cluster_mu_, std::defer_lock);
    for (int i = 0; i < 50 && !lk.try_lock(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!lk.owns_lock() || cluster_restoring_.load() || cluster_cut_tails_.load()) return;
    leader = cluster_active_;
    if (!leader) {
      if (!cluster_store_) return;
      out = build(*cluster_store_);
    }
  }
  if (leader) {
    auto res = std::make_shared<std::optional<std::string>>();
    if (!loop_.RunAndWait(
            [this, res, build] {
              if (store_) *res = build(*store_);
            },
            kCatchUpTimeout)) {
      return;
    }
    out = std::move(*res);
  }
  if (!out) return;
  // Test hook: answers this late (the bad-input test's garbage answers come first).
  static const long delay_ms = [] {
    const char* d = std::getenv("GANNET_CATCHUP_REPLY_DELAY_MS");
    return d ? std::atol(d) : 0L;
  }();
  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  link_.connection().Publish(m.reply(), *out);
}

}  // namespace gannet::streaming
