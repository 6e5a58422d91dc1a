// Command-line flags (see options.h); the config file is read by server/config.cc.
#include "server/config/options.h"

#include "base/strings.h"

#include "server/config/config.h"
#include "server/config/config_auth.h"
#include "server/conn/tls_context.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

namespace gannet {

std::optional<RouteUrl> ParseRouteUrl(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<RouteUrl> {
    if (error) *error = "error parsing route url [\"" + std::string(text) + "\"]: " + why;
    return std::nullopt;
  };
  RouteUrl url;
  url.text = std::string(text);
  std::string_view rest = text;
  size_t scheme = rest.find("://");
  if (scheme == std::string_view::npos) return fail("missing scheme");
  rest.remove_prefix(scheme + 3);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    size_t colon = userinfo.find(':');
    url.user = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) url.password = std::string(userinfo.substr(colon + 1));
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == rest.size()) return fail("missing port");
  std::string_view host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  url.host = std::string(host);
  int port = 0;
  for (char c : rest.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return fail("invalid port");
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return fail("invalid port");
  url.port = port;
  return url;
}

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
  }
  for (const auto& apply : cl.overrides) apply(out);
  const CommandLine::TlsFlags& tls_flags = cl.tls_flags;
  TlsConfig& tls = out.tls;
  if (tls_flags.enabled == false) {
    tls = TlsConfig{};
  } else if (tls_flags.enabled == true || tls_flags.any) {
    if (tls_flags.cert.empty())
      return std::string("TLS Server certificate must be present and valid");
    if (tls_flags.key.empty())
      return std::string("TLS Server private key must be present and valid");
    auto timeout = tls.timeout;
    tls = TlsConfig{};
    tls.configured = true;
    tls.cert_file = tls_flags.cert;
    tls.key_file = tls_flags.key;
    tls.ca_file = tls_flags.ca;
    tls.verify = tls_flags.verify;
    tls.timeout = timeout;
  }
  if (tls.timeout <= std::chrono::milliseconds::zero()) tls.timeout = std::chrono::seconds(2);
  if (tls.configured && !out.auth_timeout_set) {
    out.auth_timeout = tls.timeout + std::chrono::seconds(1);
  }
  if (out.threads <= 0) {
    unsigned n = std::thread::hardware_concurrency();
    out.threads = n == 0 ? 1 : static_cast<int>(n);
  }
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
      {"sl",
       [&](const std::string& v) -> std::optional<std::string> {
         out.signal = v;
         return std::nullopt;
       }},
      {"max_pending_total",
       integer("max_pending_total", [](Options& o, int64_t v) { o.max_pending_total = v; })},
      {"threads",
       integer("threads", [](Options& o, int64_t v) { o.threads = static_cast<int>(v); })},
      {"c",
       [&](const std::string& v) -> std::
                                     optional<std::string> {
                                       config = v;
                                       return std::nullopt;
                                     }},
  };
  std::map<std::string, std::string> aliases = {
      {"addr", "a"},   {"net", "a"},         {"http_port", "m"}, {"port", "p"},
      {"name", "n"},   {"server_name", "n"}, {"pid", "P"},       {"log", "l"},
      {"config", "c"}, {"logtime", "T"},     {"debug", "D"},     {"trace", "V"},
      {"help", "h"},   {"version", "v"},     {"signal", "sl"},   {"https_port", "ms"}};
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
                                  "routes",
                                  "cluster",
                                  "cluster_listen",
                                  "cluster_name",
                                  "no_advertise",
                                  "cluster_advertise",
                                  "connect_retries",
                                  "profile",
                                  "client_advertise",
                                  "log_size_limit",
                                  "max_traced_msg_len",
                                  "help_tls"};

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return "unexpected argument \"" + arg + "\"";
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (auto a = aliases.find(name); a != aliases.end()) name = a->second;
    if (auto b = booleans.find(name); b != booleans.end()) {
      bool v = true;
      if (value) {
        auto parsed = ParseBool(*value);
        if (!parsed) return "invalid boolean value \"" + *value + "\" for -" + name;
        v = *parsed;
      }
      b->second(v);
      continue;
    }
    if (auto s = valued.find(name); s != valued.end()) {
      if (!value) {
        if (i + 1 >= argc) return "flag needs an argument: -" + name;
        value = argv[++i];
      }
      if (auto err = s->second(*value)) return err;
      continue;
    }
    for (const char* n : kNotYet) {
      if (name == n) return "flag -" + name + " is not supported yet by gannet-server";
    }
    return "flag provided but not defined: -" + name;
  }

  return BuildOptions(out, config, out.options, out.warnings, out.config_error);
}

}  // namespace gannet
