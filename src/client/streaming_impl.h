// The state behind a Streaming Connection and its Subscriptions (include/gannet/client/
// streaming.h): the registration with the server, the publishes waiting for their PubAck, the
// control thread (PubAcks, ack timeouts, heartbeats, pings) and the subscriptions by inbox.
//
// Threads: callers (any thread), the control thread (its own loop over one synchronous NATS
// subscription to "<root>.*": heartbeats, PubAcks and ping responses), the NATS dispatcher
// (subscription messages), the NATS event thread (the NATS connection closed).
// Locks (docs/LOCK_ORDER.md): ConnImpl::mu_ and SubImpl::mu are never held together, nor while
// a user callback runs, a NATS call is made or the server is waited for.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gannet/client/streaming.h"

namespace gannet::client::streaming::detail {

using Clock = std::chrono::steady_clock;

class ConnImpl;

// The publishes waiting for their PubAck, numbered 1, 2, ... in publish order (the number is
// the tail of the guid). Publishing order is also expiry order (one ack wait for all), and
// acks come back mostly in order: a ring from the oldest outstanding publish, acknowledged
// entries marked and dropped once they reach the front. Not synchronized (ConnImpl::mu_).
class PendingAcks {
 public:
  size_t outstanding() const { return outstanding_; }
  uint64_t Add(AckHandler handler, Clock::time_point expiry);
  // The handler of publish `seq` if it is still waiting (it is then done).
  bool Take(uint64_t seq, AckHandler* handler);
  // The oldest publish if it expired by `now` (it is then done).
  bool TakeExpired(Clock::time_point now, uint64_t* seq, AckHandler* handler);
  // The oldest outstanding publish's expiry; false when none.
  bool Earliest(Clock::time_point* expiry) const;
  // Everything outstanding, oldest first (all then done).
  std::vector<std::pair<uint64_t, AckHandler>> TakeAll();

 private:
  struct Entry {
    AckHandler handler;
    Clock::time_point expiry;
    bool done = false;
  };
  void PopDone();
  std::deque<Entry> ring_;
  uint64_t front_seq_ = 1;  // the number of ring_.front()
  size_t outstanding_ = 0;
};

struct SubImpl {
  std::weak_ptr<ConnImpl> conn;
  std::string channel;
  std::string queue;
  std::string durable;
  std::string inbox;
  bool manual_acks = false;
  MessageHandler handler;
  client::Subscription nats_sub;
  std::atomic<int64_t> delivered{0};
  std::atomic<bool> closed{false};

  // The ack inbox arrives with the SubscriptionResponse, which can come after the first
  // message (the server starts delivering once it has answered): messages wait for `ready`.
  // ack_inbox is written once, before `ready` is set (under mu), and only read after.
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> ready{false};  // ack_inbox is set (or the subscription failed: closed)
  std::string ack_inbox;

  // NATS dispatcher thread: decodes a MsgProto, runs the handler, acks unless manual.
  void OnMessage(const client::Message& m, const std::shared_ptr<SubImpl>& self);
  Outcome SendAck(uint64_t sequence);
  void MarkReady(bool ok);
};

class ConnImpl : public std::enable_shared_from_this<ConnImpl> {
 public:
  explicit ConnImpl(Options opts);
  ~ConnImpl();

  // Connects NATS (unless given), subscribes the control inboxes, registers, starts the
  // control thread.
  Outcome Start();

  Result<std::string> PublishAsync(std::string_view channel, std::string_view data,
                                   AckHandler on_ack);
  Outcome Publish(std::string_view channel, std::string_view data);
  Result<Subscription> Subscribe(std::string_view channel, std::string_view queue,
                                 MessageHandler handler, const SubscriptionOptions& o);
  // Unsubscribe (close = false) or Close (close = true) a subscription.
  Outcome RemoveSubscription(SubImpl& sub, bool close);
  Outcome Close();
  // Local teardown without telling the server (the last handle went away).
  void Abandon();

  bool closed() const { return closed_.load(); }
  const std::string& client_id() const { return opts_.client_id; }
  client::Connection& nats() { return nc_; }
  const client::Connection& nats() const { return nc_; }
  int64_t in_flight() const;

 private:
  // A PubMsg ready to go: its subject and bytes (per-thread buffers, valid until the thread's
  // next publish).
  struct PubWire {
    std::string subject;
    std::string payload;
  };
  const PubWire& EncodePub(std::string_view channel, std::string_view data,
                           const std::string& guid);
  void ControlLoop();
  void OnControlMessage(const client::Message& m);
  void OnPubAck(std::string_view payload);
  void OnPingResponse(std::string_view payload);
  void SendPing();
  void ExpireAcks(Clock::time_point now);
  // The connection is gone: tear down and tell the application (once).
  void Lost(const std::string& reason);
  // Stops everything local: the control thread, the subscriptions, the pending acks (failed
  // with `why`), and the NATS connection if ours. Returns false when already done.
  bool Teardown(const std::string& why, bool close_nats);
  std::string Guid(uint64_t seq) const { return guid_prefix_ + std::to_string(seq); }
  bool OnControlThread() const { return std::this_thread::get_id() == control_id_.load(); }

  Options opts_;
  client::Connection nc_;
  bool owns_nc_ = false;

  std::string conn_id_;
  size_t control_root_len_ = 0;  // "_INBOX.<id>": the control subjects are <root>.<kind>
  std::string hb_inbox_;
  std::string ack_subject_;
  std::string ping_inbox_;
  std::string guid_prefix_;
  client::Subscription control_sub_;

  // From the ConnectResponse.
  std::string pub_prefix_;
  std::string sub_requests_;
  std::string unsub_requests_;
  std::string close_requests_;
  std::string sub_close_requests_;
  std::string ping_requests_;
  std::chrono::seconds ping_interval_{0};  // 0: no pings (protocol 0 server)
  int ping_max_out_ = 0;
  int pings_out_ = 0;  // control thread only

  std::atomic<bool> closed_{false};
  std::atomic<bool> lost_reported_{false};
  std::thread control_;
  std::atomic<std::thread::id> control_id_{};

  mutable std::mutex mu_;
  std::condition_variable room_cv_;  // the window fell to its low-water mark, or closed
  int room_waiters_ = 0;             // publishers waiting on room_cv_
  // Publishers waiting for room in a full window resume at this many outstanding acks.
  size_t LowWater() const {
    auto max = static_cast<size_t>(opts_.max_pub_acks_in_flight);
    return max - std::max<size_t>(1, std::min<size_t>(max / 4, 512));
  }
  bool RoomForWaitersLocked() const {
    return room_waiters_ > 0 && acks_.outstanding() <= LowWater();
  }
  PendingAcks acks_;
  std::atomic<uint64_t> sync_guid_{0};  // synchronous publishes: guids "<prefix>s<n>"
  std::unordered_map<std::string, std::shared_ptr<SubImpl>> subs_;  // by delivery inbox
};

}  // namespace gannet::client::streaming::detail
