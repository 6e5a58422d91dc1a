// The Streaming server's NATS connection (see nats_link.h).
#include "streaming/nats_link.h"

#include <charconv>
#include <cstdint>

#include "streaming/log.h"

namespace gannet::streaming {

namespace {
// A subject no one subscribes to: publishing to it with PublishNow writes what is queued.
constexpr std::string_view kFlushSubject = "_STAN.flush";
}  // namespace

NatsLink::~NatsLink() { Close(); }

std::string NatsLink::Connect(const NatsLinkOptions& o) {
  client::Options opts;
  opts.servers = o.urls;
  opts.name = o.name;
  opts.user = o.user;
  opts.password = o.password;
  opts.token = o.token;
  opts.randomize = false;
  opts.secure = o.secure;
  opts.tls_ca_file = o.tls_ca_file;
  opts.tls_cert_file = o.tls_cert_file;
  opts.tls_key_file = o.tls_key_file;
  opts.tls_skip_verify = o.secure && o.tls_ca_file.empty();
  // Reconnect forever, 250 ms apart; publishes made while disconnected are not buffered (a
  // client times out and publishes again rather than getting duplicates), as the reference.
  opts.allow_reconnect = true;
  opts.max_reconnect_attempts = -1;
  opts.reconnect_wait = std::chrono::milliseconds(250);
  opts.reconnect_buffer_size = 0;
  // Every publish and ack must reach the loop: no client-side pending limit.
  opts.pending_msgs_limit = INT64_MAX;
  opts.pending_bytes_limit = INT64_MAX;
  opts.max_queued_bytes = size_t{32} << 20;
  name_ = o.name;
  const std::string name = o.name;
  opts.on_disconnected = [this, name] {
    std::string why = nc_.valid() ? nc_.last_error() : std::string();
    if (!why.empty()) {
      STAN_ERROR("connection \"%s\" has been disconnected: %s", name.c_str(), why.c_str());
    }
  };
  opts.on_reconnected = [name](const std::string& url) {
    STAN_INFO("connection \"%s\" reconnected to NATS Server at \"%s\"", name.c_str(), url.c_str());
  };
  opts.on_closed = [name] { STAN_DEBUG("connection \"%s\" has been closed", name.c_str()); };
  opts.on_error = [name](client::Status st, const std::string& detail) {
    STAN_ERROR("Asynchronous error on connection %s: %s: %s", name.c_str(), client::StatusText(st),
               detail.c_str());
  };
  auto nc = client::Connection::Connect(std::move(opts));
  if (!nc) return nc.error();
  nc_ = std::move(nc).value();
  reply_prefix_ = nc_.NewInbox() + ".";
  if (!Subscribe(reply_prefix_ + "*", InboundKind::kReply)) {
    return "could not subscribe to the server's reply inbox";
  }
  return {};
}

void NatsLink::Close() {
  if (!nc_.valid()) return;
  subs_.clear();
  nc_.Close();
}

bool NatsLink::Subscribe(const std::string& subject, InboundKind kind) {
  EventLoop* loop = &loop_;
  auto sub = nc_.Subscribe(subject, [loop, kind](client::Message& m) {
    loop->Post(Inbound{kind, std::move(m)});
  });
  if (!sub) {
    STAN_ERROR("could not subscribe to %s: %s", subject.c_str(), sub.error().c_str());
    return false;
  }
  subs_[subject] = std::move(sub).value();
  return true;
}

void NatsLink::Unsubscribe(const std::string& subject) {
  auto it = subs_.find(subject);
  if (it == subs_.end()) return;
  it->second.Unsubscribe();
  subs_.erase(it);
}

void NatsLink::Publish(std::string_view subject, std::string_view data) {
  if (subject.empty()) return;
  client::Status st = nc_.Publish(subject, data);
  if (st == client::Status::kOk) {
    unflushed_ = true;
  } else {
    STAN_TRACE("publish to %.*s failed: %s", static_cast<int>(subject.size()), subject.data(),
               client::StatusText(st));
  }
}

void NatsLink::PublishNow(std::string_view subject, std::string_view data) {
  if (subject.empty()) return;
  // Respond() is the client library's "write now" publish: it takes the reply subject of a
  // request, so the subject is handed over as one.
  client::Message to(std::string_view(), subject, std::string_view(), std::string_view());
  if (nc_.Respond(to, data) == client::Status::kOk) unflushed_ = false;
}

void NatsLink::FlushIfNeeded() {
  if (!unflushed_) return;
  PublishNow(kFlushSubject, {});
}

void NatsLink::RequestAsync(std::string_view subject, std::string_view data, uint64_t token) {
  scratch_.assign(reply_prefix_);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, token);
  scratch_.append(buf, end);
  if (subject.empty()) return;
  client::Status st = nc_.Publish(subject, data, scratch_);
  if (st == client::Status::kOk) {
    unflushed_ = true;
    FlushIfNeeded();
  }
}

uint64_t NatsLink::ReplyToken(std::string_view subject) const {
  if (subject.size() <= reply_prefix_.size() ||
      subject.substr(0, reply_prefix_.size()) != reply_prefix_) {
    return 0;
  }
  std::string_view rest = subject.substr(reply_prefix_.size());
  uint64_t token = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), token);
  if (ec != std::errc() || p != rest.data() + rest.size()) return 0;
  return token;
}

client::Result<client::Message> NatsLink::Request(std::string_view subject, std::string_view data,
                                                  std::chrono::milliseconds timeout) {
  return nc_.Request(subject, data, timeout);
}

}  // namespace gannet::streaming
