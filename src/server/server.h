// The server: options, the shared subject index, the workers and the accept loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/auth_pool.h"
#include "base/shared_snapshot.h"
#include "core/reclaimer.h"
#include "server/account.h"
#include "server/config/options.h"
#include "server/config/server_config.h"
#include "server/conn/conn_snapshot.h"
#include "server/conn/flow_control.h"
#include "server/conn/listener.h"
#include "server/monitor/http_server.h"

namespace gannet {

class Worker;
class Monitor;
class SystemEvents;
class Routes;
class TlsContext;

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the client port and starts the workers and the accept loop. Logs the startup lines.
  bool Start();
  // Stops accepting, closes every connection, joins the threads. Idempotent.
  void Shutdown();
  // Lame duck mode (SIGUSR2, --signal ldm), as the reference: stops accepting, sends INFO
  // with "ldm":true to the clients that take INFO updates, waits the grace period, then closes
  // the clients spread over the rest of lame_duck_duration. Returns when all are closed (the
  // caller then shuts down), or soon after InterruptLameDuck.
  void LameDuckMode();
  void InterruptLameDuck();
  bool in_lame_duck_mode() const { return ldm_.load(); }

  // Config reload (SIGHUP, --signal reload), as the reference's reload.go: `next` (the file
  // read again, the command line's flags over it) replaces the running configuration if only
  // options the reference reloads changed and it passes ValidateOptions; else nothing changes
  // and the error says why. On
  // success every worker has taken the new configuration over (clients re-authenticated,
  // permissions re-applied, subscriptions now denied removed) when this returns. Main thread.
  std::optional<std::string> Reload(Options next);

  // The current configuration generation. Any thread (one lock); workers keep their own copy.
  std::shared_ptr<const ServerConfig> config() const;
  Accounts& accounts() { return accounts_; }
  Reclaimer& reclaimer() { return *reclaimer_; }
  const std::string& server_id() const { return server_id_; }
  int port() const { return client_listener_.port(); }

  // Connection ids: clients' cids and routes' rids share one sequence, as in the reference.
  uint64_t NextConnectionId() { return next_cid_.fetch_add(1) + 1; }
  // The worker a new connection goes to (round-robin). Any thread, once started.
  Worker& NextWorker();
  // The bytes all connections hold for their receivers, against max_pending_total.
  PendingBudget& pending_budget() { return pending_budget_; }
  bool shutting_down() const { return shutdown_.load(); }

  // Checks bcrypt passwords off the worker threads.
  AuthPool& auth_pool() { return auth_pool_; }

  // ---- The system account's services ----
  // Events and $SYS.REQ requests; null with no_system_account. Any thread, once started.
  SystemEvents* events() { return events_.get(); }

  // ---- Cluster ----
  // The routes manager; null when no cluster is configured.
  Routes* routes() { return routes_.get(); }
  // This server's client URLs as other servers' clients should dial them (client_advertise,
  // else host:port, with every global unicast address for 0.0.0.0 or ::). Any thread.
  const std::vector<std::string>& OwnClientUrls() const { return own_client_urls_; }
  // The cluster's client URLs changed (a peer came or went): every client that takes INFO
  // updates gets the new connect_urls. Any thread.
  void ClientUrlsChanged();
  // The INFO line for a new client: the configuration's, plus the cluster's name and URLs
  // (`max_payload`: the client's, see ServerConfig::ClientInfo).
  std::string ClientInfo(const ServerConfig& config, uint64_t cid, const std::string& ip,
                         std::string_view nonce, const TlsContext* tls, bool ldm = false,
                         int64_t max_payload = -1) const;

  // ---- TLS (the reload hook) ----
  // The context new client connections take (null without TLS). Any thread.
  std::shared_ptr<const TlsContext> tls_context() const { return tls_.Load(); }
  // Replaces it, e.g. with certificates reloaded on SIGHUP (TlsContext::Create from the new
  // options' tls {}): connections made from now on use `next`; those already up keep theirs
  // and are not disturbed. Any thread. HTTPS monitoring takes it too, for new connections.
  void SetTlsContext(std::shared_ptr<const TlsContext> next);

  // ---- Monitoring ----
  // Keeps a closed connection's last state (the newest max_closed_clients). Any worker thread.
  void RecordClosed(ConnSnapshot closed);
  // A copy of the closed connections, oldest first.
  std::vector<ConnSnapshot> ClosedConnections() const;
  // Asks every worker for its totals and (if asked) its connections' copies, on the workers'
  // own threads, and waits for all of them. Null if one did not answer within the timeout.
  std::shared_ptr<SnapshotRequest> Gather(bool want_conns, bool want_subs, uint64_t only_cid,
                                          std::chrono::milliseconds timeout);
  std::chrono::system_clock::time_point start_time() const { return start_time_; }
  int monitor_port() const;

  // ---- Monitoring extensions (a program embedding the server, e.g. gannet-streaming) ----
  // Requests whose path (after http_base_path) is `prefix` or under `prefix/` go to `handler`,
  // on the monitor thread. Call before Start.
  void AddMonitorRoute(std::string prefix, HttpHandler handler);
  // Prometheus text appended to /metrics, produced on the monitor thread. Call before Start.
  void AddMetricsSource(std::function<std::string()> source);
  const std::vector<std::pair<std::string, HttpHandler>>& monitor_routes() const {
    return monitor_routes_;
  }
  const std::vector<std::function<std::string()>>& metrics_sources() const {
    return metrics_sources_;
  }

  // Connection accounting.
  std::atomic<int64_t> num_clients{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> slow_consumers{0};

 private:
  void StopAccepting();
  // Runs `fn` on every worker's own thread and waits for all (up to 10 s, then logs). A
  // reload's steps; main thread.
  void RunOnWorkers(const std::function<void(Worker&)>& fn);
  // Waits up to `d` unless lame duck mode is interrupted; false if it was.
  bool LameDuckWait(std::chrono::nanoseconds d);

  // The options the server started with: what a reload cannot change (host, port, lame duck
  // durations, monitoring, ...) is read from here. The rest is in config_.
  Options options_;
  std::string server_id_;
  mutable std::mutex config_mu_;  // a leaf: guards the pointer only
  std::shared_ptr<const ServerConfig> config_;
  std::mutex reload_mu_;  // one reload at a time
  AuthPool auth_pool_;
  Accounts accounts_;  // each with its subject index
  SharedSnapshot<const TlsContext> tls_;
  PendingBudget pending_budget_;
  std::unique_ptr<Reclaimer> reclaimer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Listener client_listener_{"Client"};
  std::atomic<uint64_t> next_cid_{0};
  std::atomic<bool> shutdown_{false};
  std::atomic<size_t> next_worker_{0};
  std::chrono::system_clock::time_point start_time_;
  // Made always (the system account's requests use its builders); serving HTTP only with
  // http_port or https_port.
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<SystemEvents> events_;
  std::unique_ptr<Routes> routes_;
  std::vector<std::string> own_client_urls_;
  std::vector<std::pair<std::string, HttpHandler>> monitor_routes_;  // set before Start
  std::vector<std::function<std::string()>> metrics_sources_;        // set before Start
  std::atomic<bool> ldm_{false};
  std::mutex ldm_mu_;
  std::condition_variable ldm_cv_;
  bool ldm_interrupted_ = false;
  mutable std::mutex closed_mu_;
  std::deque<ConnSnapshot> closed_;
};

}  // namespace gannet
