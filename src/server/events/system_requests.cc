// The system account's requests answered without a monitoring document: JSZ (JetStream is
// disabled here), the account claim updates (no operator), the subscription counts (NSUBS,
// DEBUG.SUBSCRIBERS), each as nats-server 2.9.10 answers them (events.go).
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include "auth/nkey.h"
#include "auth/permissions.h"
#include "base/logger.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/cluster/routes.h"
#include "server/events/system_events.h"
#include "server/monitor/monitor_format.h"
#include "server/server.h"

namespace gannet {
namespace {

constexpr auto kNsubsWait = std::chrono::milliseconds(500);  // the reference's debugSubscribers

// Standard, padded base64: how Go's encoding/json writes a []byte.
std::string EncodeBase64Std(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace

std::string SystemEvents::SystemHash(const std::string& name) {
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char sum[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(name.data()), name.size(), sum);
  std::string out;
  for (int i = 0; i < 8; ++i) out += kDigits[sum[i] % 62];
  return out;
}

void SystemEvents::JszRequest(const std::string& account, const InternalClient::Message& m) {
  if (m.reply.empty()) return;
  if (!RequestOptions(m, m.reply, m.account)) return;
  Json resp;
  resp["server"] = ServerInfo();
  if (!account.empty()) {
    // The reference's JszAccount without JetStream.
    resp["data"] = nullptr;
    resp["error"] = Json{{"code", 500}, {"description", "jetstream not enabled"}};
  } else {
    // The reference's Jsz with JetStream disabled: its JSInfo, zero everywhere.
    Json d;
    d["server_id"] = id_;
    d["now"] = FormatRfc3339Nano(std::chrono::system_clock::now());
    d["disabled"] = true;
    d["config"] = Json{{"max_memory", 0}, {"max_storage", 0}};
    for (const char* k :
         {"memory", "storage", "reserved_memory", "reserved_storage", "accounts", "ha_assets"}) {
      d[k] = 0;
    }
    d["api"] = Json{{"total", 0}, {"errors", 0}};
    for (const char* k : {"streams", "consumers", "messages", "bytes"}) d[k] = 0;
    resp["data"] = std::move(d);
  }
  Publish(m.reply, resp, {}, m.account);
}

void SystemEvents::ClaimsUpdate(const std::string& account, const InternalClient::Message& m) {
  // The reference's accountClaimUpdate: without an operator no claim can decode to a
  // configured account; what it says about the body is all there is to answer.
  if (m.reply.empty()) return;
  std::string description;
  if (m.payload.empty()) {
    description = "jwt update error - request body is empty";
  } else {
    size_t dots = 0;
    for (char c : m.payload) dots += c == '.' ? 1 : 0;
    // A JWT is three base64url chunks; Gannet cannot verify one without an operator.
    description = dots != 2 ? "jwt update resulted in error - expected 3 chunks"
                            : "jwt update resulted in error - not an account claim";
  }
  Json resp;
  resp["error"] = Json{{"account", account}, {"code", 500}, {"description", description}};
  resp["server"] = ServerInfo();
  Publish(m.reply, resp);
}

int64_t SystemEvents::CountSubscribers(const std::string& account, const std::string& subject,
                                       const std::optional<std::string>& queue) {
  auto gathered = server_.Gather(true, true, 0, std::chrono::seconds(2));
  if (!gathered) return 0;
  const bool wildcard = SubjectHasWildcard(subject);
  int64_t n = 0;
  for (const ConnSnapshot& c : gathered->conns) {
    if (c.account != account) continue;
    for (const SubSnapshot& s : c.subs) {
      // As the reference: a literal subject counts the subscriptions it matches (plain ones
      // only without a queue), a wildcard those it covers.
      bool hit = wildcard ? auth::SubjectIsSubset(s.subject, subject)
                          : SubjectMatchesPattern(subject, s.subject);
      if (hit && (!queue || *queue == s.queue)) ++n;
    }
  }
  return n;
}

void SystemEvents::NsubsRequest(const InternalClient::Message& m) {
  // Our own request comes back to us too: the count here is already in it.
  if (m.reply.empty() || m.reply.starts_with(inbox_prefix_)) return;
  Json body = Json::parse(m.payload, nullptr, false);
  if (!body.is_object()) {
    LOG_ERROR("Error unmarshalling account nsubs request message");
    return;
  }
  std::string account = body.value("acc", "");
  auto it = accounts_.find(account);
  // As the reference: only a server where the account has clients answers.
  if (it == accounts_.end() || it->second.conns == 0 || !server_.accounts().Find(account)) return;
  std::optional<std::string> queue;
  if (auto q = body.find("queue"); q != body.end() && q->is_string()) {
    // A Go []byte: base64 in JSON.
    auto decoded = nkey::DecodeBase64(q->get<std::string>(), false, true);
    if (!decoded) return;
    queue = std::move(*decoded);
  }
  int64_t n = CountSubscribers(account, body.value("subject", ""), queue);
  client_->Publish(m.reply, {}, std::to_string(n));
}

void SystemEvents::DebugSubscribers(const InternalClient::Message& m) {
  if (m.reply.empty()) return;
  // "<subject>[ <queue>]", of the account the request came from (direct: the system account).
  std::string text = m.payload;
  auto trim = [](std::string& s) {
    s.erase(0, s.find_first_not_of(" \t\r\n"));
    s.erase(s.find_last_not_of(" \t\r\n") + 1);
  };
  trim(text);
  std::string subject = text.substr(0, text.find(' '));
  std::optional<std::string> queue;
  if (size_t space = text.find(' '); space != std::string::npos) {
    std::string rest = text.substr(space + 1);
    queue = rest.substr(0, rest.find(' '));
  }
  // Through a service import the request carries its Nats-Request-Info: the asker's account
  // (the reference's getRequestInfo); asked directly, the system account's.
  std::string account = m.account ? m.account->name() : system_.name();
  if (size_t at = m.headers.find("Nats-Request-Info: "); at != std::string::npos) {
    at += 19;
    size_t end = m.headers.find("\r\n", at);
    Json info = Json::parse(m.headers.substr(at, end == std::string::npos ? end : end - at),
                            nullptr, false);
    if (!info.is_object()) return;  // as the reference: an unreadable header, no answer
    std::string acc = info.value("acc", "");
    if (!acc.empty() && server_.accounts().Find(acc)) account = acc;
  }
  int64_t n = CountSubscribers(account, subject, queue);
  int expected = 0;
  if (auto it = remote_conns_.find(account); it != remote_conns_.end()) {
    for (const auto& [server, conns] : it->second) expected += conns > 0 ? 1 : 0;
  }
  if (expected == 0) {
    client_->Publish(m.reply, {}, std::to_string(n));
    return;
  }
  std::string inbox = inbox_prefix_ + std::to_string(++next_inbox_);
  Json request{{"acc", account}, {"subject", subject}};
  if (queue) request["queue"] = EncodeBase64Std(*queue);
  debug_requests_[inbox] =
      DebugRequest{m.reply, n, expected, 0, std::chrono::steady_clock::now() + kNsubsWait};
  client_->Publish("$SYS.REQ.ACCOUNT.NSUBS", inbox, request.dump());
}

void SystemEvents::InboxReply(const InternalClient::Message& m) {
  auto it = debug_requests_.find(m.subject);
  if (it == debug_requests_.end()) return;
  Json n = Json::parse(m.payload, nullptr, false);
  if (n.is_number_integer()) it->second.nsubs += n.get<int64_t>();
  if (++it->second.responses >= it->second.expected) {
    client_->Publish(it->second.reply, {}, std::to_string(it->second.nsubs));
    debug_requests_.erase(it);
  }
}

void SystemEvents::FinishDebugRequests(bool all) {
  auto now = std::chrono::steady_clock::now();
  for (auto it = debug_requests_.begin(); it != debug_requests_.end();) {
    if (!all && now < it->second.deadline) {
      ++it;
      continue;
    }
    client_->Publish(it->second.reply, {}, std::to_string(it->second.nsubs));
    it = debug_requests_.erase(it);
  }
}

std::vector<std::pair<std::string, SubSnapshot>> SystemEvents::InternalSubscriptions() const {
  std::vector<std::pair<std::string, SubSnapshot>> out;
  for (auto& [account, snap] : client_->Subscriptions()) out.emplace_back(account->name(), snap);
  return out;
}

void SystemEvents::ServiceLatency(Account::LatencyTrack track, ConnSnapshot responder,
                                  std::chrono::system_clock::time_point responded) {
  Post([this, track = std::move(track), responder = std::move(responder), responded] {
    using std::chrono::nanoseconds;
    const int64_t service_rtt =
        std::chrono::duration_cast<nanoseconds>(responded - track.start).count();
    const int64_t responder_rtt = responder.rtt_ns;
    const int64_t requestor_rtt = track.requestor_rtt_ns;
    // The reference's sendTrackingLatency and sanitizeLatencyMetric.
    int64_t system = 0;
    if (responder_rtt > 0) {
      system = std::chrono::duration_cast<nanoseconds>(std::chrono::system_clock::now() - responded)
                   .count();
    }
    Json requestor;
    requestor["acc"] = track.requestor_account;  // not shared: the account and RTT only
    if (requestor_rtt > 0) requestor["rtt"] = requestor_rtt;
    Json where = Json::object();
    if (responder_rtt > 0) where["rtt"] = responder_rtt;
    auto config = server_.config();
    where["server"] = config->options().server_name;
    if (Routes* routes = server_.routes()) {
      if (std::string name = routes->name(); !name.empty()) where["cluster"] = name;
    }
    Json r = ClientInfo(responder, /*with_stop=*/false, where);
    Json doc;
    doc["type"] = "io.nats.server.metric.v1.service_latency";
    doc["id"] = EventId();
    doc["timestamp"] = FormatRfc3339Nano(std::chrono::system_clock::now());
    doc["status"] = 200;
    doc["requestor"] = std::move(requestor);
    doc["responder"] = std::move(r);
    if (!track.header.empty()) {
      // An http.Header: each name with its values.
      Json header = Json::object();
      for (const auto& [name, value] : track.header) header[name].push_back(value);
      doc["header"] = std::move(header);
    }
    doc["start"] = FormatRfc3339Nano(track.start - nanoseconds(requestor_rtt));
    doc["service"] = std::max<int64_t>(service_rtt - responder_rtt, 0);
    doc["system"] = std::max<int64_t>(system, 0);
    doc["total"] = requestor_rtt + service_rtt + system;
    // The exporter may have been removed by a reload since: published all the same (nobody
    // is subscribed there any more).
    Publish(track.subject, doc, {}, track.exporter);
  });
}

}  // namespace gannet
