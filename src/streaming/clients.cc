// Client connections: connect (client id rules, the duplicate-id check through the old
// client's heartbeat inbox), close, server-to-client heartbeats, client pings, and the
// server's own asynchronous requests.
#include "streaming/log.h"
#include "streaming/server.h"

namespace gannet::streaming {

namespace {

bool ValidClientId(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

constexpr int32_t kProtocolOne = 1;

}  // namespace

Client* StreamingServer::LookupClient(std::string_view id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

bool StreamingServer::ValidPublisher(std::string_view client_id, std::string_view conn_id) {
  // Protocol 1 clients are known by their connection id: a replaced client's publishes fail.
  if (!conn_id.empty()) return clients_by_conn_.find(conn_id) != clients_by_conn_.end();
  return LookupClient(client_id) != nullptr;
}

void StreamingServer::SendConnectError(std::string_view reply, std::string_view error) {
  pb::ConnectResponse cr;
  cr.set_error(std::string(error));
  link_.PublishNow(reply, cr.SerializeAsString());
}

void StreamingServer::HandleConnect(const client::Message& m) {
  pb::ConnectRequest req;
  std::string_view data = m.data();
  bool parsed = req.ParseFromArray(data.data(), static_cast<int>(data.size()));
  if (!parsed || req.heartbeat_inbox().empty()) {
    STAN_ERROR("[Client:?] Invalid conn request: ClientID=%s, Inbox=%s", req.client_id().c_str(),
               req.heartbeat_inbox().c_str());
    SendConnectError(m.reply(), errors::kInvalidConnReq);
    return;
  }
  if (!ValidClientId(req.client_id())) {
    STAN_ERROR("[Client:%s] Invalid ClientID, only alphanumeric and `-` or `_` characters allowed",
               req.client_id().c_str());
    SendConnectError(m.reply(), errors::kInvalidClientId);
    return;
  }
  Client* existing = LookupClient(req.client_id());
  if (!existing) {
    FinishConnect(req, std::string(m.reply()), false);
    return;
  }
  // The id is taken: a client that crashed and came back, or a second one using the same id.
  // The old one's heartbeat inbox decides: an answer means it is alive.
  const std::string id = req.client_id();
  if (dup_cid_checks_.count(id)) {
    STAN_DEBUG("[Client:%s] Connect failed; already connected", id.c_str());
    SendConnectError(m.reply(), errors::kInvalidClient);
    return;
  }
  dup_cid_checks_[id] = true;
  const std::string reply(m.reply());
  Request(existing->info.hb_inbox, opts_.dup_cid_timeout, [this, req, reply](bool answered) {
    dup_cid_checks_.erase(req.client_id());
    if (answered) {
      STAN_DEBUG("[Client:%s] Connect failed; already connected", req.client_id().c_str());
      SendConnectError(reply, errors::kInvalidClient);
      return;
    }
    FinishConnect(req, reply, LookupClient(req.client_id()) != nullptr);
  });
}

void StreamingServer::FinishConnect(const pb::ConnectRequest& req, const std::string& reply,
                                    bool replace) {
  const std::string& id = req.client_id();
  if (replace) CloseClient(id);
  store::ClientInfo info;
  info.id = id;
  info.hb_inbox = req.heartbeat_inbox();
  info.conn_id = req.conn_id();
  info.protocol = req.protocol();
  info.ping_interval = req.ping_interval();
  info.ping_max_out = req.ping_max_out();
  if (store::Status s = store_->AddClient(info); !s) {
    STAN_ERROR("[Client:%s] Error registering client: %s", id.c_str(), s.message().c_str());
    SendConnectError(reply, s.message());
    return;
  }
  auto client = std::make_unique<Client>();
  client->info = std::move(info);
  Client& c = *client;
  if (!c.info.conn_id.empty()) clients_by_conn_[c.info.conn_id] = &c;
  clients_[id] = std::move(client);
  if (replace) {
    STAN_DEBUG("[Client:%s] Replaced old client (Inbox=%s)", id.c_str(), c.info.hb_inbox.c_str());
  } else {
    STAN_DEBUG("[Client:%s] Connected (Inbox=%s)", id.c_str(), c.info.hb_inbox.c_str());
  }

  pb::ConnectResponse cr;
  cr.set_pub_prefix(info_.publish);
  cr.set_sub_requests(info_.subscribe);
  cr.set_unsub_requests(info_.unsubscribe);
  cr.set_sub_close_requests(info_.sub_close);
  cr.set_close_requests(info_.close);
  cr.set_protocol(kProtocolOne);
  if (req.protocol() >= kProtocolOne) {
    cr.set_ping_requests(info_.discovery + ".pings");
    // The client's own ping settings are echoed back, as the reference does.
    cr.set_ping_interval(req.ping_interval());
    cr.set_ping_max_out(req.ping_max_out());
  }
  link_.PublishNow(reply, cr.SerializeAsString());
  ScheduleHeartbeat(c, opts_.hb_interval);
}

bool StreamingServer::CloseClient(const std::string& client_id) {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) {
    STAN_ERROR("Unknown client \"%s\" in close request", client_id.c_str());
    return false;
  }
  std::unique_ptr<Client> c = std::move(it->second);
  clients_.erase(it);
  if (!c->info.conn_id.empty()) {
    auto bc = clients_by_conn_.find(c->info.conn_id);
    if (bc != clients_by_conn_.end() && bc->second == c.get()) clients_by_conn_.erase(bc);
  }
  if (store::Status s = store_->DeleteClient(client_id); !s) {
    STAN_ERROR("Error unregistering client \"%s\": %s", client_id.c_str(), s.message().c_str());
  }
  if (c->hb_timer) loop_.CancelTimer(c->hb_timer);
  // Non-durable subscriptions go; durables stay, offline.
  std::vector<Subscription*> subs = std::move(c->subs);
  for (Subscription* sub : subs) {
    sub->client = nullptr;
    RemoveSubscription(*sub, false);
  }
  STAN_DEBUG("[Client:%s] Closed (Inbox=%s)", client_id.c_str(), c->info.hb_inbox.c_str());
  return true;
}

void StreamingServer::HandleClose(const client::Message& m) {
  pb::CloseRequest req;
  pb::CloseResponse resp;
  std::string_view data = m.data();
  if (!req.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    STAN_ERROR("Received invalid close request, subject=%.*s", static_cast<int>(m.subject().size()),
               m.subject().data());
    resp.set_error(errors::kInvalidCloseReq);
  } else if (!CloseClient(req.client_id())) {
    resp.set_error(errors::kUnknownClient);
  }
  link_.PublishNow(m.reply(), resp.SerializeAsString());
}

void StreamingServer::HandlePing(const client::Message& m) {
  std::string_view data = m.data();
  if (data.empty()) return;
  pb::Ping ping;
  if (!ping.ParseFromArray(data.data(), static_cast<int>(data.size()))) return;
  pb::PingResponse resp;
  auto it = clients_by_conn_.find(ping.conn_id());
  if (it == clients_by_conn_.end()) {
    resp.set_error(errors::kPingUnknown);
  } else if (it->second->failed_hb > 0 && !it->second->hb_in_flight) {
    // The client is alive after all: check its heartbeat now, which clears the failures.
    ScheduleHeartbeat(*it->second, std::chrono::milliseconds(1));
  }
  link_.PublishNow(m.reply(), resp.SerializeAsString());
}

// ---- heartbeats ----

void StreamingServer::ScheduleHeartbeat(Client& c, std::chrono::nanoseconds after) {
  if (c.hb_timer) loop_.CancelTimer(c.hb_timer);
  const std::string id = c.info.id;
  c.hb_timer = loop_.AddTimer(after, [this, id] { SendHeartbeat(id); });
}

void StreamingServer::SendHeartbeat(const std::string& client_id) {
  Client* c = LookupClient(client_id);
  if (!c) return;
  c->hb_timer = 0;
  c->hb_in_flight = true;
  Request(c->info.hb_inbox, opts_.hb_timeout,
          [this, client_id](bool answered) { HeartbeatResult(client_id, answered); });
}

void StreamingServer::HeartbeatResult(const std::string& client_id, bool answered) {
  Client* c = LookupClient(client_id);
  if (!c) return;
  c->hb_in_flight = false;
  const bool had_failed = c->failed_hb > 0;
  if (!answered) {
    ++c->failed_hb;
    if (c->failed_hb > opts_.hb_fail_count) {
      STAN_DEBUG("[Client:%s] Timed out on heartbeats", client_id.c_str());
      CloseClient(client_id);
      return;
    }
  } else {
    c->failed_hb = 0;
  }
  ScheduleHeartbeat(*c, opts_.hb_interval);
  const bool failing = c->failed_hb > 0;
  if (failing != had_failed) {
    // Redelivery to its subscriptions is skipped (and its queue members passed over) while
    // its heartbeats fail.
    for (Subscription* sub : c->subs) sub->has_failed_hb = failing;
  }
}

// ---- the server's own requests ----

void StreamingServer::Request(std::string_view subject, std::chrono::nanoseconds timeout,
                              std::function<void(bool)> done) {
  const uint64_t token = next_token_++;
  PendingRequest& pr = requests_[token];
  pr.done = std::move(done);
  pr.timer = loop_.AddTimer(timeout, [this, token] {
    auto it = requests_.find(token);
    if (it == requests_.end()) return;
    auto cb = std::move(it->second.done);
    requests_.erase(it);
    cb(false);
  });
  link_.RequestAsync(subject, {}, token);
}

void StreamingServer::HandleReply(const client::Message& m) {
  auto it = requests_.find(link_.ReplyToken(m.subject()));
  if (it == requests_.end()) return;  // late: timed out already
  loop_.CancelTimer(it->second.timer);
  auto cb = std::move(it->second.done);
  requests_.erase(it);
  // NATS answers at once with a no-responders status when nobody listens: a failure, as a
  // timeout would be.
  cb(!m.IsNoResponders());
}

}  // namespace gannet::streaming
