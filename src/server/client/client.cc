// The client role: lifecycle, CONNECT, PING/PONG, subscriptions and timers (see client.h).
// Authentication and permissions are in client_auth.cc, publishing in client_publish.cc.
#include "server/client/client.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "auth/nkey.h"
#include "auth/permissions.h"
#include "base/logger.h"
#include "base/strings.h"
#include "core/fast_random.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/cluster/routes.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/events/system_events.h"
#include "server/server.h"

namespace gannet {

namespace {

constexpr auto kFirstClientPing = std::chrono::seconds(2);

// Per-thread random numbers: the first PING's jitter.
FastRandom& ThreadRandom() {
  thread_local FastRandom random(std::random_device{}());
  return random;
}

}  // namespace

Client::Client(Server& server, Worker& worker, int fd, uint64_t cid, std::string ip, int port)
    : Connection(server, worker, ConnectionKind::kClient, fd, cid, std::move(ip), port),
      parser_(ParserRole::kServerForClient, static_cast<size_t>(worker.options().max_control_line)),
      account_(&server.accounts().global()),
      cache_(&worker.cache(*account_)) {
  set_log_prefix(this->ip() + ":" + std::to_string(this->port()) + " - cid:" + std::to_string(cid));
}

Client::~Client() = default;

void Client::Start() {
  const ServerConfig& config = worker().config();
  const Options& opts = config.options();
  ApplyLimits();
  auth_start_ = created();
  next_ping_ = created() + opts.ping_interval;
  const Authenticator& authn = config.authenticator();
  auth_required_ = authn.required();
  if (authn.nonce_required()) nonce_ = nkey::NewNonce();
  int64_t n = server().num_clients.fetch_add(1) + 1;
  LOG_DEBUG("%s - Client connection created", log_prefix().c_str());
  // The INFO goes out in plain text, then the client starts the TLS handshake (as the
  // reference's 2.9: no TLS-first).
  std::shared_ptr<const TlsContext> tls = server().tls_context();
  SendProto(server().ClientInfo(config, id(), ip(), nonce_, tls.get()));
  if (n > opts.max_connections) {
    CloseMaxConnectionsExceeded();
    return;
  }
  if (tls) {
    LOG_DEBUG("%s - Starting TLS client connection handshake", log_prefix().c_str());
    StartTls(std::move(tls));
  }
}

void Client::OnTlsEstablished() {
  // The auth timer starts now, so it cannot fire during the handshake (reference issue #432).
  auth_start_ = now();
}

void Client::ApplyLimits() {
  // As the reference's applyAccountLimits: the lower of the server's and the account's
  // (-1: none; the server's 0 subscriptions is none too).
  const Options& opts = worker().options();
  const AccountLimits& acc = account_->limits();
  auto lower = [](int64_t a, int64_t b) { return a < 0 ? b : (b < 0 ? a : std::min(a, b)); };
  max_payload_ = lower(opts.max_payload, acc.max_payload);
  max_subs_ =
      lower(opts.max_subscriptions > 0 ? opts.max_subscriptions : -1, acc.max_subscriptions);
}

void Client::CloseMaxConnectionsExceeded() {
  LOG_ERROR("%s - maximum connections exceeded", log_prefix().c_str());
  SendErr("maximum connections exceeded");
  Close(CloseReason::kMaxConnectionsExceeded);
}

// ---- Reading ----

void Client::OnInput(const char* data, size_t n) {
  if (auth_pending_) {
    // A CONNECT is being checked on the auth pool: what comes after it waits, in order (TLS
    // may decrypt more than one read's worth before reading stops).
    held_input_.append(data, n);
    return;
  }
  ParseStatus st = parser_.Feed(*this, data, n);
  if (st == ParseStatus::kStopped && auth_pending_ && !closing()) {
    size_t at = parser_.stopped_at();
    held_input_.append(data + at, n - at);
    return;
  }
  HandleParseStatus(st);
}

void Client::HandleParseStatus(ParseStatus st) {
  CloseOnParseError(st, "Client", CloseReason::kProtocolViolation);
}

bool Client::BeforeCommand(char first_byte) {
  if (auth_required_ && !connect_received_ && first_byte != 'C' && first_byte != 'c') {
    AuthViolation();
    return false;
  }
  return true;
}

bool Client::OnConnect(std::string_view json) {
  const Options& opts = worker().options();
  LOG_TRACE("%s - <<- [CONNECT %.*s]", log_prefix().c_str(), static_cast<int>(json.size()),
            json.data());
  last_activity_ = worker().now();
  // The first PING comes soon after CONNECT, to measure the round-trip time.
  auto first = std::min<std::chrono::milliseconds>(opts.ping_interval, kFirstClientPing);
  auto jitter_range = first.count() / 5;
  next_ping_ = last_activity_ + first +
               std::chrono::milliseconds(ThreadRandom().Below(static_cast<size_t>(jitter_range)));

  if (auto err = ParseConnectOptions(json, opts_)) {
    LOG_ERROR("%s - %s", log_prefix().c_str(), err->c_str());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  connect_received_ = true;
  // As the reference, the RTT is first estimated as the time from accept to CONNECT; our
  // PINGs refine it.
  if (rtt_ns_ == 0) {
    rtt_ns_ =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - created()).count();
  }
  headers_.store(!opts.no_header_support && opts_.headers, std::memory_order_relaxed);

  if (auth_required_) return CheckCredentials(AuthMode::kConnect);
  return FinishConnect();
}

bool Client::FinishConnect() {
  if (opts_.new_account || !opts_.account.empty()) {
    AuthViolation();
    return false;
  }
  if (opts_.protocol < 0 || opts_.protocol > 1) {
    SendErr("invalid client protocol");
    Close(CloseReason::kBadClientProtocolVersion);
    LOG_ERROR("%s - invalid client protocol", log_prefix().c_str());
    return false;
  }
  if (opts_.no_responders && !wants_headers()) {
    SendErr("no responders requires headers support");
    Close(CloseReason::kNoRespondersRequiresHeaders);
    return false;
  }
  // Name the connection in the log as the reference does: "v<version>:<lang>:<name>".
  std::string ncs;
  auto add = [&](std::string_view part) {
    if (part.empty()) return;
    if (!ncs.empty()) ncs += ':';
    ncs.append(part);
  };
  if (!opts_.version.empty()) add("v" + opts_.version);
  add(opts_.lang);
  add(opts_.name);
  if (!ncs.empty()) {
    set_log_prefix(ip() + ":" + std::to_string(port()) + " - cid:" + std::to_string(id()) + " - " +
                   Quoted(ncs));
  }
  if (opts_.verbose) SendProto("+OK\r\n");
  if (SystemEvents* events = server().events()) {
    ConnSnapshot s;
    Snapshot(s, false);
    events->ClientConnected(std::move(s));
    announced_ = true;
  }
  return true;
}

bool Client::OnErr(std::string_view text) {
  LOG_ERROR("%s - Client Error %.*s", log_prefix().c_str(), static_cast<int>(text.size()),
            text.data());
  Close(CloseReason::kParseError);
  return false;
}

bool Client::OnPing() {
  LOG_TRACE("%s - <<- [PING]", log_prefix().c_str());
  SendProto("PONG\r\n");
  last_ping_in_ = worker().now();
  if (!connect_received_) return true;
  // The first PING of a client that takes INFO updates: if the cluster's client URLs changed
  // since it connected, an INFO with the new ones follows the PONG (client.go processPing).
  // So does one with the client's own max_payload, when its account's limit lowered it.
  if (!first_pong_sent_ && opts_.protocol >= 1) {
    Routes* routes = server().routes();
    if ((routes && routes->client_urls_changed() >= created()) ||
        max_payload_ != worker().options().max_payload) {
      SendProto(server().ClientInfo(worker().config(), id(), ip(), {}, tls_context(),
                                    server().in_lame_duck_mode(), max_payload_));
    }
  }
  first_pong_sent_ = true;
  return true;
}

bool Client::OnPong() {
  LOG_TRACE("%s - <<- [PONG]", log_prefix().c_str());
  pings_out_ = 0;
  if (rtt_start_ != Clock::time_point{}) {
    // The round-trip time of our last PING (as the reference, measured on every PONG to one).
    rtt_ns_ =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - rtt_start_).count();
    rtt_start_ = {};
  }
  return true;
}

// ---- Subscriptions ----

bool Client::OnSub(std::string_view subject, std::string_view queue, std::string_view sid) {
  LOG_TRACE("%s - <<- [SUB %.*s%s%.*s %.*s]", log_prefix().c_str(),
            static_cast<int>(subject.size()), subject.data(), queue.empty() ? "" : " ",
            static_cast<int>(queue.size()), queue.data(), static_cast<int>(sid.size()), sid.data());
  last_activity_ = worker().now();
  // Queue names are not validated, as in the reference.
  if (!IsValidSubject(subject)) {
    SendErr("Invalid Subject");
    return true;
  }
  const auth::CompiledPermissions* perms = identity_.permissions;
  if (perms && !perms->SubscribeAllowed(subject, queue)) {
    std::string who = identity_.log_user;
    if (queue.empty()) {
      SendErr("Permissions Violation for Subscription to " + Quoted(subject));
      LOG_ERROR("%s - Subscription Violation - %s, Subject %s, SID %.*s", log_prefix().c_str(),
                who.c_str(), Quoted(subject).c_str(), static_cast<int>(sid.size()), sid.data());
    } else {
      SendErr("Permissions Violation for Subscription to " + Quoted(subject) + " using queue " +
              Quoted(queue));
      LOG_ERROR("%s - Subscription Violation - %s, Subject %s, Queue: %s, SID %.*s",
                log_prefix().c_str(), who.c_str(), Quoted(subject).c_str(), Quoted(queue).c_str(),
                static_cast<int>(sid.size()), sid.data());
    }
    return true;
  }
  // A wildcard subscription overlapping the deny list turns on the delivery filter for every
  // subscription of this client, as the reference's loadMsgDenyFilter.
  if (perms && !deny_filter_loaded_ && perms->DenyFilterFor(subject)) {
    deny_filter_loaded_ = true;
    for (auto& [key, existing] : subs_) {
      existing->deny_filter.store(perms->deny_filter(), std::memory_order_release);
    }
  }
  if (max_subs_ >= 0 && static_cast<int64_t>(subs_.size()) >= max_subs_) {
    LOG_ERROR("%s - maximum subscriptions exceeded", log_prefix().c_str());
    SendErr("maximum subscriptions exceeded");
    return true;
  }
  std::string key(sid);
  if (subs_.find(key) == subs_.end()) {
    auto sub = std::make_unique<Subscription>();
    sub->subject.assign(subject);
    sub->queue.assign(queue);
    sub->sid = key;
    sub->subscriber = this;
    sub->id = next_sub_seq_++;
    if (deny_filter_loaded_)
      sub->deny_filter.store(perms->deny_filter(), std::memory_order_release);
    account_->sublist().Insert(sub.get());
    if (Routes* routes = server().routes()) routes->LocalInterest(*account_, *sub, +1);
    subs_.emplace(std::move(key), std::move(sub));
  }
  if (opts_.verbose) SendProto("+OK\r\n");
  return true;
}

void Client::RemoveSubscription(Subscription* sub) {
  if (Routes* routes = server().routes()) routes->LocalInterest(*account_, *sub, -1);
  LOG_TRACE("%s - <-> [DELSUB %s]", log_prefix().c_str(), sub->sid.c_str());
  account_->sublist().Remove(sub);
  auto it = subs_.find(sub->sid);
  Subscription* owned = it->second.release();
  subs_.erase(it);
  // Publishers on other threads may still hold the pointer until their next quiescent point.
  server().reclaimer().Retire([owned] { delete owned; });
}

bool Client::OnUnsub(std::string_view sid, int64_t max) {
  LOG_TRACE("%s - <<- [UNSUB %.*s]", log_prefix().c_str(), static_cast<int>(sid.size()),
            sid.data());
  last_activity_ = worker().now();
  auto it = subs_.find(std::string(sid));
  if (it != subs_.end()) {
    Subscription* sub = it->second.get();
    // This thread's own count joins the shared one before a limit applies (see Subscription).
    const uint64_t owner_count = sub->delivered_owner.load(std::memory_order_relaxed);
    if (owner_count > 0) {
      sub->delivered_owner.store(0, std::memory_order_relaxed);
      sub->delivered.fetch_add(owner_count, std::memory_order_acq_rel);
    }
    uint64_t delivered = sub->delivered.load(std::memory_order_acquire);
    if (max > 0 && static_cast<uint64_t>(max) > delivered) {
      sub->max.store(static_cast<uint64_t>(max), std::memory_order_release);
    } else {
      RemoveSubscription(sub);
    }
  }
  if (opts_.verbose) SendProto("+OK\r\n");
  return true;
}

void Client::RemoveSubscriptionIfDone(std::string_view sid, uint64_t seq) {
  auto it = subs_.find(std::string(sid));
  if (it != subs_.end() && it->second->id == seq) {
    LOG_DEBUG("%s - Auto-unsubscribe limit of %llu reached for sid '%s'", log_prefix().c_str(),
              static_cast<unsigned long long>(it->second->max.load()), it->second->sid.c_str());
    RemoveSubscription(it->second.get());
  }
}

// ---- Publishing ----

// Inlined into the parser's PUB path (always_inline: the parser's Feed is too large for the
// compiler's own choice), as is OnMsg.
[[gnu::always_inline]] inline bool Client::OnMsgArgs(Verb verb, const MsgArgs& args) {
  if (verb == Verb::kHpub && !wants_headers()) {
    LOG_ERROR("%s - message headers not supported", log_prefix().c_str());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  // max_payload_: the server's limit, or the account's if lower (one test either way).
  if (args.total_size > max_payload_ && max_payload_ >= 0) {
    LOG_ERROR("%s - maximum payload exceeded: %lld vs %lld", log_prefix().c_str(),
              static_cast<long long>(args.total_size), static_cast<long long>(max_payload_));
    SendErr("Maximum Payload Violation");
    Close(CloseReason::kMaxPayloadExceeded);
    return false;
  }
  if (opts_.pedantic && !IsValidLiteralSubject(args.subject)) SendErr("Invalid Publish Subject");
  return true;
}

[[gnu::always_inline]] inline bool Client::OnMsg(Verb verb, const MsgArgs& args,
                                                 std::string_view payload) {
  if (Logger::trace()) {
    LOG_TRACE("%s - <<- [%s %.*s%s%.*s %.*s]", log_prefix().c_str(),
              verb == Verb::kHpub ? "HPUB" : "PUB", static_cast<int>(args.subject.size()),
              args.subject.data(), args.reply.empty() ? "" : " ",
              static_cast<int>(args.reply.size()), args.reply.data(),
              static_cast<int>(args.total_size_token.size()), args.total_size_token.data());
  }
  ProcessPublish(args, payload);
  return !closing();
}

// ---- Timers ----

void Client::OnTimer(Clock::time_point now) {
  const Options& opts = worker().options();
  if (auth_required_ && !connect_received_ && now - auth_start_ > opts.auth_timeout) {
    LOG_DEBUG("%s - Authentication Timeout", log_prefix().c_str());
    SendErr("Authentication Timeout");
    Close(CloseReason::kAuthenticationTimeout);
    return;
  }
  if (auth_pending_) return;  // no PING before the CONNECT is accepted
  if (now >= next_ping_) {
    bool need_rtt = !rtt_measured_;
    bool send = true;
    if (!need_rtt && now - last_activity_ < opts.ping_interval) send = false;
    if (!need_rtt && last_ping_in_ != Clock::time_point{} &&
        now - last_ping_in_ < opts.ping_interval) {
      send = false;
    }
    if (send) {
      if (pings_out_ + 1 > opts.ping_max) {
        LOG_DEBUG("%s - Stale Client Connection - Closing", log_prefix().c_str());
        SendErr("Stale Connection");
        Close(CloseReason::kStaleConnection);
        return;
      }
      LOG_TRACE("%s - ->> [PING]", log_prefix().c_str());
      SendProto("PING\r\n");
      pings_out_++;
      rtt_start_ = now;
      rtt_measured_ = true;
    }
    next_ping_ = now + opts.ping_interval;
  }
}

// ---- Monitoring ----

void Client::Snapshot(ConnSnapshot& out, bool with_subs) const {
  Connection::Snapshot(out, with_subs);
  out.rtt_ns = rtt_ns_;
  out.num_subs = static_cast<uint32_t>(subs_.size());
  out.name = opts_.name;
  out.lang = opts_.lang;
  out.version = opts_.version;
  // The user as the reference's getRawAuthUser names it, when credentials were checked.
  if (auth_required_ && connect_received_) {
    if (!opts_.nkey.empty()) {
      out.user = opts_.nkey;
    } else if (!opts_.user.empty()) {
      out.user = opts_.user;
    } else {
      out.user = opts_.auth_token;
    }
  }
  out.account = account_->name();
  out.subs.clear();
  if (with_subs) {
    out.subs.reserve(subs_.size());
    for (const auto& [sid, sub] : subs_) {
      out.subs.push_back(SubSnapshot{sub->subject, sub->queue, sub->sid, sub->Delivered(),
                                     sub->max.load(std::memory_order_relaxed), id()});
    }
  }
}

// ---- Closing ----

void Client::OnClosed(CloseReason reason) {
  LOG_DEBUG("%s - Client connection closed: %s", log_prefix().c_str(), CloseReasonText(reason));
  {
    ConnSnapshot closed;
    Snapshot(closed, true);
    closed.stop = std::chrono::system_clock::now();
    closed.reason = CloseReasonText(reason);
    if (announced_) {
      if (SystemEvents* events = server().events()) events->ClientDisconnected(closed);
    }
    if (counted_in_account_) account_->RemoveClient();
    server().RecordClosed(std::move(closed));
  }
  for (auto& [sid, sub] : subs_) {
    account_->sublist().Remove(sub.get());
    if (Routes* routes = server().routes()) routes->LocalInterest(*account_, *sub, -1);
    LOG_TRACE("%s - <-> [DELSUB %s]", log_prefix().c_str(), sid.c_str());
  }
  server().num_clients.fetch_sub(1);
  // Subscriptions are freed with the client, after every worker has moved past them.
}

}  // namespace gannet
