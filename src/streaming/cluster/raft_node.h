// One node of a clustered Streaming server's Raft group, on Debian's libraft (canonical/raft
// 0.15: its libuv I/O with the on-disk log, its TCP transport). libuv's loop runs on its own
// thread ("stan-raft"); everything libraft does happens there. The server talks to it through:
//  - Propose (any thread but the Raft thread): appends an entry and blocks until it is committed
//    and applied, or fails (not the leader, leadership lost, timeout).
//  - the apply callback (Raft thread): every committed entry, in log order, on every node.
//  - the leader callback (Raft thread): this node became leader and every earlier entry has been
//    applied (a barrier committed in its term); or it stopped being leader.
// Peers are named by node id (the reference's --cluster_peers); a node's Raft id is the digest
// of its node id and its Raft address is its node id too: the transport maps ids to host:port
// from what the nodes announce over NATS (SetPeerAddress), so only node ids are configured.
#pragma once

#include <uv.h>
// libraft 0.15's headers declare some functions (raft_strerror) outside any extern "C".
extern "C" {
#include <raft.h>
#include <raft/uv.h>
}

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "streaming/store/store.h"

namespace gannet::streaming::cluster {

struct RaftNodeOptions {
  std::string node_id;
  std::vector<std::string> peers;  // the other nodes' ids
  bool bootstrap = false;          // --cluster_bootstrap: a one-node configuration
  // Neither peers nor bootstrap: the node starts with no configuration and waits for a leader
  // to add it (it asks on _STAN.raft.<cluster id>.join).
  std::string log_dir;
  std::string listen;  // host:port of the TCP transport (port 0: a free one)
  unsigned election_timeout_ms = 1000;
  unsigned heartbeat_timeout_ms = 100;
  // libraft takes a snapshot (the fsm's state, see cluster/commands.h) every
  // `snapshot_threshold` applied entries and then drops the log but the last `snapshot_trailing`
  // entries (a follower further behind gets the snapshot instead).
  unsigned snapshot_threshold = 1024;
  unsigned snapshot_trailing = 512;
  // The same in bytes (libraft counts entries only, and an entry here is a whole I/O batch):
  // a snapshot once this many bytes of entries were applied since the last one, and no more
  // trailing entries kept than about this many bytes (at least 8 entries).
  uint64_t snapshot_bytes = uint64_t{128} << 20;
  uint64_t trailing_bytes = uint64_t{32} << 20;
};

class RaftNode {
 public:
  using ApplyFn = std::function<void(std::string_view entry)>;
  using LeaderFn = std::function<void(bool leader)>;
  // The state to snapshot (Raft thread).
  using SnapshotFn = std::function<std::string()>;
  // Restores a snapshot (Raft thread, or the thread calling Start for the last snapshot on
  // disk): false when it cannot (logged by the callee).
  using RestoreFn = std::function<bool(std::string_view snapshot)>;

  RaftNode() = default;
  ~RaftNode();
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  // Starts libraft and its thread. Error text on failure.
  std::string Start(const RaftNodeOptions& opts, ApplyFn apply, LeaderFn leader,
                    SnapshotFn snapshot, RestoreFn restore);
  void Stop();

  // Any thread but the Raft thread: proposes `entry` and waits for its commit.
  store::Status Propose(std::string entry, std::chrono::milliseconds timeout);

  // Any thread: makes `node_id` a voter of the group (libraft's raft_add, then raft_assign)
  // when this node leads; `done` gets "" or the error, on the Raft thread.
  void AddVoter(const std::string& node_id, std::function<void(const std::string&)> done);

  // Any thread: where a node's transport listens (from its announcement over NATS).
  void SetPeerAddress(const std::string& node_id, const std::string& host_port);
  const std::string& listen_address() const { return listen_; }
  uint64_t raft_id() const { return id_; }
  // The last entry applied (Raft thread): in the snapshot callback, the snapshot's index.
  uint64_t last_applied() const { return raft_.last_applied; }
  // The voters of the configuration (Raft thread).
  int VoterCount() const;
  static uint64_t IdOf(const std::string& node_id);

  // Raft thread internals (C callbacks).
  std::string AddressOf(uint64_t id);
  // Where to connect to node `id`: its address, or nowhere while a test partition cuts it off.
  std::string ConnectAddress(uint64_t id);
  // An accepted connection from node `id` (cut at once while a test partition separates us).
  void OnAccepted(uint64_t id, uv_stream_t* stream);
  void OnApply(std::string_view entry);
  int OnSnapshot(raft_buffer* bufs[], unsigned* n_bufs);
  int OnRestore(raft_buffer* buf);
  void RunTasks();
  void Poll();

 private:
  void Post(std::function<void()> task);
  std::string CloseAfterFailure(std::string error);
  void Run();
  // Test fault injection (GANNET_RAFT_PARTITION_DIR): while <dir>/<node id> exists, this node
  // talks Raft only with the node ids listed in it (comma-separated; empty: none).
  void CheckPartition();
  void CutConnections();
  bool Allowed(uint64_t id) const { return !partitioned_ || allowed_.count(id) > 0; }

  RaftNodeOptions opts_;
  ApplyFn apply_;
  LeaderFn leader_;
  SnapshotFn snapshot_;
  RestoreFn restore_;
  uint64_t id_ = 0;
  std::string listen_;

  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t poll_{};
  raft_uv_transport tcp_{};
  raft_uv_transport transport_{};  // ours: maps node ids to the addresses announced
  raft_io io_{};
  raft_fsm fsm_{};
  struct raft raft_ {};
  struct raft_barrier barrier_ {};
  // Applied since the last snapshot (Raft thread): the byte bounds above.
  uint64_t bytes_since_snapshot_ = 0;
  uint64_t entries_since_snapshot_ = 0;
  bool snapshot_forced_ = false;
  bool leader_reported_ = false;
  bool barrier_pending_ = false;
  bool closing_ = false;
  std::string partition_file_;
  bool partitioned_ = false;
  std::set<uint64_t> allowed_;
  std::map<int, uint64_t> accepted_fds_;  // fd -> the node id that connected

  std::mutex mu_;  // a leaf: tasks_, addrs_
  std::vector<std::function<void()>> tasks_;
  std::map<uint64_t, std::string> addrs_;
  std::thread thread_;
  std::atomic<bool> started_{false};
};

}  // namespace gannet::streaming::cluster
