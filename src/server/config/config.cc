// The configuration file onto Options (config.h): the top level key by key; the blocks with
// rules of their own are read by config_auth.cc, config_cluster.cc and config_tls.cc.
#include "server/config/config.h"

#include <charconv>

#include "base/strings.h"
#include "conf/duration.h"
#include "conf/parser.h"
#include "server/config/config_auth.h"
#include "server/config/config_cluster.h"
#include "server/config/config_tls.h"

namespace gannet {

namespace {

using conf::MapEntry;

std::vector<std::string>& EmbedderKeys() {
  static std::vector<std::string> keys;
  return keys;
}

// Collects the first error and the warnings while the tree is walked. Every setter returns
// false once an error is recorded, so the walk stops at the first one (as the reference
// reports the first error of a file).
class Mapper {
 public:
  Mapper(Options& opts, std::vector<std::string>& warnings, bool strict)
      : opts_(opts), warnings_(warnings), strict_(strict) {}

  std::optional<std::string> error;

  bool Fail(const conf::Position& pos, const std::string& message) {
    if (!error) error = pos.ToString() + ": " + message;
    return false;
  }
  // The reference's configWarningErr: an error under -t, else printed and the start goes on.
  bool Warn(const conf::Position& pos, const std::string& field, const std::string& message) {
    std::string text = "invalid use of field \"" + field + "\": " + message;
    if (strict_) return Fail(pos, text);
    warnings_.push_back(pos.ToString() + ": " + text);
    return true;
  }
  bool TypeError(const MapEntry& e, const char* want) {
    return Fail(e.value.position(), "invalid value for \"" + e.key + "\": expected " + want +
                                        ", got " + conf::KindName(e.value.kind()));
  }

  bool String(const MapEntry& e, std::string& out) {
    if (!e.value.IsString()) return TypeError(e, "a string");
    out = e.value.AsString();
    return true;
  }
  bool Bool(const MapEntry& e, bool& out) {
    if (!e.value.IsBool()) return TypeError(e, "a boolean");
    out = e.value.AsBool();
    return true;
  }
  bool Int(const MapEntry& e, int64_t& out, int64_t min = INT64_MIN, int64_t max = INT64_MAX) {
    if (!e.value.IsInteger()) return TypeError(e, "an integer");
    int64_t v = e.value.AsInteger();
    if (v < min || v > max) {
      return Fail(e.value.position(),
                  "invalid value for \"" + e.key + "\": " + std::to_string(v) + " is out of range");
    }
    out = v;
    return true;
  }
  bool Int(const MapEntry& e, int& out, int64_t min, int64_t max) {
    int64_t v = 0;
    if (!Int(e, v, min, max)) return false;
    out = static_cast<int>(v);
    return true;
  }
  bool Port(const MapEntry& e, int& out) { return Int(e, out, -1, 65535); }
  bool Duration(const MapEntry& e, std::chrono::milliseconds& out) {
    conf::DurationResult d = conf::ToDuration(e.key, e.value);
    if (d.error) {
      if (!error) error = *d.error;
      return false;
    }
    if (d.warning && !Warn(e.key_position, e.key, e.key + " should be converted to a duration")) {
      return false;
    }
    out = std::chrono::duration_cast<std::chrono::milliseconds>(d.value);
    return true;
  }
  // "host:port", ":port" or a port number (listen, http).
  bool HostPort(const MapEntry& e, std::string& host, int& port) {
    if (e.value.IsInteger()) return Port(e, port);
    if (!e.value.IsString()) return TypeError(e, "\"host:port\" or a port number");
    const std::string& s = e.value.AsString();
    size_t colon = s.rfind(':');
    if (colon == std::string::npos) {
      return Fail(e.value.position(), "could not parse address string \"" + s + "\"");
    }
    std::string h = s.substr(0, colon);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    int p = 0;
    std::string_view ps(s.data() + colon + 1, s.size() - colon - 1);
    auto [ptr, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), p);
    if (ec != std::errc() || ptr != ps.data() + ps.size() || p < -1 || p > 65535) {
      return Fail(e.value.position(), "could not parse port \"" + std::string(ps) + "\"");
    }
    if (!h.empty()) host = h;
    port = p;
    return true;
  }
  bool Map(const MapEntry& e) {
    if (!e.value.IsMap()) return TypeError(e, "a map");
    return true;
  }
  bool Unknown(const MapEntry& e) {
    if (e.value.used_as_variable()) return true;  // a variable definition, not an option
    return Fail(e.key_position, "unknown field \"" + e.key + "\"");
  }
  bool NotYet(const MapEntry& e) {
    return Fail(e.key_position, "\"" + e.key + "\" is not supported yet by gannet-server");
  }

  bool Top(const MapEntry& e);
  // A block read by a function of its own (authorization, accounts, cluster, tls): its
  // error, if any, is the mapping's.
  bool Block(std::optional<std::string> err) {
    if (err && !error) error = std::move(err);
    return !error;
  }

 private:
  Options& opts_;
  std::vector<std::string>& warnings_;
  bool strict_;
};

bool Mapper::Top(const MapEntry& e) {
  const std::string key = AsciiLower(e.key);
  Options& o = opts_;
  if (key == "listen") return HostPort(e, o.host, o.port);
  if (key == "port") return Port(e, o.port);
  if (key == "host" || key == "net") return String(e, o.host);
  if (key == "server_name") {
    if (!String(e, o.server_name)) return false;
    if (o.server_name.find(' ') != std::string::npos) {
      return Fail(e.value.position(),
                  "server name \"" + o.server_name + "\" cannot contain spaces");
    }
    return true;
  }
  if (key == "client_advertise") return String(e, o.client_advertise);
  if (key == "debug") return Bool(e, o.debug);
  if (key == "trace" || key == "trace_verbose") return Bool(e, o.trace);
  if (key == "logtime") return Bool(e, o.logtime);
  if (key == "logfile" || key == "log_file") return String(e, o.log_file);
  if (key == "pidfile" || key == "pid_file") return String(e, o.pid_file);
  if (key == "ports_file_dir") return String(e, o.ports_file_dir);
  if (key == "max_control_line") return Int(e, o.max_control_line, 0);
  if (key == "max_payload") return Int(e, o.max_payload, 0);
  if (key == "max_pending") return Int(e, o.max_pending, 0);
  if (key == "max_pending_total") return Int(e, o.max_pending_total, 0);  // Gannet's own
  if (key == "max_connections" || key == "max_conn") return Int(e, o.max_connections, 0);
  if (key == "max_subscriptions" || key == "max_subs") return Int(e, o.max_subscriptions, 0);
  if (key == "ping_interval") return Duration(e, o.ping_interval);
  if (key == "ping_max") return Int(e, o.ping_max, 0, INT32_MAX);
  if (key == "write_deadline") return Duration(e, o.write_deadline);
  if (key == "lame_duck_duration") {
    if (!Duration(e, o.lame_duck_duration)) return false;
    if (o.lame_duck_duration < std::chrono::seconds(30)) {
      return Fail(e.key_position, "invalid lame_duck_duration of " +
                                      (e.value.IsString() ? e.value.AsString()
                                                          : std::to_string(e.value.AsInteger())) +
                                      ", minimum is 30 seconds");
    }
    return true;
  }
  if (key == "lame_duck_grace_period") {
    if (!Duration(e, o.lame_duck_grace_period)) return false;
    if (o.lame_duck_grace_period.count() < 0) {
      return Fail(e.key_position, "invalid lame_duck_grace_period, needs to be positive");
    }
    return true;
  }
  if (key == "no_header_support") return Bool(e, o.no_header_support);
  if (key == "system_account" || key == "system") return String(e, o.system_account);
  if (key == "no_system_account" || key == "no_system" || key == "no_sys_acc") {
    return Bool(e, o.no_system_account);
  }
  if (key == "authorization") {
    if (!Map(e)) return false;
    if (auto err = ApplyAuthorization(e.value, opts_, warnings_)) {
      if (!error) error = *err;
      return false;
    }
    return true;
  }
  if (key == "mappings" || key == "maps") {
    if (auto err = ApplyMappings(e.value, opts_.mappings)) {
      if (!error) error = *err;
      return false;
    }
    return true;
  }
  if (key == "accounts") {
    if (auto err = ApplyAccounts(e, opts_)) {
      if (!error) error = *err;
      return false;
    }
    return true;
  }
  if (key == "no_auth_user") return String(e, o.authorization.no_auth_user);
  if (key == "http") return HostPort(e, o.http_host, o.http_port);
  if (key == "http_port" || key == "monitor_port") return Port(e, o.http_port);
  if (key == "https") {
    std::string h;
    return HostPort(e, h, o.https_port);
  }
  if (key == "https_port") return Port(e, o.https_port);
  if (key == "http_base_path") return String(e, o.http_base_path);
  if (key == "tls") {
    if (!e.value.IsMap()) {
      return Fail(e.key_position, std::string("interface conversion: interface {} is ") +
                                      GoTypeName(e.value) + ", not map[string]interface {}");
    }
    return Block(ReadTlsBlock(e, TlsBlockKind::kClient, o.tls));
  }
  if (key == "cluster") return Block(ApplyCluster(e, opts_, warnings_, strict_));
  // Features of later work: refused with a clear message, never silently ignored.
  static const char* kNotYet[] = {"disable_sublist_cache",
                                  "no_sublist_cache",
                                  "gateway",
                                  "leaf",
                                  "leafnodes",
                                  "store_dir",
                                  "storedir",
                                  "jetstream",
                                  "logfile_size_limit",
                                  "log_size_limit",
                                  "syslog",
                                  "remote_syslog",
                                  "prof_port",
                                  "max_traced_msg_len",
                                  "max_sub_tokens",
                                  "max_subscription_tokens",
                                  "ocsp",
                                  "allow_non_tls",
                                  "operator",
                                  "operators",
                                  "roots",
                                  "root",
                                  "root_operators",
                                  "root_operator",
                                  "resolver",
                                  "account_resolver",
                                  "accounts_resolver",
                                  "resolver_tls",
                                  "resolver_preload",
                                  "resolver_pinned_accounts",
                                  "trusted",
                                  "trusted_keys",
                                  "connect_error_reports",
                                  "reconnect_error_reports",
                                  "websocket",
                                  "ws",
                                  "mqtt",
                                  "server_tags",
                                  "default_js_domain"};
  for (const char* n : kNotYet) {
    if (key == n) return NotYet(e);
  }
  for (const std::string& k : EmbedderKeys()) {
    if (key == k) return true;  // read by the embedding program
  }
  return Unknown(e);
}

}  // namespace

void SetEmbedderConfigKeys(std::vector<std::string> keys) {
  for (std::string& k : keys) k = AsciiLower(k);
  EmbedderKeys() = std::move(keys);
}

std::optional<std::string> LoadConfig(const std::string& path, Options& opts,
                                      std::vector<std::string>& warnings, bool strict) {
  conf::ParseResult parsed = conf::ParseFile(path);
  if (!parsed.ok()) return parsed.error->ToString();
  return OptionsFromConfig(parsed.root, opts, warnings, strict);
}

std::optional<std::string> OptionsFromConfig(const conf::Value& root, Options& opts,
                                             std::vector<std::string>& warnings, bool strict) {
  Mapper m(opts, warnings, strict);
  for (const MapEntry& e : root.AsMap()) {
    if (!m.Top(e)) return m.error;
  }
  return std::nullopt;
}

}  // namespace gannet
