// Recovery: the clients, channels and subscriptions a persistent store kept from the previous
// run, rebuilt as the reference does (offline durables, durable queue shadows, unacknowledged
// messages redelivered before new ones), then heartbeats and redelivery started.
#include <algorithm>

#include "streaming/log.h"
#include "streaming/server.h"

namespace gannet::streaming {

std::string StreamingServer::RecoverState(store::RecoveredState& state) {
  for (store::ClientInfo& ci : state.clients) {
    auto c = std::make_unique<Client>();
    c->info = std::move(ci);
    if (!c->info.conn_id.empty()) clients_by_conn_[c->info.conn_id] = c.get();
    std::string id = c->info.id;
    clients_[id] = std::move(c);
  }
  for (auto& [name, rc] : state.channels) {
    if (!rc.channel) return "recovered channel \"" + name + "\" has no store";
    Channel& c = AddChannel(name, rc.channel);
    for (store::RecoveredSubscription& rs : rc.subscriptions) RecoverSubscription(c, rs);
  }
  return {};
}

void StreamingServer::RecoverSubscription(Channel& c, store::RecoveredSubscription& rs) {
  Subscription* sub = NewSubscription();
  sub->channel = &c;
  sub->state = std::move(rs.state);
  sub->ack_wait = std::chrono::seconds(sub->state.ack_wait_in_secs);
  for (uint64_t seq : rs.pending) sub->pending.Add(seq, 0);  // expiry unknown until redelivery
  if (!sub->pending.empty()) {
    // Unacknowledged messages are redelivered before any new one.
    sub->new_on_hold = true;
    if (sub->pending.size() >= static_cast<size_t>(std::max(1, sub->state.max_in_flight))) {
      sub->stalled = true;
    }
  }
  auto go_offline = [&] {
    // The durable key includes the client id: kept aside, then cleared so it can resume.
    sub->saved_client_id = sub->state.client_id;
    c.durables[sub->DurableKey()] = sub;
    sub->state.client_id.clear();
  };
  const bool plain_durable = sub->IsDurable();
  if (plain_durable) {
    sub->state.is_durable = true;  // older stores did not always say so
    if (sub->state.is_closed) {
      go_offline();
      return;
    }
  }
  Client* client = sub->state.client_id.empty() ? nullptr : LookupClient(sub->state.client_id);
  if (!client && !sub->state.is_durable) {
    // A plain subscription of a client that did not survive: gone.
    c.store->subs->DeleteSub(sub->state.id);
    FreeSubscription(*sub);
    return;
  }
  const bool shadow = sub->IsQueue() && sub->state.client_id.empty();
  if (!client && sub->IsQueue() && !shadow) {
    STAN_INFO("WARN: Not recovering ghost durable queue subscriber: [%s]:[%s] subject=%s inbox=%s",
              sub->state.client_id.c_str(), sub->state.q_group.c_str(), c.name.c_str(),
              sub->state.inbox.c_str());
    c.store->subs->DeleteSub(sub->state.id);
    FreeSubscription(*sub);
    return;
  }
  if (plain_durable && !client) {
    go_offline();
    return;
  }
  if (sub->IsQueue()) {
    auto& slot = c.queues[sub->state.q_group];
    if (!slot) {
      slot = std::make_unique<QueueGroup>();
      slot->name = sub->state.q_group;
    }
    QueueGroup& q = *slot;
    sub->qgroup = &q;
    if (shadow) {
      // One shadow per group; a store with two keeps the one furthest along.
      if (!q.shadow || sub->state.last_sent > q.last_sent) q.shadow = sub;
    } else {
      q.members.push_back(sub);
      IndexAckInbox(*sub);
    }
    if (sub->state.last_sent > q.last_sent) q.last_sent = sub->state.last_sent;
    if (sub->new_on_hold) q.new_on_hold = true;
    if (sub->stalled) ++q.stalled_members;
  } else {
    c.plain_subs.push_back(sub);
    IndexAckInbox(*sub);
    if (plain_durable) c.durables[sub->DurableKey()] = sub;
  }
  if (client) {
    client->subs.push_back(sub);
    sub->client = client;
  }
  if (!shadow) ++num_subs_;
}

void StreamingServer::AfterRecovery() {
  std::vector<Subscription*> held;
  for (auto& [uid, sub] : subs_) {
    if (sub->IsOffline()) continue;
    sub->initialized = true;
    if (sub->new_on_hold) held.push_back(sub.get());
  }
  for (auto& [id, c] : clients_) ScheduleHeartbeat(*c, opts_.hb_interval);
  for (auto& [name, c] : channels_) {
    if (c->limits.max_age.count() > 0) ExpireMessages(name);
    MaybeStartDeleteTimer(*c);
  }
  // Unacknowledged messages first (to the member that had them, for queues), then new ones.
  std::vector<QueueGroup*> groups;
  for (Subscription* sub : held) {
    RedeliverExpired(sub->uid, true);
    sub->new_on_hold = false;
    if (sub->qgroup) {
      if (std::find(groups.begin(), groups.end(), sub->qgroup) == groups.end()) {
        groups.push_back(sub->qgroup);
      }
    } else {
      SendAvailableMessages(*sub);
    }
  }
  for (QueueGroup* q : groups) {
    q->new_on_hold = false;
    for (Subscription* m : q->members) {
      SendAvailableToQueue(*m->channel, *q);
      break;
    }
  }
}

}  // namespace gannet::streaming
