// The server: listener, accept loop, workers, INFO (see server.h).
#include "server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "core/fast_random.h"
#include "server/client.h"
#include "server/logger.h"
#include "server/monitor.h"
#include "server/tls_context.h"
#include "server/worker.h"

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

}  // namespace

Server::Server(Options options)
    : options_(std::move(options)),
      server_id_(NewServerId()),
      accounts_(options_),
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
    tls_.store(std::move(tls));
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

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(options_.port);
  const char* host = options_.host.empty() ? nullptr : options_.host.c_str();
  if (int rc = getaddrinfo(host, port.c_str(), &hints, &res); rc != 0) {
    LOG_FATAL("Error listening on port: %s:%d, \"%s\"", options_.host.c_str(), options_.port,
              gai_strerror(rc));
    return false;
  }
  listen_fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd_, res->ai_addr, res->ai_addrlen) != 0) {
    LOG_FATAL("Error listening on port: %s:%d, \"%s\"", options_.host.c_str(), options_.port,
              std::strerror(errno));
    freeaddrinfo(res);
    close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port_ =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  reclaimer_ = std::make_unique<Reclaimer>(static_cast<size_t>(options_.threads));
  auth_pool_.Start(static_cast<size_t>(std::clamp(options_.threads, 2, 8)));
  for (int i = 0; i < options_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, static_cast<size_t>(i)));
  }
  for (auto& w : workers_) w->Start();

  if (options_.http_port != 0 || options_.https_port != 0) {
    monitor_ = std::make_unique<Monitor>(*this);
    if (!monitor_->Start()) {
      monitor_.reset();
      for (auto& w : workers_) w->Stop();
      for (auto& w : workers_) w->Join();
      workers_.clear();
      close(listen_fd_);
      listen_fd_ = -1;
      return false;
    }
  }
  // Clients are let in only once monitoring is up (as the reference), so whoever sees the
  // client port open can query the monitoring port.
  if (listen(listen_fd_, 4096) != 0) {
    LOG_FATAL("Error listening on port: %s:%d, \"%s\"", options_.host.c_str(), options_.port,
              std::strerror(errno));
    for (auto& w : workers_) w->Stop();
    for (auto& w : workers_) w->Join();
    workers_.clear();
    close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }

  LOG_INFO("Listening for client connections on %s:%d", options_.host.c_str(), bound_port_);
  if (tls_context()) LOG_INFO("TLS required for client connections");
  LOG_INFO("Server is ready");
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void Server::AcceptLoop() {
  while (!shutdown_.load()) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (shutdown_.load()) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        LOG_ERROR("Temporary Client Accept Error(%s), sleeping 10ms", std::strerror(errno));
        usleep(10000);
        continue;
      }
      if (errno == EINVAL || errno == EBADF) break;  // listener shut down
      LOG_ERROR("Client Accept Error: %s", std::strerror(errno));
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    total_connections.fetch_add(1, std::memory_order_relaxed);
    workers_[next_worker_]->PostNewConnection(fd, addr);
    next_worker_ = (next_worker_ + 1) % workers_.size();
  }
  LOG_DEBUG("Client accept loop exiting..");
}

void Server::StopAccepting() {
  std::lock_guard lock(accept_mu_);
  if (listen_fd_ >= 0) {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    close(listen_fd_);
    listen_fd_ = -1;
  }
}

void Server::Shutdown() {
  if (shutdown_.exchange(true)) return;
  InterruptLameDuck();
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
  tls_.store(std::move(next));
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
      worker->ForEachClient([&](Client& c) {
        if (c.TakesAsyncInfo()) {
          std::string info = worker->config().ClientInfo(c.cid(), c.ip(), {}, c.tls_context());
          info.insert(info.size() - 4, ",\"ldm\":true");  // before "} \r\n"
          c.SendProto(info);
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
    worker->PostRun([worker, cid] { worker->CloseClient(cid, CloseReason::kServerShutdown); });
    if (i + 1 == clients.size()) break;
    if (batch == 1 || static_cast<int64_t>(i) % batch == 0) {
      auto v = static_cast<int64_t>(rng.Below(static_cast<size_t>(si)));
      if (v < si / 2) v = si / 2;
      if (!LameDuckWait(nanoseconds(v))) return;
    }
  }
}

}  // namespace gannet
