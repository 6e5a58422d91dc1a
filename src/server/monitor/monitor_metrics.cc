// /metrics: the Prometheus text exposition of /varz, /connz, /routez and /subsz, with the
// metric names and labels prometheus-nats-exporter gives the same figures
// (gnatsd_<endpoint>_<field>{server_id="..."}), so existing dashboards and alerts keep working.
#include <cmath>
#include <cstdio>
#include <functional>

#include "server/cluster/routes.h"
#include "server/monitor/monitor.h"
#include "server/server.h"

namespace gannet {

namespace {

// Label values escape backslash, double quote and newline.
std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

class Exposition {
 public:
  explicit Exposition(const std::string& server_id)
      : labels_("server_id=\"" + EscapeLabel(server_id) + "\"") {}

  void Add(std::string_view name, std::string_view help, std::string_view type, double value,
           std::string_view extra_labels = {}) {
    Header(name, help, type);
    Sample(name, extra_labels, value);
  }

  // Every numeric top-level field as a gauge, and the identity strings as value-labelled
  // gauges of 1, as the exporter's generic collector does.
  void AddDocument(std::string_view endpoint, const Monitor::Json& doc) {
    for (const auto& [key, value] : doc.items()) {
      std::string name = "gnatsd_" + std::string(endpoint) + "_" + key;
      if (value.is_number()) {
        Add(name, key, "gauge", value.get<double>());
      } else if (value.is_string() &&
                 (key == "server_id" || key == "server_name" || key == "version")) {
        Add(name, key, "gauge", 1, ",value=\"" + EscapeLabel(value.get<std::string>()) + "\"");
      }
    }
  }

  // A family of per-connection samples: one HELP/TYPE, one line per connection.
  void AddPerConnection(std::string_view name, std::string_view help,
                        const std::vector<ConnSnapshot>& conns, size_t n,
                        double (*value)(const ConnSnapshot&)) {
    Header(name, help, "gauge");
    for (size_t i = 0; i < n; ++i) {
      const ConnSnapshot& c = conns[i];
      Sample(name,
             ",cid=\"" + std::to_string(c.cid) + "\",name=\"" + EscapeLabel(c.name) + "\",ip=\"" +
                 EscapeLabel(c.ip) + "\"",
             value(c));
    }
  }

  // A family of per-route gauges, labelled by rid as the exporter's routez collector does.
  // No family at all without routes (the exporter describes it, but a family without
  // samples is not written).
  void AddPerRoute(std::string_view name, std::string_view help,
                   const std::vector<RouteSnapshot>& routes,
                   const std::function<double(const RouteSnapshot&)>& value,
                   const std::function<std::string(const RouteSnapshot&)>& extra_labels = {}) {
    if (routes.empty()) return;
    Header(name, help, "gauge");
    for (const RouteSnapshot& r : routes) {
      std::string labels = ",rid=\"" + std::to_string(r.rid) + "\"";
      if (extra_labels) labels += extra_labels(r);
      Sample(name, labels, value(r));
    }
  }

  std::string Take() { return std::move(out_); }

 private:
  void Header(std::string_view name, std::string_view help, std::string_view type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view extra_labels, double value) {
    out_ += name;
    out_ += '{';
    out_ += labels_;
    out_ += extra_labels;
    out_ += "} ";
    out_ += FormatValue(value);
    out_ += '\n';
  }

  std::string labels_;
  std::string out_;
};

// /routez as the exporter's routez collector reads it: the server's identity and route count,
// then per route an info gauge of 1 (who the peer is) and its figures, labelled by rid. All
// gauges, as the exporter has them.
void AddRoutez(Exposition& e, Server& server, const Monitor::Json& routez,
               const std::vector<RouteSnapshot>& routes) {
  e.AddDocument("routez", routez);  // server_id (a value-labelled gauge) and num_routes
  e.Add("gnatsd_routez_server_name", "server_name", "gauge", 1,
        ",value=\"" + EscapeLabel(server.config()->options().server_name) + "\"");
  auto now = std::chrono::system_clock::now();
  auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  e.AddPerRoute(
      "gnatsd_routez_route_info", "route_info", routes, [](const RouteSnapshot&) { return 1.0; },
      [](const RouteSnapshot& r) {
        return ",remote_id=\"" + EscapeLabel(r.remote_id) + "\",remote_name=\"" +
               EscapeLabel(r.remote_name) + "\",account=\"\",ip=\"" + EscapeLabel(r.ip) +
               "\",compression=\"\"";
      });
  e.AddPerRoute("gnatsd_routez_route_rtt_seconds", "rtt_seconds", routes,
                [](const RouteSnapshot& r) { return static_cast<double>(r.rtt_ns) / 1e9; });
  e.AddPerRoute("gnatsd_routez_route_subscriptions", "subscriptions", routes,
                [](const RouteSnapshot& r) { return static_cast<double>(r.num_subs); });
  // Whole seconds, as the exporter reads them from the uptime text.
  e.AddPerRoute("gnatsd_routez_route_uptime_seconds", "uptime_seconds", routes,
                [&](const RouteSnapshot& r) { return std::floor(seconds(now - r.start)); });
  e.AddPerRoute("gnatsd_routez_route_in_msgs", "in_msgs", routes,
                [](const RouteSnapshot& r) { return static_cast<double>(r.in_msgs); });
  e.AddPerRoute("gnatsd_routez_route_out_msgs", "out_msgs", routes,
                [](const RouteSnapshot& r) { return static_cast<double>(r.out_msgs); });
  e.AddPerRoute("gnatsd_routez_route_in_bytes", "in_bytes", routes,
                [](const RouteSnapshot& r) { return static_cast<double>(r.in_bytes); });
  e.AddPerRoute("gnatsd_routez_route_out_bytes", "out_bytes", routes,
                [](const RouteSnapshot& r) { return static_cast<double>(r.out_bytes); });
}

}  // namespace

HttpResponse Monitor::Metrics(const HttpRequest& r) {
  auto varz = BuildVarz();
  auto gathered = server_.Gather(true, false, 0, std::chrono::seconds(5));
  std::vector<RouteSnapshot> routes = RouteSnapshots(false);
  if (!varz || !gathered) return HttpResponse::Text(503, "server busy: workers did not answer");
  Exposition e(server_.server_id());
  e.AddDocument("varz", *varz);

  // /connz as the exporter reads it: the first page (1024 by cid) and sums over it.
  auto& conns = gathered->conns;
  std::sort(conns.begin(), conns.end(),
            [](const ConnSnapshot& a, const ConnSnapshot& b) { return a.cid < b.cid; });
  size_t page = std::min<size_t>(conns.size(), 1024);
  double pending = 0, subs = 0, in_bytes = 0, out_bytes = 0, in_msgs = 0, out_msgs = 0;
  for (size_t i = 0; i < page; ++i) {
    pending += static_cast<double>(conns[i].pending_bytes);
    subs += conns[i].num_subs;
    in_bytes += static_cast<double>(conns[i].in_bytes);
    out_bytes += static_cast<double>(conns[i].out_bytes);
    in_msgs += static_cast<double>(conns[i].in_msgs);
    out_msgs += static_cast<double>(conns[i].out_msgs);
  }
  e.Add("gnatsd_connz_num_connections", "num_connections", "gauge", static_cast<double>(page));
  e.Add("gnatsd_connz_total", "total", "gauge", static_cast<double>(conns.size()));
  e.Add("gnatsd_connz_offset", "offset", "gauge", 0);
  e.Add("gnatsd_connz_limit", "limit", "gauge", 1024);
  e.Add("gnatsd_connz_pending_bytes", "pending_bytes", "gauge", pending);
  e.Add("gnatsd_connz_subscriptions", "subscriptions", "gauge", subs);
  e.Add("gnatsd_connz_in_bytes", "in_bytes", "counter", in_bytes);
  e.Add("gnatsd_connz_out_bytes", "out_bytes", "counter", out_bytes);
  e.Add("gnatsd_connz_in_msgs", "in_msgs", "counter", in_msgs);
  e.Add("gnatsd_connz_out_msgs", "out_msgs", "counter", out_msgs);

  // ?conns=1: the same figures per connection (the first page), labelled by cid, name and ip,
  // for finding the one slow consumer behind a growing pending_bytes.
  if (r.Param("conns") == "1" || r.Param("conns") == "true") {
    e.AddPerConnection("gnatsd_connz_conn_pending_bytes", "pending_bytes of one connection", conns,
                       page, [](const ConnSnapshot& c) { return double(c.pending_bytes); });
    e.AddPerConnection("gnatsd_connz_conn_subscriptions", "subscriptions of one connection", conns,
                       page, [](const ConnSnapshot& c) { return double(c.num_subs); });
    e.AddPerConnection("gnatsd_connz_conn_in_msgs", "in_msgs of one connection", conns, page,
                       [](const ConnSnapshot& c) { return double(c.in_msgs); });
    e.AddPerConnection("gnatsd_connz_conn_out_msgs", "out_msgs of one connection", conns, page,
                       [](const ConnSnapshot& c) { return double(c.out_msgs); });
    e.AddPerConnection("gnatsd_connz_conn_in_bytes", "in_bytes of one connection", conns, page,
                       [](const ConnSnapshot& c) { return double(c.in_bytes); });
    e.AddPerConnection("gnatsd_connz_conn_out_bytes", "out_bytes of one connection", conns, page,
                       [](const ConnSnapshot& c) { return double(c.out_bytes); });
  }
  AddRoutez(e, server_, BuildRoutez(routes, false, false), routes);
  e.AddDocument("subsz", BuildSubszStats(gathered->totals));

  HttpResponse resp;
  resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  resp.body = e.Take();
  for (const auto& source : server_.metrics_sources()) resp.body += source();
  return resp;
}

}  // namespace gannet
