// One client connection (see client.h).
#include "server/client/client.h"

#include "base/go_format.h"
#include "base/strings.h"

#include "auth/nkey.h"
#include "auth/permissions.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>
#include <utility>

#include "base/logger.h"
#include "core/fast_random.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/server.h"

namespace gannet {

namespace {

constexpr auto kFirstClientPing = std::chrono::seconds(2);
constexpr std::string_view kNoRespondersHeader = "NATS/1.0 503\r\n\r\n";

// Per-thread random numbers: the queue group member for a message, the first PING's jitter.
FastRandom& ThreadRandom() {
  thread_local FastRandom random(std::random_device{}());
  return random;
}

bool HasPrefix(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// Reply subjects the reference refuses (client.go:isReservedReply).
bool IsReservedReply(std::string_view reply) {
  return HasPrefix(reply, "_R_.") || (reply.size() > 8 && HasPrefix(reply, "$JS.ACK.")) ||
         (reply.size() > 5 && HasPrefix(reply, "_GR_."));
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, static_cast<size_t>(end - buf));
}

// Copies a header block ("NATS/1.0...\r\n...\r\n\r\n") without its final blank line and
// without the lines of header `name` (compared case-insensitively, as Go's textproto).
void AppendHeadersWithout(std::string& out, std::string_view headers, std::string_view name) {
  if (headers.size() >= 2 && headers.substr(headers.size() - 2) == "\r\n") {
    headers.remove_suffix(2);
  }
  bool first = true;
  while (!headers.empty()) {
    size_t eol = headers.find("\r\n");
    std::string_view line =
        headers.substr(0, eol == std::string_view::npos ? headers.size() : eol + 2);
    headers.remove_prefix(line.size());
    bool drop = false;
    if (!first && line.size() > name.size() && line[name.size()] == ':') {
      drop = true;
      for (size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) !=
            std::tolower(static_cast<unsigned char>(name[i]))) {
          drop = false;
          break;
        }
      }
    }
    first = false;
    if (!drop) out.append(line);
  }
}

// Writes one MSG or HMSG for a subscriber, headers stripped if it did not ask for them.
void AppendMessage(std::string& out, std::string_view subject, std::string_view sid,
                   const MsgArgs& args, std::string_view payload, bool wants_headers) {
  bool has_headers = args.header_size > 0;
  if (has_headers && wants_headers) {
    out.append("HMSG ", 5);
  } else {
    out.append("MSG ", 4);
  }
  out.append(subject);
  out += ' ';
  out.append(sid);
  out += ' ';
  if (!args.reply.empty()) {
    out.append(args.reply);
    out += ' ';
  }
  if (has_headers && wants_headers) {
    out.append(args.header_size_token);
    out += ' ';
    out.append(args.total_size_token);
  } else if (has_headers) {
    payload.remove_prefix(static_cast<size_t>(args.header_size));
    AppendNumber(out, payload.size());
  } else {
    out.append(args.total_size_token);
  }
  out.append("\r\n", 2);
  out.append(payload);
  out.append("\r\n", 2);
}

}  // namespace

const char* CloseReasonText(CloseReason reason) {
  switch (reason) {
    case CloseReason::kClientClosed:
      return "Client Closed";
    case CloseReason::kAuthenticationTimeout:
      return "Authentication Timeout";
    case CloseReason::kAuthenticationViolation:
      return "Authentication Failure";
    case CloseReason::kTLSHandshakeError:
      return "TLS Handshake Failure";
    case CloseReason::kSlowConsumerPendingBytes:
      return "Slow Consumer (Pending Bytes)";
    case CloseReason::kSlowConsumerWriteDeadline:
      return "Slow Consumer (Write Deadline)";
    case CloseReason::kWriteError:
      return "Write Error";
    case CloseReason::kReadError:
      return "Read Error";
    case CloseReason::kParseError:
      return "Parse Error";
    case CloseReason::kStaleConnection:
      return "Stale Connection";
    case CloseReason::kProtocolViolation:
      return "Protocol Violation";
    case CloseReason::kBadClientProtocolVersion:
      return "Bad Client Protocol Version";
    case CloseReason::kMaxPayloadExceeded:
      return "Maximum Message Payload Exceeded";
    case CloseReason::kMaxConnectionsExceeded:
      return "Maximum Connections Exceeded";
    case CloseReason::kMaxControlLineExceeded:
      return "Maximum Control Line Exceeded";
    case CloseReason::kServerShutdown:
      return "Server Shutdown";
    case CloseReason::kNoRespondersRequiresHeaders:
      return "No Responders Requires Headers";
  }
  return "Unknown State";
}

Client::Client(Server& server, Worker& worker, int fd, uint64_t cid, std::string ip, int port)
    : server_(server),
      worker_(worker),
      fd_(fd),
      cid_(cid),
      ip_(std::move(ip)),
      port_(port),
      parser_(ParserRole::kServerForClient, static_cast<size_t>(worker.options().max_control_line)),
      account_(&server.accounts().global()),
      cache_(&worker.cache(*account_)) {
  log_prefix_ = ip_ + ":" + std::to_string(port_) + " - cid:" + std::to_string(cid_);
}

Client::~Client() {
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

void Client::Start() {
  const ServerConfig& config = worker_.config();
  const Options& opts = config.options();
  created_ = last_activity_ = auth_start_ = worker_.now();
  created_wall_ = std::chrono::system_clock::now();
  next_ping_ = created_ + opts.ping_interval;
  const Authenticator& authn = config.authenticator();
  auth_required_ = authn.required();
  if (authn.nonce_required()) nonce_ = nkey::NewNonce();
  int64_t n = server_.num_clients.fetch_add(1) + 1;
  LOG_DEBUG("%s - Client connection created", log_prefix_.c_str());
  // The INFO goes out in plain text, then the client starts the TLS handshake (as the
  // reference's 2.9: no TLS-first).
  tls_ = server_.tls_context();
  SendProto(config.ClientInfo(cid_, ip_, nonce_, tls_.get()));
  if (n > opts.max_connections) {
    CloseMaxConnectionsExceeded();
    return;
  }
  if (tls_) {
    ssl_ = tls_->NewServerSsl(fd_, /*verify_clients=*/true, /*memory_input=*/true);
    tls_state_ = TlsState::kHandshake;
    LOG_DEBUG("%s - Starting TLS client connection handshake", log_prefix_.c_str());
    if (!ssl_) FailHandshake("tls: out of memory");
  }
}

void Client::CloseMaxConnectionsExceeded() {
  LOG_ERROR("%s - maximum connections exceeded", log_prefix_.c_str());
  SendErr("maximum connections exceeded");
  Close(CloseReason::kMaxConnectionsExceeded);
}

void Client::SendProto(std::string_view bytes) {
  out_.Append(bytes);
  worker_.MarkDirty(this);
}

void Client::SendErr(std::string_view text) {
  std::string& tail = out_.Tail();
  tail.append("-ERR '");
  tail.append(text);
  tail.append("'\r\n");
  worker_.MarkDirty(this);
  LOG_TRACE("%s - ->> [-ERR '%.*s']", log_prefix_.c_str(), static_cast<int>(text.size()),
            text.data());
}

// ---- Reading ----

void Client::OnReadable() {
  if (tls_state_ == TlsState::kHandshake) {
    ContinueHandshake();
    return;
  }
  // Whatever this read produces (a +OK for a SUB, say) must not be overtaken by a direct write.
  CloseDirectWrites();
  if (has_inbox_.load(std::memory_order_acquire)) {
    DrainInbox();
    if (closing()) return;
    worker_.MarkDirty(this);
  }
  if (auth_pending_) {
    // Reading is off while a CONNECT is checked: only a hang-up or an error gets here.
    Close(CloseReason::kClientClosed);
    return;
  }
  if (ssl_) {
    ReadTls();
    return;
  }
  std::vector<char>& buf = worker_.read_buffer;
  ssize_t n = ::read(fd_, buf.data(), buf.size());
  if (n == 0) {
    Close(CloseReason::kClientClosed);
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Close(errno == ECONNRESET ? CloseReason::kClientClosed : CloseReason::kReadError);
    return;
  }
  Parse(buf.data(), static_cast<size_t>(n));
}

void Client::Parse(const char* data, size_t n) {
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
  switch (st) {
    case ParseStatus::kOk:
    case ParseStatus::kStopped:
      break;
    case ParseStatus::kUnknownOp:
      SendErr("Unknown Protocol Operation");
      LOG_ERROR("%s - Client parser ERROR", log_prefix_.c_str());
      Close(CloseReason::kProtocolViolation);
      break;
    case ParseStatus::kMaxControlLine:
      SendErr("maximum control line exceeded");
      Close(CloseReason::kMaxControlLineExceeded);
      break;
    case ParseStatus::kBadArguments:
      LOG_ERROR("%s - Client protocol arguments error", log_prefix_.c_str());
      Close(CloseReason::kProtocolViolation);
      break;
  }
}

bool Client::BeforeCommand(char first_byte) {
  if (auth_required_ && !connect_received_ && first_byte != 'C' && first_byte != 'c') {
    AuthViolation();
    return false;
  }
  return true;
}

void Client::AuthViolation() {
  // As the reference's authViolation: the user named when NKEY users or a users list exist.
  const Authenticator& authn = worker_.config().authenticator();
  if (authn.nonce_required()) {
    LOG_ERROR("%s - authentication error - Nkey %s", log_prefix_.c_str(),
              Quoted(opts_.nkey).c_str());
  } else if (authn.has_users()) {
    LOG_ERROR("%s - authentication error - User %s", log_prefix_.c_str(),
              Quoted(opts_.user).c_str());
  } else {
    LOG_ERROR("%s - authentication error", log_prefix_.c_str());
  }
  SendErr("Authorization Violation");
  Close(CloseReason::kAuthenticationViolation);
}

bool Client::OnConnect(std::string_view json) {
  const Options& opts = worker_.options();
  LOG_TRACE("%s - <<- [CONNECT %.*s]", log_prefix_.c_str(), static_cast<int>(json.size()),
            json.data());
  last_activity_ = worker_.now();
  // The first PING comes soon after CONNECT, to measure the round-trip time.
  auto first = std::min<std::chrono::milliseconds>(opts.ping_interval, kFirstClientPing);
  auto jitter_range = first.count() / 5;
  next_ping_ = last_activity_ + first +
               std::chrono::milliseconds(ThreadRandom().Below(static_cast<size_t>(jitter_range)));

  if (auto err = ParseConnectOptions(json, opts_)) {
    LOG_ERROR("%s - %s", log_prefix_.c_str(), err->c_str());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  connect_received_ = true;
  // As the reference, the RTT is first estimated as the time from accept to CONNECT; our
  // PINGs refine it.
  if (rtt_ns_ == 0) {
    rtt_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - created_).count();
  }
  headers_.store(!opts.no_header_support && opts_.headers, std::memory_order_relaxed);

  if (auth_required_) return CheckCredentials(AuthMode::kConnect);
  return FinishConnect();
}

bool Client::CheckCredentials(AuthMode mode) {
  std::shared_ptr<const ServerConfig> config = worker_.config_ptr();
  const Authenticator& authn = config->authenticator();
  std::string_view verified =
      mode == AuthMode::kReload ? std::string_view(identity_.verified_hash) : std::string_view();
  // verify_and_map: the user is the one the client's certificate names.
  std::optional<PeerCertNames> cert;
  if (tls_ && tls_->map_users() && ssl_) cert = PeerNames(ssl_);
  if (authn.NeedsSlowCheck(opts_, verified, cert ? &*cert : nullptr)) {
    // A bcrypt hash: tens of milliseconds of CPU, checked on the auth pool so this worker's
    // other connections are not held up. A CONNECT reads nothing more until the verdict.
    if (mode == AuthMode::kConnect && !auth_pending_) {
      auth_pending_ = true;
      worker_.ModifyEpoll(fd_, cid_, reading_wanted(), want_write_);
    }
    Worker* worker = &worker_;
    server_.auth_pool().Submit([worker, cid = cid_, config, connect = opts_, nonce = nonce_,
                                verified = std::string(verified), mode]() mutable {
      AuthIdentity identity;
      bool ok = config->authenticator().Authenticate(connect, nonce, identity, verified);
      worker->PostToClient(cid, [mode, config = std::move(config), ok,
                                 identity = std::move(identity)](Client& c) mutable {
        c.OnCredentialsChecked(mode, std::move(config), ok, std::move(identity));
      });
    });
    return false;
  }
  AuthIdentity identity;
  bool ok = authn.Authenticate(opts_, nonce_, identity, verified, cert ? &*cert : nullptr);
  return OnCredentialsChecked(mode, std::move(config), ok, std::move(identity));
}

bool Client::OnCredentialsChecked(AuthMode mode, std::shared_ptr<const ServerConfig> config,
                                  bool ok, AuthIdentity identity) {
  if (config != worker_.config_ptr()) {
    // A reload came in while the pool was checking. A CONNECT is checked again against the
    // configuration now in force; a reload's verdict is stale: the newer reload asked again.
    if (mode == AuthMode::kConnect) return CheckCredentials(mode);
    return true;
  }
  // The user's account: bound at CONNECT, for the connection's life.
  Account* account = identity.account.empty() ? &server_.accounts().global()
                                              : server_.accounts().Find(identity.account);
  if (!ok || !account) {
    auth_pending_ = false;
    AuthViolation();
    return false;
  }
  if (mode == AuthMode::kReload && account != account_) {
    // As the reference: a client whose user moved to another account is closed (without
    // -ERR) and connects again into the new one.
    Close(CloseReason::kClientClosed);
    return false;
  }
  if (mode == AuthMode::kConnect) BindAccount(*account);
  ApplyIdentity(std::move(config), std::move(identity));
  if (mode == AuthMode::kReload) {
    RecheckSubscriptions();
    return true;
  }
  bool was_pending = auth_pending_;
  auth_pending_ = false;
  if (!FinishConnect()) return false;
  if (was_pending) ResumeAfterAuth();
  return true;
}

void Client::ApplyIdentity(std::shared_ptr<const ServerConfig> config, AuthIdentity identity) {
  std::shared_ptr<const ServerConfig> previous = std::exchange(auth_config_, std::move(config));
  identity_ = std::move(identity);
  // As the reference, a user mapped from the certificate names the connection (logs, /connz).
  if (!identity_.mapped_user.empty()) opts_.user = identity_.mapped_user;
  const auth::CompiledPermissions* perms = identity_.permissions;
  response_perms_.store(perms && perms->response() ? perms : nullptr, std::memory_order_release);
  pub_cache_.clear();
  if (previous) {
    // Publishers on other workers may still be reading the previous permissions (a
    // subscription's deny filter, response_perms_) until their next quiescent point.
    server_.reclaimer().Retire([previous = std::move(previous)] {});
  }
}

void Client::ResumeAfterAuth() {
  worker_.ModifyEpoll(fd_, cid_, reading_wanted(), want_write_);
  if (held_input_.empty()) return;
  std::string input;
  input.swap(held_input_);
  ParseStatus st = parser_.Feed(*this, input.data(), input.size());
  if (st == ParseStatus::kStopped && auth_pending_ && !closing()) {
    held_input_.assign(input, parser_.stopped_at());  // another CONNECT with a bcrypt password
    return;
  }
  HandleParseStatus(st);
}

void Client::OnConfigReloaded() {
  const Authenticator& authn = worker_.config().authenticator();
  parser_.set_max_control_line(static_cast<size_t>(worker_.options().max_control_line));
  if (!connect_received_) {
    auth_required_ = authn.required();
    return;
  }
  // A CONNECT being checked is checked again against this configuration when its verdict
  // comes back (OnCredentialsChecked).
  if (auth_pending_) return;
  if (!authn.HasUserOf(opts_)) {
    // As the reference: the client of a user no longer configured is closed, without -ERR.
    Close(CloseReason::kClientClosed);
    return;
  }
  // Without authentication there is nothing to check, and (as the reference) the client keeps
  // the permissions it has.
  if (!authn.required()) return;
  CheckCredentials(AuthMode::kReload);
}

void Client::RecheckSubscriptions() {
  const auth::CompiledPermissions* perms = identity_.permissions;
  std::vector<Subscription*> denied;
  bool filter = false;
  for (auto& [sid, sub] : subs_) {
    if (!perms) break;
    // As the reference's processSubsOnConfigReload: a queue subscription stays if either its
    // subject or its subject and queue are allowed.
    if (!perms->SubscribeAllowed(sub->subject, {}) &&
        (sub->queue.empty() || !perms->SubscribeAllowed(sub->subject, sub->queue))) {
      denied.push_back(sub.get());
    } else if (perms->DenyFilterFor(sub->subject)) {
      filter = true;
    }
  }
  for (Subscription* sub : denied) {
    std::string subject = Quoted(sub->subject);
    std::string sid = Quoted(sub->sid);
    RemoveSubscription(sub);
    std::string err = "Permissions Violation for Subscription to ";
    err.append(subject).append(" (sid ").append(sid).append(")");
    SendErr(err);
    LOG_INFO("Removed sub %s (sid %s) for %s - not authorized", subject.c_str(), sid.c_str(),
             identity_.log_user.c_str());
  }
  deny_filter_loaded_ = filter;
  const auth::DeliveryDenyFilter* deny = filter ? perms->deny_filter() : nullptr;
  for (auto& [sid, sub] : subs_) sub->deny_filter.store(deny, std::memory_order_release);
}

bool Client::FinishConnect() {
  if (opts_.new_account || !opts_.account.empty()) {
    AuthViolation();
    return false;
  }
  if (opts_.protocol < 0 || opts_.protocol > 1) {
    SendErr("invalid client protocol");
    Close(CloseReason::kBadClientProtocolVersion);
    LOG_ERROR("%s - invalid client protocol", log_prefix_.c_str());
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
    log_prefix_ =
        ip_ + ":" + std::to_string(port_) + " - cid:" + std::to_string(cid_) + " - " + Quoted(ncs);
  }
  if (opts_.verbose) SendProto("+OK\r\n");
  return true;
}

bool Client::OnErr(std::string_view text) {
  LOG_ERROR("%s - Client Error %.*s", log_prefix_.c_str(), static_cast<int>(text.size()),
            text.data());
  Close(CloseReason::kParseError);
  return false;
}

bool Client::OnPing() {
  LOG_TRACE("%s - <<- [PING]", log_prefix_.c_str());
  SendProto("PONG\r\n");
  last_ping_in_ = worker_.now();
  if (connect_received_) first_pong_sent_ = true;
  return true;
}

bool Client::OnPong() {
  LOG_TRACE("%s - <<- [PONG]", log_prefix_.c_str());
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
  const Options& opts = worker_.options();
  LOG_TRACE("%s - <<- [SUB %.*s%s%.*s %.*s]", log_prefix_.c_str(), static_cast<int>(subject.size()),
            subject.data(), queue.empty() ? "" : " ", static_cast<int>(queue.size()), queue.data(),
            static_cast<int>(sid.size()), sid.data());
  last_activity_ = worker_.now();
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
      LOG_ERROR("%s - Subscription Violation - %s, Subject %s, SID %.*s", log_prefix_.c_str(),
                who.c_str(), Quoted(subject).c_str(), static_cast<int>(sid.size()), sid.data());
    } else {
      SendErr("Permissions Violation for Subscription to " + Quoted(subject) + " using queue " +
              Quoted(queue));
      LOG_ERROR("%s - Subscription Violation - %s, Subject %s, Queue: %s, SID %.*s",
                log_prefix_.c_str(), who.c_str(), Quoted(subject).c_str(), Quoted(queue).c_str(),
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
  if (opts.max_subscriptions > 0 && static_cast<int64_t>(subs_.size()) >= opts.max_subscriptions) {
    LOG_ERROR("%s - maximum subscriptions exceeded", log_prefix_.c_str());
    SendErr("maximum subscriptions exceeded");
    return true;
  }
  std::string key(sid);
  if (subs_.find(key) == subs_.end()) {
    auto sub = std::make_unique<Subscription>();
    sub->subject.assign(subject);
    sub->queue.assign(queue);
    sub->sid = key;
    sub->client = this;
    sub->id = next_sub_seq_++;
    if (deny_filter_loaded_)
      sub->deny_filter.store(perms->deny_filter(), std::memory_order_release);
    account_->sublist().Insert(sub.get());
    subs_.emplace(std::move(key), std::move(sub));
  }
  if (opts_.verbose) SendProto("+OK\r\n");
  return true;
}

void Client::RemoveSubscription(Subscription* sub) {
  LOG_TRACE("%s - <-> [DELSUB %s]", log_prefix_.c_str(), sub->sid.c_str());
  account_->sublist().Remove(sub);
  auto it = subs_.find(sub->sid);
  Subscription* owned = it->second.release();
  subs_.erase(it);
  // Publishers on other threads may still hold the pointer until their next quiescent point.
  server_.reclaimer().Retire([owned] { delete owned; });
}

bool Client::OnUnsub(std::string_view sid, int64_t max) {
  LOG_TRACE("%s - <<- [UNSUB %.*s]", log_prefix_.c_str(), static_cast<int>(sid.size()), sid.data());
  last_activity_ = worker_.now();
  auto it = subs_.find(std::string(sid));
  if (it != subs_.end()) {
    Subscription* sub = it->second.get();
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
    LOG_DEBUG("%s - Auto-unsubscribe limit of %llu reached for sid '%s'", log_prefix_.c_str(),
              static_cast<unsigned long long>(it->second->max.load()), it->second->sid.c_str());
    RemoveSubscription(it->second.get());
  }
}

// ---- Publishing ----

bool Client::OnMsgArgs(Verb verb, const MsgArgs& args) {
  const Options& opts = worker_.options();
  if (verb == Verb::kHpub && !wants_headers()) {
    LOG_ERROR("%s - message headers not supported", log_prefix_.c_str());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  if (opts.max_payload >= 0 && args.total_size > opts.max_payload) {
    LOG_ERROR("%s - maximum payload exceeded: %lld vs %lld", log_prefix_.c_str(),
              static_cast<long long>(args.total_size), static_cast<long long>(opts.max_payload));
    SendErr("Maximum Payload Violation");
    Close(CloseReason::kMaxPayloadExceeded);
    return false;
  }
  if (opts_.pedantic && !IsValidLiteralSubject(args.subject)) SendErr("Invalid Publish Subject");
  return true;
}

bool Client::OnMsg(Verb verb, const MsgArgs& args, std::string_view payload) {
  if (Logger::trace()) {
    LOG_TRACE("%s - <<- [%s %.*s%s%.*s %.*s]", log_prefix_.c_str(),
              verb == Verb::kHpub ? "HPUB" : "PUB", static_cast<int>(args.subject.size()),
              args.subject.data(), args.reply.empty() ? "" : " ",
              static_cast<int>(args.reply.size()), args.reply.data(),
              static_cast<int>(args.total_size_token.size()), args.total_size_token.data());
  }
  ProcessPublish(args, payload);
  return !closing();
}

void Client::ProcessPublish(const MsgArgs& published, std::string_view payload) {
  in_msgs++;
  in_bytes += payload.size();
  last_activity_ = worker_.now();

  // Subject mappings apply first: permissions and routing see the mapped subject, as in the
  // reference.
  const MsgArgs* routed = &published;
  MsgArgs mapped;
  std::string mapped_subject;
  if (account_->has_mappings() && account_->MapSubject(published.subject, mapped_subject)) {
    LOG_TRACE("%s - <<- [MAPPING %.*s -> %s]", log_prefix_.c_str(),
              static_cast<int>(published.subject.size()), published.subject.data(),
              mapped_subject.c_str());
    mapped = published;
    mapped.subject = mapped_subject;
    routed = &mapped;
  }
  const MsgArgs& args = *routed;

  if (args.subject.size() > 5 && HasPrefix(args.subject, "_GR_.")) {
    LOG_ERROR("%s - Publish Violation - User \"N/A\", Subject \"%.*s\"", log_prefix_.c_str(),
              static_cast<int>(args.subject.size()), args.subject.data());
    SendErr("Permissions Violation for Publish to " + Quoted(args.subject));
    return;
  }
  if (identity_.permissions && identity_.permissions->restricts_publish() &&
      !CheckPublishAllowed(args.subject)) {
    return;
  }
  if (!args.reply.empty() && IsReservedReply(args.reply)) {
    LOG_ERROR("%s - Publish Violation - User \"N/A\", Reply \"%.*s\"", log_prefix_.c_str(),
              static_cast<int>(args.reply.size()), args.reply.data());
    SendErr("Permissions Violation for Publish with Reply of " + Quoted(args.reply));
    return;
  }
  if (opts_.verbose) SendProto("+OK\r\n");

  bool delivered = DeliverToResult(cache_->Lookup(args.subject), args, payload);
  // Accounts that share nothing (nearly always) pay one test each here.
  if (!account_->stream_routes().empty()) delivered |= RouteStreamImports(args, payload);
  if (account_->has_service_imports()) delivered |= RouteServiceImport(args, payload);
  if (account_->exports_services() && HasPrefix(args.subject, "_R_.")) {
    delivered |= RouteResponse(args, payload);
  }

  if (!delivered && !args.reply.empty() && opts_.no_responders) {
    // The reference answers on the publisher's own plain subscription matching the reply.
    MatchResult reply_subs;
    account_->sublist().Match(args.reply, reply_subs);
    for (Subscription* sub : reply_subs.plain) {
      if (sub->client != this) continue;
      std::string& tail = out_.Tail();
      tail.append("HMSG ");
      tail.append(args.reply);
      tail += ' ';
      tail.append(sub->sid);
      tail.append(" 16 16\r\n");
      tail.append(kNoRespondersHeader);
      tail.append("\r\n");
      worker_.MarkDirty(this);
      break;
    }
  }
}

bool Client::DeliverToResult(const MatchResult& result, const MsgArgs& args,
                             std::string_view payload) {
  bool delivered = false;
  for (Subscription* sub : result.plain) {
    delivered |= DeliverToSubscription(sub, args, payload);
  }
  for (const QueueGroupMatch& group : result.queues) {
    size_t n = group.members.size();
    size_t start = ThreadRandom().Below(n);  // as the reference: a random member first
    for (size_t i = 0; i < n; ++i) {
      if (DeliverToSubscription(group.members[(start + i) % n], args, payload)) {
        delivered = true;
        break;
      }
    }
  }
  return delivered;
}

// ---- Across accounts ----

void Client::BindAccount(Account& account) {
  account_ = &account;
  cache_ = &worker_.cache(account);
}

bool Client::RouteStreamImports(const MsgArgs& args, std::string_view payload) {
  bool delivered = false;
  std::string subject;
  for (const Account::StreamRoute& route : account_->stream_routes()) {
    if (!SubjectMatchesPattern(args.subject, route.from)) continue;
    Account::MapStreamSubject(route, args.subject, subject);
    MsgArgs mapped = args;
    mapped.subject = subject;
    delivered |= DeliverToResult(worker_.cache(*route.importer).Lookup(subject), mapped, payload);
  }
  return delivered;
}

bool Client::RouteServiceImport(const MsgArgs& args, std::string_view payload) {
  const Account::ServiceImport* si = account_->MatchServiceImport(args.subject);
  if (!si) return false;
  MsgArgs request = args;
  std::string mapped;
  if (si->transform) {
    si->transform->Apply(args.subject, mapped);
    request.subject = mapped;
  } else if (!si->to.empty()) {
    request.subject = si->to;
  }
  const MatchResult& responders = worker_.cache(*si->exporter).Lookup(request.subject);
  // As the reference, a request into a service import counts as delivered even when the
  // exporting account has no responder: the requestor gets no 503.
  if (responders.empty()) return true;

  // The reply comes back through the exporting account's reply subject mapped to ours.
  std::string reply;
  if (!args.reply.empty()) {
    reply = si->exporter->NewResponse(account_, args.reply, worker_.now());
    request.reply = reply;
  }
  // The reference tells the service who is asking: a Nats-Request-Info header with the
  // requestor's account and RTT, added to (or replacing the one in) the message's headers.
  std::string info = "Nats-Request-Info: {\"acc\":" + JsonQuote(account_->name());
  if (rtt_ns_ > 0) {
    info += ",\"rtt\":";
    AppendNumber(info, static_cast<uint64_t>(rtt_ns_));
  }
  info += "}\r\n";
  std::string message;
  std::string_view body = payload;
  if (args.header_size > 0) {
    std::string_view headers = payload.substr(0, static_cast<size_t>(args.header_size));
    body.remove_prefix(static_cast<size_t>(args.header_size));
    AppendHeadersWithout(message, headers, "Nats-Request-Info");
  } else {
    message = "NATS/1.0\r\n";
  }
  message += info;
  message += "\r\n";
  size_t header_size = message.size();
  message.append(body);
  std::string header_token = std::to_string(header_size);
  std::string total_token = std::to_string(message.size());
  request.header_size = static_cast<int64_t>(header_size);
  request.total_size = static_cast<int64_t>(message.size());
  request.header_size_token = header_token;
  request.total_size_token = total_token;
  DeliverToResult(responders, request, message);
  return true;
}

bool Client::RouteResponse(const MsgArgs& args, std::string_view payload) {
  Account* requestor = nullptr;
  std::string reply;
  if (!account_->TakeResponse(args.subject, requestor, reply, worker_.now())) return false;
  MsgArgs response = args;
  response.subject = reply;
  response.reply = {};
  DeliverToResult(worker_.cache(*requestor).Lookup(reply), response, payload);
  return true;
}

bool Client::DeliverToSubscription(Subscription* sub, const MsgArgs& args,
                                   std::string_view payload) {
  Client* dst = sub->client;
  if (dst->closing()) return false;
  if (dst == this && !opts_.echo) return false;
  const auth::DeliveryDenyFilter* deny = sub->deny_filter.load(std::memory_order_acquire);
  if (deny && deny->Denies(args.subject)) return false;

  uint64_t count = sub->delivered.fetch_add(1, std::memory_order_acq_rel) + 1;
  uint64_t max = sub->max.load(std::memory_order_acquire);
  if (max > 0) {
    if (count > max) return false;
    if (count == max) dst->worker().PostRemoveSub(dst->cid(), sub->sid, sub->id);
  }
  if (!args.reply.empty() && dst->response_perms_.load(std::memory_order_acquire)) {
    dst->TrackReplyPermit(args.reply);
  }

  const int64_t max_pending = worker_.max_pending();
  if (&dst->worker() == &worker_) {
    AppendMessage(dst->out_.Tail(), args.subject, sub->sid, args, payload, dst->wants_headers());
    dst->out_msgs++;
    dst->out_bytes += payload.size();
    dst->last_activity_ = worker_.now();
    worker_.MarkDirty(dst);
    int64_t pending = static_cast<int64_t>(dst->pending_out());
    if (pending > max_pending) {
      server_.slow_consumers.fetch_add(1, std::memory_order_relaxed);
      LOG_INFO("%s - Slow Consumer Detected: MaxPending of %lld Exceeded", dst->log_prefix_.c_str(),
               static_cast<long long>(max_pending));
      dst->Close(CloseReason::kSlowConsumerPendingBytes);
    } else if (pending > max_pending / 2 && dst != this) {
      saw_backpressure = true;
    }
  } else {
    AppendMessage(worker_.StagingFor(dst, payload.size()), args.subject, sub->sid, args, payload,
                  dst->wants_headers());
  }
  if (Logger::trace()) {
    LOG_TRACE("%s - ->> [MSG %.*s %s %.*s]", dst->log_prefix_.c_str(),
              static_cast<int>(args.subject.size()), args.subject.data(), sub->sid.c_str(),
              static_cast<int>(args.total_size_token.size()), args.total_size_token.data());
  }
  return true;
}

// ---- Permissions ----

bool Client::CheckPublishAllowed(std::string_view subject) {
  if (PublishAllowedCached(subject)) return true;
  SendErr("Permissions Violation for Publish to " + Quoted(subject));
  LOG_ERROR("%s - Publish Violation - %s, Subject %s", log_prefix_.c_str(),
            identity_.log_user.c_str(), Quoted(subject).c_str());
  return false;
}

bool Client::PublishAllowedCached(std::string_view subject) {
  constexpr size_t kMaxCache = 128;  // the reference's maxPermCacheSize
  constexpr size_t kPruneSize = 32;
  std::string key(subject);
  auto it = pub_cache_.find(key);
  if (it != pub_cache_.end()) return it->second;
  bool allowed = identity_.permissions->PublishAllowed(subject);
  if (!allowed && identity_.permissions->response()) {
    // A reply to a request this client received: allowed while a permit remains, not cached.
    return UseReplyPermit(subject);
  }
  if (pub_cache_.size() >= kMaxCache) {
    size_t n = 0;
    for (auto i = pub_cache_.begin(); i != pub_cache_.end() && n < kPruneSize; ++n) {
      i = pub_cache_.erase(i);
    }
  }
  pub_cache_.emplace(std::move(key), allowed);
  return allowed;
}

void Client::TrackReplyPermit(std::string_view reply) {
  constexpr size_t kReplyPermLimit = 4096;  // the reference's replyPermLimit
  const auth::CompiledPermissions* perms = response_perms_.load(std::memory_order_acquire);
  if (!perms || !perms->response()) return;
  const ResponsePermission& rp = *perms->response();
  auto now = Clock::now();
  std::lock_guard lock(replies_mu_);
  replies_[std::string(reply)] = ReplyPermit{now, 0};
  if (replies_.size() > kReplyPermLimit) {
    // As the reference's pruneReplyPerms: drop the used-up and the expired.
    for (auto it = replies_.begin(); it != replies_.end();) {
      bool used_up = rp.max_msgs > 0 && it->second.sent >= rp.max_msgs;
      bool expired = rp.expires.count() > 0 && now - it->second.received > rp.expires;
      it = used_up || expired ? replies_.erase(it) : std::next(it);
    }
  }
}

bool Client::UseReplyPermit(std::string_view subject) {
  const ResponsePermission& rp = *identity_.permissions->response();
  std::lock_guard lock(replies_mu_);
  auto it = replies_.find(std::string(subject));
  if (it == replies_.end()) return false;
  ReplyPermit& permit = it->second;
  permit.sent++;
  if (rp.max_msgs > 0 && permit.sent > rp.max_msgs) {
    replies_.erase(it);
    return false;
  }
  if (rp.expires.count() > 0 && Clock::now() - permit.received > rp.expires) {
    replies_.erase(it);
    return false;
  }
  return true;
}

// ---- Cross-worker hand-over ----

bool Client::HandOver(const std::string& bytes, uint64_t msgs, uint64_t payload_bytes,
                      bool& notify) {
  const int64_t max_pending = worker_.max_pending();
  std::lock_guard lock(inbox_mu_);
  notify = !flush_posted_;
  flush_posted_ = true;
  if (static_cast<int64_t>(inbox_bytes_ + bytes.size()) + owner_pending() > max_pending) {
    slow_consumer_.store(true, std::memory_order_relaxed);
    return false;
  }
  // Copied, not swapped: the staging buffer stays with the publisher's worker, and inbox
  // chunks circulate within the receiver's side, so steady state allocates nothing.
  constexpr size_t kInboxChunk = size_t{64} * 1024;
  if (inbox_.empty() || inbox_.back().size() + bytes.size() > kInboxChunk) {
    std::string chunk;
    if (!inbox_spares_.empty()) {
      chunk.swap(inbox_spares_.back());
      inbox_spares_.pop_back();
    }
    inbox_.push_back(std::move(chunk));
  }
  inbox_.back().append(bytes);
  inbox_bytes_ += bytes.size();
  direct_ok_.store(false, std::memory_order_release);  // queued bytes must go out first
  inbox_msgs_ += msgs;
  inbox_payload_bytes_ += payload_bytes;
  has_inbox_.store(true, std::memory_order_release);
  return static_cast<int64_t>(inbox_bytes_) + owner_pending() > max_pending / 2;
}

void Client::PauseReading(Clock::time_point until) {
  paused_until = until;
  if (read_paused) return;
  read_paused = true;
  worker_.ModifyEpoll(fd_, cid_, reading_wanted(), want_write_);
}

void Client::ResumeReading() {
  if (!read_paused) return;
  read_paused = false;
  worker_.ModifyEpoll(fd_, cid_, reading_wanted(), want_write_);
}

bool Client::TakeInbox() {
  uint64_t msgs;
  uint64_t payload_bytes;
  std::string head;
  {
    std::lock_guard lock(inbox_mu_);
    flush_posted_ = false;
    has_inbox_.store(false, std::memory_order_relaxed);
    msgs = inbox_msgs_;
    inbox_msgs_ = 0;
    payload_bytes = inbox_payload_bytes_;
    inbox_payload_bytes_ = 0;
    inbox_bytes_ = 0;
    drained_.swap(inbox_);
    head.swap(inbox_head_);
    // Written buffers go back round for the next hand-overs.
    while (inbox_spares_.size() < 4) {
      std::string spare;
      if (!out_.TakeSpare(spare)) break;
      inbox_spares_.push_back(std::move(spare));
    }
  }
  // The rest of a direct write was already partly on the wire: it must come next.
  out_.PrependChunk(std::move(head));
  for (std::string& chunk : drained_) out_.AppendChunk(std::move(chunk));  // queued, not copied
  drained_.clear();
  if (msgs > 0) {
    out_msgs += msgs;
    out_bytes += payload_bytes;
    last_activity_ = worker_.now();
  }
  return slow_consumer_.load(std::memory_order_relaxed);
}

void Client::CloseAsSlowConsumer() {
  server_.slow_consumers.fetch_add(1, std::memory_order_relaxed);
  LOG_INFO("%s - Slow Consumer Detected: MaxPending of %lld Exceeded", log_prefix_.c_str(),
           static_cast<long long>(worker_.max_pending()));
  Close(CloseReason::kSlowConsumerPendingBytes);
}

void Client::DrainInbox() {
  CloseDirectWrites();
  bool slow;
  {
    std::lock_guard wlock(write_mu_);  // a direct write may be putting its rest in front
    slow = TakeInbox();
  }
  if (slow) CloseAsSlowConsumer();
}

bool Client::TryDirectWrite(const std::string& bytes, uint64_t msgs, uint64_t payload_bytes) {
  if (!direct_ok_.load(std::memory_order_acquire)) return false;
  std::unique_lock wlock(write_mu_, std::try_to_lock);
  if (!wlock.owns_lock() || !direct_ok_.load(std::memory_order_acquire) || closing()) {
    return false;
  }
  size_t written = 0;
  if (ssl_) {
    // Open only once the handshake is done. SSL calls on this connection are serialized by
    // write_mu_ (the owner reads under it too). A write that stops half way leaves the rest
    // in front of everything, so the owner's next SSL_write repeats it as OpenSSL requires.
    while (written < bytes.size()) {
      ERR_clear_error();
      int n = SSL_write(ssl_, bytes.data() + written,
                        static_cast<int>(std::min<size_t>(bytes.size() - written, 1 << 30)));
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
  } else {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    written = n > 0 ? static_cast<size_t>(n) : 0;
  }
  direct_msgs_.fetch_add(msgs, std::memory_order_relaxed);
  direct_bytes_.fetch_add(payload_bytes, std::memory_order_relaxed);
  if (written == bytes.size()) return true;
  // The socket took only part (or failed): the rest goes out before anything else; the owner
  // writes it (and sees any error) once woken.
  bool notify;
  {
    std::lock_guard lock(inbox_mu_);
    inbox_head_.append(bytes, written, std::string::npos);
    direct_ok_.store(false, std::memory_order_release);
    has_inbox_.store(true, std::memory_order_release);
    notify = !flush_posted_;
    flush_posted_ = true;
  }
  if (notify) worker_.PostFlush(cid_);
  return true;
}

// ---- Writing ----

void Client::UpdateWriteInterest(bool want_write) {
  if (want_write == want_write_) return;
  want_write_ = want_write;
  worker_.ModifyEpoll(fd_, cid_, reading_wanted(), want_write);
}

void Client::OnWritable() {
  if (tls_state_ == TlsState::kHandshake && out_.empty()) {
    ContinueHandshake();
    return;
  }
  if (read_wants_write_) {
    read_wants_write_ = false;
    OnReadable();
    if (closing()) return;
  }
  FlushOutbound();
}

bool Client::FlushOutbound() {
  bool failed = false;
  bool slow = false;
  {
    std::lock_guard wlock(write_mu_);
    // Anything a direct write left over goes first.
    if (has_inbox_.load(std::memory_order_acquire)) slow = TakeInbox();
    while (!slow && !out_.empty()) {
      ssize_t n = WriteSome();
      if (n > 0) {
        write_blocked_since_ = {};
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (write_blocked_since_ == Clock::time_point{}) write_blocked_since_ = worker_.now();
        UpdateWriteInterest(true);
        break;
      }
      if (n < 0 && errno == EINTR) continue;
      failed = true;
      break;
    }
    if (!failed && !slow && out_.empty()) {
      UpdateWriteInterest(read_wants_write_);
      // Nothing queued: other workers may write to the socket directly until we queue again
      // (through SSL once the handshake is done, never during it).
      std::lock_guard ilock(inbox_mu_);
      if (inbox_.empty() && inbox_head_.empty() && !closing() &&
          tls_state_ != TlsState::kHandshake) {
        direct_ok_.store(true, std::memory_order_release);
        direct_ok_local_ = true;
      }
    }
    owner_pending_.store(static_cast<int64_t>(out_.pending()), std::memory_order_relaxed);
  }
  if (slow) {
    CloseAsSlowConsumer();
    return false;
  }
  if (failed) {
    if (!closing()) Close(CloseReason::kWriteError);
    return false;
  }
  return true;
}

// ---- Timers ----

void Client::OnTick(Clock::time_point now) {
  const Options& opts = worker_.options();
  if (out_.empty() && out_.has_spares() && now - last_activity_ > std::chrono::seconds(1)) {
    out_.ReleaseSpares();
  }
  if (tls_state_ == TlsState::kHandshake) {
    // The reference's read deadline and timer fire together: both lines are logged.
    if (now - created_ > tls_->timeout()) {
      LOG_ERROR("%s - TLS handshake error: read tcp %s->%s: i/o timeout", log_prefix_.c_str(),
                LocalAddress().c_str(), RemoteAddress().c_str());
      Close(CloseReason::kTLSHandshakeError);
      LOG_ERROR("%s - TLS handshake timeout", log_prefix_.c_str());
    }
    return;
  }
  if (auth_required_ && !connect_received_ && now - auth_start_ > opts.auth_timeout) {
    LOG_DEBUG("%s - Authentication Timeout", log_prefix_.c_str());
    SendErr("Authentication Timeout");
    Close(CloseReason::kAuthenticationTimeout);
    return;
  }
  if (pending_out() > 0 && write_blocked_since_ != Clock::time_point{} &&
      now - write_blocked_since_ > opts.write_deadline) {
    server_.slow_consumers.fetch_add(1, std::memory_order_relaxed);
    LOG_INFO(
        "%s - Slow Consumer Detected: WriteDeadline of %s exceeded with %zu chunks of %zu "
        "total bytes.",
        log_prefix_.c_str(), GoDuration(opts.write_deadline).c_str(), out_.chunk_count(),
        pending_out());
    Close(CloseReason::kSlowConsumerWriteDeadline);
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
        LOG_DEBUG("%s - Stale Client Connection - Closing", log_prefix_.c_str());
        SendErr("Stale Connection");
        Close(CloseReason::kStaleConnection);
        return;
      }
      LOG_TRACE("%s - ->> [PING]", log_prefix_.c_str());
      SendProto("PING\r\n");
      pings_out_++;
      rtt_start_ = now;
      rtt_measured_ = true;
    }
    next_ping_ = now + opts.ping_interval;
  }
}

// ---- Monitoring ----

void Client::AddCounters(WorkerTotals& totals) const {
  totals.in_msgs += in_msgs;
  totals.in_bytes += in_bytes;
  totals.out_msgs += out_msgs + direct_msgs_.load(std::memory_order_relaxed);
  totals.out_bytes += out_bytes + direct_bytes_.load(std::memory_order_relaxed);
}

void Client::Snapshot(ConnSnapshot& out, bool with_subs) const {
  out.cid = cid_;
  out.ip = ip_;
  out.port = port_;
  out.start = created_wall_;
  out.last_activity =
      created_wall_ +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(last_activity_ - created_);
  out.rtt_ns = rtt_ns_;
  out.pending_bytes = static_cast<int64_t>(out_.pending());
  out.in_msgs = in_msgs;
  out.in_bytes = in_bytes;
  out.out_msgs = out_msgs + direct_msgs_.load(std::memory_order_relaxed);
  out.out_bytes = out_bytes + direct_bytes_.load(std::memory_order_relaxed);
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
  out.tls_version = tls_version_;
  out.tls_cipher = tls_cipher_;
  out.subs.clear();
  if (with_subs) {
    out.subs.reserve(subs_.size());
    for (const auto& [sid, sub] : subs_) {
      out.subs.push_back(SubSnapshot{sub->subject, sub->queue, sub->sid,
                                     sub->delivered.load(std::memory_order_relaxed),
                                     sub->max.load(std::memory_order_relaxed), cid_});
    }
  }
}

// ---- Closing ----

void Client::Close(CloseReason reason) {
  if (closing_.exchange(true)) return;
  LOG_DEBUG("%s - Client connection closed: %s", log_prefix_.c_str(), CloseReasonText(reason));
  CloseDirectWrites();
  {
    // No direct write may be using the socket while it goes away.
    std::lock_guard wlock(write_mu_);
    // Best effort: let a final -ERR reach the peer. Drain unread input first so the close
    // sends FIN rather than RST, which could discard what we wrote.
    if (pending_out() > 0) WriteSome();  // the socket is non-blocking
    char sink[4096];
    while (::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    if (ssl_) ShutdownTls();
    ::shutdown(fd_, SHUT_WR);
    worker_.RemoveFromEpoll(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  out_msgs += direct_msgs_.exchange(0, std::memory_order_relaxed);
  out_bytes += direct_bytes_.exchange(0, std::memory_order_relaxed);
  {
    ConnSnapshot closed;
    Snapshot(closed, true);
    closed.stop = std::chrono::system_clock::now();
    closed.reason = CloseReasonText(reason);
    server_.RecordClosed(std::move(closed));
  }
  for (auto& [sid, sub] : subs_) {
    account_->sublist().Remove(sub.get());
    LOG_TRACE("%s - <-> [DELSUB %s]", log_prefix_.c_str(), sid.c_str());
  }
  server_.num_clients.fetch_sub(1);
  worker_.in_msgs.fetch_add(in_msgs, std::memory_order_relaxed);
  worker_.in_bytes.fetch_add(in_bytes, std::memory_order_relaxed);
  worker_.out_msgs.fetch_add(out_msgs, std::memory_order_relaxed);
  worker_.out_bytes.fetch_add(out_bytes, std::memory_order_relaxed);
  // Subscriptions are freed with the client, after every worker has moved past them.
  worker_.ForgetClient(this);
}

}  // namespace gannet
