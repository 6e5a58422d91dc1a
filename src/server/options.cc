// Command-line flags and the config-file subset (see options.h).
#include "server/options.h"

#include "conf/parser.h"         // temporary: LoadAuthConfigWithConf
#include "server/config_auth.h"  // temporary: LoadAuthConfigWithConf

#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

namespace gannet {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Sizes as the reference reads them: k = 1000, kb/ki/kib = 1024, likewise m, g, t.
std::optional<int64_t> ParseSizeValue(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '-')) {
    ++i;
  }
  if (i == 0) return std::nullopt;
  int64_t n = 0;
  try {
    n = std::stoll(text.substr(0, i));
  } catch (...) {
    return std::nullopt;
  }
  std::string suffix = Lower(text.substr(i));
  static const std::map<std::string, int64_t> kMult = {{"", 1},
                                                       {"k", 1000},
                                                       {"kb", 1024},
                                                       {"ki", 1024},
                                                       {"kib", 1024},
                                                       {"m", 1000 * 1000},
                                                       {"mb", 1 << 20},
                                                       {"mi", 1 << 20},
                                                       {"mib", 1 << 20},
                                                       {"g", 1000LL * 1000 * 1000},
                                                       {"gb", 1LL << 30},
                                                       {"gi", 1LL << 30},
                                                       {"gib", 1LL << 30},
                                                       {"t", 1000LL * 1000 * 1000 * 1000},
                                                       {"tb", 1LL << 40},
                                                       {"ti", 1LL << 40},
                                                       {"tib", 1LL << 40}};
  auto it = kMult.find(suffix);
  if (it == kMult.end()) return std::nullopt;
  return n * it->second;
}

// Go-style durations ("2s", "1m30s", "500ms", "1h"); a bare number is seconds.
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text, bool* bare) {
  if (bare) *bare = false;
  if (text.empty()) return std::nullopt;
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    if (bare) *bare = true;
    return std::chrono::seconds(std::stoll(text));
  }
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (start == i) return std::nullopt;
    double v = std::stod(text.substr(start, i - start));
    size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(ustart, i - ustart);
    if (unit == "h")
      v *= 3600e3;
    else if (unit == "m")
      v *= 60e3;
    else if (unit == "s")
      v *= 1e3;
    else if (unit == "ms")
      v *= 1;
    else if (unit == "us" || unit == "µs")
      v /= 1e3;
    else if (unit == "ns")
      v /= 1e6;
    else
      return std::nullopt;
    total_ms += v;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

std::string FormatMessage(const char* fmt, long long a, long long b) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

std::optional<bool> ParseBool(const std::string& text) {
  std::string t = Lower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1" || t == "t") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0" || t == "f") return false;
  return std::nullopt;
}

// ---- A minimal reader for the config-file subset: key [=|:| ] value, blocks, comments. ----
struct ConfReader {
  std::string text;
  size_t pos = 0;
  int line = 1;
  std::string path;
  std::string error;

  void SkipSpaceAndComments() {
    for (;;) {
      while (pos < text.size() && (std::isspace(static_cast<unsigned char>(text[pos])) ||
                                   text[pos] == ',' || text[pos] == ';')) {
        if (text[pos] == '\n') ++line;
        ++pos;
      }
      if (pos < text.size() && (text[pos] == '#' || (text[pos] == '/' && pos + 1 < text.size() &&
                                                     text[pos + 1] == '/'))) {
        while (pos < text.size() && text[pos] != '\n') ++pos;
        continue;
      }
      return;
    }
  }
  bool Fail(const std::string& what) {
    if (error.empty()) error = path + ":" + std::to_string(line) + ": " + what;
    return false;
  }
  bool ReadKey(std::string& key) {
    size_t start = pos;
    while (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos])) &&
           text[pos] != '=' && text[pos] != ':' && text[pos] != '{') {
      ++pos;
    }
    key = Lower(text.substr(start, pos - start));
    if (key.empty()) return Fail("expected a key");
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (pos < text.size() && (text[pos] == '=' || text[pos] == ':')) ++pos;
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    return true;
  }
  // Reads a scalar value (quoted or bare to end of line/comma/brace).
  bool ReadScalar(std::string& value) {
    if (pos >= text.size()) return Fail("expected a value");
    char q = text[pos];
    if (q == '"' || q == '\'') {
      size_t end = text.find(q, pos + 1);
      if (end == std::string::npos) return Fail("unterminated string");
      value = text.substr(pos + 1, end - pos - 1);
      pos = end + 1;
      return true;
    }
    size_t start = pos;
    while (pos < text.size() && text[pos] != '\n' && text[pos] != ',' && text[pos] != '}' &&
           text[pos] != '#' && text[pos] != ';') {
      ++pos;
    }
    value = text.substr(start, pos - start);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
      value.pop_back();
    if (value.empty()) return Fail("expected a value");
    return true;
  }
  // Parses `key value` pairs until `}` (nested) or the end, calling `on_pair` for scalars and
  // `on_block` for `{` blocks.
  bool ReadPairs(const std::function<bool(const std::string&, const std::string&)>& on_pair,
                 const std::function<bool(const std::string&)>& on_block, bool nested) {
    for (;;) {
      SkipSpaceAndComments();
      if (pos >= text.size()) return nested ? Fail("unexpected end of file, expected '}'") : true;
      if (text[pos] == '}') {
        if (!nested) return Fail("unexpected '}'");
        ++pos;
        return true;
      }
      std::string key;
      if (!ReadKey(key)) return false;
      if (pos < text.size() && text[pos] == '{') {
        ++pos;
        if (!on_block(key)) return false;
        continue;
      }
      std::string value;
      if (!ReadScalar(value)) return false;
      if (!on_pair(key, value)) return false;
    }
  }
};

// TEMPORARY until the conf mapping lands. Returns nullopt when the file has none of the
// authorization features the flat reader lacks (users, permissions, no_auth_user); otherwise
// the result of loading it: authorization {} through ApplyAuthorization, no_auth_user, and
// every other (scalar) top-level key through the flat reader's `pair`.
std::optional<std::optional<std::string>> LoadAuthConfigWithConf(
    const std::string& path, Options& opts, std::vector<std::string>& warnings,
    const std::function<bool(const std::string&, const std::string&)>& pair,
    const std::string& pair_error) {
  conf::ParseResult parsed = conf::ParseFile(path);
  if (!parsed.ok()) return std::nullopt;  // the flat reader reports its own errors
  const conf::Value* authz = parsed.root.FindIgnoreCase("authorization");
  bool needed = parsed.root.FindIgnoreCase("no_auth_user") != nullptr ||
                (authz && authz->IsMap() &&
                 (authz->FindIgnoreCase("users") || authz->FindIgnoreCase("permissions") ||
                  authz->FindIgnoreCase("default_permissions")));
  if (!needed) return std::nullopt;
  for (const conf::MapEntry& e : parsed.root.AsMap()) {
    std::string key = e.key;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "authorization") {
      if (auto err = ApplyAuthorization(e.value, opts, warnings)) return err;
    } else if (key == "no_auth_user") {
      opts.no_auth_user = e.value.IsString() ? e.value.AsString() : e.value.ToDebugString();
    } else {
      std::string text;
      switch (e.value.kind()) {
        case conf::Kind::kString:
          text = e.value.AsString();
          break;
        case conf::Kind::kInteger:
          text = std::to_string(e.value.AsInteger());
          break;
        case conf::Kind::kBool:
          text = e.value.AsBool() ? "true" : "false";
          break;
        default:
          return std::optional<std::string>(e.key_position.ToString() + ": \"" + e.key +
                                            "\" is not supported yet");
      }
      if (!pair(key, text)) return std::optional<std::string>(pair_error);
    }
  }
  if (auto err = ValidateAuthOptions(opts)) return err;
  return std::optional<std::string>();
}

}  // namespace

std::optional<std::string> LoadConfigFile(const std::string& path, Options& opts,
                                          std::vector<std::string>& warnings) {
  std::ifstream in(path);
  if (!in) return "error opening config file: open " + path + ": no such file or directory";
  std::stringstream ss;
  ss << in.rdbuf();
  ConfReader r{ss.str(), 0, 1, path, {}};

  auto size_opt = [&](int64_t& field, const std::string& key, const std::string& v) {
    auto n = ParseSizeValue(v);
    if (!n) return r.Fail("invalid value for " + key + ": " + v);
    field = *n;
    return true;
  };
  auto duration_opt = [&](std::chrono::milliseconds& field, const std::string& key,
                          const std::string& v) {
    bool bare = false;
    auto d = ParseDuration(v, &bare);
    if (!d) return r.Fail("invalid duration for " + key + ": " + v);
    if (bare) {
      warnings.push_back(path + ":" + std::to_string(r.line) + ": " + key +
                         " should be converted to a duration");
    }
    field = *d;
    return true;
  };
  auto bool_opt = [&](bool& field, const std::string& key, const std::string& v) {
    auto b = ParseBool(v);
    if (!b) return r.Fail("invalid boolean for " + key + ": " + v);
    field = *b;
    return true;
  };

  std::function<bool(const std::string&, const std::string&)> top_pair =
      [&](const std::string& key, const std::string& v) -> bool {
    if (key == "listen") {
      auto colon = v.rfind(':');
      if (colon == std::string::npos) {
        opts.port = std::stoi(v);
      } else {
        if (colon > 0) opts.host = v.substr(0, colon);
        opts.port = std::stoi(v.substr(colon + 1));
      }
      return true;
    }
    if (key == "host" || key == "net") return opts.host = v, true;
    if (key == "http" || key == "monitor") {  // "port" or "host:port"
      auto colon = v.rfind(':');
      std::string port_text = colon == std::string::npos ? v : v.substr(colon + 1);
      auto n = ParseSizeValue(port_text);
      if (!n) return r.Fail("invalid value for " + key + ": " + v);
      if (colon != std::string::npos && colon > 0) opts.http_host = v.substr(0, colon);
      opts.http_port = static_cast<int>(*n);
      return true;
    }
    if (key == "http_port" || key == "monitor_port") {
      auto n = ParseSizeValue(v);
      if (!n) return r.Fail("invalid value for " + key + ": " + v);
      opts.http_port = static_cast<int>(*n);
      return true;
    }
    if (key == "http_host") return opts.http_host = v, true;
    if (key == "http_base_path") return opts.http_base_path = v, true;
    if (key == "port") {
      auto n = ParseSizeValue(v);
      if (!n) return r.Fail("invalid port: " + v);
      opts.port = static_cast<int>(*n);
      return true;
    }
    if (key == "server_name") return opts.server_name = v, true;
    if (key == "pidfile" || key == "pid_file") return opts.pid_file = v, true;
    if (key == "logfile" || key == "log_file") return opts.log_file = v, true;
    if (key == "logtime") return bool_opt(opts.logtime, key, v);
    if (key == "debug") return bool_opt(opts.debug, key, v);
    if (key == "trace") return bool_opt(opts.trace, key, v);
    if (key == "max_control_line") return size_opt(opts.max_control_line, key, v);
    if (key == "max_payload") return size_opt(opts.max_payload, key, v);
    if (key == "max_pending") return size_opt(opts.max_pending, key, v);
    if (key == "max_connections" || key == "max_conn")
      return size_opt(opts.max_connections, key, v);
    if (key == "max_subscriptions" || key == "max_subs") {
      return size_opt(opts.max_subscriptions, key, v);
    }
    if (key == "ping_interval") return duration_opt(opts.ping_interval, key, v);
    if (key == "ping_max") {
      int64_t n = 0;
      if (!size_opt(n, key, v)) return false;
      opts.ping_max = static_cast<int>(n);
      return true;
    }
    if (key == "write_deadline") return duration_opt(opts.write_deadline, key, v);
    if (key == "lame_duck_duration") {
      if (!duration_opt(opts.lame_duck_duration, key, v)) return false;
      if (opts.lame_duck_duration < std::chrono::seconds(30)) {
        return r.Fail("invalid lame_duck_duration of " + v + ", minimum is 30 seconds");
      }
      return true;
    }
    if (key == "lame_duck_grace_period") {
      if (!duration_opt(opts.lame_duck_grace_period, key, v)) return false;
      if (opts.lame_duck_grace_period < std::chrono::milliseconds(0)) {
        return r.Fail("invalid lame_duck_grace_period, needs to be positive");
      }
      return true;
    }
    if (key == "no_header_support") return bool_opt(opts.no_header_support, key, v);
    return r.Fail("unknown field \"" + key + "\"");
  };
  // TEMPORARY until the conf mapping lands (the lead's LoadConfigFile rewrite replaces this):
  // a file with a users list, permissions or no_auth_user is read with src/conf instead.
  if (auto result = LoadAuthConfigWithConf(path, opts, warnings, top_pair, r.error)) {
    return *result;
  }
  std::function<bool(const std::string&)> top_block = [&](const std::string& key) -> bool {
    if (key != "authorization") return r.Fail("\"" + key + "\" is not supported yet");
    return r.ReadPairs(
        [&](const std::string& k, const std::string& v) -> bool {
          if (k == "user" || k == "username") return opts.username = v, true;
          if (k == "password" || k == "pass") return opts.password = v, true;
          if (k == "token") return opts.token = v, true;
          if (k == "timeout") return duration_opt(opts.auth_timeout, k, v);
          return r.Fail("authorization field \"" + k + "\" is not supported yet");
        },
        [&](const std::string& k) { return r.Fail("\"" + k + "\" is not supported yet"); }, true);
  };
  if (!r.ReadPairs(top_pair, top_block, false)) return r.error;
  return std::nullopt;
}

std::optional<std::string> ValidateOptions(const Options& opts) {
  if (opts.max_payload > opts.max_pending) {
    return FormatMessage("max_payload (%lld) cannot be higher than max_pending (%lld)",
                         static_cast<long long>(opts.max_payload),
                         static_cast<long long>(opts.max_pending));
  }
  if (opts.port < 0 || opts.port > 65535) return std::string("invalid port");
  if (opts.http_port < -1 || opts.http_port > 65535) return std::string("invalid http port");
  if (!opts.username.empty() && !opts.token.empty()) {
    return std::string("token and user/password authentication cannot be used together");
  }
  return std::nullopt;
}

const char* UsageText() {
  return R"(Usage: gannet-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -m, --http_port <port>           Use port for http monitoring
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
        --threads <n>                Worker threads (default: number of cores)

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

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
)";
}

std::optional<std::string> ParseCommandLine(int argc, char** argv, CommandLine& out) {
  Options flags;  // flag values, applied over the config file's
  std::vector<std::function<void(Options&)>> overrides;
  std::string config;

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
      {"user", str([](Options& o, const std::string& v) { o.username = v; })},
      {"pass", str([](Options& o, const std::string& v) { o.password = v; })},
      {"auth", str([](Options& o, const std::string& v) { o.token = v; })},
      {"m", integer("m", [](Options& o, int64_t v) { o.http_port = static_cast<int>(v); })},
      {"ports_file_dir", str([](Options& o, const std::string& v) { o.ports_file_dir = v; })},
      {"sl",
       [&](const std::string& v) -> std::optional<std::string> {
         out.signal = v;
         return std::nullopt;
       }},
      {"threads",
       integer("threads", [](Options& o, int64_t v) { o.threads = static_cast<int>(v); })},
      {"c",
       [&](const std::string& v) -> std::optional<std::string> {
         config = v;
         return std::nullopt;
       }},
  };
  std::map<std::string, std::string> aliases = {
      {"addr", "a"},        {"net", "a"},   {"http_port", "m"}, {"port", "p"},    {"name", "n"},
      {"server_name", "n"}, {"pid", "P"},   {"log", "l"},       {"config", "c"},  {"logtime", "T"},
      {"debug", "D"},       {"trace", "V"}, {"help", "h"},      {"version", "v"}, {"signal", "sl"}};
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
  };
  // Flags of nats-server for features not built yet: refused, never silently ignored.
  static const char* kNotYet[] = {"ms",
                                  "https_port",
                                  "s",
                                  "syslog",
                                  "r",
                                  "remote_syslog",
                                  "js",
                                  "jetstream",
                                  "sd",
                                  "store_dir",
                                  "tls",
                                  "tlscert",
                                  "tlskey",
                                  "tlsverify",
                                  "tlscacert",
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

  out.options = Options{};
  if (!config.empty()) {
    out.options.config_file = config;
    if (auto err = LoadConfigFile(config, out.options, out.warnings)) return err;
  }
  for (auto& apply : overrides) apply(out.options);
  if (out.options.threads <= 0) {
    unsigned n = std::thread::hardware_concurrency();
    out.options.threads = n == 0 ? 1 : static_cast<int>(n);
  }
  return std::nullopt;
}

}  // namespace gannet
