// The monitoring endpoints (see monitor.h).
#include "server/monitor/monitor.h"

#include "base/strings.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "base/logger.h"
#include "core/subject.h"
#include "server/cluster/routes.h"
#include "server/conn/tls_context.h"
#include "server/events/system_events.h"
#include "server/monitor/monitor_format.h"
#include "server/server.h"

namespace gannet {

namespace {

constexpr auto kGatherTimeout = std::chrono::seconds(5);
constexpr int64_t kDefaultListSize = 1024;  // connz and subsz pages

std::string NormalizeBasePath(std::string p) {
  if (p.empty() || p == "/") return "";
  if (p[0] != '/') p.insert(p.begin(), '/');
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string NowText() { return FormatRfc3339Nano(std::chrono::system_clock::now()); }

HttpResponse Unavailable() {
  return HttpResponse::Text(503, "server busy: workers did not answer in time");
}

// Resident memory in bytes and CPU seconds used so far, from /proc.
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

double CpuSeconds() {
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(text.substr(paren + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

enum class ConnState { kOpen, kClosed, kAll };

enum class SortKey {
  kCid,
  kStart,
  kSubs,
  kPending,
  kMsgsTo,
  kMsgsFrom,
  kBytesTo,
  kBytesFrom,
  kLast,
  kIdle,
  kUptime,
  kStop,
  kReason
};

std::optional<SortKey> ParseSortKey(std::string_view s) {
  static const std::pair<std::string_view, SortKey> kKeys[] = {{"", SortKey::kCid},
                                                               {"cid", SortKey::kCid},
                                                               {"start", SortKey::kStart},
                                                               {"subs", SortKey::kSubs},
                                                               {"pending", SortKey::kPending},
                                                               {"msgs_to", SortKey::kMsgsTo},
                                                               {"msgs_from", SortKey::kMsgsFrom},
                                                               {"bytes_to", SortKey::kBytesTo},
                                                               {"bytes_from", SortKey::kBytesFrom},
                                                               {"last", SortKey::kLast},
                                                               {"idle", SortKey::kIdle},
                                                               {"uptime", SortKey::kUptime},
                                                               {"stop", SortKey::kStop},
                                                               {"reason", SortKey::kReason}};
  for (const auto& [name, key] : kKeys) {
    if (name == s) return key;
  }
  return std::nullopt;
}

// `account`: the subscriber's, in /subsz lists (null: left out, as in /connz).
Monitor::Json SubDetailJson(const SubSnapshot& s, const std::string* account) {
  Monitor::Json j;
  if (account) j["account"] = *account;
  j["subject"] = s.subject;
  if (!s.queue.empty()) j["qgroup"] = s.queue;
  j["sid"] = s.sid;
  j["msgs"] = s.msgs;
  if (s.max > 0) j["max"] = s.max;
  j["cid"] = s.cid;
  return j;
}

Monitor::Json ConnJson(const ConnSnapshot& c, std::chrono::system_clock::time_point now, bool subs,
                       bool subs_detail, bool auth) {
  Monitor::Json j;
  j["cid"] = c.cid;
  j["kind"] = "Client";
  j["type"] = "nats";
  j["ip"] = c.ip;
  j["port"] = c.port;
  j["start"] = FormatRfc3339Nano(c.start);
  j["last_activity"] = FormatRfc3339Nano(c.last_activity);
  // A closed connection's times are as they were when it closed.
  auto until = c.stop ? *c.stop : now;
  if (c.stop) {
    j["stop"] = FormatRfc3339Nano(*c.stop);
    j["reason"] = c.reason;
  }
  j["rtt"] = FormatRtt(c.rtt_ns);
  j["uptime"] = FormatUptime(until - c.start);
  j["idle"] = FormatUptime(until - c.last_activity);
  j["pending_bytes"] = c.pending_bytes;
  j["in_msgs"] = c.in_msgs;
  j["out_msgs"] = c.out_msgs;
  j["in_bytes"] = c.in_bytes;
  j["out_bytes"] = c.out_bytes;
  j["subscriptions"] = c.num_subs;
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.lang.empty()) j["lang"] = c.lang;
  if (!c.version.empty()) j["version"] = c.version;
  if (!c.tls_version.empty()) j["tls_version"] = c.tls_version;
  if (!c.tls_cipher.empty()) j["tls_cipher_suite"] = c.tls_cipher;
  if (auth && !c.user.empty()) j["authorized_user"] = c.user;
  if (auth && !c.account.empty() && c.account != kGlobalAccountName) j["account"] = c.account;
  if (!c.subs.empty()) {
    if (subs_detail) {
      Monitor::Json list = Monitor::Json::array();
      for (const SubSnapshot& s : c.subs) list.push_back(SubDetailJson(s, nullptr));
      j["subscriptions_list_detail"] = std::move(list);
    } else if (subs) {
      Monitor::Json list = Monitor::Json::array();
      for (const SubSnapshot& s : c.subs) list.push_back(s.subject);
      j["subscriptions_list"] = std::move(list);
    }
  }
  return j;
}

// Orders connections as the reference's /connz sort options do: cid and start ascending,
// reason by text, uptime shortest first, every other key largest first.
void SortConnections(std::vector<const ConnSnapshot*>& conns, SortKey key,
                     std::chrono::system_clock::time_point now) {
  auto by_cid = [](const ConnSnapshot* a, const ConnSnapshot* b) { return a->cid < b->cid; };
  std::sort(conns.begin(), conns.end(), by_cid);
  auto desc = [&](auto field) {
    std::stable_sort(conns.begin(), conns.end(), [&](const ConnSnapshot* a, const ConnSnapshot* b) {
      return field(*a) > field(*b);
    });
  };
  auto uptime = [now](const ConnSnapshot& c) { return (c.stop ? *c.stop : now) - c.start; };
  switch (key) {
    case SortKey::kCid:
    case SortKey::kStart:
      break;
    case SortKey::kSubs:
      desc([](const ConnSnapshot& c) { return c.num_subs; });
      break;
    case SortKey::kPending:
      desc([](const ConnSnapshot& c) { return c.pending_bytes; });
      break;
    case SortKey::kMsgsTo:
      desc([](const ConnSnapshot& c) { return c.out_msgs; });
      break;
    case SortKey::kMsgsFrom:
      desc([](const ConnSnapshot& c) { return c.in_msgs; });
      break;
    case SortKey::kBytesTo:
      desc([](const ConnSnapshot& c) { return c.out_bytes; });
      break;
    case SortKey::kBytesFrom:
      desc([](const ConnSnapshot& c) { return c.in_bytes; });
      break;
    case SortKey::kLast:
      desc([](const ConnSnapshot& c) { return c.last_activity; });
      break;
    case SortKey::kIdle:
      // As the reference: the span from start to last activity, largest first.
      desc([](const ConnSnapshot& c) { return c.last_activity - c.start; });
      break;
    case SortKey::kUptime:
      std::stable_sort(
          conns.begin(), conns.end(),
          [&](const ConnSnapshot* a, const ConnSnapshot* b) { return uptime(*a) < uptime(*b); });
      break;
    case SortKey::kStop:
      desc([](const ConnSnapshot& c) {
        return c.stop.value_or(std::chrono::system_clock::time_point{});
      });
      break;
    case SortKey::kReason:
      std::stable_sort(
          conns.begin(), conns.end(),
          [](const ConnSnapshot* a, const ConnSnapshot* b) { return a->reason < b->reason; });
      break;
  }
}

// A permission as the reference marshals its SubjectPermission: allow and deny, each left out
// when empty.
Monitor::Json PermissionJson(const SubjectPermission& p) {
  Monitor::Json j = Monitor::Json::object();
  if (!p.allow.empty()) j["allow"] = p.allow;
  if (!p.deny.empty()) j["deny"] = p.deny;
  return j;
}

// What Go's url.URL.Host holds for a route URL: the authority as written, without user info.
std::string UrlHost(std::string_view url) {
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  url = url.substr(0, url.find('/'));
  if (size_t at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

// One route as the reference's RouteInfo.
Monitor::Json RouteJson(const RouteSnapshot& r, std::chrono::system_clock::time_point now,
                        bool subs, bool subs_detail) {
  Monitor::Json j;
  j["rid"] = r.rid;
  j["remote_id"] = r.remote_id;
  j["did_solicit"] = r.did_solicit;
  j["is_configured"] = r.is_configured;
  j["ip"] = r.ip;
  j["port"] = r.port;
  j["start"] = FormatRfc3339Nano(r.start);
  j["last_activity"] = FormatRfc3339Nano(r.last_activity);
  j["rtt"] = FormatRtt(r.rtt_ns);
  j["uptime"] = FormatUptime(now - r.start);
  j["idle"] = FormatUptime(now - r.last_activity);
  // The peer's permissions, as its INFO gave them.
  for (const auto& [key, text] :
       {std::pair{"import", &r.import_json}, {"export", &r.export_json}}) {
    if (text->empty()) continue;
    Monitor::Json perm = Monitor::Json::parse(*text, nullptr, false);
    if (!perm.is_discarded()) j[key] = std::move(perm);
  }
  j["pending_size"] = r.pending_bytes;
  j["in_msgs"] = r.in_msgs;
  j["out_msgs"] = r.out_msgs;
  j["in_bytes"] = r.in_bytes;
  j["out_bytes"] = r.out_bytes;
  j["subscriptions"] = r.num_subs;
  if (!r.subs.empty()) {
    std::vector<const SubSnapshot*> sorted;
    for (const SubSnapshot& s : r.subs) sorted.push_back(&s);
    std::sort(sorted.begin(), sorted.end(),
              [](const SubSnapshot* a, const SubSnapshot* b) { return a->sid < b->sid; });
    Monitor::Json list = Monitor::Json::array();
    for (const SubSnapshot* s : sorted) {
      if (subs_detail) {
        list.push_back(SubDetailJson(*s, nullptr));
      } else {
        list.push_back(s->subject);  // as the reference: the subject alone, even for queues
      }
    }
    if (subs_detail) {
      j["subscriptions_list_detail"] = std::move(list);
    } else if (subs) {
      j["subscriptions_list"] = std::move(list);
    }
  }
  return j;
}

}  // namespace

HttpResponse JsonResponse(const HttpRequest& r, const nlohmann::ordered_json& doc, int indent) {
  HttpResponse resp;
  std::string body = doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string callback = r.Param("callback");
  if (!callback.empty()) {
    resp.content_type = "application/javascript";
    resp.body = callback + "(" + body + ")";
  } else {
    resp.content_type = "application/json";
    resp.body = std::move(body);
  }
  return resp;
}

Monitor::Monitor(Server& server)
    : server_(server),
      http_([this](const HttpRequest& r) { return Handle(r); }),
      base_path_(NormalizeBasePath(server.config()->options().http_base_path)),
      last_cpu_wall_(std::chrono::steady_clock::now()),
      last_cpu_seconds_(CpuSeconds()) {}

Monitor::~Monitor() { Stop(); }

bool Monitor::Start() {
  auto config = server_.config();
  const Options& o = config->options();
  std::string host = o.http_host.empty() ? o.host : o.http_host;
  bool secure = o.https_port != 0;
  int configured = secure ? o.https_port : o.http_port;
  int port = configured < 0 ? 0 : configured;
  // HTTPS uses the client port's tls {} without asking for client certificates (as the
  // reference's startMonitoring).
  secure_ = secure;
  if (secure) http_.SetTls(server_.tls_context());
  if (std::string err = http_.Start(host, port); !err.empty()) {
    LOG_FATAL("Can't start monitoring: can't listen to the monitor port: listen tcp %s:%d: %s",
              host.c_str(), port, err.c_str());
    return false;
  }
  LOG_INFO("Starting %s monitor on %s:%d", secure ? "https" : "http", host.c_str(), http_.port());
  return true;
}

void Monitor::Stop() { http_.Stop(); }

HttpResponse Monitor::Handle(const HttpRequest& r) {
  std::lock_guard lock(mu_);
  std::string_view path = r.path;
  if (!base_path_.empty()) {
    if (path.substr(0, base_path_.size()) != base_path_) {
      return HttpResponse::Text(404, "404 page not found\n");
    }
    path.remove_prefix(base_path_.size());
    if (path.empty()) path = "/";
  }
  using Handler = HttpResponse (Monitor::*)(const HttpRequest&);
  static const std::pair<std::string_view, Handler> kRoutes[] = {
      {"/", &Monitor::Root},
      {"/varz", &Monitor::Varz},
      {"/connz", &Monitor::Connz},
      {"/routez", &Monitor::Routez},
      {"/subsz", &Monitor::Subsz},
      {"/subscriptionsz", &Monitor::Subsz},
      {"/healthz", &Monitor::Healthz},
      {"/accountz", &Monitor::Accountz},
      {"/gatewayz", &Monitor::Gatewayz},
      {"/leafz", &Monitor::Leafz},
      {"/metrics", &Monitor::Metrics},
      {"/dashboard", &Monitor::Dashboard},
  };
  for (const auto& [route, handler] : kRoutes) {
    if (path == route) {
      req_stats_[std::string(route)]++;
      return (this->*handler)(r);
    }
  }
  for (const auto& [prefix, handler] : server_.monitor_routes()) {
    if (path == prefix || (path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix &&
                           path[prefix.size()] == '/')) {
      HttpRequest routed = r;
      routed.path = std::string(path);
      return handler(routed);
    }
  }
  return HttpResponse::Text(404, "404 page not found\n");
}

// ---- /varz ----

std::optional<Monitor::Json> Monitor::BuildVarz() {
  auto gathered = server_.Gather(false, false, 0, kGatherTimeout);
  if (!gathered) return std::nullopt;
  const WorkerTotals& t = gathered->totals;
  auto config = server_.config();  // the current generation (a reload may replace it)
  const Options& o = config->options();
  auto now = std::chrono::system_clock::now();

  auto wall = std::chrono::steady_clock::now();
  double cpu_seconds = CpuSeconds();
  double span = std::chrono::duration<double>(wall - last_cpu_wall_).count();
  double cpu = span > 0 ? (cpu_seconds - last_cpu_seconds_) / span * 100.0 : 0.0;
  last_cpu_wall_ = wall;
  last_cpu_seconds_ = cpu_seconds;

  auto empty = Json::object();
  Json j;
  j["server_id"] = server_.server_id();
  j["server_name"] = o.server_name;
  j["version"] = kCompatibleNatsVersion;
  j["proto"] = 1;
  j["go"] = std::string("gannet-server ") + GANNET_VERSION;
  j["host"] = o.host;
  j["port"] = server_.port();
  if (o.authorization.Required()) j["auth_required"] = true;
  if (auto tls = server_.tls_context()) {
    j["tls_required"] = true;
    if (tls->verify()) j["tls_verify"] = true;
  }
  Routes* routes = server_.routes();
  // The cluster's client URLs, ours first, once a route has brought any (as the reference).
  if (auto urls = routes ? routes->client_urls() : nullptr; urls && !urls->empty()) {
    j["connect_urls"] = *urls;
  }
  j["max_connections"] = o.max_connections;
  if (o.max_subscriptions > 0) j["max_subscriptions"] = o.max_subscriptions;
  j["ping_interval"] =
      std::chrono::duration_cast<std::chrono::nanoseconds>(o.ping_interval).count();
  j["ping_max"] = o.ping_max;
  j["http_host"] = o.http_host.empty() ? o.host : o.http_host;
  j["http_port"] = o.https_port != 0 ? o.http_port : port();
  j["http_base_path"] = o.http_base_path;
  j["https_port"] = o.https_port != 0 ? port() : 0;
  j["auth_timeout"] = std::chrono::duration<double>(o.auth_timeout).count();
  j["max_control_line"] = o.max_control_line;
  j["max_payload"] = o.max_payload;
  j["max_pending"] = o.max_pending;
  j["cluster"] = BuildClusterVarz();
  j["gateway"] = empty;
  j["leaf"] = empty;
  j["mqtt"] = empty;
  j["websocket"] = empty;
  j["jetstream"] = empty;
  j["tls_timeout"] = std::chrono::duration<double>(o.tls.timeout).count();
  j["write_deadline"] =
      std::chrono::duration_cast<std::chrono::nanoseconds>(o.write_deadline).count();
  j["start"] = FormatRfc3339Nano(server_.start_time());
  j["now"] = FormatRfc3339Nano(now);
  j["uptime"] = FormatUptime(now - server_.start_time());
  j["mem"] = ResidentBytes();
  j["cores"] = std::max(1u, std::thread::hardware_concurrency());
  j["gomaxprocs"] = o.threads;
  j["cpu"] = cpu;
  j["connections"] = server_.num_clients.load();
  j["total_connections"] = server_.total_connections.load();
  // The reference counts its routes and its remotes (routes by peer id): one route per peer.
  size_t num_routes = routes ? routes->num_routes() : 0;
  j["routes"] = num_routes;
  j["remotes"] = num_routes;
  j["leafnodes"] = 0;
  j["in_msgs"] = t.in_msgs;
  j["out_msgs"] = t.out_msgs;
  j["in_bytes"] = t.in_bytes;
  j["out_bytes"] = t.out_bytes;
  j["slow_consumers"] = server_.slow_consumers.load();
  j["subscriptions"] = server_.accounts().SublistTotals().subscriptions;
  Json stats = Json::object();
  for (const auto& [path, n] : req_stats_) stats[path] = n;
  j["http_req_stats"] = std::move(stats);
  j["config_load_time"] = FormatRfc3339Nano(config->load_time());
  if (const Account* sys = server_.accounts().system()) j["system_account"] = sys->name();
  return j;
}

Monitor::Json Monitor::BuildClusterVarz() {
  Json c = Json::object();
  Routes* routes = server_.routes();
  if (!routes) return c;
  auto config = server_.config();  // held: a reload may replace it meanwhile
  const ClusterConfig& cluster = config->options().cluster;
  // As the reference's ClusterOptsVarz: every field left out when empty or zero.
  if (std::string name = routes->name(); !name.empty()) c["name"] = name;
  if (!cluster.host.empty()) c["addr"] = cluster.host;
  if (routes->port() != 0) c["cluster_port"] = routes->port();
  if (double t = std::chrono::duration<double>(cluster.auth_timeout).count(); t > 0) {
    c["auth_timeout"] = t;
  }
  if (!cluster.routes.empty()) {
    Json urls = Json::array();
    for (const RouteUrl& u : cluster.routes) urls.push_back(UrlHost(u.text));
    c["urls"] = std::move(urls);
  }
  if (double t = std::chrono::duration<double>(cluster.tls.timeout).count(); t > 0) {
    c["tls_timeout"] = t;
  }
  if (routes->tls()) {  // the reference reports both as "route TLS is configured"
    c["tls_required"] = true;
    c["tls_verify"] = true;
  }
  return c;
}

HttpResponse Monitor::Varz(const HttpRequest& r) {
  auto doc = BuildVarz();
  if (!doc) return Unavailable();
  return JsonResponse(r, *doc);
}

// ---- /connz ----

HttpResponse Monitor::Connz(const HttpRequest& r) {
  std::string err;
  std::string sort_text = r.Param("sort");
  auto auth = ParseGoBool("auth", r.Param("auth"), err);
  if (!auth) return HttpResponse::Text(400, err);
  bool subs_detail = AsciiLower(r.Param("subs")) == "detail";
  bool subs = false;
  if (!subs_detail) {
    auto b = ParseGoBool("subs", r.Param("subs"), err);
    if (!b) return HttpResponse::Text(400, err);
    subs = *b;
  }
  auto offset = ParseGoInt("offset", r.Param("offset"), err);
  if (!offset) return HttpResponse::Text(400, err);
  auto limit = ParseGoInt("limit", r.Param("limit"), err);
  if (!limit) return HttpResponse::Text(400, err);
  auto cid = ParseGoUint("cid", r.Param("cid"), err);
  if (!cid) return HttpResponse::Text(400, err);
  ConnState state = ConnState::kOpen;
  if (std::string s = r.Param("state"); !s.empty()) {
    std::string l = AsciiLower(s);
    if (l == "open") {
      state = ConnState::kOpen;
    } else if (l == "closed") {
      state = ConnState::kClosed;
    } else if (l == "any" || l == "all") {
      state = ConnState::kAll;
    } else {
      return HttpResponse::Text(400, "Error decoding state for " + s);
    }
  }
  std::string user = r.Param("user");
  std::string acc = r.Param("acc");
  std::string mqtt_client = r.Param("mqtt_client");

  auto sort = ParseSortKey(sort_text);
  if (!sort) return HttpResponse::Text(400, "invalid sorting option: " + sort_text);
  if (*sort == SortKey::kStop && state != ConnState::kClosed) {
    return HttpResponse::Text(400, "sort by stop only valid on closed connections");
  }
  if (*sort == SortKey::kReason && state != ConnState::kClosed) {
    return HttpResponse::Text(400, "sort by reason only valid on closed connections");
  }
  int64_t off = std::max<int64_t>(*offset, 0);
  int64_t lim = *limit <= 0 ? kDefaultListSize : *limit;
  if (*cid > 0) lim = 1;

  auto now = std::chrono::system_clock::now();
  Json j;
  j["server_id"] = server_.server_id();
  j["now"] = FormatRfc3339Nano(now);
  j["num_connections"] = 0;
  j["total"] = 0;
  j["offset"] = off;
  j["limit"] = lim;
  // An account that does not exist has no connections.
  if (!acc.empty() && !server_.accounts().Find(acc)) {
    j["connections"] = nullptr;
    return JsonResponse(r, j);
  }

  std::shared_ptr<SnapshotRequest> open;
  std::vector<ConnSnapshot> closed;
  bool want_subs = subs || subs_detail;
  // As the reference: a cid with state=all is looked up among the closed connections.
  bool want_open = state == ConnState::kOpen || (state == ConnState::kAll && *cid == 0);
  if (want_open) {
    open = server_.Gather(true, want_subs, *cid, kGatherTimeout);
    if (!open) return Unavailable();
  }
  if (state != ConnState::kOpen) closed = server_.ClosedConnections();
  // The total counts every connection of the asked state, whatever the filters.
  size_t total = closed.size();
  if (state != ConnState::kClosed) {
    total += (*cid > 0 || !open) ? static_cast<size_t>(std::max<int64_t>(server_.num_clients, 0))
                                 : open->conns.size();
  }

  if (!acc.empty()) {  // the reference counts only the account's connections then
    total = 0;
    if (open) {
      for (const ConnSnapshot& c : open->conns) total += c.account == acc ? 1 : 0;
    }
    for (const ConnSnapshot& c : closed) total += c.account == acc ? 1 : 0;
  }

  std::vector<const ConnSnapshot*> list;
  auto keep = [&](const ConnSnapshot& c) {
    if (!user.empty() && c.user != user) return false;
    if (!acc.empty() && c.account != acc) return false;
    if (!mqtt_client.empty()) return false;  // no MQTT clients
    return true;
  };
  if (open) {
    for (const ConnSnapshot& c : open->conns) {
      if (keep(c)) list.push_back(&c);
    }
  }
  for (const ConnSnapshot& c : closed) {
    if (*cid > 0 && c.cid != *cid) continue;
    if (keep(c)) list.push_back(&c);
  }
  SortConnections(list, *sort, now);
  size_t first = std::min(static_cast<size_t>(off), list.size());
  size_t last = std::min(static_cast<size_t>(off + lim), list.size());
  Json conns = Json::array();
  for (size_t i = first; i < last; ++i) {
    conns.push_back(ConnJson(*list[i], now, subs, subs_detail, *auth));
  }
  j["num_connections"] = last - first;
  j["total"] = total;
  j["connections"] = std::move(conns);
  return JsonResponse(r, j);
}

// ---- /routez ----

std::vector<RouteSnapshot> Monitor::RouteSnapshots(bool with_subs) {
  Routes* routes = server_.routes();
  if (!routes) return {};
  return routes->Snapshot(with_subs, kGatherTimeout);
}

Monitor::Json Monitor::BuildRoutez(const std::vector<RouteSnapshot>& routes, bool subs,
                                   bool subs_detail) {
  auto now = std::chrono::system_clock::now();
  Json j;
  j["server_id"] = server_.server_id();
  j["now"] = FormatRfc3339Nano(now);
  // The cluster's configured permissions, which apply to every route.
  if (server_.routes()) {
    auto config = server_.config();
    const ClusterConfig& cluster = config->options().cluster;
    if (cluster.import_permissions) j["import"] = PermissionJson(*cluster.import_permissions);
    if (cluster.export_permissions) j["export"] = PermissionJson(*cluster.export_permissions);
  }
  j["num_routes"] = routes.size();
  Json list = Json::array();
  for (const RouteSnapshot& r : routes) list.push_back(RouteJson(r, now, subs, subs_detail));
  j["routes"] = std::move(list);
  return j;
}

HttpResponse Monitor::Routez(const HttpRequest& r) {
  std::string err;
  bool subs_detail = AsciiLower(r.Param("subs")) == "detail";
  bool subs = false;
  if (!subs_detail) {
    auto b = ParseGoBool("subs", r.Param("subs"), err);
    if (!b) return HttpResponse::Text(400, err);
    subs = *b;
  }
  return JsonResponse(r, BuildRoutez(RouteSnapshots(subs || subs_detail), subs, subs_detail));
}

// ---- /gatewayz, /leafz, /accountz, /healthz: no gateways or leaf nodes yet ----

HttpResponse Monitor::Gatewayz(const HttpRequest& r) {
  Json j;
  j["server_id"] = server_.server_id();
  j["now"] = NowText();
  j["outbound_gateways"] = Json::object();
  j["inbound_gateways"] = Json::object();
  return JsonResponse(r, j);
}

HttpResponse Monitor::Leafz(const HttpRequest& r) {
  std::string err;
  if (!ParseGoBool("subs", r.Param("subs"), err)) return HttpResponse::Text(400, err);
  Json j;
  j["server_id"] = server_.server_id();
  j["now"] = NowText();
  j["leafnodes"] = 0;
  j["leafs"] = nullptr;  // the reference's empty list marshals as null
  return JsonResponse(r, j);
}

HttpResponse Monitor::Accountz(const HttpRequest& r) {
  Json j;
  j["server_id"] = server_.server_id();
  j["now"] = NowText();
  if (const Account* sys = server_.accounts().system()) j["system_account"] = sys->name();
  if (std::string name = r.Param("acc"); !name.empty()) {
    Account* account = server_.accounts().Find(name);
    if (!account) return HttpResponse::Text(400, "Account " + name + " does not exist");
    auto gathered = server_.Gather(true, false, 0, kGatherTimeout);
    if (!gathered) return Unavailable();
    int64_t clients = 0;
    for (const ConnSnapshot& c : gathered->conns) clients += c.account == name ? 1 : 0;
    j["account_detail"] = AccountDetail(*account, clients);
    return JsonResponse(r, j);
  }
  Json names = Json::array();
  for (const auto& a : server_.accounts().all()) {
    if (a->live()) names.push_back(a->name());
  }
  j["accounts"] = names;
  return JsonResponse(r, j);
}

// One account as the reference's /accountz?acc= shows it.
Monitor::Json Monitor::AccountDetail(const Account& account, int64_t clients) {
  SublistStats s = account.sublist().Stats();
  Json d;
  d["account_name"] = account.name();
  d["update_time"] = FormatRfc3339Nano(account.created());
  if (&account == server_.accounts().system()) d["is_system"] = true;
  d["expired"] = false;
  d["complete"] = true;
  d["jetstream_enabled"] = false;
  d["leafnode_connections"] = 0;
  d["client_connections"] = clients;
  d["subscriptions"] = s.subscriptions;
  const Account* system = server_.accounts().system();
  std::vector<AccountExport> exports_list = account.exports();
  std::vector<AccountImport> imports_list = account.imports();
  if (system && &account == system) {
    // The system services every account imports (events/system_events.h), as the reference
    // lists them.
    for (const char* subject : {"$SYS.REQ.ACCOUNT.*.CONNZ", "$SYS.REQ.ACCOUNT.*.STATZ"}) {
      AccountExport ex;
      ex.service = true;
      ex.subject = subject;
      ex.response_type = ResponseType::kStreamed;
      exports_list.push_back(std::move(ex));
    }
  } else if (system) {
    for (const auto& [from, endpoint] : {std::pair{"$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ"},
                                         {"$SYS.REQ.SERVER.PING.CONNZ", "CONNZ"},
                                         {"$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ"}}) {
      AccountImport im;
      im.service = true;
      im.account = system->name();
      im.subject = "$SYS.REQ.ACCOUNT." + account.name() + "." + endpoint;
      im.to = from;
      imports_list.push_back(std::move(im));
    }
  }
  if (!exports_list.empty()) {
    Json exports = Json::array();
    for (const AccountExport& ex : exports_list) {
      Json e;
      e["subject"] = ex.subject;
      e["type"] = ex.service ? "service" : "stream";
      if (!ex.accounts.empty()) e["approved_accounts"] = ex.accounts;
      if (ex.service) {
        static const char* kTypes[] = {"Singleton", "Streamed", "Chunked"};
        // (The reference does not show a configured response_threshold here.)
        e["response_type"] = kTypes[static_cast<int>(ex.response_type)];
        if (!ex.latency_subject.empty()) {
          Json latency;
          if (ex.latency_headers) {
            latency["sampling"] = "headers";
          } else {
            latency["sampling"] = ex.latency_sampling;
          }
          latency["results"] = ex.latency_subject;
          e["service_latency"] = std::move(latency);
        }
      }
      exports.push_back(std::move(e));
    }
    d["exports"] = std::move(exports);
  }
  if (!imports_list.empty()) {
    Json imports = Json::array();
    for (const AccountImport& im : imports_list) {
      Json i;
      if (im.service) {
        i["subject"] = im.to.empty() ? im.subject : im.to;
        i["account"] = im.account;
        i["to"] = im.subject;
        i["type"] = "service";
      } else {
        std::string local = im.subject;
        if (!im.prefix.empty()) {
          local = im.prefix + (im.prefix.back() == '.' ? "" : ".") + im.subject;
        } else if (!im.to.empty()) {
          local = im.to;
        }
        i["subject"] = im.subject;
        i["account"] = im.account;
        i["local_subject"] = local;
        i["type"] = "stream";
      }
      i["invalid"] = false;
      i["share"] = false;
      i["tracking"] = false;
      imports.push_back(std::move(i));
    }
    d["imports"] = std::move(imports);
  }
  Json stats;
  stats["num_subscriptions"] = s.subscriptions;
  stats["num_cache"] = 0;  // the match caches are per worker, not per account
  stats["num_inserts"] = s.inserts;
  stats["num_removes"] = s.removes;
  stats["num_matches"] = s.matches;
  stats["cache_hit_rate"] = 0;
  stats["max_fanout"] = 0;
  stats["avg_fanout"] = 0;
  d["sublist_stats"] = std::move(stats);
  return d;
}

HttpResponse Monitor::Healthz(const HttpRequest& r) {
  return JsonResponse(r, Json{{"status", "ok"}}, -1);
}

// ---- /subsz ----

Monitor::Json Monitor::BuildSubszStats(const WorkerTotals& t) {
  SublistStats s = server_.accounts().SublistTotals();
  // Lookups answered by the workers' caches never reach the index: both count as matches.
  uint64_t matches = s.matches + t.cache_hits;
  Json j;
  j["num_subscriptions"] = s.subscriptions;
  j["num_cache"] = t.cache_entries;
  j["num_inserts"] = s.inserts;
  j["num_removes"] = s.removes;
  j["num_matches"] = matches;
  j["cache_hit_rate"] =
      matches > 0 ? static_cast<double>(t.cache_hits) / static_cast<double>(matches) : 0.0;
  j["max_fanout"] = t.max_fanout;
  j["avg_fanout"] = t.cache_entries > 0
                        ? static_cast<double>(t.total_fanout) / static_cast<double>(t.cache_entries)
                        : 0.0;
  return j;
}

HttpResponse Monitor::Subsz(const HttpRequest& r) {
  std::string err;
  auto subs = ParseGoBool("subs", r.Param("subs"), err);
  if (!subs) return HttpResponse::Text(400, err);
  auto offset = ParseGoInt("offset", r.Param("offset"), err);
  if (!offset) return HttpResponse::Text(400, err);
  auto limit = ParseGoInt("limit", r.Param("limit"), err);
  if (!limit) return HttpResponse::Text(400, err);
  std::string test = r.Param("test");
  std::string acc = r.Param("acc");
  if (!test.empty() && !IsValidLiteralSubject(test)) {
    return HttpResponse::Text(400, "invalid test subject, must be valid publish subject: " + test);
  }
  int64_t off = std::max<int64_t>(*offset, 0);
  int64_t lim = *limit <= 0 ? kDefaultListSize : *limit;

  auto gathered = server_.Gather(*subs, *subs, 0, kGatherTimeout);
  if (!gathered) return Unavailable();
  Json stats = BuildSubszStats(gathered->totals);
  Json list = Json::array();
  if (*subs) {
    std::sort(gathered->conns.begin(), gathered->conns.end(),
              [](const ConnSnapshot& a, const ConnSnapshot& b) { return a.cid < b.cid; });
    int64_t index = 0;
    // The system account's own subscriptions first, as the reference lists its internal
    // clients' (they are in num_subscriptions too).
    if (SystemEvents* events = server_.events()) {
      for (const auto& [account, sub] : events->InternalSubscriptions()) {
        if (!acc.empty() && account != acc) continue;
        if (!test.empty() && !SubjectMatchesPattern(test, sub.subject)) continue;
        if (index >= off && index < off + lim) list.push_back(SubDetailJson(sub, &account));
        ++index;
      }
    }
    for (const ConnSnapshot& c : gathered->conns) {
      if (!acc.empty() && c.account != acc) continue;
      for (const SubSnapshot& s : c.subs) {
        if (!test.empty() && !SubjectMatchesPattern(test, s.subject)) continue;
        if (index >= off && index < off + lim) list.push_back(SubDetailJson(s, &c.account));
        ++index;
      }
    }
  }
  if (list.empty()) return JsonResponse(r, stats);  // as the reference: the figures alone
  Json j;
  j["server_id"] = server_.server_id();
  j["now"] = NowText();
  for (auto& [key, value] : stats.items()) j[key] = value;
  j["total"] = list.size();  // as the reference: the size of this page
  j["offset"] = off;
  j["limit"] = lim;
  j["subscriptions_list"] = std::move(list);
  return JsonResponse(r, j);
}

// ---- / and /dashboard ----

HttpResponse Monitor::Root(const HttpRequest& r) {
  static const std::pair<const char*, const char*> kLinks[] = {
      {"varz", "General"},        {"connz", "Connections"},    {"accountz", "Accounts"},
      {"subsz", "Subscriptions"}, {"routez", "Routes"},        {"leafz", "LeafNodes"},
      {"gatewayz", "Gateways"},   {"healthz", "Health Probe"}, {"metrics", "Prometheus Metrics"},
      {"dashboard", "Dashboard"}};
  HttpResponse resp;
  resp.content_type = "text/html; charset=utf-8";
  std::string& b = resp.body;
  b = "<html lang=\"en\">\n<head>\n<title>gannet-server monitoring</title>\n"
      "<style type=\"text/css\">\n"
      "  body { font-family: ui-sans-serif,system-ui,sans-serif; font-size: 18px; "
      "margin-left: 32px }\n"
      "  a { display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); "
      "text-decoration: none }\n"
      "  a:hover { font-weight: 600; color: rgb(59 50 202) }\n"
      "  .version { font-size: 14px; color: rgb(110 110 130) }\n"
      "</style>\n</head>\n<body>\n<h1>gannet-server</h1>\n";
  b += "<p class=\"version\">v" + std::string(kCompatibleNatsVersion) + " (gannet " +
       GANNET_VERSION + ")</p>\n";
  for (const auto& [path, label] : kLinks) {
    b += "<a href=\"" + base_path_ + "/" + path + "\">" + label + "</a>\n";
  }
  b += "</body>\n</html>\n";
  return resp;
}

HttpResponse Monitor::Dashboard(const HttpRequest& r) {
  HttpResponse resp;
  resp.content_type = "text/html; charset=utf-8";
  resp.body = DashboardHtml();
  // The Streaming panel polls /streaming/* only where gannet-streaming added them (a 404 per
  // second would fill the browser's console).
  bool streaming = false;
  for (const auto& route : server_.monitor_routes()) {
    streaming |= route.first.rfind("/streaming", 0) == 0;
  }
  if (streaming) {
    const std::string flag = "const STREAMING = false;";
    resp.body.replace(resp.body.find(flag), flag.size(), "const STREAMING = true;");
  }
  return resp;
}

}  // namespace gannet
