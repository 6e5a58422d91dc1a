// The public Connection and Subscription handles: thin forwards to ConnectionImpl.
#include "gannet/client/connection.h"

#include "client/connection_impl.h"

namespace gannet::client {

using detail::ConnectionImpl;
using Clock = std::chrono::steady_clock;

Connection::Connection(std::shared_ptr<detail::Owner> owner) : owner_(std::move(owner)) {}

// Inline: under -fPIC an ordinary member could be interposed, so it would be called, not inlined,
// on every publish.
inline detail::ConnectionImpl& Connection::impl() const { return *owner_->impl; }

Result<Connection> Connection::Connect(Options options) {
  auto impl = std::make_shared<ConnectionImpl>(std::move(options));
  auto r = impl->Connect();
  if (!r.ok()) return Result<Connection>(r.status(), r.detail());
  return Connection(std::make_shared<detail::Owner>(std::move(impl)));
}

Result<Connection> Connection::Connect(std::string_view urls) {
  Options o;
  o.servers.emplace_back(urls);
  return Connect(std::move(o));
}

Status Connection::Publish(std::string_view subject, std::string_view data) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Publish(subject, data, detail::kNoReply);
}

Status Connection::Publish(std::string_view subject, std::string_view data,
                           std::string_view reply) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Publish(subject, data, reply);
}

Status Connection::Publish(std::string_view subject, const Headers& headers, std::string_view data,
                           std::string_view reply) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Publish(subject, data, reply, &headers);
}

Status Connection::Respond(const Message& request, std::string_view data) {
  if (request.reply().empty()) return Status::kInvalidSubject;
  if (!owner_) return Status::kConnectionClosed;
  // Somebody waits for this one: written at once, like a request.
  return impl().Publish(request.reply(), data, detail::kNoReply, nullptr,
                        /*latency_sensitive=*/true);
}

Result<Subscription> Connection::Subscribe(std::string_view subject, MessageHandler handler) {
  return QueueSubscribe(subject, {}, std::move(handler));
}

Result<Subscription> Connection::QueueSubscribe(std::string_view subject, std::string_view queue,
                                                MessageHandler handler) {
  if (!owner_) return Status::kConnectionClosed;
  if (!handler) return Result<Subscription>(Status::kInvalidArgument, "no message handler");
  return impl().Subscribe(subject, queue, std::move(handler));
}

Result<Subscription> Connection::SubscribeSync(std::string_view subject, std::string_view queue) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Subscribe(subject, queue, nullptr);
}

Result<Message> Connection::Request(std::string_view subject, std::string_view data,
                                    std::chrono::milliseconds timeout) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Request(subject, nullptr, data, timeout);
}

Result<Message> Connection::Request(std::string_view subject, const Headers& headers,
                                    std::string_view data, std::chrono::milliseconds timeout) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Request(subject, &headers, data, timeout);
}

Status Connection::Flush(std::chrono::milliseconds timeout) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Flush(Clock::now() + timeout);
}

Status Connection::Drain(std::chrono::milliseconds timeout) {
  if (!owner_) return Status::kConnectionClosed;
  return impl().Drain(Clock::now() + timeout);
}

void Connection::Close() {
  if (owner_) impl().Close();
}

ConnectionState Connection::state() const {
  return owner_ ? impl().state() : ConnectionState::kClosed;
}
std::string Connection::connected_url() const { return owner_ ? impl().connected_url() : ""; }
ServerInfo Connection::server_info() const { return owner_ ? impl().server_info() : ServerInfo(); }
int64_t Connection::max_payload() const { return owner_ ? impl().max_payload() : 0; }
std::vector<std::string> Connection::servers() const {
  return owner_ ? impl().servers() : std::vector<std::string>();
}
Statistics Connection::stats() const { return owner_ ? impl().stats() : Statistics(); }
std::string Connection::last_error() const { return owner_ ? impl().last_error() : ""; }
std::string Connection::NewInbox() const { return owner_ ? impl().NewInbox() : ""; }

// ---------------------------------------------------------------------------------------------
// Subscription

namespace {
const std::string kEmpty;
}

uint64_t Subscription::sid() const { return state_ ? state_->sid : 0; }
const std::string& Subscription::subject() const { return state_ ? state_->subject : kEmpty; }
const std::string& Subscription::queue() const { return state_ ? state_->queue : kEmpty; }

Status Subscription::Unsubscribe() {
  if (!state_) return Status::kInvalidSubscription;
  auto conn = state_->conn.lock();
  if (!conn) return Status::kConnectionClosed;
  return conn->Unsubscribe(*state_, 0);
}

Status Subscription::AutoUnsubscribe(int64_t max) {
  if (!state_) return Status::kInvalidSubscription;
  if (max <= 0) return Status::kInvalidArgument;
  auto conn = state_->conn.lock();
  if (!conn) return Status::kConnectionClosed;
  return conn->Unsubscribe(*state_, max);
}

Status Subscription::Drain(std::chrono::milliseconds timeout) {
  if (!state_) return Status::kInvalidSubscription;
  auto conn = state_->conn.lock();
  if (!conn) return Status::kConnectionClosed;
  return conn->DrainSubscription(state_, Clock::now() + timeout);
}

Result<Message> Subscription::NextMessage(std::chrono::milliseconds timeout) {
  if (!state_) return Status::kInvalidSubscription;
  auto conn = state_->conn.lock();
  if (!conn) return Status::kConnectionClosed;
  return conn->NextMessage(*state_, timeout);
}

Status Subscription::SetPendingLimits(int64_t msgs, int64_t bytes) {
  if (!state_) return Status::kInvalidSubscription;
  if (msgs <= 0 || bytes <= 0) return Status::kInvalidArgument;
  state_->limit_msgs = msgs;
  state_->limit_bytes = bytes;
  return Status::kOk;
}

int64_t Subscription::pending_msgs() const { return state_ ? state_->pending_msgs.load() : 0; }
int64_t Subscription::pending_bytes() const { return state_ ? state_->pending_bytes.load() : 0; }
int64_t Subscription::delivered() const { return state_ ? state_->delivered.load() : 0; }
int64_t Subscription::dropped() const { return state_ ? state_->dropped.load() : 0; }
bool Subscription::active() const {
  if (!state_ || state_->closed.load()) return false;
  int64_t max = state_->max.load();
  return max == 0 || state_->received.load() < max;
}

}  // namespace gannet::client
