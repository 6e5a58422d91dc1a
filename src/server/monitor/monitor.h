// The monitoring endpoints (/varz, /connz, /subsz, /metrics, ...) served over HTTP on their own
// thread, with the reference's JSON field names, query parameters and error texts.
//
// Threading: every handler runs on the HTTP thread. Worker-owned state (connections, their
// counters, the match caches) is read only through Server::Gather, which asks each worker to
// copy its own part on its own thread, and routes only through Routes::Snapshot, which does the
// same on each route's worker; the message path takes no lock for monitoring.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/monitor/http_server.h"

namespace gannet {

class Account;
class Server;
struct RouteSnapshot;
struct WorkerTotals;

class Monitor {
 public:
  using Json = nlohmann::ordered_json;

  explicit Monitor(Server& server);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Binds http_host:http_port and starts the HTTP thread; logs like the reference.
  bool Start();
  void Stop();
  int port() const { return http_.port(); }
  // HTTPS: the TLS context new monitoring connections take (any thread).
  void SetTlsContext(std::shared_ptr<const TlsContext> tls) {
    if (secure_) http_.SetTls(std::move(tls));
  }

  // The routing entry point (HTTP thread); public for tests.
  HttpResponse Handle(const HttpRequest& request);

  // ---- Requests over the system account ($SYS.REQ.*, events/system_events.h), any thread ----
  // The document of `endpoint` ("VARZ", "CONNZ", "SUBSZ", "ROUTEZ", "ACCOUNTZ", "HEALTHZ",
  // "GATEWAYZ", "LEAFZ"; "INFO": one account's /accountz detail) for the reference's options
  // (the request's JSON body); `account` (non-empty for $SYS.REQ.ACCOUNT.<acc>.*) restricts
  // CONNZ and SUBSZ to it. The same builders as the HTTP endpoints.
  struct ApiResult {
    std::optional<Json> data;
    int code = 0;  // on error: the HTTP status the endpoint answered with
    std::string error;
  };
  ApiResult SystemRequest(std::string_view endpoint, const Json& options,
                          const std::string& account);
  // The reference's AccountStatz: each account's connections and traffic on this server,
  // those of `accounts` (all if empty), leaving out those without connections unless
  // `include_unused`. Null on a worker timeout.
  std::optional<Json> AccountStatz(const std::vector<std::string>& accounts, bool include_unused);
  // The reference's ServerStats ($SYS.SERVER.<id>.STATSZ's "statsz"); null on a worker
  // timeout. `active_servers`: this one and the peers heard from; `active_accounts`: those
  // with clients here.
  std::optional<Json> BuildStatsz(int active_servers, int active_accounts);

 private:
  HttpResponse Varz(const HttpRequest& r);
  HttpResponse Connz(const HttpRequest& r);
  HttpResponse Routez(const HttpRequest& r);
  HttpResponse Subsz(const HttpRequest& r);
  HttpResponse Healthz(const HttpRequest& r);
  HttpResponse Accountz(const HttpRequest& r);
  HttpResponse Gatewayz(const HttpRequest& r);
  HttpResponse Leafz(const HttpRequest& r);
  HttpResponse Root(const HttpRequest& r);
  HttpResponse Metrics(const HttpRequest& r);
  HttpResponse Dashboard(const HttpRequest& r);

  // The JSON documents, shared by the JSON endpoints and /metrics. Null on a worker timeout.
  std::optional<Json> BuildVarz();
  Json BuildSubszStats(const WorkerTotals& totals);
  Json AccountDetail(const Account& account, int64_t clients);
  // /varz's `cluster` object (empty without a cluster).
  Json BuildClusterVarz();
  // Every route's copy, taken on the routes' workers (none without a cluster).
  std::vector<RouteSnapshot> RouteSnapshots(bool with_subs);
  Json BuildRoutez(const std::vector<RouteSnapshot>& routes, bool subs, bool subs_detail);

  Server& server_;
  // HTTP requests and system account requests come on different threads: one at a time (the
  // request counts and the CPU figure are shared).
  std::mutex mu_;
  HttpServer http_;
  bool secure_ = false;    // https_port
  std::string base_path_;  // "" or "/x" (no trailing slash)
  std::map<std::string, uint64_t> req_stats_;
  // CPU use between two /varz requests.
  std::chrono::steady_clock::time_point last_cpu_wall_;
  double last_cpu_seconds_ = 0;
};

// JSON (indented as the reference) or, with ?callback=, JSONP.
HttpResponse JsonResponse(const HttpRequest& r, const nlohmann::ordered_json& doc, int indent = 2);
// The dashboard page (self-contained HTML, inline script).
const char* DashboardHtml();

}  // namespace gannet
