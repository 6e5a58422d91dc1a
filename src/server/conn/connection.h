// A connection: the socket, its TLS, its output queue, the inbox other workers hand messages
// to, direct writes, and the write-side state the flow control judges. What is said on it is
// the business of a role deriving from it (Client in server/client, Route in server/cluster):
// the role parses the input, answers and keeps its own state.
//
// Threading: a Connection belongs to one Worker (its owner) for its whole life. Members are
// owner-thread only unless their section says otherwise; the "any thread" section is what
// producers on other workers use to deliver to it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/sublist.h"
#include "protocol/parser.h"
#include "server/conn/conn_snapshot.h"
#include "server/conn/outbound.h"

struct ssl_st;  // OpenSSL's SSL

namespace gannet {

class FlowControl;
class Server;
class TlsContext;
class Worker;

// Why a connection closed, with the reference's names (monitor.go ClosedState.String).
enum class CloseReason {
  kClientClosed,
  kAuthenticationTimeout,
  kAuthenticationViolation,
  kTLSHandshakeError,
  kSlowConsumerPendingBytes,
  kSlowConsumerWriteDeadline,
  kWriteError,
  kReadError,
  kParseError,
  kStaleConnection,
  kProtocolViolation,
  kBadClientProtocolVersion,
  kMaxPayloadExceeded,
  kMaxConnectionsExceeded,
  kMaxAccountConnectionsExceeded,
  kMaxControlLineExceeded,
  kServerShutdown,
  kNoRespondersRequiresHeaders,
  kDuplicateRoute,
  kRouteRemoved,
  kClusterNameConflict,
};
const char* CloseReasonText(CloseReason reason);

// The roles a connection can play (the reference's client kinds).
// kInternal: the server's own client in the system account (events/internal_client.h).
enum class ConnectionKind : uint8_t { kClient, kRoute, kInternal };

class Connection : public Subscriber {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(Server& server, Worker& worker, ConnectionKind kind, int fd, uint64_t id,
             std::string ip, int port);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- Owner thread: driven by the worker ----
  virtual void Start() = 0;          // the role's first words (INFO, CONNECT, a TLS handshake)
  void OnReadable();                 // reads once and hands the bytes to the role
  void OnWritable();                 // the socket has room: write more
  void DrainInbox();                 // takes what other workers handed over into the output queue
  bool FlushOutbound();              // writes what is queued; false if the connection closed
  void Tick(Clock::time_point now);  // handshake and write deadlines, then the role's timers
  // A new configuration generation is in force on the worker (reload).
  virtual void OnConfigReloaded() {}
  // A subscription reached its auto-unsubscribe limit on a producer's thread (Worker::
  // PostRemoveSub): remove it if it is still the one numbered `seq`.
  virtual void RemoveSubscriptionIfDone(std::string_view sid, uint64_t seq) {}
  void Close(CloseReason reason);

  // ---- Owner thread: output ----
  // Appends protocol bytes (INFO, PONG, +OK, -ERR, RS+, ...) to the output queue.
  void SendProto(std::string_view bytes);
  void SendErr(std::string_view text);  // -ERR '<text>'
  // The tail of the output queue, for a caller formatting a message in place; the caller then
  // calls QueuedMessage (counts it, marks the connection for the end-of-batch flush).
  std::string& OutputTail() {
    CloseDirectWrites();
    return out_.Tail();
  }
  // The same, after taking in what other workers handed over first: for a receiver where the
  // order across producers matters (a route: an RS+ before the messages it enables).
  std::string& OutputTailInOrder() {
    if (has_inbox_.load(std::memory_order_acquire)) DrainInbox();
    return OutputTail();
  }
  void QueuedMessage(size_t payload_bytes);
  size_t pending_out() const { return out_.pending(); }
  // Bytes waiting for this connection, owner-side and handed over: what the flow control
  // judges (owner thread).
  int64_t pending_bytes() const {
    return static_cast<int64_t>(out_.pending()) + inbox_bytes_.load(std::memory_order_relaxed);
  }
  // The owner is about to queue output: close the direct-write shortcut.
  void CloseDirectWrites() {
    if (direct_ok_local_) {
      direct_ok_local_ = false;
      direct_ok_.store(false, std::memory_order_release);
    }
  }

  // ---- Owner thread: state ----
  ConnectionKind kind() const { return kind_; }
  bool is_route() const { return kind_ == ConnectionKind::kRoute; }
  bool is_client() const { return kind_ == ConnectionKind::kClient; }
  Worker& worker() const { return worker_; }
  Server& server() const { return server_; }
  const std::string& ip() const { return ip_; }
  int port() const { return port_; }
  const std::string& log_prefix() const { return log_prefix_; }
  const TlsContext* tls_context() const { return tls_.get(); }
  Clock::time_point created() const { return created_; }
  // The time the socket has taken nothing while output waited (zero while it keeps up).
  Clock::time_point stalled_since() const { return stalled_since_; }
  // Monitoring: this connection's copy (role fields are added by the role's Snapshot).
  virtual void Snapshot(ConnSnapshot& out, bool with_subs) const;
  void AddCounters(WorkerTotals& totals) const;
  bool dirty = false;  // in the worker's list of connections to flush
  // As a producer: this read batch delivered to a receiver that keeps up (flow_control.h).
  void NoteFedMovingReceiver() { fed_moving_ = true; }

  // Statistics (owner thread).
  uint64_t in_msgs = 0;
  uint64_t in_bytes = 0;
  uint64_t out_msgs = 0;
  uint64_t out_bytes = 0;

  // ---- Any thread ----
  uint64_t id() const { return id_; }
  bool closing() const { return closing_.load(std::memory_order_acquire); }
  // Hands over bytes staged by another worker (one call per receiver per read batch). Sets
  // `notify` when the owner must be woken. Returns the receiver's pending bytes after the
  // hand-over (inbox and owner side), or -1 when they passed `max_pending`: the bytes were then
  // dropped and the receiver flagged a slow consumer (its owner closes it).
  // `payload_bytes` is what the messages carry, for the out_bytes statistic.
  // A large `bytes` is taken whole (left holding a spare buffer), a small one copied.
  int64_t HandOver(std::string& bytes, uint64_t msgs, uint64_t payload_bytes, int64_t max_pending,
                   bool& notify);
  // Another worker's shortcut: when this connection has nothing queued, write `bytes` straight
  // to its socket instead of handing them over, saving the owner's wake-up. Returns false when
  // the shortcut is not open (the caller hands over instead); true when the bytes were written
  // or, if the socket took only part, the rest was queued ahead of everything else.
  bool TryDirectWrite(const std::string& bytes, uint64_t msgs, uint64_t payload_bytes);
  // Queues protocol bytes (a route's RS+, a gossip INFO) after everything handed over so far,
  // from any thread, and wakes the owner to write them. Never dropped for max_pending.
  void PostBytes(std::string_view bytes);
  // When the socket started taking nothing while output waited (ns on the steady clock, 0
  // while it keeps up), as last seen by the owner: producers on other workers judge by it.
  int64_t stalled_since_ns() const { return stalled_since_ns_.load(std::memory_order_relaxed); }
  // What a producer's worker staged for this connection in its last batch: the next batch's
  // staging buffer is sized to it at once (a hint; any worker writes it).
  size_t staging_hint() const { return staging_hint_.load(std::memory_order_relaxed); }
  void set_staging_hint(size_t bytes) {
    staging_hint_.store(static_cast<uint32_t>(std::min<size_t>(bytes, UINT32_MAX)),
                        std::memory_order_relaxed);
  }

 protected:
  // ---- The role's hooks (owner thread) ----
  // Input read from the socket (decrypted, with TLS). The role parses it.
  virtual void OnInput(const char* data, size_t n) = 0;
  // The role's timers (PING, authentication), after the connection's own deadlines.
  virtual void OnTimer(Clock::time_point now) = 0;
  // The TLS handshake completed (the pinned-certificate check passed).
  virtual void OnTlsEstablished() {}
  // The connection is closing, the socket already gone: the role removes its subscriptions,
  // records itself for monitoring, updates its counts. `reason` is why.
  virtual void OnClosed(CloseReason reason) = 0;

  // ---- For the role (owner thread) ----
  void set_log_prefix(std::string prefix) { log_prefix_ = std::move(prefix); }
  // TLS on this connection with `ctx`, as the server side: the handshake runs on readiness
  // events from now on, and must be done within the context's timeout. Closes the connection
  // and returns false if the SSL cannot be made.
  bool StartTls(std::shared_ptr<const TlsContext> ctx);
  // TLS as the client side (a route we dialed): the handshake starts at once, and the peer's
  // certificate must name `host`.
  bool StartTlsClient(std::shared_ptr<const TlsContext> ctx, const std::string& host);
  bool tls_established() const { return tls_state_ == TlsState::kEstablished; }
  ssl_st* ssl() const { return ssl_; }
  // Stops (or restarts) reading, e.g. while a CONNECT's credentials are checked elsewhere.
  void HoldInput(bool hold);
  // A parse failure, answered as the reference does for `kind` ("Client", "Router"): -ERR and
  // close for an unknown verb or an over-long line, a close for bad arguments (with
  // `bad_arguments`). Nothing for kOk and kStopped.
  void CloseOnParseError(ParseStatus st, const char* kind, CloseReason bad_arguments);
  bool input_held() const { return input_held_; }
  void MarkDirty();
  Clock::time_point now() const;
  Clock::time_point last_activity_{};
  std::string LocalAddress() const;  // "ip:port" as Go prints a TCP address
  std::string RemoteAddress() const;
  int fd() const { return fd_; }

 private:
  friend class FlowControl;  // the producer state below, and reading pauses

  // Moves handed-over bytes into out_ (the rest of a direct write first). Returns true when a
  // producer flagged this connection a slow consumer. Caller holds write_mu_.
  bool TakeInbox();
  // After a read of `read` bytes that gave receivers `delivered` payload bytes.
  void SizeNextRead(size_t read, uint64_t delivered, uint64_t msgs);
  // HandOver's work: `whole`, when given, is the string `bytes` views and may be taken.
  int64_t HandOverImpl(std::string_view bytes, std::string* whole, uint64_t msgs,
                       uint64_t payload_bytes, int64_t max_pending, bool& notify);
  void UpdateWriteInterest(bool want_write);
  void UpdateEpoll();
  // Writes some of out_ (plain, or through SSL once the handshake is done); as sendmsg:
  // bytes written, or -1 with errno (EAGAIN when the socket or SSL must wait).
  ssize_t WriteSome();
  // The socket took bytes (progress) or took nothing while output waited.
  void NoteWriteProgress(bool progressed);
  // TLS (connection_tls.cc).
  void ContinueHandshake();
  void FailHandshake(const std::string& why);
  void ReadTls();
  ssize_t FeedTls();
  void DecryptAndDeliver(bool eof);
  void ShutdownTls();  // close_notify and free the SSL (under write_mu_, socket still open)

  Server& server_;
  Worker& worker_;
  const ConnectionKind kind_;
  int fd_;
  const uint64_t id_;
  const std::string ip_;
  const int port_;
  std::string log_prefix_;
  std::atomic<bool> closing_{false};
  bool input_held_ = false;
  // How much the next read takes (SizeNextRead).
  static constexpr size_t kMaxRead = size_t{1024} * 1024;
  static constexpr size_t kMinRead = size_t{16} * 1024;
  static constexpr uint64_t kReadDelivers = uint64_t{1024} * 1024;
  static constexpr uint64_t kReadDeliversMax = uint64_t{4096} * 1024;
  static constexpr uint64_t kReadMsgs = 1024;
  size_t read_limit_ = size_t{128} * 1024;

  // Output: the owner's queue of chunks.
  OutboundQueue out_;
  bool want_write_ = false;
  std::atomic<int64_t> owner_pending_{0};  // out_'s size, as last published by the owner
  Clock::time_point stalled_since_{};
  std::atomic<int64_t> stalled_since_ns_{0};
  std::atomic<uint32_t> staging_hint_{0};

  // Inbox: bytes handed over by other workers (any thread, under inbox_mu_). Chunks of bounded
  // size, so a receiver that falls behind never makes one buffer grow (and reallocate, touching
  // fresh pages) without limit; buffers circulate inbox -> out -> spares.
  std::mutex inbox_mu_;
  std::vector<std::string> inbox_;
  std::vector<std::string> inbox_spares_;
  std::atomic<int64_t> inbox_bytes_{0};  // written under inbox_mu_, read by the owner freely
  uint64_t inbox_msgs_ = 0;
  uint64_t inbox_payload_bytes_ = 0;
  std::vector<std::string> drained_;  // owner thread: swapped with inbox_ when draining
  std::string inbox_head_;  // the unwritten rest of a direct write: goes out before anything

  // Direct writes by other workers (TryDirectWrite). write_mu_ serializes every write to the
  // socket; direct_ok_ is true only while nothing is queued here (set by the owner under
  // write_mu_ and inbox_mu_ after a complete flush; cleared before the owner queues anything
  // and by any hand-over). Lock order: write_mu_, then inbox_mu_.
  std::mutex write_mu_;
  std::atomic<bool> direct_ok_{false};
  bool direct_ok_local_ = false;  // owner's copy, so clearing costs a store only once
  std::atomic<uint64_t> direct_msgs_{0};
  std::atomic<uint64_t> direct_bytes_{0};
  bool flush_posted_ = false;  // under inbox_mu_
  // Set with the inbox non-empty: a read drains it first, so messages handed over before a
  // client's PING are written before its PONG.
  std::atomic<bool> has_inbox_{false};
  std::atomic<bool> slow_consumer_{false};
  // Bytes of this connection counted in the server's pending total (flow_control.h).
  int64_t budget_owner_bytes_ = 0;

  // Producer state, owned by FlowControl: a receiver of this read batch was behind; one was
  // stalled, one was not (keeping up or behind); how long reading is paused; pauses in a row.
  bool producer_pressured_ = false;
  bool fed_stalled_ = false;
  bool fed_moving_ = false;
  bool read_paused_ = false;
  Clock::time_point paused_until_{};
  int pauses_in_row_ = 0;

  // TLS: the context this connection started with (a reload gives new connections a new one)
  // and its SSL. While the handshake runs only the owner uses ssl_; once it is done every SSL
  // call is made under write_mu_, since direct writes from other workers use it too.
  enum class TlsState : uint8_t { kNone, kHandshake, kEstablished };
  std::shared_ptr<const TlsContext> tls_;
  ssl_st* ssl_ = nullptr;
  TlsState tls_state_ = TlsState::kNone;
  bool tls_client_side_ = false;   // we dialed: we sent the ClientHello
  bool tls_peeked_ = false;        // the first byte was checked for a TLS record
  bool read_wants_write_ = false;  // an SSL read needs the socket writable first
  Clock::time_point tls_started_{};
  std::string tls_version_;  // for monitoring, once the handshake is done
  std::string tls_cipher_;

  Clock::time_point created_;
  std::chrono::system_clock::time_point created_wall_;  // for monitoring
};

}  // namespace gannet
