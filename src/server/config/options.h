// Server options: defaults as the reference's (const.go, opts.go), set from flags and a config
// file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/users.h"

namespace gannet {

// The nats-server release whose client-visible behaviour Gannet matches; reported in INFO.
inline constexpr const char* kCompatibleNatsVersion = "2.9.10";

// tls { ... } (and the --tls* flags): client connections and HTTPS monitoring
// (server/tls_context.h); cluster { tls { ... } } for routes.
struct TlsConfig {
  bool configured = false;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool verify = false;
  bool verify_and_map = false;
  // Routes only (the reference refuses it in the client block): a route's certificate is
  // accepted when one of its DNS names matches the host of a configured route.
  bool verify_cert_and_check_known_urls = false;
  bool insecure = false;
  std::chrono::milliseconds timeout = std::chrono::seconds(2);
  std::vector<std::string> cipher_suites;
  std::vector<std::string> curve_preferences;
  std::vector<std::string> pinned_certs;
};

// One route URL of cluster { routes } or --routes, e.g. "nats-route://ruser:rpass@h:6222": the
// peer to dial and the credentials to send in its CONNECT. Read as the reference reads it (Go's
// url.Parse): any scheme is taken, a URL without "//" ("a:1") has no host, and a missing port
// is 0; dialing such a URL fails each time, as the reference's dial does.
struct RouteUrl {
  std::string text;  // as configured (surrounding white space removed)
  std::string host;  // without brackets for IPv6
  int port = 0;
  std::string user, password;
};

// Parses one route URL (cluster { routes }, --routes, and the URLs peers gossip, such as
// "nats-route://10.0.0.1:6222/"). On failure returns nothing and sets `error` (if given) to the
// reference's text: `error parsing route url ["nats://a b:1"]`.
std::optional<RouteUrl> ParseRouteUrl(std::string_view text, std::string* error = nullptr);

// True when both name the same route (the reference compares parsed URLs: the scheme's case
// does not matter, anything else does).
bool SameRouteUrl(const RouteUrl& a, const RouteUrl& b);

// cluster { ... } and the cluster flags, as the reference's ClusterOpts (opts.go). Clustering
// runs only when `port` is not 0 (a block without a port, or --cluster "", leaves it off, and
// its routes are not dialed), as in the reference.
struct ClusterConfig {
  bool configured = false;  // a cluster {} block, or --cluster/--cluster_listen, was given
  std::string name;         // empty: the server makes one up (and adopts a peer's)
  std::string host;         // "0.0.0.0" when clustering runs and none is given
  int port = 0;             // -1: a random port
  std::vector<RouteUrl> routes;
  std::string advertise;  // host[:port] given to peers instead of host/port
  bool no_advertise = false;
  int connect_retries = 0;  // for implicit (gossiped) routes
  // Route TLS: peers must present a certificate from ca_file whatever `verify` says (the
  // reference forces RequireAndVerifyClientCert and uses the CA for both sides).
  TlsConfig tls;
  // authorization { user, password, timeout }: what peers must send in their CONNECT.
  std::string username, password;  // the password may be a bcrypt hash
  // The reference's default: 2 s, or the TLS timeout plus a second with route TLS.
  std::chrono::milliseconds auth_timeout = std::chrono::seconds(2);
  bool auth_timeout_set = false;  // authorization { timeout } was given
  // permissions { import, export } (reference: canImport, canExport): import limits the
  // subjects whose messages this server takes from peers (it sends RS+ only for them), export
  // the subjects it sends to peers (it accepts their RS+ only for them). Unset: everything.
  std::optional<SubjectPermission> import_permissions, export_permissions;

  bool Enabled() const { return port != 0; }
};

// The account of clients not bound to one.
inline constexpr const char* kGlobalAccountName = "$G";
// The system account when none is configured (the reference's DEFAULT_SYSTEM_ACCOUNT).
inline constexpr const char* kDefaultSystemAccountName = "$SYS";

// accounts { NAME: { users, exports, imports } }: subject spaces of their own. Clients of
// different accounts share nothing but what one exports and the other imports.
// How many responses a service's request may get (the reference's ServiceRespType): one, or
// any number until an empty message or the response threshold (2 minutes without one).
enum class ResponseType { kSingleton, kStreamed, kChunked };
struct AccountExport {
  bool service = false;  // a service (requests answered in the exporting account) or a stream
  std::string subject;   // may have wildcards
  std::vector<std::string> accounts;                      // who may import it; empty: every account
  ResponseType response_type = ResponseType::kSingleton;  // services: response_type
  // Services: how long a request's responses may come (response_threshold); 0: 2 minutes.
  std::chrono::nanoseconds response_threshold{0};
  // account_token_position: the (1-based) token of the subject, a '*' in the export, that an
  // import must fill with the importing account's name; 0: none.
  uint32_t account_token_position = 0;
  // Services: latency {subject, sampling}: a sampled request's ServiceLatency metric is
  // published there, in the exporting account. Empty subject: not tracked. Sampling is a
  // percentage (1-100); 0 with latency_headers: only requests carrying a trace header.
  std::string latency_subject;
  int latency_sampling = 0;
  bool latency_headers = false;
};
struct AccountImport {
  bool service = false;
  std::string account;  // the exporting account
  std::string subject;  // the subject in the exporting account
  // The subject in the importing account: for a stream, `prefix` + "." + the published subject
  // when a prefix is set, else `to` (empty: the same subject); for a service, what clients of
  // the importing account publish to (empty: the same subject).
  std::string prefix;
  std::string to;
};
// mappings { SOURCE: DESTINATION | [{destination, weight}, ...] }: publishes on SOURCE go to a
// destination (chosen by weight; what the weights leave below 100% keeps the subject).
struct MappingDestination {
  std::string subject;  // "$N" / "{{wildcard(N)}}" name the source's wildcards
  int weight = 100;     // percent
  std::string cluster;  // only in that cluster (the destination is ignored elsewhere)
};
struct SubjectMapping {
  std::string source;
  std::vector<MappingDestination> destinations;
};

// accounts { NAME: { limits: {...} } }, as the reference reads them; -1: no limit (its
// jwt.NoLimit).
struct AccountLimits {
  int64_t max_connections = -1;    // the account's clients on this server
  int64_t max_subscriptions = -1;  // per connection (the lower of this and max_subscriptions)
  int64_t max_payload = -1;        // per message (the lower of this and max_payload)
  int64_t max_leafnodes = -1;      // read; there are no leaf nodes
  bool operator==(const AccountLimits&) const = default;
};
struct AccountConfig {
  std::string name;
  std::vector<AccountExport> exports;
  std::vector<AccountImport> imports;
  std::vector<SubjectMapping> mappings;
  AccountLimits limits;
};

struct Options {
  std::string host = "0.0.0.0";
  int port = 4222;
  std::string server_name;  // defaults to the server id
  std::string pid_file;
  // --ports_file_dir: where to write <exe>_<pid>.ports, the URLs the server listens at.
  std::string ports_file_dir;
  std::string log_file;
  bool logtime = true;
  bool debug = false;
  bool trace = false;

  int64_t max_control_line = 4096;
  int64_t max_payload = int64_t{1} << 20;
  int64_t max_pending = int64_t{64} << 20;
  // Gannet's own: the bytes all connections together may hold for their receivers before the
  // largest holders are cut as slow consumers (flow_control.h). -1: a quarter of the memory
  // the process may use; 0: no limit.
  int64_t max_pending_total = -1;
  int64_t max_connections = 65536;
  int64_t max_subscriptions = 0;  // 0: unlimited
  std::chrono::milliseconds ping_interval = std::chrono::minutes(2);
  int ping_max = 2;
  std::chrono::milliseconds write_deadline = std::chrono::seconds(10);
  // Lame duck mode (SIGUSR2): clients are closed spread over the duration, after the grace
  // period. The reference refuses a duration under 30 s.
  std::chrono::milliseconds lame_duck_duration = std::chrono::minutes(2);
  std::chrono::milliseconds lame_duck_grace_period = std::chrono::seconds(10);
  std::chrono::milliseconds auth_timeout = std::chrono::seconds(2);
  // authorization { timeout } was given; otherwise, with TLS, the auth timeout is the TLS
  // timeout plus a second (as the reference).
  bool auth_timeout_set = false;
  bool no_header_support = false;

  // authorization {}, --user/--pass, --auth; users of accounts {} are in its users list.
  AuthorizationConfig authorization;

  // Monitoring (HTTP): off while http_port is 0; -1 picks a free port.
  std::string http_host;  // defaults to `host`
  int http_port = 0;
  std::string http_base_path;
  int64_t max_closed_clients = 10000;  // closed connections kept for /connz?state=closed

  std::string client_advertise;
  int https_port = 0;  // HTTPS monitoring (with the tls {} block); -1 picks a free port
  TlsConfig tls;
  ClusterConfig cluster;

  int threads = 0;  // worker threads; 0: one per core
  std::string config_file;

  // accounts {}; users bound to one of them are in authorization.users (User::account set).
  std::vector<AccountConfig> accounts;
  std::vector<SubjectMapping> mappings;  // top-level mappings {}: the global account's
  // The account the server's own client lives in: events are published and monitoring
  // requests answered there ($SYS.>). Empty: kDefaultSystemAccountName, created when no
  // account of that name is configured, unless no_system_account.
  std::string system_account;
  bool no_system_account = false;
};

// What the command line asked for, beyond the options.
struct CommandLine {
  Options options;
  bool show_help = false;
  bool show_version = false;
  bool check_config = false;  // -t
  std::string signal;         // --signal CMD[=PID|PIDFILE]: signal a running server and exit
  // The error is not one of flag syntax (the config file, or a flag value refused once
  // parsed, as --cluster's URL): "gannet-server: <error>", exit status 1, no usage text.
  bool config_error = false;
  std::vector<std::string> warnings;
  // The flags given, as changes to apply over the config file's options (again at a reload:
  // flags keep precedence over the file, as the reference).
  std::vector<std::function<void(Options&)>> overrides;
  // The --tls* flags replace the config file's tls {} block as a whole (the reference's
  // overrideTLS); --tls=false removes it.
  struct TlsFlags {
    bool any = false;
    std::optional<bool> enabled;
    bool verify = false;
    std::string cert, key, ca;
  } tls_flags;
  // --cluster/--cluster_listen URL and --routes, applied over the file as the reference's
  // overrideCluster and RoutesFromStr (they can fail, and --cluster replaces the file's host,
  // port and authorization user and password).
  struct ClusterFlags {
    std::optional<std::string> listen;
    std::optional<std::string> routes;
  } cluster_flags;
};

// Parses Go-style flags (-flag, --flag, -flag=value, -flag value) and loads -c FILE, with
// flags overriding the file. Returns an error message on bad input.
std::optional<std::string> ParseCommandLine(int argc, char** argv, CommandLine& out);

// A reload: reads the config file named on the command line again into `out`, with the same
// flags applied over it. Fails if there is no file, or with the file's first error.
std::optional<std::string> ReloadOptions(const CommandLine& cl, Options& out,
                                         std::vector<std::string>& warnings);

// Rejects option combinations the reference refuses at startup.
std::optional<std::string> ValidateOptions(const Options& opts);

const char* UsageText();

}  // namespace gannet
