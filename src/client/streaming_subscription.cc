// Streaming subscriptions: the SubscriptionRequest with its options, delivery and acks,
// unsubscribe and close.
#include "client/streaming_impl.h"
#include "streaming/proto/protocol.pb.h"

namespace gannet::client::streaming {

namespace pb = ::gannet::streaming::pb;

namespace {

constexpr const char* kNoSubscription = "stan: invalid subscription";

pb::StartPosition ToWire(StartPosition p) {
  switch (p) {
    case StartPosition::kNewOnly:
      return pb::NewOnly;
    case StartPosition::kLastReceived:
      return pb::LastReceived;
    case StartPosition::kTimeDelta:
      return pb::TimeDeltaStart;
    case StartPosition::kSequence:
      return pb::SequenceStart;
    case StartPosition::kFirst:
      return pb::First;
  }
  return pb::NewOnly;
}

}  // namespace

namespace detail {

void SubImpl::MarkReady(bool ok) {
  std::lock_guard lk(mu);
  if (!ok) closed = true;
  ready = true;
  cv.notify_all();
}

void SubImpl::OnMessage(const client::Message& m, const std::shared_ptr<SubImpl>& self) {
  if (!ready.load(std::memory_order_acquire)) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return ready.load(); });
  }
  if (closed) return;
  thread_local pb::MsgProto proto;  // the dispatcher's: parsed into again for each message
  std::string_view payload = m.data();
  if (!proto.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  Message msg;
  msg.sequence_ = proto.sequence();
  msg.channel_ = std::move(*proto.mutable_subject());
  msg.data_ = std::move(*proto.mutable_data());
  msg.timestamp_ = proto.timestamp();
  msg.redelivered_ = proto.redelivered();
  msg.redelivery_count_ = proto.redelivery_count();
  msg.sub_ = self;
  if (handler) handler(msg);
  delivered.fetch_add(1, std::memory_order_relaxed);
  if (!manual_acks && !closed) SendAck(msg.sequence_);
}

Outcome SubImpl::SendAck(uint64_t sequence) {
  auto c = conn.lock();
  if (!c || c->closed() || closed) return Outcome(Status::kInvalidSubscription, kNoSubscription);
  thread_local pb::Ack ack;
  thread_local std::string wire;
  ack.set_subject(channel);
  ack.set_sequence(sequence);
  ack.SerializeToString(&wire);
  // ack_inbox was set before `ready`, and a message to ack exists only after `ready`.
  Status st = c->nats().Publish(ack_inbox, wire);
  if (st != Status::kOk) return Outcome(st, c->nats().last_error());
  return Outcome(std::monostate{});
}

Result<Subscription> ConnImpl::Subscribe(std::string_view channel, std::string_view queue,
                                         MessageHandler handler, const SubscriptionOptions& o) {
  using R = Result<Subscription>;
  if (closed_) return R(Status::kConnectionClosed, "stan: connection closed");
  if (!handler) return R(Status::kInvalidArgument, "a subscription needs a message handler");
  auto sub = std::make_shared<SubImpl>();
  sub->conn = weak_from_this();
  sub->channel = std::string(channel);
  sub->queue = std::string(queue);
  sub->durable = o.durable_name;
  sub->manual_acks = o.manual_acks;
  sub->handler = std::move(handler);
  sub->inbox = nc_.NewInbox();
  std::weak_ptr<SubImpl> weak = sub;
  auto ns = nc_.Subscribe(sub->inbox, [weak](client::Message& m) {
    if (auto s = weak.lock()) s->OnMessage(m, s);
  });
  if (!ns.ok()) return R(ns.status(), ns.detail());
  sub->nats_sub = std::move(*ns);
  // Flow control is the server's (max in flight): the client never drops.
  sub->nats_sub.SetPendingLimits(int64_t{1} << 40, int64_t{1} << 50);

  pb::SubscriptionRequest req;
  req.set_client_id(opts_.client_id);
  req.set_subject(sub->channel);
  req.set_q_group(sub->queue);
  req.set_inbox(sub->inbox);
  req.set_max_in_flight(o.max_in_flight);
  req.set_ack_wait_in_secs(static_cast<int32_t>(o.ack_wait.count()));
  req.set_durable_name(o.durable_name);
  req.set_start_position(ToWire(o.start));
  req.set_start_sequence(o.start_sequence);
  req.set_start_time_delta(o.start_time_delta.count());
  auto reply = nc_.Request(sub_requests_, req.SerializeAsString(), opts_.connect_wait);
  auto fail = [&](Status s, std::string detail) {
    sub->nats_sub.Unsubscribe();
    sub->MarkReady(false);
    return R(s, std::move(detail));
  };
  if (!reply.ok()) {
    if (reply.status() == Status::kTimeout) {
      // The server may have made it after all: have it close what the delivery inbox names.
      pb::UnsubscribeRequest undo;
      undo.set_client_id(opts_.client_id);
      undo.set_subject(sub->channel);
      undo.set_inbox(sub->inbox);
      undo.set_durable_name(o.durable_name);
      nc_.Publish(sub_close_requests_.empty() ? unsub_requests_ : sub_close_requests_,
                  undo.SerializeAsString());
      return fail(Status::kTimeout, "stan: subscribe request timeout");
    }
    return fail(reply.status(), reply.detail());
  }
  pb::SubscriptionResponse resp;
  if (!resp.ParseFromArray(reply->data().data(), static_cast<int>(reply->data().size()))) {
    return fail(Status::kProtocolError, "stan: bad SubscriptionResponse");
  }
  if (!resp.error().empty()) return fail(Status::kServerError, resp.error());
  sub->ack_inbox = resp.ack_inbox();  // published to the dispatcher by MarkReady below
  bool registered = false;
  {
    std::lock_guard lk(mu_);
    if (!closed_) {
      subs_[sub->inbox] = sub;
      registered = true;
    }
  }
  if (!registered) return fail(Status::kConnectionClosed, "stan: connection closed");
  sub->MarkReady(true);
  return Subscription(std::move(sub));
}

Outcome ConnImpl::RemoveSubscription(SubImpl& sub, bool close) {
  if (closed_) return Outcome(Status::kConnectionClosed, "stan: connection closed");
  {
    std::lock_guard lk(mu_);
    if (sub.closed.exchange(true)) return Outcome(Status::kInvalidSubscription, kNoSubscription);
    subs_.erase(sub.inbox);
  }
  sub.nats_sub.Unsubscribe();
  const std::string& subject = close ? sub_close_requests_ : unsub_requests_;
  if (subject.empty()) {
    return Outcome(Status::kServerError, "stan: this feature is not supported by the server");
  }
  pb::UnsubscribeRequest req;
  req.set_client_id(opts_.client_id);
  req.set_subject(sub.channel);
  req.set_inbox(sub.ack_inbox);  // set before Subscribe returned the handle
  req.set_durable_name(sub.durable);
  auto reply = nc_.Request(subject, req.SerializeAsString(), opts_.connect_wait);
  if (!reply.ok()) {
    if (reply.status() == Status::kTimeout) {
      return Outcome(Status::kTimeout, close ? "stan: close subscription request timeout"
                                             : "stan: unsubscribe request timeout");
    }
    return Outcome(reply.status(), reply.detail());
  }
  pb::SubscriptionResponse resp;
  if (!resp.ParseFromArray(reply->data().data(), static_cast<int>(reply->data().size()))) {
    return Outcome(Status::kProtocolError, "stan: bad SubscriptionResponse");
  }
  if (!resp.error().empty()) return Outcome(Status::kServerError, resp.error());
  return Outcome(std::monostate{});
}

}  // namespace detail

// ---- The public handles ----

Outcome Message::Ack() const {
  auto s = sub_.lock();
  if (!s) return Outcome(Status::kInvalidSubscription, kNoSubscription);
  if (!s->manual_acks) {
    return Outcome(Status::kInvalidArgument, "stan: cannot manually ack in auto-ack mode");
  }
  return s->SendAck(sequence_);
}

namespace {
const std::string kEmpty;
}  // namespace

const std::string& Subscription::channel() const { return impl_ ? impl_->channel : kEmpty; }
const std::string& Subscription::queue_group() const { return impl_ ? impl_->queue : kEmpty; }
const std::string& Subscription::durable_name() const { return impl_ ? impl_->durable : kEmpty; }
const std::string& Subscription::inbox() const { return impl_ ? impl_->inbox : kEmpty; }
const std::string& Subscription::ack_inbox() const { return impl_ ? impl_->ack_inbox : kEmpty; }
int64_t Subscription::delivered() const { return impl_ ? impl_->delivered.load() : 0; }
bool Subscription::active() const { return impl_ && !impl_->closed; }

Outcome Subscription::Unsubscribe() {
  if (!impl_) return Outcome(Status::kInvalidSubscription, kNoSubscription);
  auto c = impl_->conn.lock();
  if (!c) return Outcome(Status::kConnectionClosed, "stan: connection closed");
  return c->RemoveSubscription(*impl_, false);
}

Outcome Subscription::Close() {
  if (!impl_) return Outcome(Status::kInvalidSubscription, kNoSubscription);
  auto c = impl_->conn.lock();
  if (!c) return Outcome(Status::kConnectionClosed, "stan: connection closed");
  return c->RemoveSubscription(*impl_, true);
}

}  // namespace gannet::client::streaming
