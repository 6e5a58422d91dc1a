// The state behind a client Connection: the I/O thread (read, parse, write, keepalive,
// reconnect), the two lanes that run callbacks (messages; events), the outbound queue, the
// subscriptions and the request multiplexer.
//
// Threads: the I/O thread, the message lane (subscription callbacks) and the event lane
// (connection events).
// Locks (docs/LOCK_ORDER.md, client section): resp_init_mu_ → mu_ → subs_mu_ → req_mu_;
// SubState::mu and the lanes' mutexes are leaves. No user callback runs with any lock held.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/byte_buffer.h"
#include "client/fast_mutex.h"
#include "client/message_arena.h"
#include "client/server_pool.h"
#include "client/socket.h"
#include "client/tls_session.h"
#include "gannet/client/connection.h"
#include "protocol/parser.h"

namespace gannet::client::detail {

class ConnectionImpl;

inline constexpr std::string_view kNoReply{};

// One subscription. Counters written by the I/O thread and read anywhere are atomics.
struct SubState {
  uint64_t sid = 0;
  std::string subject;
  std::string queue;
  MessageHandler handler;  // empty: a synchronous subscription
  bool is_resp_mux = false;
  std::weak_ptr<ConnectionImpl> conn;

  std::atomic<int64_t> max{0};  // auto-unsubscribe after this many in all; 0: none
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> dropped{0};
  std::atomic<int64_t> pending_msgs{0};
  std::atomic<int64_t> pending_bytes{0};
  std::atomic<int64_t> limit_msgs{0};
  std::atomic<int64_t> limit_bytes{0};
  std::atomic<bool> slow{false};    // dropping; reported once per episode
  std::atomic<bool> closed{false};  // unsubscribed, drained or the connection closed
  std::atomic<bool> draining{false};
  // Messages (and bytes) queued for the message lane in the current read batch, not yet added
  // to pending_msgs/pending_bytes (I/O thread only).
  int64_t io_msgs = 0;
  int64_t io_bytes = 0;

  // Synchronous subscriptions keep their messages here; drain completion is signalled here.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> queue_msgs;
  bool slow_to_report = false;  // NextMessage returns kSlowConsumer once
  bool drained = false;
};

// Owned by the user-facing handles; closing the connection when the last goes away.
struct Owner {
  explicit Owner(std::shared_ptr<ConnectionImpl> c) : impl(std::move(c)) {}
  ~Owner();
  std::shared_ptr<ConnectionImpl> impl;
};

class ConnectionImpl : public std::enable_shared_from_this<ConnectionImpl> {
 public:
  explicit ConnectionImpl(Options opts);
  ~ConnectionImpl();

  // Initial connect (caller's thread); on success the threads are started.
  Result<bool> Connect();

  // Subject and data in registers; the reply by reference (a string_view passed by value
  // would go on the stack, copied once more by every caller).
  Status Publish(std::string_view subject, std::string_view data, const std::string_view& reply,
                 const Headers* headers = nullptr, bool latency_sensitive = false);
  Result<Subscription> Subscribe(std::string_view subject, std::string_view queue,
                                 MessageHandler handler);
  Status Unsubscribe(SubState& s, int64_t max);
  Status DrainSubscription(const std::shared_ptr<SubState>& s, Deadline deadline);
  Result<Message> NextMessage(SubState& s, std::chrono::milliseconds timeout);
  Result<Message> Request(std::string_view subject, const Headers* headers, std::string_view data,
                          std::chrono::milliseconds timeout);
  Status Flush(Deadline deadline);
  Status Drain(Deadline deadline);
  void Close();

  ConnectionState state() const;
  std::string connected_url() const;
  ServerInfo server_info() const;
  int64_t max_payload() const;
  std::vector<std::string> servers() const;
  Statistics stats() const;
  std::string last_error() const;
  std::string NewInbox() const;

  // Parser handler (I/O thread and handshake only).
  bool BeforeCommand(char) { return true; }
  bool OnConnect(std::string_view) { return false; }
  bool OnInfo(std::string_view json);
  bool OnErr(std::string_view text);
  bool OnOk() { return true; }
  bool OnPing();
  bool OnPong();
  bool OnSub(std::string_view, std::string_view, std::string_view) { return false; }
  bool OnUnsub(std::string_view, int64_t) { return false; }
  bool OnMsgArgs(Verb, const MsgArgs& args) { return args.total_size <= msg_limit_; }
  bool OnMsg(Verb verb, const MsgArgs& args, std::string_view payload);

 private:
  // A PING in the outbound stream and who waits for its PONG (nullptr: a keepalive PING).
  struct PongWaiter {
    bool done = false;
    Status status = Status::kOk;
  };
  struct PingEntry {
    uint64_t stream_end;  // appended_ after the PING was queued
    PongWaiter* waiter;
  };
  struct RequestWaiter {
    std::condition_variable cv;  // waited on with req_mu_
    bool done = false;
    Status status = Status::kOk;
    Message msg;
  };
  struct DispatchItem {
    std::shared_ptr<SubState> sub;  // null for an event
    Message msg;
    std::function<void()> event;
  };

  // Handshake on a fresh socket: INFO, CONNECT, PING → PONG. Returns kOk or why not.
  Status Handshake(ServerUrl& server, std::string* detail);
  void AppendConnect(std::string& out, const ServerUrl& server) const;
  void ApplyInfo(std::string_view json, bool* discovered, bool* ldm);
  void ProcessControl();  // INFO, -ERR, PING, PONG recorded during a read batch
  void CompleteRequest(std::string_view subject, std::string_view reply, std::string_view hdr,
                       std::string_view data);

  void IoLoop();
  // A queue of work and the thread that runs it.
  struct Lane {
    std::mutex mu;  // a leaf
    std::condition_variable cv;
    // A vector, swapped with the runner's: both keep their capacity, so handing over messages
    // allocates nothing once warm (a deque allocated a node per few items).
    std::vector<DispatchItem> queue;
    bool stop = false;
    std::thread thread;
    std::atomic<std::thread::id> id;
  };
  void RunLane(Lane& lane);
  void StopLane(Lane& lane);
  bool ReadAvailable();  // false: the connection is gone
  void OnDisconnect(const std::string& why);
  bool Reconnect();  // false: closed
  void ResendSubscriptions(std::string& out);
  void FinishClose();  // I/O thread, last: fail waiters, stop the lanes

  // Outbound, under mu_.
  void AppendPub(std::string_view subject, std::string_view reply, const Headers* headers,
                 std::string_view data);
  void AppendHpub(std::string_view subject, std::string_view reply, const Headers& headers,
                  std::string_view data);
  void QueuePingLocked(PongWaiter* w);
  // True when the I/O thread must be woken (the caller does so after unlocking).
  bool NeedKickLocked();
  // Writes the queue from the calling thread (publisher or I/O thread, under mu_, so in
  // order); with `wait`, waits (a bounded blocking send) for room in a full socket. False on
  // a socket error.
  bool WriteLocked(bool wait);
  void FailPongsLocked(uint64_t up_to, Status status);

  void PostEvent(std::function<void()> ev);
  void EnsureRespMux();
  void WakeIo();
  bool OnDispatcher() const { return std::this_thread::get_id() == msgs_.id.load(); }

  const Options opts_;

  mutable FastMutex mu_;  // every publish takes it: see fast_mutex.h
  ConnectionState state_ = ConnectionState::kConnecting;
  bool draining_ = false;       // Drain() started: no new subscriptions
  bool draining_pubs_ = false;  // Drain() reached publishers: no new publishes
  bool close_requested_ = false;
  bool subs_live_ = false;  // SUB/UNSUB queued now reach the server in order (see Reconnect)
  ServerPool pool_;
  ServerInfo info_;
  std::string connected_url_;
  std::string last_error_;
  ServerUrl first_credentials_;      // credentials for discovered servers
  int fd_ = -1;                      // written by the I/O thread under mu_
  std::unique_ptr<TlsSession> tls_;  // with fd_ on a TLS connection (same rules)
  ByteBuffer pending_;               // queued by publishers, not yet taken by the I/O thread
  uint64_t appended_ = 0;            // bytes ever appended to the stream (PING bookkeeping)
  uint64_t taken_ = 0;               // bytes ever taken by the I/O thread
  bool kicked_ = false;              // a wake-up is outstanding
  bool burst_mode_ = false;          // publishers write batches themselves; the I/O thread ticks
  std::chrono::steady_clock::time_point burst_check_{};  // its next tick
  uint64_t publish_count_ = 0;                           // messages ever queued
  uint64_t count_at_tick_ = 0;                           // publish_count_ at the last tick
  bool head_partial_ = false;  // a write sent part of pending_'s first command
  bool socket_full_ = false;   // a write could not send everything: the I/O thread waits
                               // for room (or finds the error); publishers do not write
  int space_waiters_ = 0;
  std::condition_variable_any space_cv_;  // waited on with mu_
  std::condition_variable_any pong_cv_;   // waited on with mu_
  std::deque<PingEntry> pings_;
  int pings_out_ = 0;
  Statistics out_stats_;  // out_msgs/out_bytes/reconnects

  // Subscriptions, keyed by sid.
  mutable std::mutex subs_mu_;
  std::unordered_map<uint64_t, std::shared_ptr<SubState>> subs_;
  uint64_t next_sid_ = 1;

  // Requests.
  std::mutex req_mu_;
  std::condition_variable req_cv_;
  std::unordered_map<std::string, RequestWaiter*> requests_;
  std::mutex resp_init_mu_;  // before mu_: creating the mux subscription once
  std::string resp_prefix_;  // "<inbox>.": set once the mux subscription exists
  uint64_t next_token_ = 0;

  // Subscription callbacks run on one lane, connection events on another: a callback that
  // blocks cannot hold back the slow-consumer error it causes, nor a disconnect notice.
  Lane msgs_;
  Lane events_;

  // I/O thread state (only it touches these after Connect).
  Parser<ConnectionImpl> parser_;
  std::vector<char> read_buf_;
  std::vector<DispatchItem> batch_;    // async messages parsed from one read
  detail::MessageArena arena_;         // where the I/O thread makes them
  std::vector<SubState*> io_touched_;  // subscriptions with io_msgs in batch_
  std::string hdr_scratch_;            // under mu_: a header block being written
  std::string io_error_;
  // Control commands seen during a read batch, handled after it.
  std::vector<std::string> ctl_infos_;
  std::vector<std::string> ctl_errs_;
  int ctl_pings_ = 0;
  int ctl_pongs_ = 0;
  bool handshake_ = false;
  int hs_fd_ = -1;
  TlsSession* hs_tls_ = nullptr;
  bool hs_secure_ = false;                        // CONNECT says tls_required
  int64_t msg_limit_ = int64_t{2} * 1024 * 1024;  // largest MSG we accept from this server
  bool hs_got_info_ = false;
  bool hs_got_pong_ = false;
  std::string hs_error_;
  std::chrono::steady_clock::time_point next_ping_;
  bool in_hold_off_ = false;  // leaving a publisher's burst to it until hold_off_end_
  std::chrono::steady_clock::time_point hold_off_end_{};
  int queued_since_write_ = 0;  // messages queued since the last write
  std::atomic<uint64_t> in_msgs_{0};
  std::atomic<uint64_t> in_bytes_{0};

  int wake_fd_ = -1;
  std::mutex join_mu_;
  std::thread io_thread_;
};

}  // namespace gannet::client::detail
