// The Streaming connection: registering with the server, publishing with PubAcks, the control
// thread (acks, ack timeouts, heartbeats, pings), closing and losing the connection.
#include <time.h>

#include <algorithm>
#include <charconv>

#include "client/streaming_impl.h"
#include "streaming/proto/protocol.pb.h"

namespace gannet::client::streaming {

namespace pb = ::gannet::streaming::pb;

namespace {

constexpr const char* kConnectTimeout =
    "stan: connect request timeout (possibly wrong cluster ID?)";
constexpr const char* kClosedText = "stan: connection closed";
constexpr const char* kPingFailure = "stan: connection lost due to PING failure";

Outcome Fail(Status s, std::string detail) { return Outcome(s, std::move(detail)); }

// The steady clock at the kernel tick's resolution (a few ms): deadlines of seconds need no
// more, and it costs a fraction of a precise reading on every publish. CLOCK_MONOTONIC_COARSE
// counts from the same origin as steady_clock's CLOCK_MONOTONIC.
detail::Clock::time_point CoarseNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return detail::Clock::time_point(std::chrono::duration_cast<detail::Clock::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

// A request to the server: kOk with the reply's payload, or the NATS failure.
Result<std::string> Ask(client::Connection& nc, const std::string& subject,
                        const std::string& payload, std::chrono::milliseconds wait) {
  auto reply = nc.Request(subject, payload, wait);
  if (!reply.ok()) return Result<std::string>(reply.status(), reply.detail());
  return std::string(reply->data());
}

}  // namespace

namespace detail {

ConnImpl::ConnImpl(Options opts) : opts_(std::move(opts)) {}

ConnImpl::~ConnImpl() {
  Teardown(kClosedText, true);
  if (control_.joinable()) {
    // The last reference went away on the control thread itself (from a handler).
    if (control_.get_id() == std::this_thread::get_id()) {
      control_.detach();
    } else {
      control_.join();
    }
  }
}

Outcome ConnImpl::Start() {
  if (opts_.client_id.empty()) return Fail(Status::kInvalidArgument, "stan: clientID missing");
  if (opts_.max_pub_acks_in_flight < 1) {
    return Fail(Status::kInvalidArgument, "max_pub_acks_in_flight must be at least 1");
  }
  if (opts_.ping_interval < std::chrono::seconds(1) || opts_.ping_max_out < 1) {
    return Fail(Status::kInvalidArgument,
                "ping_interval must be at least 1s and ping_max_out at least 1");
  }
  if (opts_.nats.valid()) {
    nc_ = opts_.nats;
  } else {
    client::Options no = opts_.nats_options;
    if (no.name.empty()) no.name = opts_.client_id;
    std::weak_ptr<ConnImpl> weak = weak_from_this();
    auto user_closed = no.on_closed;
    no.on_closed = [weak, user_closed] {
      if (user_closed) user_closed();
      if (auto self = weak.lock()) {
        if (!self->closed()) self->Lost("stan: connection lost: nats: connection closed");
      }
    };
    auto nc = client::Connection::Connect(std::move(no));
    if (!nc.ok()) return Fail(nc.status(), nc.detail());
    nc_ = std::move(*nc);
    owns_nc_ = true;
  }
  auto fail = [this](Status s, std::string detail) {
    if (control_sub_.valid()) control_sub_.Unsubscribe();
    if (owns_nc_) nc_.Close();
    closed_ = true;
    return Fail(s, std::move(detail));
  };

  // One synchronous subscription carries the heartbeats, PubAcks and ping responses to the
  // control thread, away from the dispatcher that runs message handlers.
  std::string root = nc_.NewInbox();
  conn_id_ = root.substr(root.rfind('.') + 1);
  // Short, so that a guid ("<4 chars>.<number>") fits a std::string's inline buffer: the guids
  // only need to be unique within this connection, whose own inbox gets the acks.
  guid_prefix_ = conn_id_.substr(0, 4) + ".";
  control_root_len_ = root.size();
  hb_inbox_ = root + ".hb";
  ack_subject_ = root + ".acks";
  ping_inbox_ = root + ".pings";
  auto sub = nc_.SubscribeSync(root + ".*");
  if (!sub.ok()) return fail(sub.status(), sub.detail());
  control_sub_ = std::move(*sub);
  control_sub_.SetPendingLimits(int64_t{1} << 40, int64_t{1} << 50);

  pb::ConnectRequest req;
  req.set_client_id(opts_.client_id);
  req.set_heartbeat_inbox(hb_inbox_);
  req.set_protocol(1);
  req.set_conn_id(conn_id_);
  req.set_ping_interval(static_cast<int32_t>(opts_.ping_interval.count()));
  req.set_ping_max_out(opts_.ping_max_out);
  auto reply = Ask(nc_, opts_.discover_prefix + "." + opts_.cluster_id, req.SerializeAsString(),
                   opts_.connect_wait);
  if (!reply.ok()) {
    if (reply.status() == Status::kTimeout || reply.status() == Status::kNoResponders) {
      return fail(reply.status(), kConnectTimeout);
    }
    return fail(reply.status(), reply.detail());
  }
  pb::ConnectResponse cr;
  if (!cr.ParseFromString(*reply)) return fail(Status::kProtocolError, "stan: bad ConnectResponse");
  if (!cr.error().empty()) return fail(Status::kServerError, cr.error());
  pub_prefix_ = cr.pub_prefix();
  sub_requests_ = cr.sub_requests();
  unsub_requests_ = cr.unsub_requests();
  close_requests_ = cr.close_requests();
  sub_close_requests_ = cr.sub_close_requests();
  ping_requests_ = cr.ping_requests();
  if (cr.protocol() >= 1 && !ping_requests_.empty() && cr.ping_interval() > 0) {
    ping_interval_ = std::chrono::seconds(cr.ping_interval());
    ping_max_out_ = cr.ping_max_out();
  }
  control_ = std::thread([self = shared_from_this()] { self->ControlLoop(); });
  return Outcome(std::monostate{});
}

uint64_t PendingAcks::Add(AckHandler handler, Clock::time_point expiry) {
  ring_.push_back(Entry{std::move(handler), expiry, false});
  ++outstanding_;
  return front_seq_ + ring_.size() - 1;
}

void PendingAcks::PopDone() {
  while (!ring_.empty() && ring_.front().done) {
    ring_.pop_front();
    ++front_seq_;
  }
}

bool PendingAcks::Take(uint64_t seq, AckHandler* handler) {
  if (seq < front_seq_ || seq - front_seq_ >= ring_.size()) return false;
  Entry& e = ring_[seq - front_seq_];
  if (e.done) return false;
  *handler = std::move(e.handler);
  e.done = true;
  --outstanding_;
  PopDone();
  return true;
}

bool PendingAcks::TakeExpired(Clock::time_point now, uint64_t* seq, AckHandler* handler) {
  if (ring_.empty() || ring_.front().expiry > now) return false;
  *seq = front_seq_;
  return Take(front_seq_, handler);
}

bool PendingAcks::Earliest(Clock::time_point* expiry) const {
  if (ring_.empty()) return false;
  *expiry = ring_.front().expiry;  // never a done entry: those are popped from the front
  return true;
}

std::vector<std::pair<uint64_t, AckHandler>> PendingAcks::TakeAll() {
  std::vector<std::pair<uint64_t, AckHandler>> out;
  for (size_t i = 0; i < ring_.size(); ++i) {
    if (!ring_[i].done) out.emplace_back(front_seq_ + i, std::move(ring_[i].handler));
  }
  front_seq_ += ring_.size();
  ring_.clear();
  outstanding_ = 0;
  return out;
}

int64_t ConnImpl::in_flight() const {
  std::lock_guard lk(mu_);
  return static_cast<int64_t>(acks_.outstanding());
}

Result<std::string> ConnImpl::PublishAsync(std::string_view channel, std::string_view data,
                                           AckHandler on_ack) {
  uint64_t seq = 0;
  {
    std::unique_lock lk(mu_);
    if (closed_) return Result<std::string>(Status::kConnectionClosed, kClosedText);
    auto max = static_cast<size_t>(opts_.max_pub_acks_in_flight);
    if (acks_.outstanding() >= max) {
      if (OnControlThread()) {
        return Result<std::string>(Status::kBufferFull,
                                   "stan: too many publish acks in flight to wait for one in an "
                                   "ack handler");
      }
      // Resumes once a few acks have come (below the low-water mark), not after each one:
      // a wake-up per ack would cost a thread switch per message.
      ++room_waiters_;
      room_cv_.wait(lk, [&] { return acks_.outstanding() <= LowWater() || closed_; });
      --room_waiters_;
      if (closed_) return Result<std::string>(Status::kConnectionClosed, kClosedText);
    }
    seq = acks_.Add(std::move(on_ack), CoarseNow() + opts_.pub_ack_wait);
  }
  std::string guid = Guid(seq);
  const PubWire& pub = EncodePub(channel, data, guid);
  Status st = nc_.Publish(pub.subject, pub.payload, ack_subject_);
  if (st != Status::kOk) {
    AckHandler dropped;
    {
      std::lock_guard lk(mu_);
      acks_.Take(seq, &dropped);
    }
    room_cv_.notify_all();  // rare: not worth counting waiters
    return Result<std::string>(st, nc_.last_error());
  }
  return guid;
}

const ConnImpl::PubWire& ConnImpl::EncodePub(std::string_view channel, std::string_view data,
                                             const std::string& guid) {
  // Per publishing thread, so that a publish allocates nothing once they have grown.
  thread_local pb::PubMsg msg;
  thread_local PubWire wire;
  msg.set_client_id(opts_.client_id);
  msg.set_guid(guid);
  msg.set_subject(channel.data(), channel.size());
  msg.set_data(data.data(), data.size());
  msg.set_conn_id(conn_id_);
  msg.SerializeToString(&wire.payload);
  wire.subject.assign(pub_prefix_).append(".").append(channel);
  return wire;
}

// A synchronous publish is a NATS request: the PubAck comes to the request's own inbox and the
// client library's I/O thread hands it straight to this thread (no trip through the control
// thread), and it may be called from any thread, handlers included.
Outcome ConnImpl::Publish(std::string_view channel, std::string_view data) {
  if (closed_) return Fail(Status::kConnectionClosed, kClosedText);
  std::string guid =
      guid_prefix_ + "s" + std::to_string(sync_guid_.fetch_add(1, std::memory_order_relaxed) + 1);
  const PubWire& pub = EncodePub(channel, data, guid);
  auto reply = nc_.Request(pub.subject, pub.payload, opts_.pub_ack_wait);
  if (!reply.ok()) {
    if (closed_) return Fail(Status::kConnectionClosed, kClosedText);
    if (reply.status() == Status::kTimeout) {
      return Fail(Status::kTimeout, "stan: publish ack timeout");
    }
    return Fail(reply.status(), reply.detail());
  }
  thread_local pb::PubAck ack;
  std::string_view payload = reply->data();
  if (!ack.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Fail(Status::kProtocolError, "stan: bad PubAck");
  }
  if (!ack.error().empty()) return Fail(Status::kServerError, ack.error());
  return Outcome(std::monostate{});
}

void ConnImpl::ControlLoop() {
  control_id_ = std::this_thread::get_id();
  auto next_ping = CoarseNow() + ping_interval_;
  // Ack timeouts are checked at least this often: a publish made while the loop waits for a
  // later deadline expires at most this much late.
  auto tick = std::clamp<Clock::duration>(opts_.pub_ack_wait / 10, std::chrono::milliseconds(10),
                                          std::chrono::seconds(1));
  while (!closed_) {
    auto now = CoarseNow();
    auto deadline = now + tick;
    if (ping_interval_.count() > 0) deadline = std::min(deadline, next_ping);
    {
      std::lock_guard lk(mu_);
      Clock::time_point expiry;
      if (acks_.Earliest(&expiry)) deadline = std::min(deadline, expiry);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto m = control_sub_.NextMessage(std::max(wait, std::chrono::milliseconds(0)));
    if (m.ok()) {
      OnControlMessage(*m);
    } else if (m.status() != Status::kTimeout && m.status() != Status::kSlowConsumer) {
      break;  // unsubscribed: closing
    }
    now = CoarseNow();
    ExpireAcks(now);
    if (ping_interval_.count() > 0 && now >= next_ping && !closed_) {
      next_ping = now + ping_interval_;
      SendPing();
    }
  }
}

void ConnImpl::OnControlMessage(const client::Message& m) {
  // Every subject here is "<root>.<kind>" (the subscription is "<root>.*"): the kind decides.
  std::string_view subject = m.subject();
  std::string_view kind = subject.substr(std::min(subject.size(), control_root_len_));
  if (kind == ".acks") {
    OnPubAck(m.data());
  } else if (kind == ".hb") {
    if (!m.reply().empty()) nc_.Respond(m, {});
  } else if (kind == ".pings") {
    OnPingResponse(m.data());
  }
}

void ConnImpl::OnPubAck(std::string_view payload) {
  thread_local pb::PubAck ack;  // the control thread's: its strings keep their capacity
  if (!ack.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  const std::string& guid = ack.guid();
  if (guid.size() <= guid_prefix_.size() || guid.compare(0, guid_prefix_.size(), guid_prefix_)) {
    return;
  }
  uint64_t seq = 0;
  auto [end, ec] =
      std::from_chars(guid.data() + guid_prefix_.size(), guid.data() + guid.size(), seq);
  if (ec != std::errc() || end != guid.data() + guid.size()) return;
  AckHandler handler;
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (!acks_.Take(seq, &handler)) return;  // timed out already
    wake = RoomForWaitersLocked();
  }
  if (wake) room_cv_.notify_all();
  if (!handler) return;
  if (ack.error().empty()) {
    handler(guid, Outcome(std::monostate{}));
  } else {
    handler(guid, Outcome(Status::kServerError, ack.error()));
  }
}

void ConnImpl::ExpireAcks(Clock::time_point now) {
  while (true) {
    uint64_t seq = 0;
    AckHandler handler;
    bool wake = false;
    {
      std::lock_guard lk(mu_);
      if (!acks_.TakeExpired(now, &seq, &handler)) return;
      wake = RoomForWaitersLocked();
    }
    if (wake) room_cv_.notify_all();
    if (handler) handler(Guid(seq), Outcome(Status::kTimeout, "stan: publish ack timeout"));
  }
}

void ConnImpl::SendPing() {
  if (++pings_out_ > ping_max_out_) {
    Lost(kPingFailure);
    return;
  }
  pb::Ping ping;
  ping.set_conn_id(conn_id_);
  nc_.Publish(ping_requests_, ping.SerializeAsString(), ping_inbox_);
}

void ConnImpl::OnPingResponse(std::string_view payload) {
  pb::PingResponse resp;
  if (!resp.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  if (!resp.error().empty()) {
    Lost(resp.error());
    return;
  }
  pings_out_ = 0;
}

void ConnImpl::Lost(const std::string& reason) {
  if (!Teardown("stan: connection lost: " + reason, true)) return;
  if (lost_reported_.exchange(true)) return;
  if (opts_.on_connection_lost) opts_.on_connection_lost(reason);
}

bool ConnImpl::Teardown(const std::string& why, bool close_nats) {
  if (closed_.exchange(true)) return false;
  std::vector<std::pair<uint64_t, AckHandler>> failed;
  std::unordered_map<std::string, std::shared_ptr<SubImpl>> subs;
  {
    std::lock_guard lk(mu_);
    failed = acks_.TakeAll();
    subs.swap(subs_);
  }
  room_cv_.notify_all();
  // Wakes the control thread's NextMessage, which then leaves its loop.
  if (control_sub_.valid()) control_sub_.Unsubscribe();
  if (control_.joinable() && !OnControlThread()) control_.join();
  for (auto& [inbox, s] : subs) {
    s->closed = true;
    s->nats_sub.Unsubscribe();
    s->MarkReady(false);
  }
  for (auto& [seq, handler] : failed) {
    if (handler) handler(Guid(seq), Outcome(Status::kConnectionClosed, why));
  }
  if (owns_nc_ && close_nats && !nc_.IsClosed()) nc_.Close();
  return true;
}

Outcome ConnImpl::Close() {
  if (closed_) return Fail(Status::kConnectionClosed, kClosedText);
  // The close request goes out before the teardown, which closes the NATS connection.
  pb::CloseRequest req;
  req.set_client_id(opts_.client_id);
  auto reply = Ask(nc_, close_requests_, req.SerializeAsString(), opts_.connect_wait);
  if (!Teardown(kClosedText, true)) return Fail(Status::kConnectionClosed, kClosedText);
  if (!reply.ok()) {
    if (reply.status() == Status::kTimeout) {
      return Fail(Status::kTimeout, "stan: close request timeout");
    }
    return Fail(reply.status(), reply.detail());
  }
  pb::CloseResponse cr;
  if (!cr.ParseFromString(*reply)) return Fail(Status::kProtocolError, "stan: bad CloseResponse");
  if (!cr.error().empty()) return Fail(Status::kServerError, cr.error());
  return Outcome(std::monostate{});
}

void ConnImpl::Abandon() { Teardown(kClosedText, true); }

}  // namespace detail

// ---- The public handles ----

struct Connection::Owner {
  explicit Owner(std::shared_ptr<detail::ConnImpl> i) : impl(std::move(i)) {}
  ~Owner() { impl->Abandon(); }
  std::shared_ptr<detail::ConnImpl> impl;
};

Result<Connection> Connection::Connect(Options options) {
  auto impl = std::make_shared<detail::ConnImpl>(std::move(options));
  Outcome r = impl->Start();
  if (!r.ok()) return Result<Connection>(r.status(), r.detail());
  return Connection(std::make_shared<Owner>(std::move(impl)));
}

Outcome Connection::Publish(std::string_view channel, std::string_view data) {
  if (!owner_) return Outcome(Status::kConnectionClosed, kClosedText);
  return owner_->impl->Publish(channel, data);
}

Result<std::string> Connection::PublishAsync(std::string_view channel, std::string_view data,
                                             AckHandler on_ack) {
  if (!owner_) return Result<std::string>(Status::kConnectionClosed, kClosedText);
  return owner_->impl->PublishAsync(channel, data, std::move(on_ack));
}

Result<Subscription> Connection::Subscribe(std::string_view channel, MessageHandler handler,
                                           const SubscriptionOptions& options) {
  if (!owner_) return Result<Subscription>(Status::kConnectionClosed, kClosedText);
  return owner_->impl->Subscribe(channel, {}, std::move(handler), options);
}

Result<Subscription> Connection::QueueSubscribe(std::string_view channel,
                                                std::string_view queue_group,
                                                MessageHandler handler,
                                                const SubscriptionOptions& options) {
  if (!owner_) return Result<Subscription>(Status::kConnectionClosed, kClosedText);
  return owner_->impl->Subscribe(channel, queue_group, std::move(handler), options);
}

Outcome Connection::Close() {
  if (!owner_) return Outcome(Status::kConnectionClosed, kClosedText);
  return owner_->impl->Close();
}

bool Connection::IsClosed() const { return !owner_ || owner_->impl->closed(); }

const std::string& Connection::client_id() const {
  static const std::string kNone;
  return owner_ ? owner_->impl->client_id() : kNone;
}

client::Connection Connection::nats() const {
  return owner_ ? owner_->impl->nats() : client::Connection();
}

int64_t Connection::pub_acks_in_flight() const { return owner_ ? owner_->impl->in_flight() : 0; }

}  // namespace gannet::client::streaming
