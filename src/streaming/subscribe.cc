// Subscriptions: subscribe (checks, start positions, durables, queue groups and the durable
// queue group's shadow), unsubscribe versus close, removal (the reference's subStore.Remove:
// durables kept offline, a leaving queue member's unacknowledged messages handed to the others),
// and acks.
#include <algorithm>
#include <cstdio>

#include "streaming/log.h"
#include "streaming/nuid.h"
#include "streaming/proto/records.pb.h"
#include "streaming/server.h"
#include "streaming/store/limits.h"
#include "streaming/wire.h"

namespace gannet::streaming {

std::string Subscription::DurableKey() const {
  const std::string& id = state.client_id.empty() ? saved_client_id : state.client_id;
  return id + "-" + channel->name + "-" + state.durable_name;
}

namespace {

// How soon a leaving queue member's unacknowledged messages are sent to the others.
constexpr int64_t kHandOverDelayNs = 100'000'000;

std::string DurableKeyOf(const pb::SubscriptionRequest& sr) {
  return sr.client_id() + "-" + sr.subject() + "-" + sr.durable_name();
}

template <typename T>
void EraseValue(std::vector<T>& v, const T& x) {
  auto it = std::find(v.begin(), v.end(), x);
  if (it != v.end()) v.erase(it);
}

}  // namespace

Subscription* StreamingServer::NewSubscription() {
  auto sub = std::make_unique<Subscription>();
  sub->uid = next_sub_uid_++;
  Subscription* raw = sub.get();
  subs_.emplace(raw->uid, std::move(sub));
  return raw;
}

void StreamingServer::FreeSubscription(Subscription& sub) {
  ClearAckTimer(sub);
  auto it = by_ack_.find(sub.state.ack_inbox);
  if (it != by_ack_.end() && it->second == &sub) by_ack_.erase(it);
  subs_.erase(sub.uid);
}

void StreamingServer::IndexAckInbox(Subscription& sub) {
  by_ack_[sub.state.ack_inbox] = &sub;
  // Ack inboxes of an earlier run under another prefix (a store written by another server)
  // need a subscription of their own; ours are under the acks wildcard.
  const std::string& inbox = sub.state.ack_inbox;
  if (inbox.compare(0, acks_prefix_.size(), acks_prefix_) != 0) {
    link_.Subscribe(inbox, InboundKind::kAck);
  }
}

void StreamingServer::HandleSubscribe(const client::Message& m) {
  pb::SubscriptionRequest sr;
  pb::SubscriptionResponse resp;
  auto fail = [&](const char* error) {
    resp.set_error(error);
    link_.PublishNow(m.reply(), resp.SerializeAsString());
  };
  std::string_view data = m.data();
  const std::string from(m.subject());
  if (!sr.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    STAN_ERROR("Invalid Subscription request from %s", from.c_str());
    return fail(errors::kInvalidSubReq);
  }
  const char* id = sr.client_id().c_str();
  if (sr.client_id().empty()) {
    STAN_ERROR("Missing ClientID in subscription request from %s", from.c_str());
    return fail(errors::kMissingClient);
  }
  if (sr.ack_wait_in_secs() <= 0) {
    STAN_ERROR("[Client:%s] Invalid AckWait (%d) in subscription request from %s", id,
               sr.ack_wait_in_secs(), from.c_str());
    return fail(errors::kInvalidAckWait);
  }
  if (sr.max_in_flight() <= 0) {
    STAN_ERROR("[Client:%s] Invalid MaxInflight (%d) in subscription request from %s", id,
               sr.max_in_flight(), from.c_str());
    return fail(errors::kInvalidMaxInflight);
  }
  if (sr.start_position() < pb::NewOnly || sr.start_position() > pb::First) {
    STAN_ERROR("[Client:%s] Invalid StartPosition (%d) in subscription request from %s", id,
               static_cast<int>(sr.start_position()), from.c_str());
    return fail(errors::kInvalidStart);
  }
  if (!store::IsChannelNameValid(sr.subject(), false)) {
    STAN_ERROR("[Client:%s] Invalid channel \"%s\" in subscription request from %s", id,
               sr.subject().c_str(), from.c_str());
    return fail(errors::kInvalidSubject);
  }
  if (!LookupClient(sr.client_id())) {
    STAN_ERROR("[Client:%s] Rejecting subscription on \"%s\": unknown client", id,
               sr.subject().c_str());
    return fail(errors::kUnknownClient);
  }
  std::string error;
  Channel* c = LookupOrCreateChannel(sr.subject(), &error);
  if (!c) {
    STAN_ERROR("Unable to create channel for subscription on \"%s\": %s", sr.subject().c_str(),
               error.c_str());
    resp.set_error(error);
    link_.PublishNow(m.reply(), resp.SerializeAsString());
    return;
  }
  Subscription* sub = nullptr;
  error = AddSubscription(sr, *c, &sub);
  if (!error.empty()) {
    resp.set_error(error);
    link_.PublishNow(m.reply(), resp.SerializeAsString());
    MaybeStartDeleteTimer(*c);
    return;
  }
  StopDeleteTimer(*c);
  resp.set_ack_inbox(sub->state.ack_inbox);
  link_.PublishNow(m.reply(), resp.SerializeAsString());
  // Nothing is sent before the response: the client would not know the subscription yet.
  sub->initialized = true;
  if (sub->state.is_durable) RedeliverDurable(*sub);
  SendAvailable(*sub);
}

std::string StreamingServer::AddSubscription(pb::SubscriptionRequest& sr, Channel& c,
                                             Subscription** out) {
  Subscription* sub = nullptr;
  bool durable = false;
  bool set_start = true;  // false when resuming a durable or joining an existing group
  if (!sr.q_group().empty()) {
    if (!sr.durable_name().empty()) {
      // The group's name becomes "durable:group", so ':' cannot be in the durable name.
      if (sr.durable_name().find(':') != std::string::npos) {
        STAN_ERROR("[Client:%s] Invalid DurableName (\"%s\") for queue subscriber from %s",
                   sr.client_id().c_str(), sr.durable_name().c_str(), sr.subject().c_str());
        return errors::kInvalidDurName;
      }
      durable = true;
      sr.set_q_group(sr.durable_name() + ":" + sr.q_group());
      sr.clear_durable_name();
    }
    auto q = c.queues.find(sr.q_group());
    if (q != c.queues.end()) {
      QueueGroup& qs = *q->second;
      if (qs.shadow) {
        sub = qs.shadow;
        qs.shadow = nullptr;
        qs.members.push_back(sub);
      }
      set_start = false;
    }
  } else if (!sr.durable_name().empty()) {
    auto d = c.durables.find(DurableKeyOf(sr));
    if (d != c.durables.end()) {
      Subscription* existing = d->second;
      if (!existing->IsOffline()) {
        if (!opts_.replace_durable) {
          STAN_ERROR("[Client:%s] Duplicate durable subscription registration",
                     sr.client_id().c_str());
          return errors::kDupDurable;
        }
        // --replace_durable: the active one is closed (kept, offline) and resumed below.
        if (existing->client) EraseValue(existing->client->subs, existing);
        existing->client = nullptr;
        RemoveSubscription(*existing, false);
      }
      sub = existing;
      set_start = false;
    }
    durable = true;
  }

  Client* client = LookupClient(sr.client_id());
  const std::string ack_inbox = acks_prefix_ + NextNuid();
  if (sub) {
    // A durable resumed, or the first member back in a durable queue group: its position and
    // unacknowledged messages are kept; the new inboxes and limits apply.
    sub->state.ack_inbox = ack_inbox;
    sub->state.client_id = sr.client_id();
    sub->saved_client_id.clear();
    sub->state.inbox = sr.inbox();
    sub->state.is_durable = true;
    sub->state.max_in_flight = sr.max_in_flight();
    sub->state.ack_wait_in_secs = sr.ack_wait_in_secs();
    sub->ack_wait = std::chrono::seconds(sr.ack_wait_in_secs());
    sub->stalled = false;
    sub->state.is_closed = false;
    if (!sub->pending.empty()) {
      // Unacknowledged messages go first.
      sub->new_on_hold = true;
      ArmAckTimer(*sub, NowNs() + sub->ack_wait.count());
    }
    sub->client = client;
    if (store::Status s = c.store->subs->UpdateSub(sub->state); !s) {
      STAN_ERROR("Unable to update subscription for %s: %s", sr.subject().c_str(),
                 s.message().c_str());
    }
    if (!sub->IsQueue()) c.plain_subs.push_back(sub);
  } else {
    sub = NewSubscription();
    sub->channel = &c;
    sub->client = client;
    store::SubState& st = sub->state;
    st.client_id = sr.client_id();
    st.q_group = sr.q_group();
    st.inbox = sr.inbox();
    st.ack_inbox = ack_inbox;
    st.max_in_flight = sr.max_in_flight();
    st.ack_wait_in_secs = sr.ack_wait_in_secs();
    st.durable_name = sr.durable_name();
    st.is_durable = durable;
    sub->ack_wait = std::chrono::seconds(sr.ack_wait_in_secs());
    std::string start_trace;
    if (set_start) {
      if (std::string err = SetStartSequence(c, *sub, sr); !err.empty()) {
        subs_.erase(sub->uid);
        return err;
      }
    }
    if (store::Status s = c.store->subs->CreateSub(st); !s) {
      STAN_ERROR("Unable to store subscription [%s:%s] on [%s]: %s", st.client_id.c_str(),
                 st.inbox.c_str(), sr.subject().c_str(), s.message().c_str());
      subs_.erase(sub->uid);
      return s.message();
    }
    if (sub->IsQueue()) {
      auto& slot = c.queues[st.q_group];
      if (!slot) {
        slot = std::make_unique<QueueGroup>();
        slot->name = st.q_group;
      }
      QueueGroup& qs = *slot;
      qs.members.push_back(sub);
      sub->qgroup = &qs;
      if (st.last_sent > qs.last_sent) qs.last_sent = st.last_sent;
    } else {
      c.plain_subs.push_back(sub);
      if (sub->IsDurable()) c.durables[sub->DurableKey()] = sub;
    }
  }
  if (client) client->subs.push_back(sub);
  IndexAckInbox(*sub);
  ++num_subs_;
  if (StanDebug()) {
    const char* kind =
        sub->IsQueue() ? (durable ? "durable queue " : "queue ") : (durable ? "durable " : "");
    STAN_DEBUG("[Client:%s] %s %ssubscription, subject=%s, inbox=%s, subid=%llu",
               sr.client_id().c_str(), set_start ? "Started new" : "Resumed", kind,
               sr.subject().c_str(), sub->state.inbox.c_str(),
               static_cast<unsigned long long>(sub->state.id));
  }
  *out = sub;
  return {};
}

std::string StreamingServer::SetStartSequence(Channel& c, Subscription& sub,
                                              const pb::SubscriptionRequest& sr) {
  store::MsgStore& msgs = *c.store->msgs;
  uint64_t last_sent = 0;  // with no message at all, it stays 0
  switch (sr.start_position()) {
    case pb::NewOnly:
      last_sent = msgs.LastSequence();
      break;
    case pb::LastReceived: {
      uint64_t last = msgs.LastSequence();
      if (last > 0) last_sent = last - 1;
      break;
    }
    case pb::TimeDeltaStart: {
      const int64_t start = NowNs() - sr.start_time_delta();
      auto seq = msgs.GetSequenceFromTimestamp(start);
      if (!seq) return seq.status().message();
      // Past the last message: "new only".
      if (*seq > 0) last_sent = *seq - 1;
      break;
    }
    case pb::SequenceStart: {
      uint64_t first = msgs.FirstSequence(), last = msgs.LastSequence();
      if (sr.start_sequence() < first) {
        last_sent = first - 1;  // the first available
      } else if (sr.start_sequence() > last) {
        last_sent = last;  // "new only"
      } else if (sr.start_sequence() > 0) {
        last_sent = sr.start_sequence() - 1;
      }
      break;
    }
    case pb::First: {
      uint64_t first = msgs.FirstSequence();
      if (first > 0) last_sent = first - 1;
      break;
    }
    default:
      break;
  }
  sub.state.last_sent = last_sent;
  return {};
}

void StreamingServer::HandleUnsubscribe(const client::Message& m, bool close) {
  pb::UnsubscribeRequest req;
  pb::SubscriptionResponse resp;
  std::string_view data = m.data();
  const char* action = close ? "sub close" : "unsub";
  if (!req.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    STAN_ERROR("Invalid %s request from %.*s", close ? "sub close" : "unsub",
               static_cast<int>(m.subject().size()), m.subject().data());
    resp.set_error(errors::kInvalidUnsubReq);
    link_.PublishNow(m.reply(), resp.SerializeAsString());
    return;
  }
  auto respond = [&](const char* error) {
    if (error) resp.set_error(error);
    link_.PublishNow(m.reply(), resp.SerializeAsString());
  };
  Channel* c = LookupChannel(req.subject());
  if (!c) {
    STAN_ERROR("[Client:%s] %s request missing subject %s", req.client_id().c_str(), action,
               req.subject().c_str());
    return respond(errors::kUnknownChannel);
  }
  Subscription* sub = nullptr;
  if (auto it = by_ack_.find(req.inbox()); it != by_ack_.end() && it->second->channel == c) {
    sub = it->second;
  } else {
    // A client whose subscribe timed out closes the subscription by its delivery inbox.
    for (Subscription* s : c->plain_subs) {
      if (s->state.inbox == req.inbox() && s->state.client_id == req.client_id()) sub = s;
    }
    for (auto& [name, q] : c->queues) {
      for (Subscription* s : q->members) {
        if (s->state.inbox == req.inbox() && s->state.client_id == req.client_id()) sub = s;
      }
    }
  }
  if (!sub) {
    STAN_ERROR("[Client:%s] %s request for missing inbox %s", req.client_id().c_str(), action,
               req.inbox().c_str());
    return respond(errors::kInvalidSub);
  }
  Client* client = LookupClient(req.client_id());
  if (!client || sub->client != client) {
    STAN_ERROR("[Client:%s] %s request for missing client", req.client_id().c_str(), action);
    return respond(errors::kUnknownClient);
  }
  EraseValue(client->subs, sub);
  sub->client = nullptr;
  RemoveSubscription(*sub, !close);
  respond(nullptr);
}

void StreamingServer::RemoveSubscription(Subscription& sub, bool unsubscribe) {
  Channel& c = *sub.channel;
  const std::string client_id = sub.state.client_id;
  const bool was_online = !client_id.empty();
  const std::string durable_key = sub.IsDurable() ? sub.DurableKey() : std::string();
  const bool is_durable = sub.state.is_durable;
  const uint64_t subid = sub.state.id;
  store::SubStore& store = *c.store->subs;
  auto report = [&](const store::Status& s) {
    if (!s) {
      STAN_ERROR("Error deleting subscription subid=%llu, subject=%s, err=%s",
                 static_cast<unsigned long long>(subid), c.name.c_str(), s.message().c_str());
    }
  };
  if (was_online) sub.saved_client_id = client_id;
  sub.state.client_id.clear();
  if (auto it = by_ack_.find(sub.state.ack_inbox); it != by_ack_.end() && it->second == &sub) {
    by_ack_.erase(it);
    if (sub.state.ack_inbox.compare(0, acks_prefix_.size(), acks_prefix_) != 0) {
      link_.Unsubscribe(sub.state.ack_inbox);
    }
  }
  if (was_online && num_subs_ > 0) --num_subs_;
  // Storage: non-durables always go; durables only on Unsubscribe (queue durables below).
  if (!is_durable || (unsubscribe && !durable_key.empty())) report(store.DeleteSub(subid));
  if (unsubscribe && !durable_key.empty()) c.durables.erase(durable_key);
  ClearAckTimer(sub);
  bool free_sub = false;
  std::vector<Subscription*> receivers;  // queue members that took pending messages

  if (QueueGroup* qs = sub.qgroup) {
    EraseValue(qs->members, &sub);
    bool storage_update = false;
    if (qs->members.empty()) {
      if (!is_durable || unsubscribe) {
        report(store.DeleteSub(subid));
        const std::string group = qs->name;
        c.queues.erase(group);  // frees the group
        qs = nullptr;
        free_sub = true;
      } else {
        // The last member of a durable group left without unsubscribing: the group's state
        // stays with this shadow until a member comes back.
        qs->shadow = &sub;
        qs->stalled_members = 0;
        storage_update = true;
      }
    } else {
      if (sub.stalled && qs->stalled_members > 0) --qs->stalled_members;
      // Its unacknowledged messages go round-robin to the remaining members.
      const int64_t now = NowNs();
      storage_update = sub.state.last_sent == qs->last_sent;
      size_t idx = 0;
      for (const PendingSet::Entry& pm : sub.pending.SortedByExpiry()) {
        Subscription& q = *qs->members[idx];
        idx = (idx + 1) % qs->members.size();
        if (store::Status s = q.channel->store->subs->AddSeqPending(q.state.id, pm.seq); !s) {
          STAN_ERROR(
              "[Client:%s] Unable to transfer message to subid=%llu, subject=%s, "
              "seq=%llu, err=%s",
              client_id.c_str(), static_cast<unsigned long long>(subid), c.name.c_str(),
              static_cast<unsigned long long>(pm.seq), s.message().c_str());
          continue;
        }
        if (storage_update && pm.seq == qs->last_sent) storage_update = false;
        if (pm.seq > q.state.last_sent) q.state.last_sent = pm.seq;
        // Handed over as expired: the receiver's next ack timer run sends them again.
        q.pending.Add(pm.seq, now);
        if (std::find(receivers.begin(), receivers.end(), &q) == receivers.end()) {
          receivers.push_back(&q);
        }
      }
      // A durable member that is not the last one is gone for good.
      if (is_durable) report(store.DeleteSub(subid));
      free_sub = true;
    }
    if (storage_update && qs) {
      Subscription* target = qs->shadow ? qs->shadow : qs->members.front();
      target->state.last_sent = qs->last_sent;
      // The stored record of the shadow has no client id: recovery knows it is a shadow.
      report(target->channel->store->subs->UpdateSub(target->state));
    }
  } else {
    EraseValue(c.plain_subs, &sub);
    if (is_durable && !unsubscribe) {
      // A closed durable: kept offline, and marked so in the store (with its client id, part
      // of the durable key on recovery).
      sub.state.client_id = client_id.empty() ? sub.saved_client_id : client_id;
      sub.state.is_closed = true;
      report(store.UpdateSub(sub.state));
      sub.state.client_id.clear();
      sub.stalled = false;
    } else {
      free_sub = true;
    }
  }
  if (StanDebug()) {
    STAN_DEBUG("[Client:%s] %s subscription, subject=%s, inbox=%s, subid=%llu", client_id.c_str(),
               free_sub ? "Removed" : (unsubscribe ? "Removed" : "Suspended"), c.name.c_str(),
               sub.state.inbox.c_str(), static_cast<unsigned long long>(subid));
  }
  if (free_sub) FreeSubscription(sub);
  // The messages handed over go out again shortly (after the leaving member's own acks still
  // in flight had a moment to arrive).
  for (Subscription* q : receivers) {
    const int64_t soon = NowNs() + kHandOverDelayNs;
    if (q->ack_timer == 0 || q->ack_timer_at > soon) ArmAckTimer(*q, soon);
  }
  MaybeStartDeleteTimer(c);
}

void StreamingServer::HandleAck(const client::Message& m) {
  AckView ack;
  if (!ParseAck(m.data(), ack, ack_scratch_)) return;
  auto it = by_ack_.find(m.subject());
  if (it == by_ack_.end()) return;  // an ack for a subscription that is gone
  Subscription& sub = *it->second;
  if (sub.channel->name != ack.subject) {
    STAN_ERROR("Unable to process ack seq=%llu, channel %s not found",
               static_cast<unsigned long long>(ack.sequence), std::string(ack.subject).c_str());
    return;
  }
  ProcessAck(sub, ack.sequence);
}

void StreamingServer::ProcessAck(Subscription& sub, uint64_t seq) {
  STAN_TRACE("[Client:%s] Processing ack for subid=%llu, subject=%s, seq=%llu",
             sub.state.client_id.c_str(), static_cast<unsigned long long>(sub.state.id),
             sub.channel->name.c_str(), static_cast<unsigned long long>(seq));
  if (store::Status s = sub.channel->store->subs->AckSeqPending(sub.state.id, seq); !s) {
    STAN_ERROR("[Client:%s] Unable to persist ack for subid=%llu, subject=%s, seq=%llu, err=%s",
               sub.state.client_id.c_str(), static_cast<unsigned long long>(sub.state.id),
               sub.channel->name.c_str(), static_cast<unsigned long long>(seq),
               s.message().c_str());
    return;
  }
  sub.pending.Remove(seq);
  if (sub.stalled && sub.pending.size() < static_cast<size_t>(sub.state.max_in_flight)) {
    // Below max in flight again: this member (or the whole group, if every member was
    // stalled) can take more.
    sub.stalled = false;
    if (sub.qgroup && sub.qgroup->stalled_members > 0) --sub.qgroup->stalled_members;
    SendAvailable(sub);
  }
}

}  // namespace gannet::streaming
