// One client connection: its protocol state, subscriptions and buffers.
//
// Threading: a Client belongs to one Worker (its owner). Everything here is touched only by
// the owner's thread, except the members marked "any thread", which publishers on other
// workers use to hand over messages (see worker.h for the delivery path).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/authenticator.h"
#include "core/sublist.h"
#include "protocol/connect_options.h"
#include "protocol/parser.h"
#include "server/config/server_config.h"
#include "server/conn/conn_snapshot.h"
#include "server/conn/outbound.h"

struct ssl_st;  // OpenSSL's SSL

namespace gannet {

class Account;
class MatchCache;
class Server;
class Worker;
class TlsContext;

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
  kMaxControlLineExceeded,
  kServerShutdown,
  kNoRespondersRequiresHeaders,
};
const char* CloseReasonText(CloseReason reason);

class Client {
 public:
  using Clock = std::chrono::steady_clock;

  Client(Server& server, Worker& worker, int fd, uint64_t cid, std::string ip, int port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- Owner thread ----
  void Start();          // sends INFO, applies connection limits
  void OnReadable();     // reads once and parses (or goes on with the TLS handshake)
  void OnWritable();     // socket drained: write more
  void DrainInbox();     // moves messages handed over by other workers into the out buffer
  bool FlushOutbound();  // writes what is buffered; false if the connection closed
  void OnTick(Clock::time_point now);  // ping, auth and write-deadline timers
  void Close(CloseReason reason);
  void RemoveSubscriptionIfDone(std::string_view sid, uint64_t seq);
  // A reload: the worker has taken a new configuration. As the reference's reloadAuthorization:
  // a client whose user is gone is closed; otherwise its credentials are checked again (a
  // failure closes it with 'Authorization Violation'), its permissions replaced, and its
  // subscriptions the new ones deny removed (each with a -ERR).
  void OnConfigReloaded();
  // -ERR 'maximum connections exceeded' and close (at connect, or max_connections lowered).
  void CloseMaxConnectionsExceeded();

  // A copy of this connection's state for monitoring (subscriptions only when asked).
  void Snapshot(ConnSnapshot& out, bool with_subs) const;
  // Adds this connection's message and byte counters to a worker's totals.
  void AddCounters(WorkerTotals& totals) const;

  // Appends a protocol line (PONG, +OK, -ERR, INFO) to our own out buffer.
  void SendProto(std::string_view bytes);
  void SendErr(std::string_view text);

  // ---- Parser handler (owner thread) ----
  bool BeforeCommand(char first_byte);
  bool OnConnect(std::string_view json);
  bool OnInfo(std::string_view) { return true; }
  bool OnErr(std::string_view text);
  bool OnOk() { return true; }
  bool OnPing();
  bool OnPong();
  bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid);
  bool OnUnsub(std::string_view sid, int64_t max);
  bool OnMsgArgs(Verb verb, const MsgArgs& args);
  bool OnMsg(Verb verb, const MsgArgs& args, std::string_view payload);

  // ---- Any thread ----
  uint64_t cid() const { return cid_; }
  // Owner thread (fixed once CONNECT is processed).
  const Account& account() const { return *account_; }
  const std::string& ip() const { return ip_; }
  // Whether the client takes INFO updates (lame duck mode, cluster changes): it speaks
  // protocol 1 and its first PING after CONNECT was answered, as the reference decides.
  bool TakesAsyncInfo() const { return first_pong_sent_ && opts_.protocol >= 1; }
  Worker& worker() const { return worker_; }
  const TlsContext* tls_context() const { return tls_.get(); }  // owner thread
  bool closing() const { return closing_.load(std::memory_order_acquire); }
  bool wants_headers() const { return headers_.load(std::memory_order_relaxed); }
  // Bytes waiting on the owner's side, as last published by the owner.
  int64_t owner_pending() const { return owner_pending_.load(std::memory_order_relaxed); }
  // Hands over bytes staged by another worker. Sets `notify` when the owner must be woken.
  // Returns true when the receiver is over half its pending limit: the producer should stall.
  // Past the limit the bytes are dropped and the receiver is flagged as a slow consumer.
  // `payload_bytes` is what the messages carry, for the out_bytes statistic.
  bool HandOver(const std::string& bytes, uint64_t msgs, uint64_t payload_bytes, bool& notify);
  // Another worker's shortcut: when this client has nothing queued, write `bytes` straight to
  // its socket instead of handing them over, saving the owner's wake-up. Returns false when the
  // shortcut is not open (the caller hands over instead); true when the bytes were written or,
  // if the socket took only part, the rest was queued ahead of everything else.
  bool TryDirectWrite(const std::string& bytes, uint64_t msgs, uint64_t payload_bytes);
  // Back-pressure on a producer: stop reading it for a moment.
  void PauseReading(Clock::time_point until);
  void ResumeReading();

  // ---- Owner thread, used by the delivery path ----
  // The owner is about to queue output: close the direct-write shortcut.
  void CloseDirectWrites() {
    if (direct_ok_local_) {
      direct_ok_local_ = false;
      direct_ok_.store(false, std::memory_order_release);
    }
  }
  bool dirty = false;  // in the worker's list of clients to flush
  uint64_t out_msgs = 0;
  uint64_t out_bytes = 0;
  size_t pending_out() const { return out_.pending(); }
  std::string_view log_prefix() const { return log_prefix_; }

 private:
  bool DeliverToSubscription(Subscription* sub, const MsgArgs& args, std::string_view payload);
  // Delivers to every plain subscription of a match and one member of each queue group.
  bool DeliverToResult(const MatchResult& result, const MsgArgs& args, std::string_view payload);
  // Across accounts (account.h): to the accounts importing a stream this one exports, through
  // a service this one imports, and a response back to the account that sent the request.
  // Each returns whether the message counts as delivered.
  bool RouteStreamImports(const MsgArgs& args, std::string_view payload);
  bool RouteServiceImport(const MsgArgs& args, std::string_view payload);
  bool RouteResponse(const MsgArgs& args, std::string_view payload);
  // Subscriptions and publishes from now on are in `account` (set once, at CONNECT).
  void BindAccount(Account& account);
  void ProcessPublish(const MsgArgs& args, std::string_view payload);
  void AuthViolation();
  // Authentication of the CONNECT (kConnect) or again after a reload (kReload).
  enum class AuthMode { kConnect, kReload };
  // Checks the CONNECT's credentials against the worker's configuration: inline, or on the
  // auth pool when that takes a bcrypt hash (the connection then reads nothing more until the
  // verdict is back). Returns what the parser handler returns: false if the connection closed
  // or waits for the verdict.
  bool CheckCredentials(AuthMode mode);
  bool OnCredentialsChecked(AuthMode mode, std::shared_ptr<const ServerConfig> config, bool ok,
                            AuthIdentity identity);
  // Takes `identity` (and its permissions, which live in `config`) as this client's.
  void ApplyIdentity(std::shared_ptr<const ServerConfig> config, AuthIdentity identity);
  // What CONNECT checks after authentication; false if the connection closed.
  bool FinishConnect();
  // After an asynchronous CONNECT check: reads again, and parses what arrived meanwhile.
  void ResumeAfterAuth();
  // A reload: removes the subscriptions the new permissions deny and resets the deny filters.
  void RecheckSubscriptions();
  void HandleParseStatus(ParseStatus st);
  bool reading_wanted() const { return !read_paused && !auth_pending_; }
  // Publish permissions (with allow_responses); sends the violation and returns false.
  bool CheckPublishAllowed(std::string_view subject);
  bool PublishAllowedCached(std::string_view subject);
  // allow_responses, receiving side: `reply` of a message delivered to this client may now be
  // published to. Any thread (the publisher's).
  void TrackReplyPermit(std::string_view reply);
  // allow_responses, publishing side: whether a permit for `subject` remains (and uses it).
  bool UseReplyPermit(std::string_view subject);
  // Moves handed-over bytes into out_ (the rest of a direct write first). Returns true when a
  // publisher flagged this client a slow consumer. Caller holds write_mu_ or is the only writer.
  bool TakeInbox();
  void CloseAsSlowConsumer();
  void UpdateWriteInterest(bool want_write);
  void RemoveSubscription(Subscription* sub);
  void Parse(const char* data, size_t n);
  // TLS (tls_client.cc): the server side of the handshake, reading and writing through SSL.
  void ContinueHandshake();
  void FailHandshake(const std::string& why);
  void ReadTls();
  ssize_t FeedTls();
  void DecryptAndParse(bool eof);
  // Writes some of out_ (plain, or through SSL once the handshake is done); as sendmsg:
  // bytes written, or -1 with errno (EAGAIN when the socket or SSL must wait).
  ssize_t WriteSome();
  // Sends close_notify and frees the SSL (under write_mu_, the socket still open).
  void ShutdownTls();
  std::string LocalAddress() const;  // "ip:port" as Go prints a TCP address
  std::string RemoteAddress() const;

  Server& server_;
  Worker& worker_;
  int fd_;
  const uint64_t cid_;
  const std::string ip_;
  const int port_;
  std::string log_prefix_;  // "ip:port - cid:N"

  Parser<Client> parser_;
  ConnectOptions opts_;
  bool connect_received_ = false;
  bool first_pong_sent_ = false;  // a PING after CONNECT was answered
  bool auth_required_ = false;
  std::string nonce_;                // sent in INFO when NKEY users are configured
  AuthIdentity identity_;            // who CONNECT authenticated as (permissions, log name)
  Account* account_;                 // the subject space: $G until CONNECT binds another
  MatchCache* cache_;                // the worker's match cache for account_
  bool deny_filter_loaded_ = false;  // the subscribe deny filter applies to every subscription
  // Publish permission results by subject (as the reference's pcache: at most 128, pruned).
  std::unordered_map<std::string, bool> pub_cache_;
  // The configuration generation identity_'s permissions live in (kept alive by this pointer;
  // when replaced, released only after other workers' publishers are done with it).
  std::shared_ptr<const ServerConfig> auth_config_;
  bool auth_pending_ = false;  // CONNECT waits for the auth pool's verdict; not reading
  std::string held_input_;     // what was read after that CONNECT, parsed once it is accepted
  // allow_responses: the permissions (read by publishers delivering to this client: a null
  // pointer or one without `response` costs them nothing) and the reply subjects received.
  std::atomic<const auth::CompiledPermissions*> response_perms_{nullptr};
  struct ReplyPermit {
    Clock::time_point received;
    int sent = 0;
  };
  std::mutex replies_mu_;  // a leaf: never held while taking another lock
  std::unordered_map<std::string, ReplyPermit> replies_;
  std::atomic<bool> headers_{false};
  std::atomic<bool> closing_{false};

  // Subscriptions by sid; the index (Sublist) points at these.
  std::unordered_map<std::string, std::unique_ptr<Subscription>> subs_;
  uint64_t next_sub_seq_ = 1;

  // Outbound: owner-thread queue of chunks.
  OutboundQueue out_;
  bool want_write_ = false;
  std::atomic<int64_t> owner_pending_{0};

  // Inbox: bytes handed over by other workers (any thread, under inbox_mu_).
  // Chunks of bounded size, so a receiver that falls behind never makes one buffer grow (and
  // reallocate, touching fresh pages) without limit; buffers circulate inbox -> out -> spares.
  std::mutex inbox_mu_;
  std::vector<std::string> inbox_;
  std::vector<std::string> inbox_spares_;
  size_t inbox_bytes_ = 0;
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
  bool flush_posted_ = false;
  // Set with the inbox non-empty: a read drains it first, so messages handed over before a
  // client's PING are written before its PONG.
  std::atomic<bool> has_inbox_{false};
  std::atomic<bool> slow_consumer_{false};

  // TLS: the context this connection started with (a reload gives new connections a new one)
  // and its SSL. While the handshake runs only the owner uses ssl_; once it is done every SSL
  // call is made under write_mu_, since direct writes from other workers use it too.
  enum class TlsState : uint8_t { kNone, kHandshake, kEstablished };
  std::shared_ptr<const TlsContext> tls_;
  ssl_st* ssl_ = nullptr;
  TlsState tls_state_ = TlsState::kNone;
  bool tls_peeked_ = false;        // the first byte was checked for a TLS record
  bool read_wants_write_ = false;  // an SSL read needs the socket writable first
  std::string tls_version_;        // for monitoring, once the handshake is done
  std::string tls_cipher_;

  // Timers.
  Clock::time_point created_;
  Clock::time_point auth_start_;  // the auth timeout runs from here (after any TLS handshake)
  std::chrono::system_clock::time_point created_wall_;  // for monitoring
  int64_t rtt_ns_ = 0;
  Clock::time_point last_activity_;
  Clock::time_point last_ping_in_;
  Clock::time_point next_ping_;
  Clock::time_point rtt_start_{};
  Clock::time_point write_blocked_since_{};
  bool rtt_measured_ = false;
  int pings_out_ = 0;

 public:
  // Statistics (owner thread).
  uint64_t in_msgs = 0;
  uint64_t in_bytes = 0;
  // Back-pressure: set by the delivery path when a receiver is over half its pending limit.
  bool saw_backpressure = false;
  Clock::time_point paused_until{};
  bool read_paused = false;
  int stall_count = 0;  // back-pressure pauses in a row
};

}  // namespace gannet
