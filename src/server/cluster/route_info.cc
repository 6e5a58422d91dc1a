// Route INFO and CONNECT, JSON in and out (see route_info.h).
#include "server/cluster/route_info.h"

#include <nlohmann/json.hpp>

namespace gannet {

namespace {

using Json = nlohmann::ordered_json;

// Reads `key` into `out` when present; a value of the wrong type is an error, as Go's.
template <typename T>
bool Read(const Json& doc, const char* key, T& out, std::string& error) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return true;
  try {
    out = it->get<T>();
    return true;
  } catch (const Json::exception&) {
    error = std::string("json: cannot unmarshal into Go struct field ") + key;
    return false;
  }
}

bool ReadPermission(const Json& doc, const char* key, std::optional<SubjectPermission>& out,
                    std::string& error) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_object()) {
    error = std::string("json: cannot unmarshal into Go struct field ") + key;
    return false;
  }
  SubjectPermission p;
  if (!Read(*it, "allow", p.allow, error) || !Read(*it, "deny", p.deny, error)) return false;
  out = std::move(p);
  return true;
}

Json PermissionJson(const SubjectPermission& p) {
  Json j = Json::object();
  if (!p.allow.empty()) j["allow"] = p.allow;
  if (!p.deny.empty()) j["deny"] = p.deny;
  return j;
}

}  // namespace

std::optional<std::string> ParseRouteInfo(std::string_view json, RouteInfo& out) {
  Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::string("invalid INFO JSON");
  std::string e;
  bool ok =
      Read(doc, "server_id", out.server_id, e) && Read(doc, "server_name", out.server_name, e) &&
      Read(doc, "version", out.version, e) && Read(doc, "proto", out.proto, e) &&
      Read(doc, "go", out.go, e) && Read(doc, "host", out.host, e) &&
      Read(doc, "port", out.port, e) && Read(doc, "headers", out.headers, e) &&
      Read(doc, "auth_required", out.auth_required, e) &&
      Read(doc, "tls_required", out.tls_required, e) &&
      Read(doc, "tls_verify", out.tls_verify, e) && Read(doc, "max_payload", out.max_payload, e) &&
      Read(doc, "jetstream", out.jetstream, e) && Read(doc, "ip", out.ip, e) &&
      Read(doc, "nonce", out.nonce, e) && Read(doc, "cluster", out.cluster, e) &&
      Read(doc, "cluster_dynamic", out.cluster_dynamic, e) && Read(doc, "domain", out.domain, e) &&
      Read(doc, "connect_urls", out.connect_urls, e) &&
      Read(doc, "ws_connect_urls", out.ws_connect_urls, e) && Read(doc, "ldm", out.ldm, e) &&
      ReadPermission(doc, "import", out.import_permissions, e) &&
      ReadPermission(doc, "export", out.export_permissions, e) && Read(doc, "lnoc", out.lnoc, e) &&
      Read(doc, "gateway", out.gateway, e) && Read(doc, "gateway_url", out.gateway_url, e) &&
      Read(doc, "leafnode_urls", out.leafnode_urls, e);
  if (!ok) return e;
  return std::nullopt;
}

std::optional<std::string> ParseRouteConnect(std::string_view json, RouteConnect& out) {
  Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::string("invalid CONNECT JSON");
  std::string e;
  bool ok = Read(doc, "echo", out.echo, e) && Read(doc, "verbose", out.verbose, e) &&
            Read(doc, "pedantic", out.pedantic, e) && Read(doc, "user", out.user, e) &&
            Read(doc, "pass", out.pass, e) && Read(doc, "tls_required", out.tls_required, e) &&
            Read(doc, "headers", out.headers, e) && Read(doc, "name", out.name, e) &&
            Read(doc, "cluster", out.cluster, e) &&
            Read(doc, "cluster_dynamic", out.cluster_dynamic, e) &&
            Read(doc, "lnoc", out.lnoc, e) && Read(doc, "gateway", out.gateway, e) &&
            Read(doc, "lang", out.lang, e);
  if (!ok) return e;
  return std::nullopt;
}

std::string RouteInfoLine(const RouteInfo& i) {
  // Field order and omissions as the reference's Info struct (server.go).
  Json j;
  j["server_id"] = i.server_id;
  j["server_name"] = i.server_name;
  j["version"] = i.version;
  j["proto"] = i.proto;
  j["go"] = i.go;
  j["host"] = i.host;
  j["port"] = i.port;
  j["headers"] = i.headers;
  if (i.auth_required) j["auth_required"] = true;
  if (i.tls_required) j["tls_required"] = true;
  if (i.tls_verify) j["tls_verify"] = true;
  j["max_payload"] = i.max_payload;
  if (i.jetstream) j["jetstream"] = true;
  if (!i.ip.empty()) j["ip"] = i.ip;
  if (!i.nonce.empty()) j["nonce"] = i.nonce;
  if (!i.cluster.empty()) j["cluster"] = i.cluster;
  if (i.cluster_dynamic) j["cluster_dynamic"] = true;
  if (!i.domain.empty()) j["domain"] = i.domain;
  if (!i.connect_urls.empty()) j["connect_urls"] = i.connect_urls;
  if (!i.ws_connect_urls.empty()) j["ws_connect_urls"] = i.ws_connect_urls;
  if (i.ldm) j["ldm"] = true;
  if (i.import_permissions) j["import"] = PermissionJson(*i.import_permissions);
  if (i.export_permissions) j["export"] = PermissionJson(*i.export_permissions);
  if (i.lnoc) j["lnoc"] = true;
  if (!i.gateway_url.empty()) j["gateway_url"] = i.gateway_url;
  if (!i.leafnode_urls.empty()) j["leafnode_urls"] = i.leafnode_urls;
  return "INFO " + j.dump() + " \r\n";
}

std::string RouteConnectLine(const RouteConnect& c) {
  Json j;
  j["echo"] = c.echo;
  j["verbose"] = c.verbose;
  j["pedantic"] = c.pedantic;
  if (!c.user.empty()) j["user"] = c.user;
  if (!c.pass.empty()) j["pass"] = c.pass;
  j["tls_required"] = c.tls_required;
  j["headers"] = c.headers;
  j["name"] = c.name;
  j["cluster"] = c.cluster;
  if (c.cluster_dynamic) j["cluster_dynamic"] = true;
  if (c.lnoc) j["lnoc"] = true;
  if (!c.gateway.empty()) j["gateway"] = c.gateway;
  return "CONNECT " + j.dump() + "\r\n";
}

}  // namespace gannet
