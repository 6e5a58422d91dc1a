// Config reload (SIGHUP, --signal reload): which options may change on a running server, as the
// reference's reload.go diffOptions decides, and the "Reloaded: ..." lines it logs. Applying a
// reload is Server::Reload (reload.cc); the path it travels is in docs/ARCHITECTURE.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "server/config/options.h"

namespace gannet {

// The reference's warning when cluster { tls { insecure: true } } is configured (at startup
// and at a reload that changes the cluster).
inline constexpr const char* kClusterTlsInsecureWarning =
    "TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN "
    "PRODUCTION!";

// What a reload changes.
struct ReloadChanges {
  // The reference's notices ("Reloaded: debug = true", ...), in its order (its Options
  // struct's field order).
  std::vector<std::string> notices;
  // Its warnings, logged after the notices ([WRN]).
  std::vector<std::string> warnings;
  bool logging = false;  // debug, trace, logtime or log_file: the logger is configured again
  bool pid_file = false;
  bool ports_file_dir = false;
  bool tls = false;  // tls {} configured before or after: the TLS context is made again
  // The accounts' exports, imports, mappings or limits, or the global mappings, changed.
  bool accounts = false;

  // cluster {}, as reload.go's clusterOption and routesOption: what the routes manager does.
  //
  // `cluster` ("Reloaded: cluster"): something of cluster {} other than its routes changed
  // (name, advertise, no_advertise, connect_retries, authorization, permissions, tls; with
  // route TLS configured, every reload, as the reference's tls.Config never compares equal).
  // The route INFO is made again: tls_required/tls_verify from tls, auth_required from the
  // user, connect_urls unless no_advertise, host/port/ip from advertise, and a new non-empty
  // name is adopted (setClusterName). The route TLS context is made again from `tls`.
  // Cluster host and port cannot change (the reload is refused).
  bool cluster = false;
  // import/export permissions changed (reloadClusterPermissions): each route gets the new
  // permissions and the new INFO; RS+ for local subscriptions the new import allows and the
  // old did not, RS- for those it no longer allows; a route's subscriptions the new export
  // denies are removed.
  bool cluster_permissions_changed = false;
  // The cluster's authorization changed (user, password, timeout, or the TLS checks that
  // stand for it: verify_and_map, verify_cert_and_check_known_urls). Informative: the
  // reference re-checks every accepted (not solicited) route against the cluster's
  // authorization at every reload (its users and accounts always count as changed) and closes
  // those that no longer pass with an authorization violation; do the same.
  bool cluster_auth_changed = false;
  // cluster { tls { pinned_certs } } changed: routes whose certificate is not pinned are closed
  // (recheckPinnedCerts).
  bool cluster_pinned_certs_changed = false;
  // The routes (cluster { routes } or --routes) as the reference's diffRoutes, sorted by URL:
  // each removed route's connection is closed without reconnecting ("Removed route <url>"),
  // each added one is dialed. Any of them: "Reloaded: cluster routes" is in the notices.
  std::vector<RouteUrl> routes_added, routes_removed;
};

// Compares the running options with a reload's. Fails, naming the first option (in the
// reference's field order and with its field name) that a running server cannot change:
// "config reload not supported for Port: old=4222, new=4223", "config reload not supported
// for cluster port: old=6222, new=6223", or an advertise address that does not parse.
// A cluster port of -1 in `next` stands for the running one, as in the reference.
std::optional<std::string> DiffOptions(const Options& current, const Options& next,
                                       ReloadChanges& changes);

}  // namespace gannet
