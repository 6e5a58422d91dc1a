// The route role (see route.h).
#include "server/cluster/route.h"

#include <random>

#include "auth/password.h"
#include "auth/permissions.h"
#include "base/bytes.h"
#include "base/logger.h"
#include "base/strings.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/account_routing.h"
#include "server/cluster/routes.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/server.h"

namespace gannet {

namespace {

// The first PING to a route goes out after a second (server.go firstPingInterval), to measure
// the round-trip time; then one per ping_interval of silence.
constexpr auto kFirstRoutePing = std::chrono::seconds(1);

std::string PermissionJson(const std::optional<SubjectPermission>& p) {
  if (!p) return {};
  std::string out = "{";
  auto list = [&](const char* name, const std::vector<std::string>& v) {
    if (v.empty()) return;
    if (out.size() > 1) out += ',';
    out += '"';
    out += name;
    out += "\":[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ',';
      out += JsonQuote(v[i]);
    }
    out += ']';
  };
  list("allow", p->allow);
  list("deny", p->deny);
  return out + "}";
}

// The peer's interest is keyed as its RS+ names it: "<account> <subject>[ <queue>]".
std::string RemoteSubKey(std::string_view account, std::string_view subject,
                         std::string_view queue) {
  std::string key(account);
  key += ' ';
  key.append(subject);
  if (!queue.empty()) {
    key += ' ';
    key.append(queue);
  }
  return key;
}

}  // namespace

Route::Route(Server& server, Worker& worker, Routes& routes, int fd, uint64_t rid, std::string ip,
             int port, const RouteUrl* dialed, bool explicit_route)
    : Connection(server, worker, ConnectionKind::kRoute, fd, rid, std::move(ip), port),
      routes_(routes),
      parser_(ParserRole::kServerForRoute, static_cast<size_t>(worker.options().max_control_line)),
      dialed_(dialed ? std::make_unique<RouteUrl>(*dialed) : nullptr),
      explicit_(explicit_route) {
  set_log_prefix(this->ip() + ":" + std::to_string(this->port()) + " - rid:" + std::to_string(rid));
}

Route::~Route() = default;

void Route::Start() {
  auth_start_ = now();
  // As the reference, the first PING goes out a second in (plus up to 20%).
  thread_local std::mt19937 rng(std::random_device{}());
  next_ping_ = now() + kFirstRoutePing +
               std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 199)(rng));
  LOG_INFO("%s - Route connection created", log_prefix().c_str());
  if (auto tls = routes_.tls()) {
    // Route TLS starts at once, before any INFO (route.go createRoute).
    if (did_solicit()) {
      StartTlsClient(std::move(tls), dialed_->host);
    } else {
      StartTls(std::move(tls));
    }
    return;
  }
  SendHandshake();
}

void Route::OnTlsEstablished() {
  auth_start_ = now();
  SendHandshake();
}

void Route::SendHandshake() {
  if (did_solicit()) {
    RouteConnect connect;
    connect.user = dialed_->user;
    connect.pass = dialed_->password;
    connect.tls_required = routes_.tls() != nullptr;
    connect.headers = !worker().options().no_header_support;
    connect.name = routes_.server_id();
    connect.cluster = routes_.name();
    connect.cluster_dynamic = routes_.name_dynamic();
    connect.lnoc = true;
    SendProto(RouteConnectLine(connect));
    LOG_DEBUG("%s - Route connect msg sent", log_prefix().c_str());
  }
  SendProto(routes_.InfoLine());
}

// ---- Input ----

void Route::OnInput(const char* data, size_t n) {
  CloseOnParseError(parser_.Feed(*this, data, n), "Router", CloseReason::kParseError);
}

bool Route::BeforeCommand(char first_byte) {
  // An accepted route must introduce itself with CONNECT first (auth).
  if (!did_solicit() && !connect_received_ && first_byte != 'C' && first_byte != 'c') {
    SendErr("Authorization Violation");
    LOG_ERROR("%s - Router authentication error", log_prefix().c_str());
    Close(CloseReason::kAuthenticationViolation);
    return false;
  }
  return true;
}

bool Route::OnConnect(std::string_view json) {
  last_activity_ = now();
  LOG_TRACE("%s - <<- [CONNECT %.*s]", log_prefix().c_str(), static_cast<int>(json.size()),
            json.data());
  RouteConnect connect;
  if (auto err = ParseRouteConnect(json, connect)) {
    LOG_ERROR("%s - %s", log_prefix().c_str(), err->c_str());
    Close(CloseReason::kParseError);
    return false;
  }
  connect_received_ = true;
  // Authentication (auth.go isRouterAuthorized): the configured cluster user and password.
  connect_user_ = connect.user;
  connect_pass_ = connect.pass;
  if (!routes_.Authorized(connect.user, connect.pass)) {
    SendErr("Authorization Violation");
    LOG_ERROR("%s - Router authentication error", log_prefix().c_str());
    Close(CloseReason::kAuthenticationViolation);
    return false;
  }
  // A client that dialed the route port by mistake sends a lang (route.go processRouteConnect).
  if (!connect.lang.empty()) {
    SendErr("attempted to connect to route port");
    LOG_ERROR("%s - attempted to connect to route port", log_prefix().c_str());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  if (!connect.gateway.empty()) {
    std::string text =
        "Rejecting connection from gateway " + Quoted(connect.gateway) + " on the Route port";
    LOG_ERROR("%s - %s", log_prefix().c_str(), text.c_str());
    SendErr(text);
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  std::string ours = routes_.name();
  if (connect.cluster != ours) {
    bool adopt =
        routes_.name_dynamic() && (!connect.cluster_dynamic || ours.compare(connect.cluster) < 0);
    if (adopt) {
      routes_.AdoptName(connect.cluster, this);
    } else {
      std::string text = "Rejecting connection, cluster name " + Quoted(connect.cluster) +
                         " does not match " + Quoted(ours);
      LOG_ERROR("%s - %s", log_prefix().c_str(), text.c_str());
      SendErr(text);
      Close(CloseReason::kClusterNameConflict);
      return false;
    }
  }
  remote_id_ = connect.name;
  peer_lnoc_ = connect.lnoc;
  peer_headers_ = connect.headers && !worker().options().no_header_support;
  return true;
}

bool Route::OnInfo(std::string_view json) {
  last_activity_ = now();
  RouteInfo info;
  if (auto err = ParseRouteInfo(json, info)) {
    LOG_ERROR("%s - %s", log_prefix().c_str(), err->c_str());
    Close(CloseReason::kParseError);
    return false;
  }
  if (info_received_) {
    ProcessLaterInfo(info);
  } else {
    ProcessFirstInfo(std::move(info));
  }
  return !closing();
}

void Route::ProcessFirstInfo(RouteInfo info) {
  if (info.server_id == routes_.server_id()) {
    // A route to ourselves (our own address among the configured routes).
    LOG_DEBUG("%s - Detected route to self, ignoring", log_prefix().c_str());
    remote_id_ = info.server_id;
    no_reconnect_ = true;
    Close(CloseReason::kDuplicateRoute);
    return;
  }
  std::string ours = routes_.name();
  if (!info.cluster.empty() && info.cluster != ours) {
    if (routes_.name_dynamic() && (!info.cluster_dynamic || ours.compare(info.cluster) < 0)) {
      routes_.AdoptName(info.cluster, this);
    } else {
      LOG_ERROR("%s - Rejecting connection, cluster name %s does not match %s",
                log_prefix().c_str(), Quoted(info.cluster).c_str(), Quoted(ours).c_str());
      Close(CloseReason::kClusterNameConflict);
      return;
    }
  }
  if (!did_solicit() && routes_.IsDuplicateServerName(info.server_name)) {
    LOG_ERROR("%s - Remote server has a duplicate name: %s", log_prefix().c_str(),
              Quoted(info.server_name).c_str());
    Close(CloseReason::kDuplicateRoute);
    return;
  }
  info_received_ = true;
  remote_id_ = info.server_id;
  remote_name_ = info.server_name;
  remote_cluster_ = info.cluster;
  peer_headers_ = info.headers && !worker().options().no_header_support;
  peer_lnoc_ = info.lnoc;
  peer_import_ = info.import_permissions;
  peer_export_ = info.export_permissions;
  remote_client_urls_ = info.connect_urls;
  if (!dialed_) {
    // What the peer would be dialed at, for gossip: its INFO's host and port.
    dialed_ = nullptr;
  }
  bool gossip = false;
  if (!routes_.Register(*this, gossip)) {
    LOG_DEBUG("%s - Detected duplicate remote route %s", log_prefix().c_str(),
              Quoted(info.server_id).c_str());
    if (dialed_) routes_.UpgradeExisting(remote_id_, *dialed_, explicit_);
    no_reconnect_ = true;
    Close(CloseReason::kDuplicateRoute);
    return;
  }
  registered_ = true;
  LOG_DEBUG("%s - Registering remote route %s", log_prefix().c_str(),
            Quoted(info.server_id).c_str());
  routes_.SendAllInterest(*this);
  if (gossip) {
    // The others learn of this peer (and dial it): at the address it told us, else the one it
    // came from.
    if (info.ip.empty()) {
      info.ip = "nats-route://" + (ip().find(':') != std::string::npos ? "[" + ip() + "]" : ip()) +
                ":" + std::to_string(info.port) + "/";
    }
    routes_.ForwardNewRoute(*this, std::move(info));
  }
}

void Route::ProcessLaterInfo(const RouteInfo& info) {
  if (!info.gateway.empty()) return;  // gateway gossip: no gateways here
  if (!remote_id_.empty() && info.server_id != remote_id_) {
    // About another server: dial it unless we know it already (auto-discovery).
    routes_.ImplicitRoute(info);
    return;
  }
  if (info.ldm) {
    // The peer is in lame duck mode: its client URLs are no longer offered to our clients.
    if (!remote_client_urls_.empty() && !routes_.config().no_advertise) {
      routes_.RemoveClientUrls(remote_client_urls_);
    }
    return;
  }
  peer_import_ = info.import_permissions;
  peer_export_ = info.export_permissions;
}

bool Route::OnErr(std::string_view text) {
  LOG_ERROR("%s - Router Error %.*s", log_prefix().c_str(), static_cast<int>(text.size()),
            text.data());
  Close(CloseReason::kParseError);
  return false;
}

bool Route::OnPing() {
  SendProto("PONG\r\n");
  return true;
}

bool Route::OnPong() {
  pings_out_ = 0;
  if (rtt_start_ != Clock::time_point{}) {
    rtt_ns_ =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - rtt_start_).count();
    rtt_start_ = {};
  }
  return true;
}

// ---- Interest ----

bool Route::OnRouteSub(std::string_view origin, std::string_view account_name,
                       std::string_view subject, std::string_view queue, int64_t weight) {
  Account* account = server().accounts().Find(account_name);
  if (!account) {
    // An account this server does not have (one configured on the peer only): nothing to route
    // now; remembered in case a reload adds it here.
    LOG_DEBUG("%s - Unknown account %s for remote subject %s", log_prefix().c_str(),
              Quoted(account_name).c_str(), Quoted(subject).c_str());
    std::string key = RemoteSubKey(account_name, subject, queue);
    if (unknown_subs_.size() < kMaxUnknownSubs || unknown_subs_.count(key) > 0) {
      unknown_subs_[key] =
          UnknownSub{std::string(account_name), std::string(subject), std::string(queue), weight};
    }
    return true;
  }
  if (!IsValidSubject(subject)) {
    LOG_ERROR("%s - Invalid remote subject %s", log_prefix().c_str(), Quoted(subject).c_str());
    return true;
  }
  if (!routes_.CanExport(subject, queue)) {
    LOG_DEBUG("%s - Can not export %s, ignoring remote subscription request", log_prefix().c_str(),
              Quoted(subject).c_str());
    return true;
  }
  std::string key = RemoteSubKey(account_name, subject, queue);
  auto w = static_cast<int32_t>(std::clamp<int64_t>(weight, 1, Subscription::kMaxQueueWeight));
  auto it = subs_.find(key);
  if (it == subs_.end()) {
    auto sub = std::make_unique<Subscription>();
    sub->subject.assign(subject);
    sub->queue.assign(queue);
    sub->sid = key;
    sub->subscriber = this;
    sub->id = next_sub_id_++;
    sub->weight = w;
    account->sublist().Insert(sub.get());
    subs_.emplace(std::move(key), RemoteSub{account, std::move(sub)});
  } else if (!queue.empty() && it->second.sub->weight != w) {
    // A new weight for the group: out of the index and back, so every cached result changes.
    Subscription* sub = it->second.sub.get();
    account->sublist().Remove(sub);
    sub->weight = w;
    account->sublist().Insert(sub);
  }
  (void)origin;
  return true;
}

bool Route::OnRouteUnsub(std::string_view origin, std::string_view account_name,
                         std::string_view subject, std::string_view queue) {
  (void)origin;
  std::string key = RemoteSubKey(account_name, subject, queue);
  auto it = subs_.find(key);
  if (it == subs_.end()) {
    unknown_subs_.erase(key);
    return true;
  }
  Subscription* sub = it->second.sub.release();
  it->second.account->sublist().Remove(sub);
  subs_.erase(it);
  // Publishers on other workers may still hold it until their next quiescent point.
  server().reclaimer().Retire([sub] { delete sub; });
  return true;
}

void Route::RemoveRemoteSubs() {
  for (auto& [key, remote] : subs_) remote.account->sublist().Remove(remote.sub.get());
  // Freed with the route, after every worker has moved past them.
}

// ---- Messages ----

bool Route::OnMsgArgs(Verb verb, const MsgArgs& args) {
  if (!registered_) {
    LOG_ERROR("%s - Router sent a message before its INFO", log_prefix().c_str());
    Close(CloseReason::kProtocolViolation);
    return false;
  }
  return true;
}

bool Route::OnMsg(Verb verb, const MsgArgs& args, std::string_view payload) {
  in_msgs++;
  in_bytes += payload.size();
  last_activity_ = now();
  if (Logger::trace()) {
    LOG_TRACE("%s - <<- [RMSG %.*s %.*s %.*s]", log_prefix().c_str(),
              static_cast<int>(args.account.size()), args.account.data(),
              static_cast<int>(args.subject.size()), args.subject.data(),
              static_cast<int>(args.total_size_token.size()), args.total_size_token.data());
  }
  // Nearly every message names the account the one before named: no lookup for those.
  // (An unknown account is not remembered: a reload may add it.)
  if (!last_account_ || !EqualBytes(args.account, last_account_name_)) {
    last_account_ = server().accounts().Find(args.account);
    last_account_name_.assign(args.account);
  }
  Account* account = last_account_;
  if (!account) {
    LOG_DEBUG("%s - Unknown account %s for routed message on subject: %s", log_prefix().c_str(),
              Quoted(args.account).c_str(), Quoted(args.subject).c_str());
    return true;
  }
  PublishFromRoute(worker(), *account, args, payload, this);
  return !closing();
}

void Route::UpgradeToSolicited(const RouteUrl& url, bool explicit_route) {
  if (dialed_) return;
  dialed_ = std::make_unique<RouteUrl>(url);
  explicit_ = explicit_route;
}

void Route::OnConfigReloaded() {
  // The peer's interest in accounts the reload added here.
  for (auto it = unknown_subs_.begin(); it != unknown_subs_.end();) {
    if (!server().accounts().Find(it->second.account)) {
      ++it;
      continue;
    }
    UnknownSub u = std::move(it->second);
    it = unknown_subs_.erase(it);
    OnRouteSub({}, u.account, u.subject, u.queue, u.weight);
  }
  // A new cluster authorization applies to the routes peers dialed (reload.go: every accepted
  // route is checked again).
  if (did_solicit() || !connect_received_) return;
  if (!routes_.Authorized(connect_user_, connect_pass_)) {
    SendErr("Authorization Violation");
    LOG_ERROR("%s - Router authentication error", log_prefix().c_str());
    Close(CloseReason::kAuthenticationViolation);
  }
}

// ---- Timers ----

void Route::OnTimer(Clock::time_point t) {
  const Options& opts = worker().options();
  if (!did_solicit() && !connect_received_ && routes_.auth_required() &&
      t - auth_start_ > routes_.auth_timeout()) {
    SendErr("Authentication Timeout");
    Close(CloseReason::kAuthenticationTimeout);
    return;
  }
  if (t < next_ping_) return;
  if (pings_out_ + 1 > opts.ping_max) {
    LOG_DEBUG("%s - Stale Router Connection - Closing", log_prefix().c_str());
    SendErr("Stale Connection");
    Close(CloseReason::kStaleConnection);
    return;
  }
  SendProto("PING\r\n");
  pings_out_++;
  rtt_start_ = t;
  next_ping_ = t + opts.ping_interval;
}

// ---- Monitoring ----

void Route::RouteSnapshotInto(RouteSnapshot& out, bool with_subs) const {
  ConnSnapshot base;
  Connection::Snapshot(base, false);
  out.rid = id();
  out.remote_id = remote_id_;
  out.remote_name = remote_name_;
  out.did_solicit = did_solicit();
  out.is_configured = explicit_;
  out.ip = ip();
  out.port = port();
  out.start = base.start;
  out.last_activity = base.last_activity;
  out.rtt_ns = rtt_ns_;
  out.pending_bytes = base.pending_bytes;
  out.in_msgs = base.in_msgs;
  out.out_msgs = base.out_msgs;
  out.in_bytes = base.in_bytes;
  out.out_bytes = base.out_bytes;
  out.num_subs = static_cast<uint32_t>(subs_.size());
  out.tls_version = base.tls_version;
  out.tls_cipher = base.tls_cipher;
  out.import_json = PermissionJson(peer_import_);
  out.export_json = PermissionJson(peer_export_);
  if (with_subs) {
    for (const auto& [key, remote] : subs_) {
      const Subscription& s = *remote.sub;
      out.subs.push_back(SubSnapshot{s.subject, s.queue, s.sid, s.Delivered(),
                                     s.max.load(std::memory_order_relaxed), id()});
    }
  }
}

// ---- Closing ----

void Route::OnClosed(CloseReason reason) {
  LOG_INFO("%s - Router connection closed: %s", log_prefix().c_str(), CloseReasonText(reason));
  RemoveRemoteSubs();
  routes_.Unregister(*this, !no_reconnect_ && !server().shutting_down());
}

}  // namespace gannet
