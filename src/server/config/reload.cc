// Config reload: the diff of options (reload.go diffOptions) and Server::Reload, which publishes
// the new configuration generation and has every worker take it over (see reload.h).
#include "server/config/reload.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "base/go_format.h"
#include "base/logger.h"
#include "server/client/client.h"
#include "server/cluster/routes.h"
#include "server/config/go_url.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/events/system_events.h"
#include "server/server.h"

namespace gannet {

namespace {

std::string Str(bool v) { return v ? "true" : "false"; }
std::string Str(int64_t v) { return std::to_string(v); }
std::string Str(int v) { return std::to_string(v); }
std::string Str(std::chrono::milliseconds v) { return GoDuration(v); }

// Go's %v of a float64 (authorization timeout, in seconds).
std::string Seconds(std::chrono::milliseconds v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v.count()) / 1000.0);
  return buf;
}

bool SameSubjects(const std::optional<SubjectPermission>& a,
                  const std::optional<SubjectPermission>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->allow == b->allow && a->deny == b->deny);
}

bool SamePermissions(const std::shared_ptr<const Permissions>& a,
                     const std::shared_ptr<const Permissions>& b) {
  if (!a || !b) return a == b;
  if (a->response.has_value() != b->response.has_value()) return false;
  if (a->response && (a->response->max_msgs != b->response->max_msgs ||
                      a->response->expires != b->response->expires)) {
    return false;
  }
  return SameSubjects(a->publish, b->publish) && SameSubjects(a->subscribe, b->subscribe);
}

// The NKEY users, in key order (the reference sorts before comparing).
std::vector<const User*> NkeyUsers(const Options& o) {
  std::vector<const User*> out;
  for (const User& u : o.authorization.users) {
    if (!u.nkey.empty()) out.push_back(&u);
  }
  std::sort(out.begin(), out.end(), [](const User* a, const User* b) { return a->nkey < b->nkey; });
  return out;
}

bool SameNkeyUsers(const Options& a, const Options& b) {
  std::vector<const User*> x = NkeyUsers(a);
  std::vector<const User*> y = NkeyUsers(b);
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i]->nkey != y[i]->nkey || !SamePermissions(x[i]->permissions, y[i]->permissions)) {
      return false;
    }
  }
  return true;
}

// The accounts and mappings of the options, written out for comparison.
std::string AccountsText(const Options& o) {
  std::string out;
  auto mappings = [&out](const std::vector<SubjectMapping>& list) {
    for (const SubjectMapping& m : list) {
      out += "map " + m.source;
      for (const MappingDestination& d : m.destinations) {
        out += " " + d.subject + "/" + std::to_string(d.weight) + "/" + d.cluster;
      }
      out += '\n';
    }
  };
  mappings(o.mappings);
  for (const AccountConfig& a : o.accounts) {
    out += "account " + a.name + '\n';
    for (const AccountExport& e : a.exports) {
      out += std::string(e.service ? "service " : "stream ") + e.subject + " " +
             std::to_string(static_cast<int>(e.response_type)) + " " +
             std::to_string(e.response_threshold.count());
      for (const std::string& acc : e.accounts) out += " " + acc;
      out += '\n';
    }
    for (const AccountImport& i : a.imports) {
      out += std::string(i.service ? "import service " : "import stream ") + i.account + " " +
             i.subject + " " + i.prefix + " " + i.to + '\n';
    }
    mappings(a.mappings);
    const AccountLimits& l = a.limits;
    out += "limits " + std::to_string(l.max_connections) + " " +
           std::to_string(l.max_subscriptions) + " " + std::to_string(l.max_payload) + " " +
           std::to_string(l.max_leafnodes) + '\n';
  }
  return out;
}

// cluster {} but its routes (the reference's Cluster field, validateClusterOpts).
std::optional<std::string> DiffCluster(const ClusterConfig& cur, const ClusterConfig& next,
                                       ReloadChanges& changes) {
  // -1 (a random port) is the port the server listens at.
  const int next_port = next.port == -1 ? cur.port : next.port;
  const bool permissions = !SameSubjects(cur.import_permissions, next.import_permissions) ||
                           !SameSubjects(cur.export_permissions, next.export_permissions);
  const bool auth =
      cur.username != next.username || cur.password != next.password ||
      cur.auth_timeout != next.auth_timeout || cur.tls.verify_and_map != next.tls.verify_and_map ||
      cur.tls.verify_cert_and_check_known_urls != next.tls.verify_cert_and_check_known_urls;
  // A configured tls.Config never compares equal in the reference, so with route TLS every
  // reload changes the cluster (and reads its certificates again).
  const bool changed = cur.name != next.name || cur.host != next.host || cur.port != next_port ||
                       cur.advertise != next.advertise || cur.no_advertise != next.no_advertise ||
                       cur.connect_retries != next.connect_retries || permissions || auth ||
                       cur.tls.configured || next.tls.configured;
  if (!changed) return std::nullopt;
  if (cur.host != next.host) {
    return "config reload not supported for cluster host: old=" + cur.host + ", new=" + next.host;
  }
  if (cur.port != next_port) {
    return "config reload not supported for cluster port: old=" + std::to_string(cur.port) +
           ", new=" + std::to_string(next_port);
  }
  if (!next.advertise.empty()) {
    std::string host, why;
    int port = 0;
    if (!GoParseHostPort(next.advertise, 0, host, port, &why)) {
      return "invalid Cluster.Advertise value of " + next.advertise + ", err=" + why;
    }
  }
  changes.cluster = true;
  changes.cluster_permissions_changed = permissions;
  changes.cluster_auth_changed = auth;
  changes.cluster_pinned_certs_changed = cur.tls.pinned_certs != next.tls.pinned_certs;
  changes.notices.push_back("Reloaded: cluster");
  if (next.tls.configured && next.tls.insecure) {
    changes.warnings.push_back(kClusterTlsInsecureWarning);
  }
  return std::nullopt;
}

// The routes (the reference's Routes field, diffRoutes): compared as sets of URLs.
void DiffRoutes(const std::vector<RouteUrl>& cur, const std::vector<RouteUrl>& next,
                ReloadChanges& changes) {
  auto sorted = [](std::vector<RouteUrl> v) {
    std::stable_sort(v.begin(), v.end(),
                     [](const RouteUrl& a, const RouteUrl& b) { return a.text < b.text; });
    return v;
  };
  const std::vector<RouteUrl> old_routes = sorted(cur);
  const std::vector<RouteUrl> new_routes = sorted(next);
  bool same = old_routes.size() == new_routes.size();
  for (size_t i = 0; same && i < old_routes.size(); ++i) {
    same = SameRouteUrl(old_routes[i], new_routes[i]);
  }
  if (same) return;
  auto contains = [](const std::vector<RouteUrl>& list, const RouteUrl& url) {
    return std::any_of(list.begin(), list.end(),
                       [&](const RouteUrl& r) { return SameRouteUrl(r, url); });
  };
  for (const RouteUrl& r : old_routes) {
    if (!contains(new_routes, r)) changes.routes_removed.push_back(r);
  }
  for (const RouteUrl& r : new_routes) {
    if (!contains(old_routes, r)) changes.routes_added.push_back(r);
  }
  changes.notices.push_back("Reloaded: cluster routes");
}

}  // namespace

std::optional<std::string> DiffOptions(const Options& cur, const Options& next,
                                       ReloadChanges& changes) {
  std::optional<std::string> error;
  auto refuse = [&](const char* field, const std::string& old_value, const std::string& new_value) {
    if (old_value != new_value && !error) {
      error = std::string("config reload not supported for ") + field + ": old=" + old_value +
              ", new=" + new_value;
    }
    return !error;
  };
  auto notice = [&](bool changed, std::string line) {
    if (changed) changes.notices.push_back(std::move(line));
  };
  // In the order of the reference's Options struct: the first refused field is the error.
  if (!refuse("ServerName", cur.server_name, next.server_name)) return error;
  if (!refuse("Host", cur.host, next.host)) return error;
  if (!refuse("Port", Str(cur.port), Str(next.port))) return error;
  if (cur.client_advertise != next.client_advertise && !next.client_advertise.empty()) {
    std::string host, why;
    int port = 0;
    if (!GoParseHostPort(next.client_advertise, 0, host, port, &why)) {
      return "invalid ClientAdvertise value of " + next.client_advertise + ", err=" + why;
    }
  }
  notice(cur.client_advertise != next.client_advertise,
         "Reload: client_advertise = " + next.client_advertise);
  notice(cur.trace != next.trace, "Reloaded: trace = " + Str(next.trace));
  notice(cur.debug != next.debug, "Reloaded: debug = " + Str(next.debug));
  if (!refuse("NoHeaderSupport", Str(cur.no_header_support), Str(next.no_header_support))) {
    return error;
  }
  notice(cur.logtime != next.logtime, "Reloaded: logtime = " + Str(next.logtime));
  notice(cur.max_connections != next.max_connections,
         "Reloaded: max_connections = " + Str(next.max_connections));
  if (!refuse("MaxSubs", Str(cur.max_subscriptions), Str(next.max_subscriptions))) return error;
  notice(!SameNkeyUsers(cur, next), "Reloaded: authorization nkey users");
  // The reference always counts users and accounts as changed (it cannot compare them).
  notice(true, "Reloaded: authorization users");
  notice(true, "Reloaded: accounts");
  // The system account and its services are set up once (the reference refuses these too).
  auto system = [](const Options& o) {
    return o.system_account.empty() ? std::string(kDefaultSystemAccountName) : o.system_account;
  };
  if (!refuse("SystemAccount", system(cur), system(next))) return error;
  if (!refuse("NoSystemAccount", Str(cur.no_system_account), Str(next.no_system_account))) {
    return error;
  }
  // What is in the accounts (exports, imports, mappings, limits) and the global mappings may
  // change (Server::Reload checks the accounts themselves are the same ones, and that there is
  // no cluster). Users may move between accounts: their clients are closed and connect again
  // into the new one.
  changes.accounts = AccountsText(cur) != AccountsText(next);
  if (cur.authorization.no_auth_user != next.authorization.no_auth_user) {
    // Only dropping a no_auth_user together with its user is allowed.
    bool user_kept = false;
    for (const User& u : next.authorization.users)
      user_kept |= u.nkey.empty() && u.username == cur.authorization.no_auth_user;
    if (cur.authorization.no_auth_user.empty() || !next.authorization.no_auth_user.empty() ||
        user_kept) {
      refuse("NoAuthUser", cur.authorization.no_auth_user, next.authorization.no_auth_user);
      return error;
    }
  }
  notice(cur.authorization.username != next.authorization.username,
         "Reloaded: authorization username");
  notice(cur.authorization.password != next.authorization.password,
         "Reloaded: authorization password");
  notice(cur.authorization.token != next.authorization.token, "Reloaded: authorization token");
  notice(cur.ping_interval != next.ping_interval,
         "Reloaded: ping_interval = " + Str(next.ping_interval));
  notice(cur.ping_max != next.ping_max, "Reloaded: ping_max = " + Str(next.ping_max));
  if (!refuse("HTTPHost", cur.http_host, next.http_host) ||
      !refuse("HTTPPort", Str(cur.http_port), Str(next.http_port)) ||
      !refuse("HTTPBasePath", cur.http_base_path, next.http_base_path) ||
      !refuse("HTTPSPort", Str(cur.https_port), Str(next.https_port))) {
    return error;
  }
  notice(cur.auth_timeout != next.auth_timeout,
         "Reloaded: authorization timeout = " + Seconds(next.auth_timeout));
  notice(cur.max_control_line != next.max_control_line,
         "Reloaded: max_control_line = " + Str(next.max_control_line));
  notice(cur.max_payload != next.max_payload, "Reloaded: max_payload = " + Str(next.max_payload));
  if (!refuse("MaxPending", Str(cur.max_pending), Str(next.max_pending))) return error;
  if (!refuse("MaxPendingTotal", Str(cur.max_pending_total), Str(next.max_pending_total))) {
    return error;
  }
  if (auto err = DiffCluster(cur.cluster, next.cluster, changes)) return err;
  changes.pid_file = cur.pid_file != next.pid_file && !next.pid_file.empty();
  notice(changes.pid_file, "Reloaded: pid_file = " + next.pid_file);
  changes.ports_file_dir = cur.ports_file_dir != next.ports_file_dir;
  notice(changes.ports_file_dir, "Reloaded: ports_file_dir = " + next.ports_file_dir);
  notice(cur.log_file != next.log_file, "Reloaded: log_file = " + next.log_file);
  DiffRoutes(cur.cluster.routes, next.cluster.routes, changes);
  // TLS: certificates, keys and CA files are read again on every reload (the reference's
  // tls.Config never compares equal), so a renewed certificate takes effect.
  changes.tls = cur.tls.configured || next.tls.configured;
  notice(next.tls.configured && cur.tls.timeout != next.tls.timeout,
         "Reloaded: tls timeout = " + Seconds(next.tls.timeout));
  notice(changes.tls,
         std::string("Reloaded: tls = ") + (next.tls.configured ? "enabled" : "disabled"));
  notice(next.tls.configured && cur.tls.pinned_certs != next.tls.pinned_certs,
         "Reloaded: " + std::to_string(next.tls.pinned_certs.size()) + " pinned_certs");
  notice(cur.write_deadline != next.write_deadline,
         "Reloaded: write_deadline = " + Str(next.write_deadline));
  if (!refuse("MaxClosedClients", Str(cur.max_closed_clients), Str(next.max_closed_clients)) ||
      !refuse("LameDuckDuration", Str(cur.lame_duck_duration), Str(next.lame_duck_duration)) ||
      !refuse("LameDuckGracePeriod", Str(cur.lame_duck_grace_period),
              Str(next.lame_duck_grace_period))) {
    return error;
  }
  // Gannet's own: the worker threads are fixed for the life of the process.
  if (!refuse("Threads", Str(cur.threads), Str(next.threads))) return error;
  changes.logging = cur.debug != next.debug || cur.trace != next.trace ||
                    cur.logtime != next.logtime || cur.log_file != next.log_file;
  return std::nullopt;
}

void Server::RunOnWorkers(const std::function<void(Worker&)>& fn) {
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    size_t pending = 0;
  };
  auto done = std::make_shared<Done>();
  done->pending = workers_.size();
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->PostRun([worker, fn, done] {
      fn(*worker);
      std::lock_guard lock(done->mu);
      if (--done->pending == 0) done->cv.notify_all();
    });
  }
  std::unique_lock lock(done->mu);
  if (!done->cv.wait_for(lock, std::chrono::seconds(10), [&] { return done->pending == 0; })) {
    LOG_ERROR("Config reload: a worker did not answer within 10s");
  }
}

std::optional<std::string> Server::Reload(Options next) {
  std::lock_guard reload_lock(reload_mu_);
  if (shutdown_.load()) return std::string("server is shutting down");
  std::shared_ptr<const ServerConfig> current = config();
  // Not configured: the server id stands in, as at startup.
  if (next.server_name.empty()) next.server_name = server_id_;
  ReloadChanges changes;
  if (auto err = DiffOptions(current->options(), next, changes)) return err;
  // As the reference: what cannot change is refused first, then the new options are checked.
  if (auto err = ValidateOptions(next)) return err;
  if (!next.tls.configured && next.https_port != 0) {
    return std::string("TLS cert and key required for HTTPS");
  }
  std::shared_ptr<const TlsContext> tls;
  if (next.tls.configured) {
    std::string error;
    tls = TlsContext::Create(next.tls, error);
    if (!tls) return error;
  }
  if (changes.accounts) {
    // Accounts the new configuration adds are made now, not live yet: the workers make their
    // match caches and the routes their interest slots before anyone can find them.
    int made = accounts_.AddNew(next);
    if (made < 0) {
      return "config reload not supported for accounts: more than " +
             std::to_string(Accounts::kMaxAccounts) + " accounts made by gannet-server";
    }
    if (made > 0) {
      if (routes_) routes_->AddAccounts();
      RunOnWorkers([](Worker& worker) { worker.AddAccountCaches(); });
    }
  }
  auto config = std::make_shared<const ServerConfig>(std::move(next), server_id_);
  const Options& opts = config->options();
  // New connections take the new certificates; those up keep the context they started with.
  if (changes.tls) SetTlsContext(std::move(tls));
  {
    std::lock_guard lock(config_mu_);
    config_ = config;
  }
  for (const std::string& line : changes.notices) LOG_INFO("%s", line.c_str());
  for (const std::string& line : changes.warnings) LOG_WARN("%s", line.c_str());
  // The routes manager takes the cluster's changes over: routes added and removed, the
  // authorization and permissions (accepted routes are re-checked by their workers below).
  if (routes_ &&
      (changes.cluster || !changes.routes_added.empty() || !changes.routes_removed.empty())) {
    routes_->Reload(opts.cluster, changes.routes_added, changes.routes_removed);
  }
  if (changes.pid_file) {
    std::ofstream pid(opts.pid_file);
    pid << getpid();
    if (!pid) LOG_ERROR("Failed to write pidfile: %s", opts.pid_file.c_str());
  }
  if (changes.logging &&
      !Logger::Get().Configure(opts.log_file, opts.logtime, opts.debug, opts.trace)) {
    LOG_ERROR("Failed to open log file %s", opts.log_file.c_str());
  }

  // The accounts' new tables, before the workers re-check their clients (their limits).
  // Publishes see them from their next message: no client is closed for it. Accounts no longer
  // configured are not found any more; their clients are closed below, as their users are gone
  // (the reference: clientHasMovedToDifferentAccount).
  if (changes.accounts) {
    Accounts::ReloadResult accounts = accounts_.Reload(opts, *reclaimer_);
    for (const Account* a : accounts.added)
      LOG_DEBUG("Reloaded: account %s added", a->name().c_str());
    for (const Account* a : accounts.removed) {
      LOG_DEBUG("Reloaded: account %s removed", a->name().c_str());
    }
    // The interest standing for stream imports and service responses, sent to the peers.
    if (routes_) routes_->AccountsReloaded();
    if (events_ && events_->started()) events_->AccountsChanged(accounts.added, accounts.removed);
  }

  // Every worker takes the new generation over on its own thread and re-checks its clients.
  // Waited for, so the reload is complete (the clients the new configuration refuses are
  // closed) when "Reloaded server configuration" is logged.
  int64_t clients = num_clients.load();
  auto excess = std::make_shared<std::atomic<int64_t>>(
      opts.max_connections > 0 && clients > opts.max_connections ? clients - opts.max_connections
                                                                 : 0);
  const int64_t to_close = excess->load();
  RunOnWorkers([config, excess](Worker& worker) {
    worker.SetConfig(config);
    worker.ForEachConnection([&](Connection& c) {
      // max_connections lowered: clients are closed until the excess is gone.
      if (c.kind() == ConnectionKind::kClient && excess->load(std::memory_order_relaxed) > 0 &&
          excess->fetch_sub(1, std::memory_order_relaxed) > 0) {
        static_cast<Client&>(c).CloseMaxConnectionsExceeded();
        return;
      }
      c.OnConfigReloaded();
    });
  });
  if (to_close > 0) {
    LOG_INFO("Closed %lld connections to fall within max_connections",
             static_cast<long long>(to_close - std::max<int64_t>(excess->load(), 0)));
  }
  LOG_INFO("Reloaded server configuration");
  return std::nullopt;
}

}  // namespace gannet
