// The cluster from this server's side (see routes.h).
#include "server/cluster/routes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <shared_mutex>

#include "auth/nkey.h"
#include "auth/password.h"
#include "auth/permissions.h"
#include "base/logger.h"
#include "base/strings.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/config/go_url.h"
#include "server/config/reload.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/server.h"

namespace gannet {

namespace {

// route.go: DEFAULT_ROUTE_CONNECT (between dial attempts), DEFAULT_ROUTE_RECONNECT (before a
// closed explicit route is dialed again), DEFAULT_ROUTE_DIAL (one attempt's timeout).
constexpr auto kRouteConnectDelay = std::chrono::seconds(1);
constexpr auto kRouteReconnectDelay = std::chrono::seconds(1);
constexpr auto kRouteDialTimeout = std::chrono::seconds(1);
// server.go: a first connect reports errors at attempt 1 and then every 3600th; a reconnect
// every time (DEFAULT_CONNECT_ERROR_REPORTS, DEFAULT_RECONNECT_ERROR_REPORTS).
constexpr int kConnectErrorReports = 3600;

std::string JoinHostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string RandomClusterName() {
  // A dynamic name, as the reference's (a NUID: 22 characters of [0-9A-Za-z]).
  static const char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::string name;
  for (int i = 0; i < 22; ++i) name += kAlphabet[rng() % 62];
  return name;
}

std::string InterestKey(std::string_view subject, std::string_view queue) {
  std::string key(subject);
  if (!queue.empty()) {
    key += ' ';
    key.append(queue);
  }
  return key;
}

}  // namespace

Routes::Routes(Server& server, const Options& options)
    : server_(server),
      config_(options.cluster),
      server_id_(server.server_id()),
      server_name_(options.server_name) {
  name_ = config_.name;
  if (name_.empty()) {
    name_ = RandomClusterName();
    dynamic_name_ = true;
  }
  interest_.reserve(Accounts::kMaxAccounts);
  AddAccounts();
  shadows_ = BuildShadowTable(server);
  client_urls_ = std::make_shared<const std::vector<std::string>>();
  base_info_.server_id = server_id_;
  base_info_.server_name = server_name_;
  base_info_.version = kCompatibleNatsVersion;
  base_info_.proto = 2;  // RouteProtoV2
  base_info_.go = "go1.19.8";
  base_info_.headers = !options.no_header_support;
  base_info_.max_payload = options.max_payload;
  base_info_.auth_required = !config_.username.empty();
  base_info_.import_permissions = config_.import_permissions;
  base_info_.export_permissions = config_.export_permissions;
  base_info_.lnoc = true;
  permissions_.Store(CompilePermissions(config_));
  configured_ = config_.routes;
  username_ = config_.username;
  password_ = config_.password;
}

std::shared_ptr<const auth::CompiledPermissions> Routes::CompilePermissions(
    const ClusterConfig& config) {
  if (!config.import_permissions && !config.export_permissions) return nullptr;
  Permissions perms;
  perms.publish = config.import_permissions;
  perms.subscribe = config.export_permissions;
  return std::make_shared<const auth::CompiledPermissions>(perms);
}

bool Routes::Authorized(const std::string& user, const std::string& password) const {
  std::string want_user, want_password;
  {
    std::lock_guard lock(mu_);
    want_user = username_;
    want_password = password_;
  }
  if (want_user.empty()) return true;
  return user == want_user && auth::PasswordMatches(want_password, password);
}

bool Routes::auth_required() const {
  std::lock_guard lock(mu_);
  return !username_.empty();
}

bool Routes::IsConfigured(const RouteUrl& url) const {
  std::lock_guard lock(mu_);
  for (const RouteUrl& u : configured_) {
    if (SameRouteUrl(u, url)) return true;
  }
  return false;
}

void Routes::Reload(const ClusterConfig& next, const std::vector<RouteUrl>& added,
                    const std::vector<RouteUrl>& removed) {
  permissions_.Store(CompilePermissions(next));
  std::vector<std::pair<Worker*, uint64_t>> all;
  {
    std::lock_guard lock(mu_);
    username_ = next.username;
    password_ = next.password;
    base_info_.auth_required = !next.username.empty();
    base_info_.import_permissions = next.import_permissions;
    base_info_.export_permissions = next.export_permissions;
    configured_ = next.routes;
    for (Route* r : routes_) all.emplace_back(&r->worker(), r->id());
  }
  for (const RouteUrl& gone : removed) LOG_INFO("Removed route %s", gone.text.c_str());
  // Which route was dialed to a removed URL is the route's to say (an accepted route may have
  // become ours): each is asked on its own worker.
  if (!removed.empty()) {
    for (auto& [worker, id] : all) {
      worker->PostToConnection(id, [removed](Connection& c) {
        if (!c.is_route()) return;
        auto& r = static_cast<Route&>(c);
        for (const RouteUrl& gone : removed) {
          if (r.did_solicit() && SameRouteUrl(*r.dialed(), gone)) {
            r.Close(CloseReason::kRouteRemoved);
            return;
          }
        }
      });
    }
  }
  for (const RouteUrl& url : added) {
    Schedule(DialJob{url, true, true, 0, std::chrono::steady_clock::now(), {}});
  }
  // The peers learn our new permissions from a new INFO (route.go updateRemoteRoutePerms).
  SendToRoutes(InfoLine());
}

Routes::~Routes() { Stop(); }

bool Routes::Start() {
  if (config_.tls.configured) {
    // Route TLS always asks for and checks the peer's certificate (both ends present one).
    TlsConfig tls = config_.tls;
    tls.verify = true;
    std::string error;
    tls_ = TlsContext::Create(tls, error);
    if (!tls_) {
      LOG_FATAL("Cluster TLS configuration error: %s", error.c_str());
      return false;
    }
  }
  if (config_.tls.configured && config_.tls.insecure) LOG_WARN("%s", kClusterTlsInsecureWarning);
  LOG_INFO("Cluster name is %s", name().c_str());
  if (dynamic_name_) LOG_WARN("Cluster name was dynamically generated, consider setting one");
  std::string error;
  if (!listener_.Bind(config_.host, config_.port, error)) {
    LOG_FATAL("Error listening on router port: %d - listen tcp %s: %s", config_.port,
              JoinHostPort(config_.host, config_.port).c_str(), error.c_str());
    return false;
  }
  if (!config_.advertise.empty()) {
    // cluster_advertise: "host:port", or a host with the cluster port.
    std::string host, why;
    int port = 0;
    if (!GoParseHostPort(config_.advertise, listener_.port(), host, port, &why)) {
      LOG_FATAL("Error setting route INFO with Cluster.Advertise value of %s, err=%s",
                config_.advertise.c_str(), why.c_str());
      return false;
    }
    base_info_.host = host;
    base_info_.port = port;
    base_info_.ip = "nats-route://" + JoinHostPort(host, port) + "/";
  } else {
    base_info_.host = config_.host.empty() ? "0.0.0.0" : config_.host;
    base_info_.port = listener_.port();
  }
  if (!config_.no_advertise) base_info_.connect_urls = server_.OwnClientUrls();
  base_info_.tls_required = base_info_.tls_verify = tls_ != nullptr;
  {
    std::lock_guard lock(mu_);
    AddClientUrls({});  // our own URLs first
  }
  // The replies to requests that come in through a service import are routed back to this
  // server: its exporting accounts are interested in their own response subjects.
  for (const auto& account : server_.accounts().all()) {
    if (account->live() && account->exports_services()) {
      interest_[account->index()]->response_interest = true;
      LocalInterest(*account, account->response_prefix() + ">", +1);
    }
  }
  if (!listener_.Listen(
          [this](int fd, const sockaddr_storage& addr) {
            server_.NextWorker().PostNewConnection(
                fd, addr, [this](Worker& worker, int fd, uint64_t id, std::string ip, int port) {
                  return new Route(server_, worker, *this, fd, id, std::move(ip), port, nullptr,
                                   false);
                });
          },
          error)) {
    LOG_FATAL("Error listening on router port: %d - %s", config_.port, error.c_str());
    return false;
  }
  LOG_INFO("Listening for route connections on %s",
           JoinHostPort(config_.host.empty() ? "0.0.0.0" : config_.host, listener_.port()).c_str());
  dialer_ = std::thread([this] { DialLoop(); });
  for (const RouteUrl& url : config_.routes) {
    Schedule(DialJob{url, true, true, 0, std::chrono::steady_clock::now(), {}});
  }
  return true;
}

void Routes::Stop() {
  listener_.Stop();
  {
    std::lock_guard lock(dial_mu_);
    stopping_ = true;
  }
  dial_cv_.notify_all();
  if (dialer_.joinable()) dialer_.join();
}

// ---- Identity ----

std::string Routes::name() const {
  std::lock_guard lock(mu_);
  return name_;
}

bool Routes::name_dynamic() const {
  std::lock_guard lock(mu_);
  return dynamic_name_;
}

const std::string& Routes::server_id() const { return server_id_; }

void Routes::AdoptName(const std::string& name, const Route* keep) {
  std::vector<std::pair<Worker*, uint64_t>> others;
  {
    std::lock_guard lock(mu_);
    if (!dynamic_name_ || name == name_) return;
    name_ = name;
    for (Route* r : routes_) {
      if (r != keep) others.emplace_back(&r->worker(), r->id());
    }
  }
  LOG_INFO("Cluster name updated to %s", name.c_str());
  for (const auto& target : others) {
    Worker* worker = target.first;
    uint64_t id = target.second;
    worker->PostRun(
        [worker, id] { worker->CloseConnection(id, CloseReason::kClusterNameConflict); });
  }
}

void Routes::SendLameDuck() {
  std::string line = InfoLine(/*ldm=*/true);
  std::lock_guard lock(mu_);
  for (Route* r : routes_) r->PostBytes(line);
}

std::string Routes::InfoLine(bool ldm) const {
  RouteInfo info;
  {
    std::lock_guard lock(mu_);
    info = base_info_;
    info.cluster = name_;
    info.cluster_dynamic = dynamic_name_;
  }
  info.ldm = ldm;
  // A nonce, as the reference sends (routes do not sign it).
  info.nonce = nkey::NewNonce();
  return RouteInfoLine(info);
}

// ---- Registry ----

bool Routes::Register(Route& route, bool& gossip) {
  std::lock_guard lock(mu_);
  if (remotes_.count(route.remote_id()) > 0) return false;
  remotes_.emplace(route.remote_id(), &route);
  routes_.push_back(&route);
  gossip = routes_.size() > 1;
  if (!config_.no_advertise) {
    for (const std::string& url : route.remote_client_urls()) ++client_url_refs_[url];
    PublishClientUrls();
  }
  return true;
}

void Routes::Unregister(Route& route, bool reconnect) {
  bool connected_otherwise = false;
  std::optional<std::pair<RouteUrl, bool>> redial;  // a dropped duplicate's URL, if any
  {
    std::lock_guard lock(mu_);
    auto it = std::find(routes_.begin(), routes_.end(), &route);
    if (it != routes_.end()) {
      routes_.erase(it);
      auto r = remotes_.find(route.remote_id());
      if (r != remotes_.end() && r->second == &route) {
        remotes_.erase(r);
        if (auto d = redial_.find(route.remote_id()); d != redial_.end()) {
          redial = std::move(d->second);
          redial_.erase(d);
        }
        if (!config_.no_advertise) {
          for (const std::string& url : route.remote_client_urls()) {
            if (--client_url_refs_[url] <= 0) client_url_refs_.erase(url);
          }
          PublishClientUrls();
        }
      }
    }
    connected_otherwise = !route.remote_id().empty() && remotes_.count(route.remote_id()) > 0;
  }
  if (!reconnect) return;
  if (route.did_solicit()) {
    redial.emplace(*route.dialed(), route.is_explicit());
  } else if (!redial) {
    return;  // the peer dialed it: the peer dials again
  }
  if (connected_otherwise) {
    LOG_DEBUG("Not attempting reconnect for solicited route, already connected to \"%s\"",
              route.remote_id().c_str());
    return;
  }
  const RouteUrl& url = redial->first;
  bool explicit_route = redial->second;
  // A configured route is dialed again forever; a gossiped one `connect_retries` times.
  if (explicit_route && !IsConfigured(url)) return;
  LOG_DEBUG("Attempting reconnect for solicited route \"%s\"", url.text.c_str());
  std::uniform_int_distribution<int> jitter(0, 99);
  static thread_local std::mt19937 rng(std::random_device{}());
  auto delay = std::chrono::milliseconds(jitter(rng));
  if (explicit_route) delay += kRouteReconnectDelay;
  // Two servers that dialed each other at once may each keep the route it dialed and drop the
  // other's, losing both (route.go addRoute); redialing after the same delay repeats that while
  // a handshake takes longer than the jitter (a loaded or sanitized build). The server with the
  // greater id waits a second more, and skips its dial if the other's route is up by then.
  if (server_id_ > route.remote_id()) delay += kRouteReconnectDelay;
  Schedule(DialJob{url, explicit_route, false, 0, std::chrono::steady_clock::now() + delay,
                   route.remote_id()});
}

void Routes::UpgradeExisting(const std::string& remote_id, const RouteUrl& url,
                             bool explicit_route) {
  std::lock_guard lock(mu_);
  auto it = remotes_.find(remote_id);
  if (it == remotes_.end()) return;
  redial_.try_emplace(remote_id, url, explicit_route);
  Worker& worker = it->second->worker();
  worker.PostToConnection(it->second->id(), [url, explicit_route](Connection& c) {
    if (c.is_route()) static_cast<Route&>(c).UpgradeToSolicited(url, explicit_route);
  });
}

bool Routes::IsDuplicateServerName(const std::string& name) const {
  // As the reference's processRouteInfo: a peer named as this server is refused.
  return !name.empty() && name == server_name_;
}

size_t Routes::num_routes() const {
  std::lock_guard lock(mu_);
  return routes_.size();
}

void Routes::ForwardNewRoute(const Route& from, RouteInfo info) {
  // The nonce is not for the others (route.go forwardNewRouteInfoToKnownServers).
  info.nonce.clear();
  std::string line = RouteInfoLine(info);
  std::lock_guard lock(mu_);
  for (Route* r : routes_) {
    if (r != &from && r->remote_id() != info.server_id) r->PostBytes(line);
  }
}

void Routes::ImplicitRoute(const RouteInfo& info) {
  if (info.server_id == server_id_) return;
  {
    std::lock_guard lock(mu_);
    if (remotes_.count(info.server_id) > 0) return;
  }
  // One of our configured routes: the dialer has it already.
  std::string host_port = AsciiLower(JoinHostPort(info.host, info.port));
  {
    std::lock_guard lock(mu_);
    for (const RouteUrl& u : configured_) {
      if (AsciiLower(JoinHostPort(u.host, u.port)) == host_port) return;
    }
  }
  std::string why;
  auto url = ParseRouteUrl(info.ip, &why);
  if (!url) {
    LOG_ERROR("Error parsing URL from INFO: %s", why.c_str());
    return;
  }
  if (info.auth_required) {
    std::lock_guard lock(mu_);
    url->user = username_;
    url->password = password_;
  }
  Schedule(DialJob{*url, false, true, 0, std::chrono::steady_clock::now(), {}});
}

// ---- Dialing ----

void Routes::Schedule(DialJob job) {
  {
    std::lock_guard lock(dial_mu_);
    if (stopping_) return;
    dial_jobs_.push_back(std::move(job));
  }
  dial_cv_.notify_all();
}

int Routes::Dial(const DialJob& job, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(job.url.port);
  if (int rc = getaddrinfo(job.url.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = std::string("dial tcp: lookup ") + job.url.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int ready =
          poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kRouteDialTimeout).count()));
      int soerr = ready > 0 ? 0 : ETIMEDOUT;
      socklen_t len = sizeof soerr;
      if (ready > 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      rc = soerr == 0 ? 0 : -1;
      errno = soerr;
    }
    if (rc != 0) {
      error = "dial tcp " + JoinHostPort(job.url.host, job.url.port) +
              ": connect: " + std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

void Routes::DialLoop() {
  std::unique_lock lock(dial_mu_);
  while (!stopping_) {
    if (dial_jobs_.empty()) {
      dial_cv_.wait(lock);
      continue;
    }
    auto next = std::min_element(dial_jobs_.begin(), dial_jobs_.end(),
                                 [](const DialJob& a, const DialJob& b) { return a.due < b.due; });
    if (next->due > std::chrono::steady_clock::now()) {
      // A copy: the job list may grow (and move) while this thread waits.
      const auto due = next->due;
      dial_cv_.wait_until(lock, due);
      continue;
    }
    DialJob job = std::move(*next);
    dial_jobs_.erase(next);
    lock.unlock();
    // A configured route removed by a reload is not dialed any more.
    bool wanted = !job.explicit_route || IsConfigured(job.url);
    if (wanted && !job.remote_id.empty()) {
      // A redial whose server dialed us meanwhile: that route stands for this one, and this URL
      // is dialed again when it closes.
      std::lock_guard registry(mu_);
      if (remotes_.count(job.remote_id) > 0) {
        redial_.try_emplace(job.remote_id, job.url, job.explicit_route);
        wanted = false;
      }
    }
    // Gossip may name a peer we are connected to by now.
    std::string error;
    int fd = wanted ? Dial(job, error) : -1;
    if (fd >= 0) {
      LOG_DEBUG("Trying to connect to route on %s",
                JoinHostPort(job.url.host, job.url.port).c_str());
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      auto url = std::make_shared<RouteUrl>(job.url);
      bool explicit_route = job.explicit_route;
      server_.NextWorker().PostNewConnection(
          fd, addr,
          [this, url, explicit_route](Worker& worker, int fd, uint64_t id, std::string ip,
                                      int port) {
            return new Route(server_, worker, *this, fd, id, std::move(ip), port, url.get(),
                             explicit_route);
          });
    } else if (wanted) {
      job.attempts++;
      bool report = job.attempts == 1 ||
                    (job.first_connect ? job.attempts % kConnectErrorReports == 0 : true);
      if (report) {
        LOG_ERROR("Error trying to connect to route (attempt %d): %s", job.attempts, error.c_str());
      } else {
        LOG_DEBUG("Error trying to connect to route (attempt %d): %s", job.attempts, error.c_str());
      }
      bool retry = job.explicit_route ||
                   (config_.connect_retries > 0 && job.attempts <= config_.connect_retries);
      if (retry) {
        job.due = std::chrono::steady_clock::now() + kRouteConnectDelay;
        lock.lock();
        dial_jobs_.push_back(std::move(job));
        continue;
      }
    }
    lock.lock();
  }
}

// ---- Interest ----

bool Routes::CanImport(std::string_view subject) const {
  auto perms = permissions_.Load();
  return !perms || perms->PublishAllowed(subject);
}

bool Routes::CanExport(std::string_view subject, std::string_view queue) const {
  auto perms = permissions_.Load();
  return !perms || perms->SubscribeAllowed(subject, queue);
}

std::shared_ptr<const Routes::ShadowTable> Routes::BuildShadowTable(Server& server) {
  auto accounts = server.accounts().all();
  auto table = std::make_shared<ShadowTable>(accounts.size());
  for (const auto& exporter : accounts) {
    for (const Account::StreamRoute& r : exporter->stream_routes()) {
      (*table)[r.importer->index()].push_back(
          {exporter->index(), r.from, r.prefix, r.to, r.transform.has_value()});
    }
  }
  return table;
}

template <typename Fn>
void Routes::ForEachShadow(const ShadowTable& table, size_t index, std::string_view subject,
                           Fn&& fn) {
  if (index >= table.size()) return;
  for (const ShadowImport& r : table[index]) {
    std::string importer_side;
    if (!r.prefix.empty()) {
      importer_side = r.prefix + r.from;
    } else if (!r.to.empty() && !r.transform) {
      importer_side = r.to;
    } else {
      importer_side = ">";  // a transform: whatever it maps to
    }
    if (!SubjectsIntersect(subject, importer_side)) continue;
    std::string_view exporter_subject = r.from;
    if (!r.prefix.empty() && subject.starts_with(r.prefix) &&
        auth::SubjectIsSubset(subject, importer_side)) {
      exporter_subject = subject.substr(r.prefix.size());
    }
    fn(r.exporter, exporter_subject);
  }
}

void Routes::LocalInterest(const Account& account, const Subscription& sub, int delta) {
  std::shared_lock shadow(shadow_mu_);
  ChangeInterest(account, InterestKey(sub.subject, sub.queue), sub.subject, sub.queue, delta,
                 /*own=*/true);
  // A subscription in an account that imports streams is also interest in the exporting
  // account, where the messages cross routes (the reference's shadow subscriptions): under the
  // exporter's subject when the import maps a prefix, else under the import's whole subject.
  auto accounts = server_.accounts().all();
  ForEachShadow(*shadows_, account.index(), sub.subject,
                [&](size_t exporter, std::string_view subject) {
                  ChangeInterest(*accounts[exporter], InterestKey(subject, sub.queue), subject,
                                 sub.queue, delta, /*own=*/false);
                });
}

void Routes::LocalInterest(const Account& account, const std::string& subject, int delta) {
  ChangeInterest(account, subject, subject, {}, delta, /*own=*/false);
}

void Routes::AddAccounts() {
  size_t n = server_.accounts().size();
  while (interest_.size() < n) interest_.push_back(std::make_unique<AccountInterest>());
  interest_count_.store(interest_.size(), std::memory_order_release);
}

void Routes::AccountsReloaded() {
  auto next = BuildShadowTable(server_);
  auto accounts = server_.accounts().all();
  const size_t n = interest_count_.load(std::memory_order_acquire);
  {
    std::unique_lock shadow(shadow_mu_);
    const ShadowTable& old = *shadows_;
    static const std::vector<ShadowImport> kNone;
    // (exporter, key) -> the net change, so interest an import keeps sends nothing.
    std::map<std::pair<size_t, std::string>, int32_t> changes;
    for (size_t i = 0; i < n; ++i) {
      const auto& before = i < old.size() ? old[i] : kNone;
      const auto& after = i < next->size() ? (*next)[i] : kNone;
      if (before == after) continue;
      std::vector<std::pair<std::string, int32_t>> own;
      {
        std::lock_guard lock(interest_[i]->mu);
        own.assign(interest_[i]->own.begin(), interest_[i]->own.end());
      }
      for (const auto& [key, count] : own) {
        std::string_view subject = std::string_view(key).substr(0, key.find(' '));
        std::string_view queue = subject.size() < key.size()
                                     ? std::string_view(key).substr(subject.size() + 1)
                                     : std::string_view();
        auto add = [&](int32_t delta) {
          return [&, delta](size_t exporter, std::string_view exporter_subject) {
            changes[{exporter, InterestKey(exporter_subject, queue)}] += delta;
          };
        };
        ForEachShadow(old, i, subject, add(-count));
        ForEachShadow(*next, i, subject, add(count));
      }
    }
    for (const auto& [where, delta] : changes) {
      if (delta == 0) continue;
      const std::string& key = where.second;
      size_t space = key.find(' ');
      std::string_view subject = std::string_view(key).substr(0, space);
      std::string_view queue =
          space == std::string::npos ? std::string_view() : std::string_view(key).substr(space + 1);
      ChangeInterest(*accounts[where.first], key, subject, queue, delta, /*own=*/false);
    }
    shadows_ = std::move(next);
  }
  // The replies to requests into services: an account that exports services now is
  // interested in its response subjects, one that no longer does (or was removed) is not.
  for (size_t i = 0; i < n; ++i) {
    const Account& account = *accounts[i];
    bool want = account.live() && account.exports_services();
    if (interest_[i]->response_interest == want) continue;
    interest_[i]->response_interest = want;
    LocalInterest(account, account.response_prefix() + ">", want ? +1 : -1);
  }
}

void Routes::ChangeInterest(const Account& account, const std::string& key,
                            std::string_view subject, std::string_view queue, int delta, bool own) {
  AccountInterest& ai = *interest_[account.index()];
  std::lock_guard lock(ai.mu);
  if (own) {
    int32_t& mine = ai.own[key];
    mine += delta;
    if (mine <= 0) ai.own.erase(key);
  }
  // As the reference's updateRouteSubscriptionMap: a plain subject is sent on 0 -> 1 and
  // removed on 1 -> 0; a queue group's weight is sent on every change.
  int32_t n = 0;
  bool update = !queue.empty();
  auto it = ai.counts.find(key);
  if (it != ai.counts.end()) {
    n = it->second + delta;
    if (n <= 0) {
      ai.counts.erase(it);
      n = 0;
      update = true;
    } else {
      it->second = n;
    }
  } else if (delta > 0) {
    n = delta;
    ai.counts.emplace(key, n);
    update = true;
  } else {
    return;
  }
  if (!update || !CanImport(subject)) return;
  std::string line = n > 0 ? "RS+ " : "RS- ";
  line += account.name();
  line += ' ';
  line.append(subject);
  if (!queue.empty()) {
    line += ' ';
    line.append(queue);
    if (n > 0) line += ' ' + std::to_string(n);
  }
  line += "\r\n";
  SendToRoutes(line);
}

void Routes::SendToRoutes(const std::string& line) {
  std::lock_guard lock(mu_);
  for (Route* r : routes_) r->PostBytes(line);
}

void Routes::SendAllInterest(Route& route) {
  std::string bulk;
  auto accounts = server_.accounts().all();
  const size_t n = std::min(accounts.size(), interest_count_.load(std::memory_order_acquire));
  for (size_t i = 0; i < n; ++i) {
    const auto& account = accounts[i];
    AccountInterest& ai = *interest_[i];
    std::lock_guard lock(ai.mu);
    bulk.clear();
    for (const auto& [key, n] : ai.counts) {
      size_t space = key.find(' ');
      std::string_view subject = std::string_view(key).substr(0, space);
      if (!CanImport(subject)) continue;
      bulk += "RS+ ";
      bulk += account->name();
      bulk += ' ';
      bulk += key;
      if (space != std::string::npos) bulk += ' ' + std::to_string(n);
      bulk += "\r\n";
    }
    // Under the account's lock, so no change of its interest can pass this bulk.
    if (!bulk.empty()) route.PostBytes(bulk);
  }
  LOG_DEBUG("%s - Sent local subscriptions to route", route.log_prefix().c_str());
}

// ---- Client URLs ----

void Routes::AddClientUrls(const std::vector<std::string>& urls) {
  for (const std::string& url : urls) ++client_url_refs_[url];
  PublishClientUrls();
}

void Routes::RemoveClientUrls(const std::vector<std::string>& urls) {
  std::lock_guard lock(mu_);
  for (const std::string& url : urls) {
    auto it = client_url_refs_.find(url);
    if (it != client_url_refs_.end() && --it->second <= 0) client_url_refs_.erase(it);
  }
  PublishClientUrls();
}

void Routes::PublishClientUrls() {
  // Our own URLs first, then the peers' in a stable order.
  std::vector<std::string> own = server_.OwnClientUrls();
  auto urls = std::make_shared<std::vector<std::string>>(own);
  std::vector<std::string> others;
  for (const auto& [url, refs] : client_url_refs_) {
    if (std::find(own.begin(), own.end(), url) == own.end()) others.push_back(url);
  }
  std::sort(others.begin(), others.end());
  urls->insert(urls->end(), others.begin(), others.end());
  if (client_urls_ && *client_urls_ == *urls) return;
  client_urls_ = std::move(urls);
  client_urls_changed_ = std::chrono::steady_clock::now();
  server_.ClientUrlsChanged();
}

std::shared_ptr<const std::vector<std::string>> Routes::client_urls() const {
  std::lock_guard lock(mu_);
  return client_urls_;
}

std::chrono::steady_clock::time_point Routes::client_urls_changed() const {
  std::lock_guard lock(mu_);
  return client_urls_changed_;
}

// ---- Monitoring ----

std::vector<std::string> Routes::configured_urls() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const RouteUrl& u : configured_) out.push_back(u.text);
  return out;
}

std::vector<RouteSnapshot> Routes::Snapshot(bool with_subs, std::chrono::milliseconds timeout) {
  struct Gather {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
    std::vector<RouteSnapshot> out;
  };
  auto gather = std::make_shared<Gather>();
  std::vector<std::pair<Worker*, uint64_t>> targets;
  {
    std::lock_guard lock(mu_);
    for (Route* r : routes_) targets.emplace_back(&r->worker(), r->id());
  }
  gather->left = targets.size();
  for (const auto& target : targets) {
    Worker* worker = target.first;
    uint64_t id = target.second;
    worker->PostRun([worker, id, gather, with_subs] {
      RouteSnapshot snap;
      bool found = false;
      if (Connection* c = worker->FindConnection(id); c && c->is_route() && !c->closing()) {
        static_cast<Route*>(c)->RouteSnapshotInto(snap, with_subs);
        found = true;
      }
      std::lock_guard lock(gather->mu);
      if (found) gather->out.push_back(std::move(snap));
      if (--gather->left == 0) gather->cv.notify_all();
    });
  }
  std::unique_lock lock(gather->mu);
  gather->cv.wait_for(lock, timeout, [&] { return gather->left == 0; });
  std::vector<RouteSnapshot> out = gather->out;
  std::sort(out.begin(), out.end(),
            [](const RouteSnapshot& a, const RouteSnapshot& b) { return a.rid < b.rid; });
  return out;
}

}  // namespace gannet
