// The cluster, from this server's side (route.go and server.go in the reference): the route
// port and its accept loop; the dialer that connects to configured routes forever and to
// gossiped ones `connect_retries` times; the registry of routes by remote server id (one per
// peer: the duplicate-route tie-break); gossip of new peers to the others (auto-discovery);
// the interest this server's clients have, per account, sent to every route as RS+/RS-; and
// the union of the cluster's client URLs given to clients in INFO (connect_urls).
//
// Threading: any thread unless marked. `mu_` guards the registry, the client URLs and the
// cluster name; each account's interest has its own lock, taken before `mu_` (an interest
// change is sent to every registered route while that account's lock is held, so RS+ and RS-
// reach each peer in the order they happened). Routes are handed bytes through their inbox
// (Connection::PostBytes), never written from here directly.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "auth/permissions.h"
#include "base/shared_snapshot.h"
#include "server/account.h"
#include "server/cluster/route.h"
#include "server/cluster/route_info.h"
#include "server/config/options.h"
#include "server/conn/listener.h"

namespace gannet {

class Account;
class Server;
class TlsContext;
struct Subscription;

class Routes {
 public:
  Routes(Server& server, const Options& options);
  ~Routes();
  Routes(const Routes&) = delete;
  Routes& operator=(const Routes&) = delete;

  // Binds and listens on the cluster port (logging as the reference), then dials the
  // configured routes. False if the port cannot be used.
  bool Start();
  // Stops accepting and dialing. Connections are closed by their workers.
  void Stop();
  int port() const { return listener_.port(); }

  // ---- The cluster's identity ----
  std::string name() const;
  bool name_dynamic() const;
  // A peer's configured (or larger) name replaces our dynamic one (route.go): the other
  // routes are closed and come back under it.
  void AdoptName(const std::string& name, const Route* keep);
  const std::string& server_id() const;
  // The route INFO this server sends (with a fresh nonce; with "ldm":true in lame duck mode).
  std::string InfoLine(bool ldm = false) const;
  // Lame duck mode: tells every peer, which stops offering our client URLs to its clients.
  void SendLameDuck();
  // This server's route URL for gossip ("nats-route://host:port/" as peers should dial it).
  // The cluster block as the server started with it (what a reload cannot change: ports,
  // advertise, TLS), and the route TLS context (null without TLS).
  const ClusterConfig& config() const { return config_; }
  std::shared_ptr<const TlsContext> tls() const { return tls_; }
  // Route authorization (auth.go isRouterAuthorized): whether a peer's CONNECT credentials are
  // accepted, and whether any are asked for. Follows reloads.
  bool Authorized(const std::string& user, const std::string& password) const;
  bool auth_required() const;
  std::chrono::milliseconds auth_timeout() const { return config_.auth_timeout; }
  // A reload (reload.h ReloadChanges): routes added are dialed, removed ones closed for good;
  // new authorization and permissions apply to routes from now on (the accepted routes are
  // re-checked by their workers: Route::OnConfigReloaded).
  void Reload(const ClusterConfig& next, const std::vector<RouteUrl>& added,
              const std::vector<RouteUrl>& removed);

  // ---- Registry ----
  // Registers `route` under its remote id. False when that peer already has a route (the
  // caller closes this one as a duplicate). `gossip` is set when other routes exist that
  // must hear of this peer.
  bool Register(Route& route, bool& gossip);
  // Called by a closing route (owner thread): forgets it and, if it was dialed and the peer is
  // not connected otherwise, dials again (explicit routes forever, gossiped ones
  // `connect_retries` times).
  void Unregister(Route& route, bool reconnect);
  // Our dial to `remote_id` duplicated the route it dialed to us: that route becomes ours.
  void UpgradeExisting(const std::string& remote_id, const RouteUrl& url, bool explicit_route);
  // Whether a peer's server name is this server's own.
  bool IsDuplicateServerName(const std::string& name) const;
  // Sends `info` (a new peer's INFO, with `ip` set) to every other route (gossip).
  void ForwardNewRoute(const Route& from, RouteInfo info);
  // A peer told us about a server (gossip): dial it unless it is us, already connected, or
  // one of our configured routes.
  void ImplicitRoute(const RouteInfo& info);
  size_t num_routes() const;

  // ---- Interest ----
  // A local client subscription was added (+1) or removed (-1) in `account`. Sends RS+/RS-
  // to every route when the account's interest in the subject (or the queue group's weight)
  // changes.
  void LocalInterest(const Account& account, const Subscription& sub, int delta);
  // Interest that no client subscription stands for, e.g. the replies to requests made
  // through a service import ("_R_.<prefix>.>" in the exporting account).
  void LocalInterest(const Account& account, const std::string& subject, int delta);
  // On registration: every account's current interest, as one bulk of RS+.
  void SendAllInterest(Route& route);
  // A reload made accounts (not live yet): room for their interest. Main thread.
  void AddAccounts();
  // A reload changed the accounts (their tables are published): the interest that stands for
  // stream imports (in the exporting accounts) and for service responses is brought in line
  // with the new imports and exports, sending only what changed (RS+ for an exporter's new
  // interest, RS- for what no import needs any more). Main thread, after AddAccounts.
  void AccountsReloaded();
  // Our import permissions: may we send interest in `subject` to peers (route.go canImport)?
  bool CanImport(std::string_view subject) const;
  // Our export permissions: may a peer's interest in `subject` make us send it messages
  // (canExport)?
  bool CanExport(std::string_view subject, std::string_view queue) const;

  // ---- Client URLs (connect_urls) ----
  // The cluster's client URLs (other servers'), for INFO. Any thread.
  std::shared_ptr<const std::vector<std::string>> client_urls() const;
  // When the client URLs last changed (a client connected before that gets them on its
  // first PING, as the reference).
  std::chrono::steady_clock::time_point client_urls_changed() const;
  void RemoveClientUrls(const std::vector<std::string>& urls);

  // ---- Monitoring ----
  // Every registered route's copy, taken on its own worker. Waits (up to `timeout`).
  std::vector<RouteSnapshot> Snapshot(bool with_subs, std::chrono::milliseconds timeout);
  // The configured route URLs, as given.
  std::vector<std::string> configured_urls() const;

 private:
  struct DialJob {
    RouteUrl url;
    bool explicit_route = false;
    bool first_connect = true;
    int attempts = 0;
    std::chrono::steady_clock::time_point due;
    std::string remote_id;  // the server last reached at `url`, when this is a redial
  };
  struct AccountInterest {
    std::mutex mu;
    std::unordered_map<std::string, int32_t> counts;  // "<subject>[ <queue>]" -> local subs
    // The part of `counts` that is the account's own clients' subscriptions (not interest
    // standing for importers or responses): what a reload's new imports are computed from.
    std::unordered_map<std::string, int32_t> own;
    bool response_interest = false;  // "<response_prefix>>" counted (exports services)
  };
  // A stream import as the routes see it: a copy, so a reload can replace the accounts'
  // tables while subscriptions are being counted.
  struct ShadowImport {
    size_t exporter;     // account index
    std::string from;    // the exporter's subject
    std::string prefix;  // with its '.', or empty
    std::string to;      // literal subject in the importer, or empty
    bool transform = false;
    bool operator==(const ShadowImport&) const = default;
  };
  using ShadowTable = std::vector<std::vector<ShadowImport>>;  // by importer index
  static std::shared_ptr<const ShadowTable> BuildShadowTable(Server& server);
  // For each exporter subject a subscription on `subject`/`queue` in importer `index` stands
  // for under `table`: fn(exporter index, exporter subject).
  template <typename Fn>
  static void ForEachShadow(const ShadowTable& table, size_t index, std::string_view subject,
                            Fn&& fn);

  bool IsConfigured(const RouteUrl& url) const;
  static std::shared_ptr<const auth::CompiledPermissions> CompilePermissions(
      const ClusterConfig& config);
  void DialLoop();
  void Schedule(DialJob job);
  // One attempt: a connected socket handed to a worker, or -1.
  int Dial(const DialJob& job, std::string& error);
  void AddClientUrls(const std::vector<std::string>& urls);
  void PublishClientUrls();                    // mu_ held
  void SendToRoutes(const std::string& line);  // mu_ taken inside
  void ChangeInterest(const Account& account, const std::string& key, std::string_view subject,
                      std::string_view queue, int delta, bool own);

  Server& server_;
  const ClusterConfig config_;
  const std::string server_id_;
  const std::string server_name_;
  Listener listener_{"Route"};
  std::shared_ptr<const TlsContext> tls_;
  RouteInfo base_info_;  // what every INFO we send carries
  // The cluster permissions as the reference applies them to a route: import as publish,
  // export as subscribe (route.go setRoutePermissions). Null: none. Replaced on reload.
  SharedSnapshot<const auth::CompiledPermissions> permissions_;

  mutable std::mutex mu_;
  std::vector<RouteUrl> configured_;  // the explicit routes (reloadable)
  std::string username_;              // authorization {} (reloadable)
  std::string password_;
  std::string name_;
  bool dynamic_name_ = false;
  std::unordered_map<std::string, Route*> remotes_;  // by remote server id
  // The URL a dropped duplicate had dialed, by remote server id: when both servers dial each
  // other and each keeps the other's connection, both drop their own, and the route that stays
  // must be dialed again when it closes (route.go addRoute's `retry`). Kept here under mu_, not
  // only on the route (posted to its worker), so that a close racing the post still redials.
  std::unordered_map<std::string, std::pair<RouteUrl, bool>> redial_;
  std::vector<Route*> routes_;  // registered, in registration order
  std::unordered_map<std::string, int> client_url_refs_;
  std::shared_ptr<const std::vector<std::string>> client_urls_;
  std::chrono::steady_clock::time_point client_urls_changed_{};

  // By account index; capacity Accounts::kMaxAccounts (never reallocated): a reload appends
  // (AddAccounts) before the new accounts are live, so no one indexes past interest_count_.
  std::vector<std::unique_ptr<AccountInterest>> interest_;
  std::atomic<size_t> interest_count_{0};
  // The stream imports of each account (by index). Taken shared by every subscription change,
  // exclusive by a reload while it moves the importers' interest to the new imports; before
  // any AccountInterest::mu.
  std::shared_mutex shadow_mu_;
  std::shared_ptr<const ShadowTable> shadows_;

  std::mutex dial_mu_;
  std::condition_variable dial_cv_;
  std::vector<DialJob> dial_jobs_;
  bool stopping_ = false;
  std::thread dialer_;
};

}  // namespace gannet
