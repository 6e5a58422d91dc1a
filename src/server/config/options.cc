// Command-line flags (see options.h); the config file is read by server/config.cc.
#include "server/config/options.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <functional>
#include <map>
#include <thread>

#include "base/strings.h"
#include "server/config/config.h"
#include "server/config/config_auth.h"
#include "server/config/go_url.h"
#include "server/conn/tls_context.h"

namespace gannet {

namespace {

std::string FormatMessage(const char* fmt, long long a, long long b) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

std::optional<bool> ParseBool(const std::string& text) {
  std::string t = AsciiLower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1" || t == "t") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0" || t == "f") return false;
  return std::nullopt;
}

// --cluster URL (the reference's overrideCluster): the host and port to listen at for routes
// ("-1": a random one) and the credentials peers must send; "" turns clustering off.
std::optional<std::string> OverrideCluster(const std::string& listen, ClusterConfig& c) {
  if (listen.empty()) {
    c.port = 0;
    return std::nullopt;
  }
  // Go's url.Parse refuses the port -1: the reference parses ":0" and puts -1 back.
  std::string text = listen;
  const bool random = text.ends_with(":-1");
  if (random) text = text.substr(0, text.size() - 3) + ":0";
  std::string error;
  std::optional<GoUrl> url = ParseGoUrl(text, &error);
  if (!url) return error;
  std::string host, port;
  if (!GoSplitHostPort(url->host, host, port, &error)) return error;
  if (random) port = "-1";
  c.host = host;
  // fmt.Sscan of an int: the URL let only digits through.
  if (port.empty()) return std::string("EOF");
  std::optional<int64_t> n = GoAtoi(port, &error, "strconv.ParseInt");
  if (!n) return error;
  c.port = *n > INT_MAX ? INT_MAX : static_cast<int>(*n);
  if (url->has_user) {
    if (!url->has_password) return std::string("expected cluster password to be set");
    c.username = url->user;
    c.password = url->password;
  } else {
    // Given on the command line without credentials: none, whatever the file says.
    c.username.clear();
    c.password.clear();
  }
  c.configured = true;
  return std::nullopt;
}

// --routes: a comma-separated list of route URLs; "" removes the file's.
std::optional<std::string> OverrideRoutes(const std::string& list, ClusterConfig& c) {
  c.routes.clear();
  if (list.empty()) return std::nullopt;
  size_t start = 0;
  for (;;) {
    size_t comma = list.find(',', start);
    std::string_view piece(list.data() + start,
                           (comma == std::string::npos ? list.size() : comma) - start);
    // The reference keeps going with a URL it cannot parse, and crashes on it when it dials;
    // Gannet refuses it.
    std::string error;
    std::optional<RouteUrl> url = ParseRouteUrl(piece, &error);
    if (!url) return error;
    c.routes.push_back(std::move(*url));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return std::nullopt;
}

// What the reference's setBaselineOptions derives once the file and the flags are applied.
void ApplyBaseline(Options& out) {
  TlsConfig& tls = out.tls;
  if (tls.timeout <= std::chrono::milliseconds::zero()) tls.timeout = std::chrono::seconds(2);
  if (tls.configured && !out.auth_timeout_set) {
    out.auth_timeout = tls.timeout + std::chrono::seconds(1);
  }
  ClusterConfig& cluster = out.cluster;
  if (cluster.Enabled() && cluster.host.empty()) cluster.host = "0.0.0.0";
  if (!cluster.auth_timeout_set) {
    cluster.auth_timeout = cluster.tls.configured ? cluster.tls.timeout + std::chrono::seconds(1)
                                                  : std::chrono::seconds(2);
  }
  if (out.threads <= 0) {
    unsigned n = std::thread::hardware_concurrency();
    out.threads = n == 0 ? 1 : static_cast<int>(n);
  }
}

// The config file (if any) with the flags applied over it.
std::optional<std::string> BuildOptions(const CommandLine& cl, const std::string& config,
                                        Options& out, std::vector<std::string>& warnings,
                                        bool& config_error) {
  out = Options{};
  if (!config.empty()) {
    out.config_file = config;
    if (auto err = LoadConfig(config, out, warnings, cl.check_config)) {
      config_error = true;
      return err;
    }
    // -t checks the file alone: the reference returns before it applies the flags.
    if (cl.check_config) {
      ApplyBaseline(out);
      return std::nullopt;
    }
  } else if (cl.check_config && !cl.show_help && !cl.show_version && cl.signal.empty()) {
    config_error = true;
    return std::string("must specify [-c, --config] option to check configuration file syntax");
  }
  for (const auto& apply : cl.overrides) apply(out);
  // The reference's order: --cluster, then the TLS flags, then --routes.
  if (cl.cluster_flags.listen) {
    if (auto err = OverrideCluster(*cl.cluster_flags.listen, out.cluster)) {
      config_error = true;
      return err;
    }
  }
  const CommandLine::TlsFlags& tls_flags = cl.tls_flags;
  TlsConfig& tls = out.tls;
  if (tls_flags.enabled == false) {
    tls = TlsConfig{};
  } else if (tls_flags.enabled == true || tls_flags.any) {
    config_error = true;
    if (tls_flags.cert.empty())
      return std::string("TLS Server certificate must be present and valid");
    if (tls_flags.key.empty())
      return std::string("TLS Server private key must be present and valid");
    config_error = false;
    auto timeout = tls.timeout;
    tls = TlsConfig{};
    tls.configured = true;
    tls.cert_file = tls_flags.cert;
    tls.key_file = tls_flags.key;
    tls.ca_file = tls_flags.ca;
    tls.verify = tls_flags.verify;
    tls.timeout = timeout;
  }
  if (const std::optional<std::string>& routes = cl.cluster_flags.routes) {
    std::optional<std::string> err = OverrideRoutes(*routes, out.cluster);
    if (!err && !routes->empty() && cl.cluster_flags.listen.value_or("").empty() &&
        out.cluster.host.empty() && out.cluster.port == 0) {
      err = "solicited routes require cluster capabilities, e.g. --cluster";
    }
    if (err) {
      config_error = true;
      return err;
    }
  }
  ApplyBaseline(out);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ReloadOptions(const CommandLine& cl, Options& out,
                                         std::vector<std::string>& warnings) {
  if (cl.options.config_file.empty()) {
    return std::string("can only reload config when a file is provided using -c or --config");
  }
  bool config_error = false;
  return BuildOptions(cl, cl.options.config_file, out, warnings, config_error);
}

std::optional<std::string> ValidateOptions(const Options& opts) {
  if (opts.max_payload > opts.max_pending) {
    return FormatMessage("max_payload (%lld) cannot be higher than max_pending (%lld)",
                         static_cast<long long>(opts.max_payload),
                         static_cast<long long>(opts.max_pending));
  }
  if (opts.port < 0 || opts.port > 65535) return std::string("invalid port");
  if (opts.tls.configured) {
    // Certificates, keys and CA files are loaded now, so that a bad one stops the start (and
    // `-t`) as in the reference.
    std::string error;
    if (!TlsContext::Create(opts.tls, error)) return error;
  }
  if (opts.https_port < -1 || opts.https_port > 65535) return std::string("invalid https port");
  if (opts.http_port < -1 || opts.http_port > 65535) return std::string("invalid http port");
  if (!opts.authorization.username.empty() && !opts.authorization.token.empty()) {
    return std::string("token and user/password authentication cannot be used together");
  }
  if (auto err = ValidateAuthOptions(opts)) return err;
  if (!opts.system_account.empty() && opts.system_account != kDefaultSystemAccountName &&
      std::none_of(opts.accounts.begin(), opts.accounts.end(),
                   [&](const AccountConfig& a) { return a.name == opts.system_account; })) {
    // As the reference's configureAccounts: only the default one is created when missing.
    return std::string("error resolving system account: account missing");
  }
  return std::nullopt;
}

const char* UsageText() {
  return R"(Usage: gannet-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
        --client_advertise <string>  Client URL to advertise to other servers
        --threads <n>                Worker threads (default: number of cores)
        --max_pending_total <size>   Bytes all connections may hold for slow receivers
                                     together (default: a quarter of the memory; 0: none)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
)";
}

std::optional<std::string> ParseCommandLine(int argc, char** argv, CommandLine& out) {
  std::vector<std::function<void(Options&)>>& overrides = out.overrides;
  std::string config;
  CommandLine::TlsFlags& tls_flags = out.tls_flags;

  // Flags that need a value.
  using Setter = std::function<std::optional<std::string>(const std::string&)>;
  auto str = [&](void (*apply)(Options&, const std::string&)) -> Setter {
    return [&, apply](const std::string& v) -> std::optional<std::string> {
      overrides.push_back([apply, v](Options& o) { apply(o, v); });
      return std::nullopt;
    };
  };
  auto integer = [&](const char* name, void (*apply)(Options&, int64_t)) -> Setter {
    return [&, name, apply](const std::string& v) -> std::optional<std::string> {
      try {
        size_t used = 0;
        int64_t n = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        overrides.push_back([apply, n](Options& o) { apply(o, n); });
        return std::nullopt;
      } catch (...) {
        return "invalid value \"" + v + "\" for flag -" + name + ": parse error";
      }
    };
  };
  // Flags whose text BuildOptions applies.
  auto keep = [](auto& target) -> Setter {
    return [&target](const std::string& v) -> std::optional<std::string> {
      target = v;
      return std::nullopt;
    };
  };
  std::map<std::string, Setter> valued = {
      {"a", str([](Options& o, const std::string& v) { o.host = v; })},
      {"p", integer("p", [](Options& o, int64_t v) { o.port = static_cast<int>(v); })},
      {"n", str([](Options& o, const std::string& v) { o.server_name = v; })},
      {"P", str([](Options& o, const std::string& v) { o.pid_file = v; })},
      {"l", str([](Options& o, const std::string& v) { o.log_file = v; })},
      {"user", str([](Options& o, const std::string& v) { o.authorization.username = v; })},
      {"pass", str([](Options& o, const std::string& v) { o.authorization.password = v; })},
      {"auth", str([](Options& o, const std::string& v) { o.authorization.token = v; })},
      {"m", integer("m", [](Options& o, int64_t v) { o.http_port = static_cast<int>(v); })},
      {"ms", integer("ms", [](Options& o, int64_t v) { o.https_port = static_cast<int>(v); })},
      {"tlscert",
       [&](const std::string& v) -> std::optional<std::string> {
         tls_flags.cert = v;
         tls_flags.any = true;
         return std::nullopt;
       }},
      {"tlskey",
       [&](const std::string& v) -> std::optional<std::string> {
         tls_flags.key = v;
         tls_flags.any = true;
         return std::nullopt;
       }},
      {"tlscacert",
       [&](const std::string& v) -> std::optional<std::string> {
         tls_flags.ca = v;
         tls_flags.any = true;
         return std::nullopt;
       }},
      {"ports_file_dir", str([](Options& o, const std::string& v) { o.ports_file_dir = v; })},
      {"client_advertise", str([](Options& o, const std::string& v) { o.client_advertise = v; })},
      {"cluster", keep(out.cluster_flags.listen)},
      {"routes", keep(out.cluster_flags.routes)},
      {"cluster_name", str([](Options& o, const std::string& v) { o.cluster.name = v; })},
      {"cluster_advertise", str([](Options& o, const std::string& v) { o.cluster.advertise = v; })},
      {"connect_retries",
       integer("connect_retries",
               [](Options& o, int64_t v) { o.cluster.connect_retries = static_cast<int>(v); })},
      {"sl", keep(out.signal)},
      {"max_pending_total",
       integer("max_pending_total", [](Options& o, int64_t v) { o.max_pending_total = v; })},
      {"threads",
       integer("threads", [](Options& o, int64_t v) { o.threads = static_cast<int>(v); })},
      {"c", keep(config)},
  };
  std::map<std::string, std::string> aliases = {{"addr", "a"},
                                                {"net", "a"},
                                                {"http_port", "m"},
                                                {"port", "p"},
                                                {"name", "n"},
                                                {"server_name", "n"},
                                                {"pid", "P"},
                                                {"log", "l"},
                                                {"config", "c"},
                                                {"logtime", "T"},
                                                {"debug", "D"},
                                                {"trace", "V"},
                                                {"help", "h"},
                                                {"version", "v"},
                                                {"signal", "sl"},
                                                {"https_port", "ms"},
                                                {"cluster_listen", "cluster"}};
  // Boolean flags.
  std::map<std::string, std::function<void(bool)>> booleans = {
      {"T", [&](bool b) { overrides.push_back([b](Options& o) { o.logtime = b; }); }},
      {"D", [&](bool b) { overrides.push_back([b](Options& o) { o.debug = b; }); }},
      {"V", [&](bool b) { overrides.push_back([b](Options& o) { o.trace = b; }); }},
      {"DV", [&](bool b) { overrides.push_back([b](Options& o) { o.debug = o.trace = b; }); }},
      {"VV", [&](bool b) { overrides.push_back([b](Options& o) { o.trace = b; }); }},
      {"DVV", [&](bool b) { overrides.push_back([b](Options& o) { o.debug = o.trace = b; }); }},
      {"h", [&](bool b) { out.show_help = b; }},
      {"v", [&](bool b) { out.show_version = b; }},
      {"t", [&](bool b) { out.check_config = b; }},
      {"tls", [&](bool b) { tls_flags.enabled = b; }},
      {"no_advertise",
       [&](bool b) { overrides.push_back([b](Options& o) { o.cluster.no_advertise = b; }); }},
      {"tlsverify",
       [&](bool b) {
         tls_flags.verify = b;
         tls_flags.any = true;
       }},
  };
  // Flags of nats-server for features not built yet: refused, never silently ignored.
  static const char* kNotYet[] = {"s",
                                  "syslog",
                                  "r",
                                  "remote_syslog",
                                  "js",
                                  "jetstream",
                                  "sd",
                                  "store_dir",
                                  "profile",
                                  "log_size_limit",
                                  "max_traced_msg_len",
                                  "help_tls"};

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      // Go's flag package stops at the first argument that is not a flag (or after "--"); the
      // reference takes "version" and "help" there as commands (ProcessCommandLineArgs).
      if (arg == "--") {
        if (++i == argc) break;
        arg = argv[i];
      }
      if (out.show_help || out.show_version) break;
      std::string command = AsciiLower(arg);
      if (command == "version") {
        out.show_version = true;
      } else if (command == "help") {
        out.show_help = true;
      } else {
        out.config_error = true;
        return "unrecognized command: " + GoQuote(arg);
      }
      break;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const std::string given = name;
    if (auto a = aliases.find(name); a != aliases.end()) name = a->second;
    if (auto b = booleans.find(name); b != booleans.end()) {
      bool v = true;
      if (value) {
        auto parsed = ParseBool(*value);
        if (!parsed) {
          return "invalid boolean value \"" + *value + "\" for -" + given + ": parse error";
        }
        v = *parsed;
      }
      b->second(v);
      continue;
    }
    if (auto s = valued.find(name); s != valued.end()) {
      if (!value) {
        if (i + 1 >= argc) return "flag needs an argument: -" + given;
        value = argv[++i];
      }
      if (auto err = s->second(*value)) return err;
      continue;
    }
    for (const char* n : kNotYet) {
      if (name == n) return "flag -" + name + " is not supported yet by gannet-server";
    }
    return "flag provided but not defined: -" + given;
  }

  return BuildOptions(out, config, out.options, out.warnings, out.config_error);
}

}  // namespace gannet
