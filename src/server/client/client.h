// The client role: a connection that speaks the client protocol (CONNECT, PUB, HPUB, SUB,
// UNSUB, PING, PONG), authenticates, holds subscriptions in its account, publishes into it
// and receives MSG/HMSG.
//
// Threading: as every Connection, a Client belongs to one Worker; everything here is owner-
// thread only unless marked "any thread" (what producers on other workers read while
// delivering to it).
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
#include "server/account.h"
#include "server/config/server_config.h"
#include "server/conn/connection.h"

namespace gannet {

class Account;
class Delivery;
class MatchCache;

class Client final : public Connection {
 public:
  Client(Server& server, Worker& worker, int fd, uint64_t cid, std::string ip, int port);
  ~Client() override;

  // ---- Owner thread ----
  void Start() override;  // sends INFO, applies connection limits, starts TLS
  void RemoveSubscriptionIfDone(std::string_view sid, uint64_t seq) override;
  // A reload: the worker has taken a new configuration. As the reference's reloadAuthorization:
  // a client whose user is gone is closed; otherwise its credentials are checked again (a
  // failure closes it with 'Authorization Violation'), its permissions replaced, and its
  // subscriptions the new ones deny removed (each with a -ERR).
  void OnConfigReloaded() override;
  // -ERR 'maximum connections exceeded' and close (at connect, or max_connections lowered).
  void CloseMaxConnectionsExceeded();
  // The client's max_payload (the server's, or its account's if lower), as its INFO says it.
  int64_t max_payload() const { return max_payload_; }
  void Snapshot(ConnSnapshot& out, bool with_subs) const override;
  uint64_t cid() const { return id(); }
  const Account& account() const { return *account_; }
  // Whether the client takes INFO updates (lame duck mode, cluster changes): it speaks
  // protocol 1 and its first PING after CONNECT was answered, as the reference decides.
  bool TakesAsyncInfo() const { return first_pong_sent_ && opts_.protocol >= 1; }

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

  // ---- Any thread: what a producer delivering to this client reads ----
  bool wants_headers() const { return headers_.load(std::memory_order_relaxed); }
  // echo:false (fixed at CONNECT, before the client can subscribe).
  bool no_echo() const { return !opts_.echo; }
  // allow_responses, receiving side: whether replies received must be tracked, and the
  // tracking of `reply` (a message delivered to this client carried it).
  bool tracks_reply_permits() const {
    return response_perms_.load(std::memory_order_acquire) != nullptr;
  }
  void TrackReplyPermit(std::string_view reply);

 protected:
  void OnInput(const char* data, size_t n) override;
  void OnTimer(Clock::time_point now) override;
  void OnTlsEstablished() override;
  void OnClosed(CloseReason reason) override;

 private:
  // Publishing (client_publish.cc): mappings, permissions, the reserved subjects, delivery
  // into this account and across accounts, no-responders.
  void ProcessPublish(const MsgArgs& args, std::string_view payload);
  // ProcessPublish after subject mapping: permissions, reserved subjects, delivery.
  void PublishMapped(const Account::Tables& tables, const MsgArgs& args, std::string_view payload);
  void SendNoResponders(std::string_view reply);
  // Subscriptions and publishes from now on are in `account` (set once, at CONNECT).
  void BindAccount(Account& account);
  void ApplyLimits();  // max_payload_ and max_subs_ from the options and the account

  // Authentication and permissions (client_auth.cc).
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
  // Publish permissions (with allow_responses); sends the violation and returns false.
  bool CheckPublishAllowed(std::string_view subject);
  bool PublishAllowedCached(std::string_view subject);
  // allow_responses, publishing side: whether a permit for `subject` remains (and uses it).
  bool UseReplyPermit(std::string_view subject);

  void HandleParseStatus(ParseStatus st);
  void RemoveSubscription(Subscription* sub);

  Parser<Client> parser_;
  ConnectOptions opts_;
  bool connect_received_ = false;
  bool first_pong_sent_ = false;     // a PING after CONNECT was answered
  bool announced_ = false;           // its connect event went out: a disconnect event follows
  bool counted_in_account_ = false;  // in its account's clients (max_connections)
  // The lower of the server's and the account's limits (-1: none): ApplyLimits, at start, when
  // the account is bound and at a reload.
  int64_t max_payload_ = -1;
  int64_t max_subs_ = -1;
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

  // Subscriptions by sid; the index (Sublist) points at these.
  std::unordered_map<std::string, std::unique_ptr<Subscription>> subs_;
  uint64_t next_sub_seq_ = 1;

  // Timers.
  Clock::time_point auth_start_;  // the auth timeout runs from here (after any TLS handshake)
  int64_t rtt_ns_ = 0;
  Clock::time_point last_ping_in_;
  Clock::time_point next_ping_;
  Clock::time_point rtt_start_{};
  bool rtt_measured_ = false;
  int pings_out_ = 0;
};

}  // namespace gannet
