// Routing across accounts and in from a route (see account_routing.h).
#include "server/account_routing.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "core/fast_random.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/conn/worker.h"
#include "server/delivery.h"
#include "server/events/system_events.h"
#include "server/server.h"

namespace gannet {

namespace {

// Go's textproto.CanonicalMIMEHeaderKey: "x-b3-sampled" -> "X-B3-Sampled".
std::string CanonicalHeaderKey(std::string_view key) {
  std::string out(key);
  bool upper = true;
  for (char& c : out) {
    c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
              : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// The reference's shouldSample on a request's trace headers: Uber-Trace-Id with the sampled
// flag, X-B3-Sampled / X-B3-TraceId / B3, or a W3C traceparent with flags 01. Sampled: the
// headers that decided it (as newUberHeader, newB3Header, newTraceCtxHeader keep them).
bool SampledByTraceHeaders(std::string_view block,
                           std::vector<std::pair<std::string, std::string>>& out) {
  std::vector<std::pair<std::string, std::string>> h;  // canonical name, value
  for (std::string_view line : SplitOn(block, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.starts_with("NATS/")) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    h.emplace_back(CanonicalHeaderKey(line.substr(0, colon)), std::string(value));
  }
  auto get = [&](std::string_view name) -> const std::string* {
    for (const auto& [k, v] : h) {
      if (k == name) return &v;
    }
    return nullptr;
  };
  auto keep = [&](auto&& wanted) {
    for (const auto& kv : h) {
      if (wanted(kv.first)) out.push_back(kv);
    }
  };
  if (const std::string* uber = get("Uber-Trace-Id")) {
    std::vector<std::string_view> tk = SplitOn(*uber, ':');
    if (tk.size() != 4 || tk[3].empty() || tk[3].size() > 2) return false;
    char last = tk[3].back();
    int flags = std::isdigit(static_cast<unsigned char>(last))
                    ? last - '0'
                    : std::tolower(static_cast<unsigned char>(last)) - 'a' + 10;
    if (flags < 0 || flags > 15 || (flags & 1) == 0) return false;
    keep([](const std::string& k) { return k == "Uber-Trace-Id" || k.starts_with("Uberctx-"); });
    return true;
  }
  auto b3 = [](const std::string& k) { return k == "B3" || k.starts_with("X-B3-"); };
  if (const std::string* sampled = get("X-B3-Sampled")) {
    if (*sampled == "1") {
      keep(b3);
      return true;
    }
    if (*sampled == "0") return false;
  }
  if (get("X-B3-Traceid")) {
    keep(b3);
    return true;
  }
  if (const std::string* single = get("B3")) {
    std::vector<std::string_view> tk = SplitOn(*single, '-');
    if ((tk.size() > 2 && tk[2] == "0") || (tk.size() == 1 && tk[0] == "0")) return false;
    out.emplace_back("B3", *single);
    return true;
  }
  if (const std::string* ctx = get("Traceparent")) {
    std::vector<std::string_view> tk = SplitOn(*ctx, '-');
    if (tk.size() != 4 || tk[3] != "01") return false;
    keep([](const std::string& k) { return k == "Traceparent" || k == "Tracestate"; });
    return true;
  }
  return false;
}

// Whether a request through `si` is sampled for its export's latency (the reference's
// shouldSample: by percentage, else by the request's trace headers), and if so what the
// metric will need. Only requests of this server's clients are measured.
std::unique_ptr<Account::LatencyTrack> SampleLatency(const Account::ServiceImport& si,
                                                     const Account& origin, Connection* producer,
                                                     int64_t rtt_ns, const MsgArgs& args,
                                                     std::string_view payload) {
  if (si.latency_subject.empty() || !producer || !producer->is_client()) return nullptr;
  bool sampled = si.latency_sampling >= 100;
  if (!sampled && si.latency_sampling > 0) {
    thread_local FastRandom random(std::random_device{}());
    // As the reference: rand.Int31n(100) <= sampling.
    sampled = static_cast<int>(random.Below(100)) <= si.latency_sampling;
  }
  std::vector<std::pair<std::string, std::string>> header;
  if (!sampled && args.header_size > 0 && static_cast<size_t>(args.header_size) <= payload.size()) {
    sampled =
        SampledByTraceHeaders(payload.substr(0, static_cast<size_t>(args.header_size)), header);
  }
  if (!sampled) return nullptr;
  auto track = std::make_unique<Account::LatencyTrack>();
  track->exporter = si.exporter;
  track->subject = si.latency_subject;
  track->requestor_account = origin.name();
  track->requestor_rtt_ns = rtt_ns;
  track->start = std::chrono::system_clock::now();
  track->header = std::move(header);
  return track;
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, static_cast<size_t>(end - buf));
}

// Copies a header block ("NATS/1.0...\r\n...\r\n\r\n") without its final blank line and
// without the lines of header `name` (compared case-insensitively, as Go's textproto).
void AppendHeadersWithout(std::string& out, std::string_view headers, std::string_view name) {
  if (headers.size() >= 2 && headers.substr(headers.size() - 2) == "\r\n") {
    headers.remove_suffix(2);
  }
  bool first = true;
  while (!headers.empty()) {
    size_t eol = headers.find("\r\n");
    std::string_view line =
        headers.substr(0, eol == std::string_view::npos ? headers.size() : eol + 2);
    headers.remove_prefix(line.size());
    bool drop = false;
    if (!first && line.size() > name.size() && line[name.size()] == ':') {
      drop = true;
      for (size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) !=
            std::tolower(static_cast<unsigned char>(name[i]))) {
          drop = false;
          break;
        }
      }
    }
    first = false;
    if (!drop) out.append(line);
  }
}

}  // namespace

bool RouteStreamImports(Worker& worker, Account& from, const MsgArgs& args,
                        std::string_view payload, Connection* producer) {
  bool delivered = false;
  std::string subject;
  for (const Account::StreamRoute& route : from.stream_routes()) {
    if (!SubjectMatchesPattern(args.subject, route.from)) continue;
    Account::MapStreamSubject(route, args.subject, subject);
    MsgArgs mapped = args;
    mapped.subject = subject;
    // Importers on other servers get the message in the exporting account (they told us of
    // their interest there) and import it themselves: never across a route from here. As the
    // reference, an imported stream goes no further: an account importing it in turn from
    // the importer does not get it (services chain, streams do not).
    delivered |=
        DeliverToMatch(worker, *route.importer, worker.cache(*route.importer).Lookup(subject),
                       mapped, payload, producer, DeliveryScope::kLocalOnly);
  }
  return delivered;
}

bool RouteServiceImport(Worker& worker, Account& from, const MsgArgs& args,
                        std::string_view payload, Connection* producer, int64_t rtt_ns,
                        const Account* origin, int depth) {
  const Account::ServiceImport* si = from.MatchServiceImport(args.subject);
  if (!si) return false;
  if (!origin) origin = &from;
  MsgArgs request = args;
  std::string mapped;
  if (si->transform) {
    si->transform->Apply(args.subject, mapped);
    request.subject = mapped;
  } else if (!si->to.empty()) {
    request.subject = si->to;
  }
  const MatchResult& responders = worker.cache(*si->exporter).Lookup(request.subject);
  // A chain: the exporting account imports the service itself from another one.
  const bool chained = depth < kMaxImportChain && si->exporter->has_service_imports() &&
                       si->exporter->MatchServiceImport(request.subject) != nullptr;
  // As the reference, a request into a service import counts as delivered even when the
  // exporting account has no responder: the requestor gets no 503.
  if (responders.empty() && !chained) return true;

  // The reply comes back through the exporting account's reply subject mapped to ours.
  std::string reply;
  if (!args.reply.empty()) {
    reply = si->exporter->NewResponse(&from, args.reply, si->response_type, worker.now(),
                                      si->response_threshold,
                                      SampleLatency(*si, *origin, producer, rtt_ns, args, payload));
    request.reply = reply;
  }
  if (chained) {
    RouteServiceImport(worker, *si->exporter, request, payload, producer, rtt_ns, origin,
                       depth + 1);
  }
  if (responders.empty()) return true;
  // The reference tells the service who is asking: a Nats-Request-Info header with the
  // requestor's account and RTT, added to (or replacing the one in) the message's headers.
  std::string info = "Nats-Request-Info: {\"acc\":" + JsonQuote(origin->name());
  if (rtt_ns > 0) {
    info += ",\"rtt\":";
    AppendNumber(info, static_cast<uint64_t>(rtt_ns));
  }
  info += "}\r\n";
  std::string message;
  std::string_view body = payload;
  if (args.header_size > 0) {
    std::string_view headers = payload.substr(0, static_cast<size_t>(args.header_size));
    body.remove_prefix(static_cast<size_t>(args.header_size));
    AppendHeadersWithout(message, headers, "Nats-Request-Info");
  } else {
    message = "NATS/1.0\r\n";
  }
  message += info;
  message += "\r\n";
  size_t header_size = message.size();
  message.append(body);
  std::string header_token = std::to_string(header_size);
  std::string total_token = std::to_string(message.size());
  request.header_size = static_cast<int64_t>(header_size);
  request.total_size = static_cast<int64_t>(message.size());
  request.header_size_token = header_token;
  request.total_size_token = total_token;
  DeliverToMatch(worker, *si->exporter, responders, request, message, producer);
  return true;
}

bool RouteResponse(Worker& worker, Account& from, const MsgArgs& args, std::string_view payload,
                   Connection* producer, int depth) {
  if (!from.exports_services() || !args.subject.starts_with("_R_.")) return false;
  Account* requestor = nullptr;
  std::string reply;
  bool kept = false;
  std::unique_ptr<Account::LatencyTrack> track;
  if (!from.TakeResponse(args.subject, payload.empty(), requestor, reply, kept, worker.now(),
                         &track)) {
    return false;
  }
  // A sampled request's first response from a client of this server: its service latency.
  // (A responder on another server would send its own measurement: not tracked here.)
  if (track && producer && producer->is_client()) {
    if (SystemEvents* events = worker.server().events()) {
      ConnSnapshot responder;
      producer->Snapshot(responder, false);
      events->ServiceLatency(std::move(*track), std::move(responder),
                             std::chrono::system_clock::now());
    }
  }
  MsgArgs response = args;
  response.subject = reply;
  response.reply = {};
  bool delivered = DeliverToMatch(worker, *requestor, worker.cache(*requestor).Lookup(reply),
                                  response, payload, producer);
  // A chain: the requestor's reply is itself the response subject of a request it forwarded.
  if (depth < kMaxImportChain) {
    delivered |= RouteResponse(worker, *requestor, response, payload, producer, depth + 1);
  }
  // A streamed or chunked response nobody takes any more ends there (as the reference).
  if (kept && !delivered) from.EndResponse(args.subject);
  return true;
}

void PublishFromRoute(Worker& worker, Account& account, const MsgArgs& args,
                      std::string_view payload, Connection* route) {
  DeliverToMatch(worker, account, worker.cache(account).Lookup(args.subject), args, payload, route);
  // A message routed in the exporting account is imported here by this server's importers.
  if (!account.stream_routes().empty()) RouteStreamImports(worker, account, args, payload, route);
  // The response to a request this server sent through a service import (tested here: a
  // call per routed message otherwise).
  if (account.exports_services() && args.subject.starts_with("_R_.")) {
    RouteResponse(worker, account, args, payload, route);
  }
}

}  // namespace gannet
