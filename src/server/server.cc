// The server: listener, accept loop, workers, INFO (see server.h).
#include "server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "base/logger.h"
#include "base/strings.h"
#include "core/fast_random.h"
#include "server/client/client.h"
#include "server/cluster/routes.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/events/system_events.h"
#include "server/monitor/monitor.h"

namespace gannet {

namespace {

// A server id shaped like the reference's (an nkey public server key: 'N' + 55 base32 chars).
std::string NewServerId() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::string id = "N";
  for (int i = 0; i < 55; ++i) id += kAlphabet[rng() % 32];
  return id;
}

// The URLs other servers' clients should dial to reach this one (server.go
// getClientConnectURLs): host:port, or for 0.0.0.0 and :: every global unicast address.
std::vector<std::string> ClientUrlsFor(const std::string& host, int port) {
  std::vector<std::string> urls;
  auto join = [port](const std::string& ip) {
    return ip.find(':') != std::string::npos ? "[" + ip + "]:" + std::to_string(port)
                                             : ip + ":" + std::to_string(port);
  };
  if (host == "0.0.0.0" || host == "::" || host.empty()) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) == 0) {
      for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        if (i->ifa_addr->sa_family == AF_INET) {
          auto* a = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
          uint32_t v = ntohl(a->sin_addr.s_addr);
          // Global unicast: not loopback (127/8), unspecified, link-local (169.254/16),
          // multicast or broadcast.
          if ((v >> 24) == 127 || v == 0 || (v >> 16) == 0xa9fe || (v >> 28) == 0xe ||
              v == 0xffffffff) {
            continue;
          }
          inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
          auto* a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
          const in6_addr& ip = a->sin6_addr;
          if (IN6_IS_ADDR_LOOPBACK(&ip) || IN6_IS_ADDR_UNSPECIFIED(&ip) ||
              IN6_IS_ADDR_LINKLOCAL(&ip) || IN6_IS_ADDR_MULTICAST(&ip)) {
            continue;
          }
          inet_ntop(AF_INET6, &ip, buf, sizeof buf);
        } else {
          continue;
        }
        std::string url = join(buf);
        if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
      }
      freeifaddrs(list);
    }
    if (!urls.empty()) return urls;
  }
  urls.push_back(join(host));
  return urls;
}

}  // namespace

Server::Server(Options options)
    : options_(std::move(options)),
      server_id_(NewServerId()),
      accounts_(options_),
      pending_budget_(options_.max_pending_total < 0 ? DefaultPendingTotal()
                                                     : options_.max_pending_total),
      start_time_(std::chrono::system_clock::now()) {
  if (options_.server_name.empty()) options_.server_name = server_id_;
  config_ = std::make_shared<const ServerConfig>(options_, server_id_);
  // Internal clients take ids 1-3 in the reference, so its first real client is cid 4.
  next_cid_ = 3;
}

Server::~Server() { Shutdown(); }

std::shared_ptr<const ServerConfig> Server::config() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

bool Server::Start() {
  LOG_INFO("Starting gannet-server");
  LOG_INFO("  Version:  %s (compatible with nats-server %s)", GANNET_VERSION,
           kCompatibleNatsVersion);
  LOG_INFO("  Git:      [not set]");
  if (options_.cluster.configured && !options_.cluster.name.empty()) {
    LOG_INFO("  Cluster:  %s", options_.cluster.name.c_str());
  }
  LOG_INFO("  Name:     %s", options_.server_name.c_str());
  LOG_INFO("  ID:       %s", server_id_.c_str());
  if (!options_.config_file.empty()) {
    LOG_INFO("Using configuration file: %s", options_.config_file.c_str());
  }
  if (config_->authenticator().has_plaintext_passwords()) {
    LOG_WARN("Plaintext passwords detected, use nkeys or bcrypt");
  }
  LOG_DEBUG("  Threads:  %d", options_.threads);

  if (options_.tls.configured) {
    std::string error;
    auto tls = TlsContext::Create(options_.tls, error);
    if (!tls) {
      LOG_FATAL("TLS configuration error: %s", error.c_str());
      return false;
    }
    tls_.Store(std::move(tls));
  }
  if (options_.https_port != 0) {
    // As the reference's StartMonitoring.
    if (options_.http_port != 0) {
      LOG_FATAL("Can't start monitoring: can't specify both HTTP (%d) and HTTPs (%d) ports",
                options_.http_port, options_.https_port);
      return false;
    }
    if (!options_.tls.configured) {
      LOG_FATAL("Can't start monitoring: TLS cert and key required for HTTPS");
      return false;
    }
  }

  std::string error;
  if (!client_listener_.Bind(options_.host, options_.port, error)) {
    LOG_FATAL("Error listening on port: %s:%d, \"%s\"", options_.host.c_str(), options_.port,
              error.c_str());
    return false;
  }

  own_client_urls_ = ClientUrlsFor(options_.host, client_listener_.port());
  // Made before anything that may ask for it runs (monitoring, clients' INFO); started once
  // clients are let in, as the reference.
  if (options_.cluster.Enabled()) routes_ = std::make_unique<Routes>(*this, options_);

  reclaimer_ = std::make_unique<Reclaimer>(static_cast<size_t>(options_.threads));
  auth_pool_.Start(static_cast<size_t>(std::clamp(options_.threads, 2, 8)));
  for (int i = 0; i < options_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, static_cast<size_t>(i)));
  }
  monitor_ = std::make_unique<Monitor>(*this);
  if (Account* system = accounts_.system()) {
    LOG_DEBUG("System account is %s", system->name().c_str());
    events_ = std::make_unique<SystemEvents>(*this, *system, *workers_.front(), *monitor_);
  }
  for (auto& w : workers_) {
    if (!w->Start()) {
      Shutdown();
      return false;
    }
  }

  if (options_.http_port != 0 || options_.https_port != 0) {
    if (!monitor_->Start()) {
      Shutdown();
      return false;
    }
  }
  if (events_) events_->Start();
  // Clients are let in only once monitoring is up (as the reference), so whoever sees the
  // client port open can query the monitoring port.
  if (!client_listener_.Listen(
          [this](int fd, const sockaddr_storage& addr) {
            total_connections.fetch_add(1, std::memory_order_relaxed);
            NextWorker().PostNewConnection(
                fd, addr, [](Worker& worker, int fd, uint64_t id, std::string ip, int port) {
                  return new Client(worker.server(), worker, fd, id, std::move(ip), port);
                });
          },
          error)) {
    LOG_FATAL("Error listening on port: %s:%d, \"%s\"", options_.host.c_str(), options_.port,
              error.c_str());
    Shutdown();
    return false;
  }
  LOG_INFO("Listening for client connections on %s:%d", options_.host.c_str(),
           client_listener_.port());
  if (tls_context()) LOG_INFO("TLS required for client connections");
  LOG_INFO("Server is ready");
  if (routes_) {
    if (!routes_->Start()) {
      Shutdown();
      return false;
    }
  }
  return true;
}

std::string Server::ClientInfo(const ServerConfig& config, uint64_t cid, const std::string& ip,
                               std::string_view nonce, const TlsContext* tls, bool ldm,
                               int64_t max_payload) const {
  std::string tail;
  if (routes_) {
    tail = ",\"cluster\":" + JsonQuote(routes_->name());
    if (routes_->name_dynamic()) tail += ",\"cluster_dynamic\":true";
    auto urls = routes_->client_urls();
    if (urls && !urls->empty()) {
      tail += ",\"connect_urls\":[";
      for (size_t i = 0; i < urls->size(); ++i) {
        if (i) tail += ',';
        tail += JsonQuote((*urls)[i]);
      }
      tail += ']';
    }
  }
  if (ldm) tail += ",\"ldm\":true";
  return config.ClientInfo(cid, ip, nonce, tls, tail, max_payload);
}

void Server::ClientUrlsChanged() {
  if (shutdown_.load()) return;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->PostRun([this, worker] {
      worker->ForEachConnection([&](Connection& conn) {
        if (conn.kind() != ConnectionKind::kClient) return;
        auto& c = static_cast<Client&>(conn);
        if (c.TakesAsyncInfo()) {
          c.SendProto(ClientInfo(worker->config(), c.cid(), c.ip(), {}, c.tls_context(),
                                 in_lame_duck_mode(), c.max_payload()));
        }
      });
    });
  }
}

Worker& Server::NextWorker() {
  size_t i = next_worker_.fetch_add(1, std::memory_order_relaxed);
  return *workers_[i % workers_.size()];
}

void Server::StopAccepting() { client_listener_.Stop(); }

void Server::Shutdown() {
  if (shutdown_.exchange(true)) return;
  InterruptLameDuck();
  // The shutdown event goes out while the workers and routes still run, after the events of
  // the clients closed so far (lame duck mode's last ones: the workers' queues are run first).
  if (events_ && events_->started()) {
    Gather(false, false, 0, std::chrono::seconds(2));
    events_->Shutdown();
  }
  if (routes_) routes_->Stop();
  // Monitoring first: its requests wait on the workers.
  if (monitor_) monitor_->Stop();
  StopAccepting();
  auth_pool_.Stop();
  for (auto& w : workers_) w->Stop();
  for (auto& w : workers_) w->Join();
  if (reclaimer_) reclaimer_->CollectAll();
  workers_.clear();
}

void Server::AddMonitorRoute(std::string prefix, HttpHandler handler) {
  monitor_routes_.emplace_back(std::move(prefix), std::move(handler));
}

void Server::AddMetricsSource(std::function<std::string()> source) {
  metrics_sources_.push_back(std::move(source));
}

int Server::monitor_port() const { return monitor_ ? monitor_->port() : 0; }

void Server::SetTlsContext(std::shared_ptr<const TlsContext> next) {
  if (monitor_) monitor_->SetTlsContext(next);
  tls_.Store(std::move(next));
}

void Server::RecordClosed(ConnSnapshot closed) {
  if (options_.max_closed_clients <= 0) return;
  std::lock_guard lock(closed_mu_);
  if (closed_.size() >= static_cast<size_t>(options_.max_closed_clients)) closed_.pop_front();
  closed_.push_back(std::move(closed));
}

std::vector<ConnSnapshot> Server::ClosedConnections() const {
  std::lock_guard lock(closed_mu_);
  return {closed_.begin(), closed_.end()};
}

std::shared_ptr<SnapshotRequest> Server::Gather(bool want_conns, bool want_subs, uint64_t only_cid,
                                                std::chrono::milliseconds timeout) {
  auto request = std::make_shared<SnapshotRequest>();
  request->want_conns = want_conns;
  request->want_subs = want_subs;
  request->only_cid = only_cid;
  request->workers_left = workers_.size();
  for (auto& w : workers_) w->PostSnapshot(request);
  std::unique_lock lock(request->mu);
  if (!request->done.wait_for(lock, timeout, [&] { return request->workers_left == 0; })) {
    return nullptr;
  }
  return request;
}

}  // namespace gannet

namespace gannet {

bool Server::LameDuckWait(std::chrono::nanoseconds d) {
  std::unique_lock lock(ldm_mu_);
  return !ldm_cv_.wait_for(lock, d, [&] { return ldm_interrupted_; });
}

void Server::InterruptLameDuck() {
  std::lock_guard lock(ldm_mu_);
  ldm_interrupted_ = true;
  ldm_cv_.notify_all();
}

void Server::LameDuckMode() {
  if (shutdown_.load() || ldm_.exchange(true)) return;
  LOG_INFO("Entering lame duck mode, stop accepting new clients");
  StopAccepting();
  // The peers drop this server's client URLs from what they give their clients (route.go
  // sendLDMToRoutes).
  if (routes_) routes_->SendLameDuck();

  // On each worker's own thread: tell the clients that take INFO updates, and list them all.
  struct Listing {
    std::mutex mu;
    std::condition_variable cv;
    size_t pending;
    std::vector<std::pair<Worker*, uint64_t>> clients;
  };
  auto listing = std::make_shared<Listing>();
  listing->pending = workers_.size();
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->PostRun([this, worker, listing] {
      std::vector<std::pair<Worker*, uint64_t>> mine;
      worker->ForEachConnection([&](Connection& conn) {
        if (conn.kind() != ConnectionKind::kClient) return;
        auto& c = static_cast<Client&>(conn);
        if (c.TakesAsyncInfo()) {
          c.SendProto(ClientInfo(worker->config(), c.cid(), c.ip(), {}, c.tls_context(), true,
                                 c.max_payload()));
        }
        mine.emplace_back(worker, c.cid());
      });
      std::lock_guard lock(listing->mu);
      listing->clients.insert(listing->clients.end(), mine.begin(), mine.end());
      if (--listing->pending == 0) listing->cv.notify_all();
    });
  }
  std::vector<std::pair<Worker*, uint64_t>> clients;
  {
    std::unique_lock lock(listing->mu);
    if (!listing->cv.wait_for(lock, std::chrono::seconds(10),
                              [&] { return listing->pending == 0; })) {
      LOG_ERROR("Lame duck mode: a worker did not answer; shutting down now");
      return;
    }
    clients = std::move(listing->clients);
  }
  if (clients.empty()) return;

  // Spread the closes over what is left of the duration after the grace period: at least
  // half an interval apart, at most a second (the reference's pacing).
  using std::chrono::nanoseconds;
  nanoseconds grace = options_.lame_duck_grace_period;
  nanoseconds dur = options_.lame_duck_duration - grace;
  if (dur.count() <= 0) dur = std::chrono::seconds(1);
  const auto n = static_cast<int64_t>(clients.size());
  int64_t si = dur.count() / n;
  int64_t batch = 1;
  if (si < 1) {
    si = 1;
    batch = n / dur.count();
  } else if (si > 1'000'000'000) {
    si = 1'000'000'000;
  }
  if (!LameDuckWait(grace)) return;
  LOG_INFO("Closing existing clients");
  FastRandom rng(
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  for (size_t i = 0; i < clients.size(); ++i) {
    Worker* worker = clients[i].first;
    uint64_t cid = clients[i].second;
    worker->PostRun([worker, cid] { worker->CloseConnection(cid, CloseReason::kServerShutdown); });
    if (i + 1 == clients.size()) break;
    if (batch == 1 || static_cast<int64_t>(i) % batch == 0) {
      auto v = static_cast<int64_t>(rng.Below(static_cast<size_t>(si)));
      if (v < si / 2) v = si / 2;
      if (!LameDuckWait(nanoseconds(v))) return;
    }
  }
}

}  // namespace gannet
