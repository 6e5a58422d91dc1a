// A worker thread: an epoll loop owning a share of the connections (clients and routes alike).
//
// The life of a message across threads: the producer's worker parses a PUB (or a route's RMSG),
// looks the subject up in its own MatchCache, and writes each message either straight into the
// receiver's output queue (receiver on the same worker) or into a staging buffer per receiver
// (other workers). After the read batch, each staging buffer is handed over to its receiver
// under the receiver's inbox lock — one lock per receiver per batch, never per message — and
// the receiver's worker is woken through its task queue and eventfd. The flow control judges
// each receiver then, and pauses the producer when one is behind. Each worker then writes
// every connection that has output once: one write per connection per batch.
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
#include "server/conn/flow_control.h"

namespace gannet {

class Server;
class Connection;
enum class CloseReason;

// Makes the connection object for an accepted or dialed socket, on the worker that will own
// it (a Client for the client port, a Route for the cluster port).
using ConnectionFactory =
    std::function<Connection*(Worker& worker, int fd, uint64_t id, std::string ip, int port)>;

class Worker {
 public:
  using Clock = std::chrono::steady_clock;

  Worker(Server& server, size_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread; false if the event loop could not be set up (the server then refuses
  // to start).
  bool Start();
  // Asks the loop to close every connection and exit; Join() waits for it.
  void Stop();
  void Join();

  // ---- Any thread ----
  // Adopts a socket: `make` builds its connection on this worker's thread, which starts it.
  void PostNewConnection(int fd, const sockaddr_storage& addr, ConnectionFactory make);
  void PostFlush(uint64_t id);
  void PostRemoveSub(uint64_t id, std::string sid, uint64_t seq);
  // Monitoring: the worker adds its connections' copies and totals to `request` on its own
  // thread, then counts it down.
  void PostSnapshot(std::shared_ptr<SnapshotRequest> request);
  // Runs `fn` on this worker's thread (for server-wide operations on its connections, such as
  // lame duck mode). `fn` may call the owner-thread methods below.
  void PostRun(std::function<void()> fn);
  // Runs `fn` on this worker's thread with connection `id`, if it is still open then (an
  // authentication verdict reached on the auth pool, say).
  void PostToConnection(uint64_t id, std::function<void(Connection&)> fn);
  size_t index() const { return index_; }
  Server& server() const { return server_; }
  size_t num_connections() const { return num_connections_.load(std::memory_order_relaxed); }
  // max_pending, which a reload cannot change (as the reference), so the delivery path of
  // every worker reads it here for free.
  int64_t max_pending() const { return flow_.max_pending(); }

  // ---- Owner thread: the configuration generation this worker runs with ----
  // Taken over from the server at construction and at each reload (ApplyConfig), so the
  // connections' paths read their options without a lock or an atomic.
  const ServerConfig& config() const { return *config_; }
  const std::shared_ptr<const ServerConfig>& config_ptr() const { return config_; }
  const Options& options() const { return config_->options(); }
  // A reload: the configuration generation this worker's connections read from now on (the
  // reload then has each connection re-check itself, Connection::OnConfigReloaded).
  void SetConfig(std::shared_ptr<const ServerConfig> next);
  // ---- Owner thread ----
  // Every live connection of this worker (of one kind, or all).
  void ForEachConnection(const std::function<void(Connection&)>& fn);
  // Writes what is queued and closes the connection, if still here.
  void CloseConnection(uint64_t id, CloseReason reason);
  Connection* FindConnection(uint64_t id);
  FlowControl& flow() { return flow_; }
  // This worker's match cache for an account's subject index.
  MatchCache& cache(const Account& account) { return *caches_[account.index()]; }
  // A reload made accounts: a match cache for each (before any of them is live).
  void AddAccountCaches();
  // The buffer where messages for `dst` (a connection of another worker) are staged during a
  // batch; counts one message of `payload_bytes`.
  std::string& StagingFor(Connection* dst, size_t payload_bytes);
  // Marks a local connection as having output to write at the end of the batch.
  void MarkDirty(Connection* c);
  // epoll interest for a connection's socket. A failure (out of memory) closes the connection:
  // a socket epoll does not watch would never be served.
  void ModifyEpoll(int fd, uint64_t id, bool want_read, bool want_write);
  void RemoveFromEpoll(int fd);
  // Called by Connection::Close: forget it; it is freed by the reclaimer.
  void ForgetConnection(Connection* c);
  Clock::time_point now() const { return now_; }
  // Payload bytes queued or staged for receivers since the worker started (owner thread): what
  // reads produce, to size the next read (Connection::OnReadable) and bound an epoll round.
  void CountDelivered(size_t payload_bytes) { delivered_bytes_ += payload_bytes; }
  uint64_t delivered_bytes() const { return delivered_bytes_; }
  // How much a read takes while the worker is under pressure (Connection::OnReadable): the
  // round's readable connections share 1/32 of max_pending (worker.cc).
  size_t pressured_read() const { return pressured_read_; }
  // What a producer the flow control paused reads at most, and the least pressured_read() is.
  static constexpr size_t kPausedRead = size_t{64} * 1024;
  // Aggregate counters of closed clients, for the server's totals.
  std::atomic<uint64_t> in_msgs{0}, in_bytes{0}, out_msgs{0}, out_bytes{0};
  std::atomic<uint64_t> slow_consumers{0};

 private:
  enum class TaskKind { kNewConnection, kFlush, kRemoveSub, kSnapshot, kRun };
  struct Task {
    TaskKind kind = TaskKind::kFlush;
    int fd = -1;
    uint64_t id = 0;
    sockaddr_storage addr{};
    std::string sid;
    uint64_t seq = 0;
    std::shared_ptr<SnapshotRequest> snapshot;
    std::function<void()> run;
    ConnectionFactory make;
  };
  struct Staged {
    Connection* dst;
    std::string bytes;
    uint64_t msgs = 0;
    uint64_t payload_bytes = 0;
  };

  void Run();
  void Post(Task task);
  void RunTasks();
  void AnswerSnapshot(SnapshotRequest& request);
  void AcceptConnection(int fd, const sockaddr_storage& addr, const ConnectionFactory& make);
  // Hands staged bytes to their receivers and lets the flow control judge each one for
  // `producer` (null: no connection produced them).
  void FlushStaged(Connection* producer);
  void FlushDirty();
  void Tick();
  // The server's pending total is over its limit: the flow control cuts our largest holders.
  void ShedOverBudget();
  void DrainCaches();
  void CloseAll();

  Server& server_;
  const size_t index_;
  std::shared_ptr<const ServerConfig> config_;
  FlowControl flow_;
  bool ok_ = true;  // the event loop was set up
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

  std::unordered_map<uint64_t, Connection*> connections_;
  std::atomic<size_t> num_connections_{0};
  std::vector<Connection*> dirty_;
  std::vector<Connection*> tick_scratch_;
  std::vector<Staged> staged_;
  std::unordered_map<Connection*, size_t> staged_index_;
  Connection* last_staged_dst_ = nullptr;
  size_t last_staged_slot_ = 0;
  std::vector<std::string> spare_buffers_;
  // The most a new staging buffer is reserved to from its receiver's hint (a read is at most
  // 1 MiB, what it stages for one receiver a little more; a larger batch grows as before).
  static constexpr size_t kMaxStagingHint = size_t{4} * 1024 * 1024;
  uint64_t delivered_bytes_ = 0;
  size_t pressured_read_ = kPausedRead;

 public:
  // The shared read buffer: connections read into it one at a time.
  std::vector<char> read_buffer;
};

}  // namespace gannet
