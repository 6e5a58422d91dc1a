// The system account's services (see system_events.h).
#include "server/events/system_events.h"

#include <algorithm>
#include <iterator>
#include <random>
#include <utility>
#include <vector>

#include "base/logger.h"
#include "server/account.h"
#include "server/cluster/routes.h"
#include "server/monitor/monitor.h"
#include "server/monitor/monitor_format.h"
#include "server/server.h"

namespace gannet {

namespace {

// The endpoints every server answers on $SYS.REQ.SERVER.PING.<E> and $SYS.REQ.SERVER.<id>.<E>.
constexpr const char* kServerEndpoints[] = {"STATSZ",   "VARZ",  "SUBSZ",    "CONNZ", "ROUTEZ",
                                            "GATEWAYZ", "LEAFZ", "ACCOUNTZ", "JSZ",   "HEALTHZ"};
// $SYS.REQ.ACCOUNT.<acc>.<E>.
constexpr const char* kAccountEndpoints[] = {"SUBSZ", "CONNZ", "LEAFZ", "JSZ", "INFO", "STATZ"};
// What every other account may ask about itself (the reference imports these from the system
// account into each one): asked there, answered there.
constexpr const char* kImportedRequests[] = {
    "$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.STATZ"};

std::vector<std::string> Tokens(std::string_view subject) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = subject.find('.', start);
    out.emplace_back(subject.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

SystemEvents::Json DataStats(uint64_t msgs, uint64_t bytes) {
  return SystemEvents::Json{{"msgs", msgs}, {"bytes", bytes}};
}

}  // namespace

SystemEvents::SystemEvents(Server& server, Account& system, Worker& home, Monitor& monitor)
    : server_(server), system_(system), monitor_(monitor), id_(server.server_id()) {
  // The reference's system client is one of its first internal clients (cid 1-3 are taken
  // before any real client): it has no cid of the clients' sequence here.
  client_ = std::make_unique<InternalClient>(
      server, home, 0, system,
      [this](InternalClient::Message m) { Post([this, m = std::move(m)] { OnMessage(m); }); });
}

SystemEvents::Json SystemEvents::ClientInfo(const ConnSnapshot& c, bool with_stop,
                                            const Json& more) {
  SystemEvents::Json j;
  j["start"] = FormatRfc3339Nano(c.start);
  j["host"] = c.ip;
  j["id"] = c.cid;
  j["acc"] = c.account;
  if (!c.user.empty()) j["user"] = c.user;
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.lang.empty()) j["lang"] = c.lang;
  if (!c.version.empty()) j["ver"] = c.version;
  if (with_stop && c.rtt_ns > 0) j["rtt"] = c.rtt_ns;  // a Go duration: nanoseconds
  if (with_stop && c.stop) j["stop"] = FormatRfc3339Nano(*c.stop);
  for (const auto& [key, value] : more.items()) j[key] = value;
  j["kind"] = "Client";
  j["client_type"] = "nats";
  return j;
}

SystemEvents::~SystemEvents() { Shutdown(); }

void SystemEvents::Start() {
  for (const char* e : kServerEndpoints) {
    client_->Subscribe("$SYS.REQ.SERVER.PING." + std::string(e));
    client_->Subscribe("$SYS.REQ.SERVER." + id_ + "." + e);
  }
  client_->Subscribe("$SYS.REQ.SERVER.PING");  // the older form of PING.STATSZ
  for (const char* e : kAccountEndpoints) {
    client_->Subscribe("$SYS.REQ.ACCOUNT.*." + std::string(e));
  }
  client_->Subscribe("$SYS.REQ.ACCOUNT.PING.STATZ");  // every account's
  client_->Subscribe("$SYS.REQ.ACCOUNT.*.CONNS");
  client_->Subscribe("$SYS.SERVER.*.STATSZ");
  client_->Subscribe("$SYS.SERVER.ACCOUNT.*.CONNS");  // the peers' (the older of the two subjects)
  client_->Subscribe("$SYS.SERVER.*.SHUTDOWN");
  // The rest of what the reference's system client subscribes to (events.go
  // initEventTracking), so that the peers and /varz see the same subscriptions: replies to our
  // own requests, CONNS replies, the NSUBS count, account claim updates (answered as without an
  // operator), leaf node connects and remote latency (neither exists here: taken, dropped).
  inbox_prefix_ = "$SYS._INBOX." + SystemHash(server_.config()->options().server_name) + ".";
  client_->Subscribe(inbox_prefix_ + "*");
  client_->Subscribe("$SYS._INBOX_." + id_);
  client_->Subscribe("$SYS.REQ.ACCOUNT.NSUBS");
  client_->Subscribe("$SYS.ACCOUNT.*.CLAIMS.UPDATE");
  client_->Subscribe("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE");
  client_->Subscribe("$SYS.ACCOUNT.*.LEAFNODE.CONNECT");
  client_->Subscribe("$SYS.LATENCY.M2." + SystemHash(server_.config()->options().server_name));
  // Not told to the peers (the reference's sysSubscribeInternal).
  client_->Subscribe("$SYS.DEBUG.SUBSCRIBERS", nullptr, /*local_only=*/true);
  std::vector<Account*> live;
  for (const auto& account : server_.accounts().all()) {
    if (account->live()) live.push_back(account.get());
  }
  AccountsChanged(live, {});
  next_statsz_ = std::chrono::steady_clock::now() + statsz_every_;
  thread_ = std::thread([this] { Run(); });
}

void SystemEvents::AccountsChanged(const std::vector<Account*>& added,
                                   const std::vector<Account*>& removed) {
  for (Account* account : added) {
    if (account == &system_) continue;
    // Local: the request goes on into the system account, where every server answers it.
    for (const char* subject : kImportedRequests) {
      client_->Subscribe(subject, account, /*local_only=*/true);
    }
  }
  for (Account* account : removed) client_->UnsubscribeIn(*account);
}

void SystemEvents::Shutdown() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // The shutdown event, handed to its receivers before the workers stop.
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  client_->Publish("$SYS.SERVER." + id_ + ".SHUTDOWN", {}, ServerInfo().dump(), [done] {
    std::lock_guard lock(done->mu);
    done->done = true;
    done->cv.notify_all();
  });
  {
    std::unique_lock lock(done->mu);
    done->cv.wait_for(lock, std::chrono::seconds(2), [&] { return done->done; });
  }
  // Every worker has then taken in what was handed over to its connections (its tasks run in
  // order), so they write it before closing.
  server_.Gather(false, false, 0, std::chrono::seconds(2));
  client_->UnsubscribeAll();
}

void SystemEvents::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void SystemEvents::ClientConnected(ConnSnapshot c) {
  Post([this, c = std::move(c)] {
    AccountConns& a = accounts_[c.account];
    a.conns++;
    if (c.account != kGlobalAccountName) SendConnectEvent(c, true);
    SendAccountConns(c.account);
  });
}

void SystemEvents::ClientDisconnected(ConnSnapshot c) {
  Post([this, c = std::move(c)] {
    AccountConns& a = accounts_[c.account];
    if (a.conns > 0) a.conns--;
    a.sent_msgs += c.in_msgs;
    a.sent_bytes += c.in_bytes;
    a.received_msgs += c.out_msgs;
    a.received_bytes += c.out_bytes;
    if (c.account != kGlobalAccountName) SendConnectEvent(c, false);
    SendAccountConns(c.account);
  });
}

void SystemEvents::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait_until(lock, std::min(next_statsz_, next_debug_deadline_),
                     [&] { return stopping_ || !tasks_.empty(); });
    }
    std::deque<std::function<void()>> batch;
    batch.swap(tasks_);
    const bool last = stopping_;  // then nothing more is queued (Post refuses)
    lock.unlock();
    // At shutdown what was queued still goes out (the disconnects of the last clients).
    for (auto& task : batch) task();
    if (last) {
      FinishDebugRequests(/*all=*/true);
      return;
    }
    auto now = std::chrono::steady_clock::now();
    FinishDebugRequests(/*all=*/false);
    next_debug_deadline_ = std::chrono::steady_clock::time_point::max();
    for (const auto& [inbox, r] : debug_requests_) {
      next_debug_deadline_ = std::min(next_debug_deadline_, r.deadline);
    }
    if (now >= next_statsz_) {
      SendStatsz("$SYS.SERVER." + id_ + ".STATSZ");
      // As the reference: quickly at first, backing off to the interval.
      statsz_every_ =
          std::min<std::chrono::steady_clock::duration>(statsz_every_ * 2, kStatszInterval);
      next_statsz_ = now + statsz_every_;
      // Peers not heard from for three intervals are gone (the reference's orphan sweep).
      for (auto it = peers_.begin(); it != peers_.end();) {
        it = now - it->second > 3 * kStatszInterval ? peers_.erase(it) : std::next(it);
      }
    }
    lock.lock();
  }
}

void SystemEvents::RemoteConns(const std::string& payload, const std::string& account) {
  Json doc = Json::parse(payload, nullptr, false);
  if (!doc.is_object()) return;
  std::string server = doc.value("server", Json::object()).value("id", "");
  std::string acc = doc.value("acc", "");
  if (server.empty() || server == id_ || acc != account) return;
  remote_conns_[acc][server] = doc.value("conns", int64_t{0});
  UpdateRemoteClients(acc);
}

void SystemEvents::OnMessage(const InternalClient::Message& m) {
  if (m.account != &system_) {
    // Another account asking about itself: as the reference's import, the request goes on
    // into the system account as $SYS.REQ.ACCOUNT.<acc>.CONNZ (or STATZ), which every server
    // answers; the answers come back to the asker's reply through a streamed response.
    if (m.reply.empty()) return;
    std::string endpoint = m.subject.ends_with(".STATZ") ? "STATZ" : "CONNZ";
    std::string reply = system_.NewResponse(m.account, m.reply, ResponseType::kStreamed,
                                            std::chrono::steady_clock::now());
    client_->Publish("$SYS.REQ.ACCOUNT." + m.account->name() + "." + endpoint, std::move(reply),
                     m.payload);
    return;
  }
  std::vector<std::string> t = Tokens(m.subject);
  if (t.size() < 3 || t[0] != "$SYS") return;
  if (t[1] == "REQ" && t[2] == "SERVER") {
    if (t.size() == 4 && t[3] == "PING") {
      ServerRequest("STATSZ", m);
    } else if (t.size() == 5 && (t[3] == "PING" || t[3] == id_)) {
      ServerRequest(t[4], m);
    }
  } else if (t[1] == "REQ" && t[2] == "ACCOUNT" && t.size() == 4 && t[3] == "NSUBS") {
    NsubsRequest(m);
  } else if (t[1] == "REQ" && t[2] == "ACCOUNT" && t.size() == 6 && t[4] == "CLAIMS" &&
             t[5] == "UPDATE") {
    ClaimsUpdate(t[3], m);
  } else if (t[1] == "ACCOUNT" && t.size() == 5 && t[3] == "CLAIMS" && t[4] == "UPDATE") {
    ClaimsUpdate(t[2], m);
  } else if (t[1] == "DEBUG" && t.size() == 3 && t[2] == "SUBSCRIBERS") {
    DebugSubscribers(m);
  } else if (m.subject.starts_with(inbox_prefix_)) {
    InboxReply(m);
  } else if (t[1] == "_INBOX_" && t.size() == 3) {
    // A peer's reply to a CONNS request (the reference's remoteConnsUpdate).
    Json doc = Json::parse(m.payload, nullptr, false);
    if (doc.is_object()) RemoteConns(m.payload, doc.value("acc", ""));
  } else if (t[1] == "REQ" && t[2] == "ACCOUNT" && t.size() == 5) {
    AccountRequest(t[3], t[4], m);
  } else if (t[1] == "SERVER" && t.size() == 4 && t[2] != id_) {
    if (t[3] == "STATSZ") {
      peers_[t[2]] = std::chrono::steady_clock::now();
    } else if (t[3] == "SHUTDOWN") {
      peers_.erase(t[2]);
      // Its clients are gone.
      for (auto& [account, by_server] : remote_conns_) {
        if (by_server.erase(t[2]) > 0) UpdateRemoteClients(account);
      }
    }
  } else if (t[1] == "SERVER" && t.size() == 5 && t[2] == "ACCOUNT" && t[4] == "CONNS") {
    // A peer's count of an account's clients (the reference's remoteConnsUpdate).
    RemoteConns(m.payload, t[3]);
  }
}

void SystemEvents::ServerRequest(const std::string& endpoint, const InternalClient::Message& m) {
  if (endpoint == "JSZ") {
    JszRequest({}, m);
    return;
  }
  if (endpoint != "STATSZ") {
    if (!m.reply.empty()) MonitorRequest(endpoint, {}, m);
    return;
  }
  // A STATSZ request without a reply asks for the periodic message now.
  std::string reply = m.reply.empty() ? "$SYS.SERVER." + id_ + ".STATSZ" : m.reply;
  if (!RequestOptions(m, reply, nullptr)) return;
  SendStatsz(reply);
}

void SystemEvents::AccountRequest(const std::string& account, const std::string& endpoint,
                                  const InternalClient::Message& m) {
  if (m.reply.empty()) return;
  if (endpoint == "CONNS") {
    // The reference's connsRequest: the account's CONNS message, from the servers where it has
    // connections. A body names the account too ({"acc":...}); it must be the subject's.
    if (!m.payload.empty()) {
      Json body = Json::parse(m.payload, nullptr, false);
      if (!body.is_object() || body.value("acc", account) != account) return;
    }
    auto it = accounts_.find(account);
    if (it != accounts_.end() && it->second.conns > 0) SendAccountConns(account, m.reply);
    return;
  }
  if (endpoint == "JSZ") {
    JszRequest(account, m);
    return;
  }
  if (endpoint == "STATZ") {
    // $SYS.REQ.ACCOUNT.PING.STATZ asks about every account (or those in the options).
    AccountStatzRequest(
        account == "PING" ? std::vector<std::string>{} : std::vector<std::string>{account}, m);
    return;
  }
  for (const char* e : kAccountEndpoints) {
    if (endpoint == e) {
      MonitorRequest(endpoint, account, m);
      return;
    }
  }
}

void SystemEvents::AccountStatzRequest(std::vector<std::string> accounts,
                                       const InternalClient::Message& m) {
  std::optional<Json> parsed = RequestOptions(m, m.reply, m.account);
  if (!parsed) return;
  Json& options = *parsed;
  // The reference's AccountStatzOptions: "accounts" narrows a PING, "include_unused" keeps
  // the accounts without connections.
  if (accounts.empty()) {
    if (auto it = options.find("accounts"); it != options.end() && it->is_array()) {
      for (const Json& a : *it) {
        if (a.is_string()) accounts.push_back(a.get<std::string>());
      }
    }
  }
  auto unused = options.find("include_unused");
  bool include_unused = unused != options.end() && unused->is_boolean() && unused->get<bool>();
  auto statz = monitor_.AccountStatz(accounts, include_unused);
  if (!statz) return;
  // As the reference: no reply when no account qualifies.
  if ((*statz)["account_statz"].empty() && !include_unused) return;
  Json resp;
  resp["server"] = ServerInfo();
  resp["data"] = std::move(*statz);
  Publish(m.reply, resp, {}, m.account);
}

void SystemEvents::MonitorRequest(const std::string& endpoint, const std::string& account,
                                  const InternalClient::Message& m) {
  std::optional<Json> parsed = RequestOptions(m, m.reply, m.account);
  if (!parsed) return;
  const Json& options = *parsed;
  Json resp;
  Monitor::ApiResult result;
  if (endpoint == "LEAFZ" && !account.empty()) {
    // No leaf nodes: the account's (empty) list, as /leafz.
    result = monitor_.SystemRequest("LEAFZ", options, {});
  } else {
    result = monitor_.SystemRequest(endpoint, options, account);
  }
  resp["server"] = ServerInfo();
  if (result.data) {
    resp["data"] = std::move(*result.data);
  } else {
    resp["error"] = Json{{"code", result.code}, {"description", result.error}};
  }
  Publish(m.reply, resp, {}, m.account);
}

void SystemEvents::UpdateRemoteClients(const std::string& account) {
  Account* a = server_.accounts().Find(account);
  if (!a) return;
  int64_t total = 0;
  for (const auto& [server, n] : remote_conns_[account]) total += n;
  a->SetRemoteClients(total);
}

std::optional<SystemEvents::Json> SystemEvents::RequestOptions(const InternalClient::Message& m,
                                                               const std::string& reply,
                                                               Account* in) {
  if (m.payload.empty()) return Json::object();
  Json options = Json::parse(m.payload, nullptr, false);
  if (options.is_discarded() || !options.is_object()) {
    Json resp;
    resp["server"] = ServerInfo();
    resp["error"] = Json{{"code", 400}, {"description", "invalid JSON in the request"}};
    Publish(reply, resp, {}, in);
    return std::nullopt;
  }
  if (FilteredOut(options)) return std::nullopt;
  return options;
}

bool SystemEvents::FilteredOut(const Json& o) const {
  auto text = [&](const char* key) -> std::string {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto config = server_.config();
  const Options& opts = config->options();
  // As the reference's filterRequest: names match by substring; an unknown tag or a domain
  // (no JetStream here) filters out.
  if (std::string name = text("server_name");
      !name.empty() && opts.server_name.find(name) == std::string::npos) {
    return true;
  }
  if (std::string cluster = text("cluster"); !cluster.empty()) {
    Routes* routes = server_.routes();
    std::string ours = routes ? routes->name() : std::string();
    if (ours.find(cluster) == std::string::npos) return true;
  }
  if (std::string host = text("host"); !host.empty() && opts.host.find(host) == std::string::npos) {
    return true;
  }
  if (auto it = o.find("tags"); it != o.end() && it->is_array() && !it->empty()) return true;
  return !text("domain").empty();
}

void SystemEvents::SendStatsz(const std::string& subject) {
  int active_accounts = 0;
  for (const auto& [name, a] : accounts_) active_accounts += a.conns > 0 ? 1 : 0;
  auto statsz = monitor_.BuildStatsz(1 + static_cast<int>(peers_.size()), active_accounts);
  if (!statsz) return;
  Json doc;
  doc["server"] = ServerInfo();
  doc["statsz"] = std::move(*statsz);
  Publish(subject, doc);
}

void SystemEvents::SendAccountConns(const std::string& account, const std::string& reply) {
  const AccountConns& a = accounts_[account];
  Json doc;
  doc["type"] = "io.nats.server.advisory.v1.account_connections";
  doc["id"] = EventId();
  doc["timestamp"] = FormatRfc3339Nano(std::chrono::system_clock::now());
  doc["server"] = Json::object();
  doc["acc"] = account;
  doc["conns"] = a.conns;
  doc["leafnodes"] = 0;
  doc["total_conns"] = a.conns;
  doc["sent"] = DataStats(a.sent_msgs, a.sent_bytes);
  doc["received"] = DataStats(a.received_msgs, a.received_bytes);
  doc["slow_consumers"] = 0;
  if (!reply.empty()) {
    doc["server"] = ServerInfo();
    Publish(reply, doc);
    return;
  }
  // The older subject first, as the reference.
  for (const std::string& subject :
       {"$SYS.SERVER.ACCOUNT." + account + ".CONNS", "$SYS.ACCOUNT." + account + ".SERVER.CONNS"}) {
    doc["server"] = ServerInfo();
    Publish(subject, doc);
  }
}

void SystemEvents::SendConnectEvent(const ConnSnapshot& c, bool connect) {
  Json doc;
  doc["type"] = connect ? "io.nats.server.advisory.v1.client_connect"
                        : "io.nats.server.advisory.v1.client_disconnect";
  doc["id"] = EventId();
  doc["timestamp"] = FormatRfc3339Nano(c.stop ? *c.stop : std::chrono::system_clock::now());
  doc["server"] = ServerInfo();
  doc["client"] = ClientInfo(c, !connect);
  if (!connect) {
    // From the client's side: what it sent is what the server received from it.
    doc["sent"] = DataStats(c.in_msgs, c.in_bytes);
    doc["received"] = DataStats(c.out_msgs, c.out_bytes);
    doc["reason"] = c.reason;
  }
  Publish("$SYS.ACCOUNT." + c.account + (connect ? ".CONNECT" : ".DISCONNECT"), doc);
}

SystemEvents::Json SystemEvents::ServerInfo() {
  auto config = server_.config();
  const Options& o = config->options();
  Json j;
  j["name"] = o.server_name;
  j["host"] = o.host;
  j["id"] = id_;
  if (Routes* routes = server_.routes()) {
    if (std::string name = routes->name(); !name.empty()) j["cluster"] = name;
  }
  j["ver"] = kCompatibleNatsVersion;
  j["seq"] = ++seq_;
  j["jetstream"] = false;
  j["time"] = FormatRfc3339Nano(std::chrono::system_clock::now());
  return j;
}

void SystemEvents::Publish(std::string subject, const Json& doc, std::string reply, Account* in) {
  client_->Publish(std::move(subject), std::move(reply), doc.dump(), nullptr,
                   in == &system_ ? nullptr : in);
}

std::string SystemEvents::EventId() {
  // Shaped like the reference's (a NUID: 22 base62 characters).
  static const char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string id(22, '0');
  for (char& ch : id) ch = kAlphabet[rng() % 62];
  return id;
}

}  // namespace gannet
