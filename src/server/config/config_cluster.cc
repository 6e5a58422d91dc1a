// cluster { ... } (config_cluster.h), after the reference's opts.go parseCluster, parseURLs,
// parseListen and the parts of parseAuthorization a cluster takes.
#include "server/config/config_cluster.h"

#include <climits>
#include <set>

#include "base/strings.h"
#include "server/config/config_auth.h"
#include "server/config/config_tls.h"
#include "server/config/go_url.h"

namespace gannet {

namespace {

// The errors and warnings of the block, in the reference's words. The reference reads the
// block with Go type assertions: a value of the wrong type panics, which its reader turns into
// an error and which ends the block (Stop); other errors are listed and the block goes on.
class ClusterReader {
 public:
  explicit ClusterReader(ClusterConfig& cluster) : c_(cluster) {}

  std::vector<std::string> errors;
  std::vector<std::string> warnings;

  // Reads the block; false once the reading stopped (the errors say why).
  bool Read(const conf::Value& block);

 private:
  void Error(const conf::Position& pos, const std::string& message) {
    errors.push_back(pos.ToString() + ": " + message);
  }
  void Error(const std::string& message) { errors.push_back(message); }
  void Warning(const conf::Position& pos, const std::string& field, const std::string& reason) {
    warnings.push_back(pos.ToString() + ": invalid use of field " + GoQuote(field) + ": " + reason);
  }
  // A Go type assertion that failed: the error, and the block ends.
  bool Stop(const conf::Position& pos, const conf::Value& v, const char* want) {
    Error(pos,
          std::string("interface conversion: interface {} is ") + GoTypeName(v) + ", not " + want);
    return false;
  }
  // Each returns false when the block ends.
  bool String(const conf::MapEntry& e, std::string& out) {
    if (!e.value.IsString()) return Stop(e.key_position, e.value, "string");
    out = e.value.AsString();
    return true;
  }
  bool Bool(const conf::MapEntry& e, bool& out) {
    if (!e.value.IsBool()) return Stop(e.key_position, e.value, "bool");
    out = e.value.AsBool();
    return true;
  }
  bool Int(const conf::MapEntry& e, int& out) {
    if (!e.value.IsInteger()) return Stop(e.key_position, e.value, "int64");
    int64_t v = e.value.AsInteger();
    // Beyond an int, the value is refused later (a port no listener takes) as in the reference.
    out = v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : static_cast<int>(v);
    return true;
  }
  void Listen(const conf::MapEntry& e);
  bool Authorization(const conf::MapEntry& e);
  bool Routes(const conf::MapEntry& e);
  void Permissions(const conf::MapEntry& e);

  ClusterConfig& c_;
  bool permissions_set_ = false;  // permissions {}: wins over authorization's permissions
};

bool ClusterReader::Read(const conf::Value& block) {
  for (const conf::MapEntry& e : block.AsMap()) {
    const std::string key = AsciiLower(e.key);
    bool go_on = true;
    if (key == "name") {
      go_on = String(e, c_.name);
    } else if (key == "listen") {
      Listen(e);
    } else if (key == "port") {
      go_on = Int(e, c_.port);
    } else if (key == "host" || key == "net") {
      go_on = String(e, c_.host);
    } else if (key == "authorization") {
      go_on = Authorization(e);
    } else if (key == "routes") {
      go_on = Routes(e);
    } else if (key == "tls") {
      if (!e.value.IsMap()) {
        // The reference's parseTLS turns this panic into its error; the block goes on.
        Error(e.key_position, std::string("interface conversion: interface {} is ") +
                                  GoTypeName(e.value) + ", not map[string]interface {}");
      } else if (auto err = ReadTlsBlock(e, TlsBlockKind::kRoute, c_.tls)) {
        Error(*err);
      }
    } else if (key == "cluster_advertise" || key == "advertise") {
      go_on = String(e, c_.advertise);
    } else if (key == "no_advertise") {
      go_on = Bool(e, c_.no_advertise);
    } else if (key == "connect_retries") {
      go_on = Int(e, c_.connect_retries);
    } else if (key == "permissions") {
      Permissions(e);
    } else if (!e.value.used_as_variable()) {
      // pool_size, compression, ... are nats-server 2.10's: unknown to 2.9.10.
      Error(e.key_position, "unknown field " + GoQuote(e.key));
    }
    if (!go_on) return false;
  }
  return true;
}

// listen: a port, or "host:port" (parseListen).
void ClusterReader::Listen(const conf::MapEntry& e) {
  const conf::Value& v = e.value;
  if (v.IsInteger()) {
    Int(e, c_.port);
    return;
  }
  if (!v.IsString()) {
    Error(e.key_position, std::string("expected port or host:port, got ") + GoTypeName(v));
    return;
  }
  std::string host, port, why;
  if (!GoSplitHostPort(v.AsString(), host, port, &why)) {
    Error(e.key_position, "could not parse address string " + GoQuote(v.AsString()));
    return;
  }
  std::optional<int64_t> n = GoAtoi(port, &why);
  if (!n) {
    Error(e.key_position, "could not parse port " + GoQuote(port));
    return;
  }
  c_.host = host;
  c_.port = *n > INT_MAX ? INT_MAX : *n < INT_MIN ? INT_MIN : static_cast<int>(*n);
}

// authorization { user, password, timeout }: what parseAuthorization reads, then the cluster's
// refusals of users and tokens.
bool ClusterReader::Authorization(const conf::MapEntry& entry) {
  const conf::Position& at = entry.key_position;
  // After a failed type assertion the reference's parseAuthorization comes back with nothing,
  // and parseCluster then dereferences it: a second error, at the block, which ends it.
  auto crash = [&] {
    Error(at, "runtime error: invalid memory address or nil pointer dereference");
    return false;
  };
  if (!entry.value.IsMap()) {
    Stop(at, entry.value, "map[string]interface {}");
    return crash();
  }
  std::string user, password, token;
  double timeout = 0;
  bool users = false;
  std::optional<gannet::Permissions> perms;
  for (const conf::MapEntry& e : entry.value.AsMap()) {
    const std::string key = AsciiLower(e.key);
    if (key == "user" || key == "username" || key == "pass" || key == "password" ||
        key == "token") {
      if (!e.value.IsString()) {
        Stop(e.key_position, e.value, "string");
        return crash();
      }
      std::string& out = key == "token" ? token : key[0] == 'u' ? user : password;
      out = e.value.AsString();
    } else if (key == "timeout") {
      // Seconds, an integer or a float; anything else is one second (as the reference).
      timeout = e.value.IsInteger() ? static_cast<double>(e.value.AsInteger())
                : e.value.IsFloat() ? e.value.AsFloat()
                                    : 1;
    } else if (key == "users") {
      users = ReadUserList(e.value, e.key_position, errors);
    } else if (key == "default_permission" || key == "default_permissions" ||
               key == "permissions") {
      gannet::Permissions p;
      if (auto err = ReadPermissions(e.value, &e.key_position, p)) Error(*err);
      if (e.value.IsMap()) perms = std::move(p);
    } else if (!e.value.used_as_variable()) {
      Error(e.key_position, "unknown field " + GoQuote(e.key));
    }
  }
  if (users) {
    Error(at, "Cluster authorization does not allow multiple users");
    return true;
  }
  if (!token.empty()) {
    Error(at, "Cluster authorization does not support tokens");
    return true;
  }
  c_.username = user;
  c_.password = password;
  // 0 (or none) leaves the default, which depends on route TLS (BuildOptions).
  c_.auth_timeout_set = timeout != 0;
  if (c_.auth_timeout_set) {
    c_.auth_timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  }
  if (perms) {
    Warning(at, entry.key,
            "setting \"permissions\" within cluster authorization block is deprecated");
    if (!permissions_set_) {
      c_.import_permissions = perms->publish;
      c_.export_permissions = perms->subscribe;
    }
  }
  return true;
}

// routes: an array of URLs (parseURLs): a duplicate is a warning, a URL that does not parse an
// error; with any error the routes are left as they were.
bool ClusterReader::Routes(const conf::MapEntry& e) {
  if (!e.value.IsArray()) return Stop(e.key_position, e.value, "[]interface {}");
  std::vector<RouteUrl> routes;
  std::set<std::string> seen;
  const size_t errors_before = errors.size();
  for (const conf::Value& item : e.value.AsArray()) {
    if (!item.IsString()) {
      // A panic inside parseURLs: the rest of the list is not read, the block goes on.
      Error(item.position(), std::string("interface conversion: interface {} is ") +
                                 GoTypeName(item) + ", not string");
      break;
    }
    const std::string& text = item.AsString();
    if (!seen.insert(text).second) {
      Warning(item.position(), text, "Duplicate route entry detected");
      continue;
    }
    std::string why;
    if (std::optional<RouteUrl> url = ParseRouteUrl(text, &why)) {
      routes.push_back(std::move(*url));
    } else {
      Error(item.position(), why);
    }
  }
  if (errors.size() == errors_before) c_.routes = std::move(routes);
  return true;
}

// permissions { import, export }: as a user's permissions (import is publish, export is
// subscribe), without allow_responses.
void ClusterReader::Permissions(const conf::MapEntry& e) {
  gannet::Permissions p;
  // A value that is not a map is reported without a position, as the reference does here.
  if (auto err = ReadPermissions(e.value, nullptr, p)) {
    Error(*err);
    if (!e.value.IsMap()) return;
  }
  if (p.response) {
    Error(e.key_position, "Cluster permissions do not support dynamic responses");
    return;
  }
  c_.import_permissions = p.publish;
  c_.export_permissions = p.subscribe;
  permissions_set_ = true;
}

std::string Join(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::string out;
  for (const auto* list : {&a, &b}) {
    for (const std::string& line : *list) {
      if (!out.empty()) out += '\n';
      out += line;
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> ApplyCluster(const conf::MapEntry& entry, Options& opts,
                                        std::vector<std::string>& warnings, bool strict) {
  if (!entry.value.IsMap()) {
    return entry.key_position.ToString() + ": Expected map to define cluster, got " +
           GoTypeName(entry.value);
  }
  opts.cluster.configured = true;
  ClusterReader reader(opts.cluster);
  reader.Read(entry.value);
  // As the reference lists them: warnings first, then errors; under -t a warning fails too.
  if (!reader.errors.empty() || (strict && !reader.warnings.empty())) {
    return Join(reader.warnings, reader.errors);
  }
  for (std::string& w : reader.warnings) warnings.push_back(std::move(w));
  return std::nullopt;
}

}  // namespace gannet
