// A worker thread: an epoll loop owning a share of the connections.
//
// The life of a message across threads: the publisher's worker parses a PUB, looks the subject
// up in its own MatchCache, and writes each MSG either straight into the receiver's out buffer
// (receiver on the same worker) or into a staging buffer per receiver (other workers). After
// the read batch, each staging buffer is handed over to its receiver under the receiver's inbox
// lock — one lock per receiver per batch, never per message — and the receiver's worker is
// woken through its task queue and eventfd. Each worker then writes every connection that has
// output once: one write per connection per batch.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/match_cache.h"
#include "server/account.h"
#include "server/config/server_config.h"
#include "server/conn/conn_snapshot.h"

namespace gannet {

class Server;
class Client;
enum class CloseReason;

class Worker {
 public:
  using Clock = std::chrono::steady_clock;

  Worker(Server& server, size_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Start();
  // Asks the loop to close every connection and exit; Join() waits for it.
  void Stop();
  void Join();

  // ---- Any thread ----
  void PostNewConnection(int fd, const sockaddr_storage& addr);
  void PostFlush(uint64_t cid);
  void PostRemoveSub(uint64_t cid, std::string sid, uint64_t seq);
  // Monitoring: the worker adds its connections' copies and totals to `request` on its own
  // thread, then counts it down.
  void PostSnapshot(std::shared_ptr<SnapshotRequest> request);
  // Runs `fn` on this worker's thread (for server-wide operations on its connections, such as
  // lame duck mode). `fn` may call the worker-thread-only methods below.
  void PostRun(std::function<void()> fn);
  // Worker thread only: every live connection of this worker.
  void ForEachClient(const std::function<void(Client&)>& fn);
  // Worker thread only: writes what is queued and closes the connection, if still here.
  void CloseClient(uint64_t cid, CloseReason reason);
  size_t index() const { return index_; }
  size_t num_clients() const { return num_clients_.load(std::memory_order_relaxed); }
  // Any thread: max_pending, which a reload cannot change (as the reference), so the delivery
  // path of every worker reads it here for free.
  int64_t max_pending() const { return max_pending_; }

  // ---- Owner thread: the configuration generation this worker runs with ----
  // Taken over from the server at construction and at each reload (ApplyConfig), so the
  // connections' paths read their options without a lock or an atomic.
  const ServerConfig& config() const { return *config_; }
  const std::shared_ptr<const ServerConfig>& config_ptr() const { return config_; }
  const Options& options() const { return config_->options(); }
  // A reload: switch to `next`, then have every connection re-checked against it (credentials,
  // permissions, subscriptions; Client::OnConfigReloaded). While `excess_clients` is above
  // zero, connections are closed instead (max_connections lowered), counting it down.
  void ApplyConfig(std::shared_ptr<const ServerConfig> next, std::atomic<int64_t>& excess_clients);
  // Posts an authentication verdict reached on the auth pool back to client `cid` (dropped if it
  // is gone by then). Any thread.
  void PostToClient(uint64_t cid, std::function<void(Client&)> fn);

  // ---- Owner thread ----
  // This worker's match cache for an account's subject index.
  MatchCache& cache(const Account& account) { return *caches_[account.index()]; }
  // The buffer where MSGs for `dst` (a client of another worker) are staged during a batch;
  // counts one message of `payload_bytes`.
  std::string& StagingFor(Client* dst, size_t payload_bytes);
  // Marks a local client as having output to write at the end of the batch.
  void MarkDirty(Client* c);
  void ModifyEpoll(int fd, uint64_t cid, bool want_read, bool want_write);
  void RemoveFromEpoll(int fd);
  // Called by Client::Close: forget the client; it is freed by the reclaimer.
  void ForgetClient(Client* c);
  Clock::time_point now() const { return now_; }
  // Aggregate counters of closed clients, for the server's totals.
  std::atomic<uint64_t> in_msgs{0}, in_bytes{0}, out_msgs{0}, out_bytes{0};
  std::atomic<uint64_t> slow_consumers{0};

 private:
  enum class TaskKind { kNewConnection, kFlush, kRemoveSub, kSnapshot, kRun };
  struct Task {
    TaskKind kind = TaskKind::kFlush;
    int fd = -1;
    uint64_t cid = 0;
    sockaddr_storage addr{};
    std::string sid;
    uint64_t seq = 0;
    std::shared_ptr<SnapshotRequest> snapshot;
    std::function<void()> run;
  };
  struct Staged {
    Client* dst;
    std::string bytes;
    uint64_t msgs = 0;
    uint64_t payload_bytes = 0;
  };

  void Run();
  void Post(Task task);
  void RunTasks();
  void AnswerSnapshot(SnapshotRequest& request);
  void AcceptConnection(int fd, const sockaddr_storage& addr);
  // Hands staged bytes to their receivers; true if one is over half its pending limit.
  bool FlushStaged();
  void ResumePaused();
  void FlushDirty();
  void Tick();
  void DrainCaches();
  void CloseAll();
  Client* FindClient(uint64_t cid);

  Server& server_;
  const size_t index_;
  std::shared_ptr<const ServerConfig> config_;
  const int64_t max_pending_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<MatchCache>> caches_;  // by account index
  Clock::time_point now_;
  Clock::time_point next_tick_;

  std::mutex tasks_mu_;
  std::vector<Task> tasks_;
  std::vector<Task> running_tasks_;

  std::unordered_map<uint64_t, Client*> clients_;
  std::atomic<size_t> num_clients_{0};
  std::vector<Client*> dirty_;
  std::vector<uint64_t> paused_;  // cids of producers held back
  std::vector<Client*> tick_scratch_;
  std::vector<Staged> staged_;
  std::unordered_map<Client*, size_t> staged_index_;
  Client* last_staged_dst_ = nullptr;
  size_t last_staged_slot_ = 0;
  std::vector<std::string> spare_buffers_;

 public:
  // The shared read buffer: connections read into it one at a time.
  std::vector<char> read_buffer;
};

}  // namespace gannet
