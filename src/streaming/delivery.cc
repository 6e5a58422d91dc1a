// Delivery: messages sent to subscriptions up to their max in flight (stalled beyond it), queue
// groups (one member per message: the least loaded that is not stalled and whose client
// answers heartbeats, in rotation), ack-wait expiry and redelivery, a resumed durable's
// unacknowledged messages.
#include <algorithm>

#include "streaming/log.h"
#include "streaming/server.h"
#include "streaming/store/records.h"

namespace gannet::streaming {

Subscription* PickQueueMember(std::vector<Subscription*>& members) {
  Subscription* best = nullptr;
  size_t least = SIZE_MAX;
  for (Subscription* s : members) {
    if (!s->stalled && !s->has_failed_hb && s->pending.size() < least) {
      least = s->pending.size();
      best = s;
    }
  }
  if (!best && !members.empty()) best = members.front();
  // Rotate, so that members with equal loads take turns.
  if (members.size() > 1 && best == members.front()) {
    std::rotate(members.begin(), members.begin() + 1, members.end());
  }
  return best;
}

namespace {

// A little slack so that messages expiring within it go in the same timer run.
constexpr int64_t kRedeliverySlackNs = 15'000'000;

}  // namespace

void StreamingServer::SendAvailable(Subscription& sub) {
  if (sub.qgroup) {
    SendAvailableToQueue(*sub.channel, *sub.qgroup);
  } else {
    SendAvailableMessages(sub);
  }
}

void StreamingServer::DeliverNew(Channel& c) {
  for (Subscription* sub : c.plain_subs) SendAvailableMessages(*sub);
  for (auto& [name, q] : c.queues) SendAvailableToQueue(c, *q);
}

bool StreamingServer::NextMessage(Channel& c, uint64_t& next, uint64_t& last_sent,
                                  store::MsgRef& out) {
  store::MsgStore& msgs = *c.store->msgs;
  for (;;) {
    auto r = msgs.Lookup(next);
    if (!r) {
      STAN_ERROR("Error looking up message %s:%llu (%s)", c.name.c_str(),
                 static_cast<unsigned long long>(next), r.status().message().c_str());
      return false;
    }
    if (r->found()) {
      out = std::move(*r);
      return true;
    }
    // Not stored: removed by a limit (skip to the first available) or not there yet.
    const uint64_t first = msgs.FirstSequence(), last = msgs.LastSequence();
    if (next < first) {
      next = first;
      last_sent = first - 1;
    } else if (next >= last) {
      return false;
    } else {
      ++next;
      ++last_sent;
    }
  }
}

void StreamingServer::SendAvailableMessages(Subscription& sub) {
  Channel& c = *sub.channel;
  for (uint64_t next = sub.state.last_sent + 1; !sub.stalled; ++next) {
    store::MsgRef m;
    if (!NextMessage(c, next, sub.state.last_sent, m)) break;
    bool more = false;
    if (!SendToSub(sub, m, false, false, &more) || !more) break;
  }
}

void StreamingServer::SendAvailableToQueue(Channel& c, QueueGroup& q) {
  if (q.new_on_hold) return;
  for (uint64_t next = q.last_sent + 1; q.stalled_members < static_cast<int>(q.members.size());
       ++next) {
    store::MsgRef m;
    if (!NextMessage(c, next, q.last_sent, m)) break;
    bool sent = false, more = false;
    SendToQueue(q, m, false, false, &sent, &more);
    if (!sent || !more) break;
  }
}

Subscription* StreamingServer::SendToQueue(QueueGroup& q, const store::MsgRef& m, bool force,
                                           bool redelivery, bool* sent, bool* more) {
  *sent = *more = false;
  Subscription* sub = PickQueueMember(q.members);
  if (!sub) return nullptr;
  const bool was_stalled = sub->stalled;
  *sent = SendToSub(*sub, m, force, redelivery, more);
  if (!force && !was_stalled && sub->stalled) ++q.stalled_members;
  if (*sent && sub->state.last_sent > q.last_sent) q.last_sent = sub->state.last_sent;
  return sub;
}

bool StreamingServer::SendToSub(Subscription& sub, const store::MsgRef& m, bool force,
                                bool redelivery, bool* more) {
  *more = false;
  if (!sub.initialized || sub.IsOffline() || (sub.new_on_hold && !redelivery)) return false;
  const size_t in_flight = sub.pending.size();
  const size_t max_in_flight = static_cast<size_t>(std::max(1, sub.state.max_in_flight));
  if (!force && in_flight >= max_in_flight) {
    sub.stalled = true;
    return false;
  }
  PendingSet::Entry* pending = sub.pending.Find(m.seq);
  std::string_view payload = m.record;
  if (redelivery) {
    // The stored record plus redelivered=true and the count: the later fields win.
    out_.assign(m.record);
    store::AppendRedeliveryFields(out_, pending ? pending->redeliveries + 1 : 1);
    payload = out_;
  }
  STAN_TRACE("[Client:%s] %s msg to subid=%llu, subject=%s, seq=%llu", sub.state.client_id.c_str(),
             redelivery ? "Redelivering" : "Delivering",
             static_cast<unsigned long long>(sub.state.id), sub.channel->name.c_str(),
             static_cast<unsigned long long>(m.seq));
  link_.Publish(sub.state.inbox, payload);
  stats_.out_msgs.fetch_add(1, std::memory_order_relaxed);
  stats_.out_bytes.fetch_add(static_cast<int64_t>(payload.size()), std::memory_order_relaxed);

  const int64_t now = NowNs();
  const int64_t expire = now + sub.ack_wait.count();
  if (sub.ack_timer == 0) ArmAckTimer(sub, expire);
  if (pending) {
    // Already pending (a redelivery): only its expiry moves.
    pending->expire = expire;
    if (redelivery) ++pending->redeliveries;
    *more = true;
    return true;
  }
  if (store::Status s = sub.channel->store->subs->AddSeqPending(sub.state.id, m.seq); !s) {
    STAN_ERROR(
        "[Client:%s] Unable to add pending message to subid=%llu, subject=%s, seq=%llu, "
        "err=%s",
        sub.state.client_id.c_str(), static_cast<unsigned long long>(sub.state.id),
        sub.channel->name.c_str(), static_cast<unsigned long long>(m.seq), s.message().c_str());
    return false;
  }
  if (m.seq > sub.state.last_sent) sub.state.last_sent = m.seq;
  sub.pending.Add(m.seq, expire);
  if (!force && in_flight + 1 >= max_in_flight) {
    sub.stalled = true;
    return true;
  }
  *more = true;
  return true;
}

void StreamingServer::RedeliverDurable(Subscription& sub) {
  std::vector<PendingSet::Entry> sorted = sub.pending.Sorted();
  if (!sorted.empty()) {
    STAN_DEBUG("[Client:%s] Redelivering to subid=%llu, durable=%s", sub.state.client_id.c_str(),
               static_cast<unsigned long long>(sub.state.id),
               sub.IsQueue() ? sub.state.q_group.c_str() : sub.state.durable_name.c_str());
  }
  if (!LookupClient(sub.state.client_id)) return;
  for (const PendingSet::Entry& pm : sorted) {
    auto r = sub.channel->store->msgs->Lookup(pm.seq);
    if (!r || !r->found()) {
      // Removed by a limit: acknowledged implicitly, so it does not come back after a restart.
      ProcessAck(sub, pm.seq);
      continue;
    }
    bool more = false;
    SendToSub(sub, *r, true, true, &more);
  }
  sub.new_on_hold = false;
}

void StreamingServer::RedeliverExpired(uint64_t uid, bool startup) {
  auto it = subs_.find(uid);
  if (it == subs_.end()) return;
  Subscription& sub = *it->second;
  ClearAckTimer(sub);
  if (sub.IsOffline()) return;
  std::vector<PendingSet::Entry> sorted = sub.pending.SortedByExpiry();
  if (sorted.empty()) return;
  const int64_t now = NowNs();
  const int64_t ack_wait = sub.ack_wait.count();
  if (!sub.qgroup && sub.has_failed_hb) {
    STAN_DEBUG("[Client:%s] Skipping redelivery to subid=%llu due to missed client heartbeat",
               sub.state.client_id.c_str(), static_cast<unsigned long long>(sub.state.id));
    ArmAckTimer(sub, now + ack_wait);
    return;
  }
  Channel& c = *sub.channel;
  const int64_t limit = now + kRedeliverySlackNs;
  int64_t next_expiry = 0;
  for (const PendingSet::Entry& pm : sorted) {
    if (!sub.pending.Contains(pm.seq)) continue;  // acknowledged meanwhile (implicitly)
    auto r = c.store->msgs->Lookup(pm.seq);
    if (!r || !r->found()) {
      if (!r) {
        STAN_ERROR("Error getting message for redelivery subid=%llu, seq=%llu, err=%s",
                   static_cast<unsigned long long>(sub.state.id),
                   static_cast<unsigned long long>(pm.seq), r.status().message().c_str());
      }
      ProcessAck(sub, pm.seq);
      continue;
    }
    int64_t expire = pm.expire;
    const bool unknown = expire == 0;  // recovered: count from the message's time
    if (unknown) expire = r->timestamp + ack_wait;
    if (expire > limit) {
      if (next_expiry == 0 || expire < next_expiry) next_expiry = expire;
      if (unknown) {
        if (PendingSet::Entry* e = sub.pending.Find(pm.seq)) e->expire = now + ack_wait;
        continue;
      }
      break;
    }
    if (sub.qgroup && !startup) {
      // A queue group's expired message may go to another member; the original member's
      // copy is then acknowledged implicitly.
      bool sent = false, more = false;
      Subscription* pick = SendToQueue(*sub.qgroup, *r, true, true, &sent, &more);
      if (!pick) {
        STAN_ERROR("[Client:%s] Unable to find queue subscriber for subid=%llu",
                   sub.state.client_id.c_str(), static_cast<unsigned long long>(sub.state.id));
        break;
      }
      if (pick != &sub && sent) ProcessAck(sub, pm.seq);
    } else {
      bool more = false;
      SendToSub(sub, *r, true, true, &more);
    }
  }
  // The next run: when the earliest message still pending expires.
  if (!sub.pending.empty()) ArmAckTimer(sub, next_expiry > now ? next_expiry : now + ack_wait);
}

void StreamingServer::ArmAckTimer(Subscription& sub, int64_t at_ns) {
  if (sub.ack_timer) loop_.CancelTimer(sub.ack_timer);
  sub.ack_timer_at = at_ns;
  const int64_t delay = std::max<int64_t>(0, at_ns - NowNs());
  const uint64_t uid = sub.uid;
  sub.ack_timer = loop_.AddTimer(std::chrono::nanoseconds(delay), [this, uid] {
    auto it = subs_.find(uid);
    if (it == subs_.end()) return;
    it->second->ack_timer = 0;
    RedeliverExpired(uid, false);
  });
}

void StreamingServer::ClearAckTimer(Subscription& sub) {
  if (sub.ack_timer) loop_.CancelTimer(sub.ack_timer);
  sub.ack_timer = 0;
  sub.ack_timer_at = 0;
}

}  // namespace gannet::streaming
