// What servers of a cluster tell each other when a route comes up: the route INFO (route.go's
// Info for routes, sent by both sides, and again as gossip about a third server or a lame duck)
// and the route CONNECT (connectInfo, sent by the side that dialed). JSON in, JSON out, with
// the reference's field names and order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/users.h"

namespace gannet {

struct RouteInfo {
  std::string server_id;
  std::string server_name;
  std::string version;
  int proto = 0;
  std::string go;
  std::string host;
  int port = 0;
  bool headers = false;
  bool auth_required = false;
  bool tls_required = false;
  bool tls_verify = false;
  int64_t max_payload = 0;
  bool jetstream = false;
  std::string ip;  // "nats-route://host:port/": where to dial this server (gossip, advertise)
  std::string nonce;
  std::string cluster;
  bool cluster_dynamic = false;
  std::string domain;
  std::vector<std::string> connect_urls;  // the server's client URLs (unless no_advertise)
  std::vector<std::string> ws_connect_urls;
  bool ldm = false;  // the server entered lame duck mode
  std::optional<SubjectPermission> import_permissions;
  std::optional<SubjectPermission> export_permissions;
  bool lnoc = false;        // understands LS+/LS-/LMSG (leaf node origin cluster)
  std::string gateway;      // set only on a gateway's INFO: refused on the route port
  std::string gateway_url;  // this server's gateway URL (route INFO)
  std::vector<std::string> leafnode_urls;
};

struct RouteConnect {
  bool echo = true;
  bool verbose = false;
  bool pedantic = false;
  std::string user;
  std::string pass;
  bool tls_required = false;
  bool headers = false;
  std::string name;  // the dialing server's id
  std::string cluster;
  bool cluster_dynamic = false;
  bool lnoc = false;
  std::string gateway;
  std::string lang;  // set only by a client that dialed the route port by mistake
};

// Parses an INFO's JSON; the error names the field, as Go's json.Unmarshal would.
std::optional<std::string> ParseRouteInfo(std::string_view json, RouteInfo& out);
std::optional<std::string> ParseRouteConnect(std::string_view json, RouteConnect& out);
// "INFO {...} \r\n" and "CONNECT {...}\r\n" as the reference writes them.
std::string RouteInfoLine(const RouteInfo& info);
std::string RouteConnectLine(const RouteConnect& connect);

}  // namespace gannet
