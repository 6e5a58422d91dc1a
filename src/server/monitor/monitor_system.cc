// Monitoring over the system account: a $SYS.REQ request's options (the reference's JSON
// option structs) turned into the HTTP endpoint's query, answered by the same builders; and
// the STATSZ document the HTTP endpoints have no page for.
#include <algorithm>
#include <cctype>
#include <map>

#include "server/account.h"
#include "server/cluster/route.h"
#include "server/monitor/monitor.h"
#include "server/monitor/monitor_format.h"
#include "server/server.h"

namespace gannet {

namespace {

std::string QueryEscape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Appends key=value for an option present in the request (strings as they are, numbers and
// booleans as Go prints them).
void AddParam(std::string& query, const char* key, const Monitor::Json& value) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_boolean()) {
    text = value.get<bool>() ? "true" : "false";
  } else if (value.is_number()) {
    text = value.dump();
  } else {
    return;
  }
  if (!query.empty()) query += '&';
  query += key;
  query += '=';
  query += QueryEscape(text);
}

const Monitor::Json* Option(const Monitor::Json& options, const char* key) {
  if (!options.is_object()) return nullptr;
  auto it = options.find(key);
  if (it == options.end() || it->is_null()) return nullptr;
  return &*it;
}

bool OptionTrue(const Monitor::Json& options, const char* key) {
  const Monitor::Json* v = Option(options, key);
  return v && v->is_boolean() && v->get<bool>();
}

}  // namespace

Monitor::ApiResult Monitor::SystemRequest(std::string_view endpoint, const Json& options,
                                          const std::string& account) {
  std::lock_guard lock(mu_);
  using Handler = HttpResponse (Monitor::*)(const HttpRequest&);
  HttpRequest r;
  r.method = "GET";
  Handler handler = nullptr;
  std::string& q = r.query;
  if (endpoint == "VARZ") {
    handler = &Monitor::Varz;
  } else if (endpoint == "CONNZ") {
    // ConnzOptions: the state is a number there (0 open, 1 closed, 2 any).
    handler = &Monitor::Connz;
    for (const char* key : {"sort", "auth", "offset", "limit", "cid", "user", "mqtt_client"}) {
      if (const Json* v = Option(options, key)) AddParam(q, key, *v);
    }
    if (OptionTrue(options, "subscriptions_detail")) {
      AddParam(q, "subs", "detail");
    } else if (OptionTrue(options, "subscriptions")) {
      AddParam(q, "subs", true);
    }
    if (const Json* v = Option(options, "state"); v && v->is_number_integer()) {
      static const char* kStates[] = {"open", "closed", "any"};
      int64_t state = v->get<int64_t>();
      if (state >= 0 && state <= 2) AddParam(q, "state", kStates[state]);
    }
    if (!account.empty()) {
      AddParam(q, "acc", account);
    } else if (const Json* v = Option(options, "acc")) {
      AddParam(q, "acc", *v);
    }
  } else if (endpoint == "SUBSZ") {
    handler = &Monitor::Subsz;
    for (const char* key : {"offset", "limit", "test"}) {
      if (const Json* v = Option(options, key)) AddParam(q, key, *v);
    }
    // As the reference: an account's SUBSZ always lists its subscriptions.
    if (!account.empty() || OptionTrue(options, "subscriptions")) AddParam(q, "subs", true);
    if (!account.empty()) {
      AddParam(q, "acc", account);
    } else if (const Json* v = Option(options, "account")) {
      AddParam(q, "acc", *v);
    }
  } else if (endpoint == "ROUTEZ") {
    handler = &Monitor::Routez;
    if (OptionTrue(options, "subscriptions_detail")) {
      AddParam(q, "subs", "detail");
    } else if (OptionTrue(options, "subscriptions")) {
      AddParam(q, "subs", true);
    }
  } else if (endpoint == "ACCOUNTZ") {
    handler = &Monitor::Accountz;
    if (const Json* v = Option(options, "account")) AddParam(q, "acc", *v);
  } else if (endpoint == "INFO") {
    handler = &Monitor::Accountz;
    AddParam(q, "acc", account);
  } else if (endpoint == "HEALTHZ") {
    handler = &Monitor::Healthz;
  } else if (endpoint == "GATEWAYZ") {
    handler = &Monitor::Gatewayz;
  } else if (endpoint == "LEAFZ") {
    handler = &Monitor::Leafz;
  }
  ApiResult result;
  if (!handler) {
    result.code = 400;
    result.error = "unknown endpoint " + std::string(endpoint);
    return result;
  }
  HttpResponse resp = (this->*handler)(r);
  if (resp.status != 200) {
    result.code = resp.status;
    result.error = resp.body;
    while (!result.error.empty() && result.error.back() == '\n') result.error.pop_back();
    return result;
  }
  Json doc = Json::parse(resp.body, nullptr, false);
  if (doc.is_discarded()) {
    result.code = 500;
    result.error = "malformed " + std::string(endpoint) + " document";
    return result;
  }
  if (endpoint == "INFO") {
    // The account's detail alone (the reference's accountInfo).
    result.data = std::move(doc["account_detail"]);
  } else if (endpoint == "SUBSZ" && !doc.contains("server_id")) {
    // /subsz without a list is the figures alone; the reference's request answers with its
    // whole Subsz, an empty page.
    Json full;
    full["server_id"] = server_.server_id();
    full["now"] = FormatRfc3339Nano(std::chrono::system_clock::now());
    for (auto& [key, value] : doc.items()) full[key] = std::move(value);
    const Json* offset = Option(options, "offset");
    const Json* limit = Option(options, "limit");
    full["total"] = 0;
    full["offset"] =
        offset && offset->is_number_integer() ? std::max<int64_t>(offset->get<int64_t>(), 0) : 0;
    full["limit"] = limit && limit->is_number_integer() && limit->get<int64_t>() > 0
                        ? limit->get<int64_t>()
                        : int64_t{1024};
    result.data = std::move(full);
  } else {
    result.data = std::move(doc);
  }
  return result;
}

std::optional<Monitor::Json> Monitor::AccountStatz(const std::vector<std::string>& accounts,
                                                   bool include_unused) {
  std::lock_guard lock(mu_);
  auto gathered = server_.Gather(true, false, 0, std::chrono::seconds(5));
  if (!gathered) return std::nullopt;
  struct Figures {
    int64_t conns = 0;
    uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  };
  std::map<std::string, Figures> by_account;
  for (const ConnSnapshot& c : gathered->conns) {
    Figures& f = by_account[c.account];
    f.conns++;
    f.in_msgs += c.in_msgs;
    f.in_bytes += c.in_bytes;
    f.out_msgs += c.out_msgs;
    f.out_bytes += c.out_bytes;
  }
  Json list = Json::array();
  for (const auto& a : server_.accounts().all()) {
    if (!a->live()) continue;
    if (!accounts.empty() &&
        std::find(accounts.begin(), accounts.end(), a->name()) == accounts.end()) {
      continue;
    }
    Figures f = by_account[a->name()];
    if (f.conns == 0 && !include_unused) continue;
    Json e;
    e["acc"] = a->name();
    e["conns"] = f.conns;
    e["leafnodes"] = 0;
    e["total_conns"] = f.conns;
    // From the account's side: sent is what its clients were sent.
    e["sent"] = Json{{"msgs", f.out_msgs}, {"bytes", f.out_bytes}};
    e["received"] = Json{{"msgs", f.in_msgs}, {"bytes", f.in_bytes}};
    e["slow_consumers"] = 0;
    list.push_back(std::move(e));
  }
  Json doc;
  doc["server_id"] = server_.server_id();
  doc["now"] = FormatRfc3339Nano(std::chrono::system_clock::now());
  doc["account_statz"] = std::move(list);
  return doc;
}

std::optional<Monitor::Json> Monitor::BuildStatsz(int active_servers, int active_accounts) {
  std::lock_guard lock(mu_);
  auto varz = BuildVarz();
  if (!varz) return std::nullopt;
  const Json& v = *varz;
  Json s;
  s["start"] = v["start"];
  s["mem"] = v["mem"];
  s["cores"] = v["cores"];
  s["cpu"] = v["cpu"];
  s["connections"] = v["connections"];
  s["total_connections"] = v["total_connections"];
  s["active_accounts"] = active_accounts;
  s["subscriptions"] = v["subscriptions"];
  s["sent"] = Json{{"msgs", v["out_msgs"]}, {"bytes", v["out_bytes"]}};
  s["received"] = Json{{"msgs", v["in_msgs"]}, {"bytes", v["in_bytes"]}};
  s["slow_consumers"] = v["slow_consumers"];
  std::vector<RouteSnapshot> routes = RouteSnapshots(false);
  if (!routes.empty()) {
    std::sort(routes.begin(), routes.end(),
              [](const RouteSnapshot& a, const RouteSnapshot& b) { return a.rid < b.rid; });
    Json list = Json::array();
    for (const RouteSnapshot& r : routes) {
      Json j;
      j["rid"] = r.rid;
      if (!r.remote_name.empty()) j["name"] = r.remote_name;
      j["sent"] = Json{{"msgs", r.out_msgs}, {"bytes", r.out_bytes}};
      j["received"] = Json{{"msgs", r.in_msgs}, {"bytes", r.in_bytes}};
      j["pending"] = r.pending_bytes;
      list.push_back(std::move(j));
    }
    s["routes"] = std::move(list);
  }
  if (active_servers > 0) s["active_servers"] = active_servers;
  return s;
}

}  // namespace gannet
