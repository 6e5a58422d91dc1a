// The Streaming server's runtime state: clients, channels, subscriptions and queue groups (the
// reference's client, channel, subStore, subState and queueState). Owned and touched only by
// the I/O loop thread (streaming/event_loop.h), so none of it is locked.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "streaming/event_loop.h"
#include "streaming/pending.h"
#include "streaming/store/store.h"

namespace gannet::streaming {

// Heterogeneous lookup for string-keyed maps: find(std::string_view) without a temporary string
// (the ack inbox of every ack, the connection id of every publish).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct Channel;
struct Client;
struct QueueGroup;

struct Subscription {
  uint64_t uid = 0;  // process-unique: timers and the server's table refer to it
  // The persisted state. state.client_id is "" while offline (a closed durable, the shadow of
  // a durable queue group).
  store::SubState state;
  std::string saved_client_id;  // an offline durable's client, for its key and /channelsz
  Channel* channel = nullptr;
  QueueGroup* qgroup = nullptr;
  Client* client = nullptr;  // null while offline
  std::chrono::nanoseconds ack_wait{0};
  PendingSet pending;

  bool initialized = false;  // false until the SubscriptionResponse went out
  bool stalled = false;      // pending >= max_in_flight
  bool new_on_hold = false;  // recovered with pending messages: redeliver those first
  bool has_failed_hb = false;
  EventLoop::TimerId ack_timer = 0;
  int64_t ack_timer_at = 0;  // when the ack timer fires (ns since the epoch); 0: none

  bool IsQueue() const { return !state.q_group.empty(); }
  bool IsDurable() const { return !state.durable_name.empty(); }  // plain durable
  bool IsOffline() const { return state.client_id.empty(); }
  // "clientID-subject-durableName", the reference's durable key.
  std::string DurableKey() const;
};

struct QueueGroup {
  std::string name;  // "durable:group" for a durable queue group
  std::vector<Subscription*> members;
  // A durable group whose last member left without unsubscribing keeps its state here.
  Subscription* shadow = nullptr;
  uint64_t last_sent = 0;
  int stalled_members = 0;
  bool new_on_hold = false;
};

struct Channel {
  std::string name;
  store::ChannelStore* store = nullptr;
  store::ChannelLimits limits;
  uint64_t next_seq = 1;
  int64_t last_timestamp = 0;  // timestamps never decrease within a channel

  std::vector<Subscription*> plain_subs;  // plain and online durable subscriptions
  std::map<std::string, std::unique_ptr<QueueGroup>> queues;
  StringMap<Subscription*> durables;  // by DurableKey, online or not

  bool in_batch = false;  // written to in the current I/O batch
  // max_age: the store's next expiry (ns since the epoch) and its timer.
  int64_t age_timer_at = 0;
  EventLoop::TimerId age_timer = 0;
  // max_inactivity: deleted once idle (no message, no active subscription) that long.
  int64_t last_activity = 0;  // steady clock ns
  EventLoop::TimerId delete_timer = 0;

  bool HasActiveSubs() const {
    if (!plain_subs.empty()) return true;
    for (const auto& [name, q] : queues) {
      if (!q->members.empty()) return true;
    }
    return false;
  }
};

// The member of a queue group that gets the next message: the one with the fewest unacknowledged
// messages among those not stalled and whose client answers heartbeats (else the first), the
// members rotated so that equals take turns, as the reference's findBestQueueSub.
Subscription* PickQueueMember(std::vector<Subscription*>& members);

struct Client {
  store::ClientInfo info;
  std::vector<Subscription*> subs;
  int failed_hb = 0;
  EventLoop::TimerId hb_timer = 0;
  bool hb_in_flight = false;
  uint64_t hb_token = 0;  // the outstanding heartbeat request
};

}  // namespace gannet::streaming
