// The Streaming server's connection to NATS, through Gannet's client library (also when the
// NATS server is embedded: it connects to the embedded server's port on loopback, as the
// reference does). Messages on the server's subjects are queued to the I/O loop tagged with
// what they are for; the loop publishes deliveries, acks and responses through here.
//
// Threads: Connect and Close on the owner's thread; Subscribe, Unsubscribe, Publish and
// RequestAsync on the I/O loop (the client library makes them safe from any thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gannet/client.h"
#include "streaming/event_loop.h"

namespace gannet::streaming {

struct NatsLinkOptions {
  std::vector<std::string> urls;
  std::string name;  // the connection's name in CONNECT (/connz): "_NSS-<cluster id>-general"
  std::string user, password, token;
  bool secure = false;  // TLS, and no verification of the server unless a CA is given
  std::string tls_ca_file, tls_cert_file, tls_key_file;
};

class NatsLink {
 public:
  explicit NatsLink(EventLoop& loop) : loop_(loop) {}
  ~NatsLink();

  // Connects (retrying the list forever once connected: the reference reconnects forever,
  // 250 ms apart). The error text when the first connection fails.
  std::string Connect(const NatsLinkOptions& options);
  void Close();

  // Messages on `subject` go to the loop as `kind`. False when the subscription failed.
  bool Subscribe(const std::string& subject, InboundKind kind);
  void Unsubscribe(const std::string& subject);

  // Queues a message; written with the next batch.
  void Publish(std::string_view subject, std::string_view data);
  // Queues a message and writes everything queued now: answers to requests, the last PubAck
  // of a batch, so a waiting client is not held up by the write batching.
  void PublishNow(std::string_view subject, std::string_view data);
  // Writes what Publish queued if nothing has written it since (end of a loop iteration).
  void FlushIfNeeded();

  // Sends a request whose answer (or the server's no-responders status) comes back to the
  // loop as kReply on ReplySubject(token). Tokens are the caller's.
  void RequestAsync(std::string_view subject, std::string_view data, uint64_t token);
  // The token of a kReply message's subject; 0 when it is not one of ours.
  uint64_t ReplyToken(std::string_view subject) const;

  // A blocking request (startup only: the startup guard), with the client library's
  // no-responders and timeout statuses.
  client::Result<client::Message> Request(std::string_view subject, std::string_view data,
                                          std::chrono::milliseconds timeout);

  client::Connection& connection() { return nc_; }
  bool connected() const { return nc_.valid() && !nc_.IsClosed(); }

 private:
  EventLoop& loop_;
  client::Connection nc_;
  std::string name_;
  std::unordered_map<std::string, client::Subscription> subs_;
  std::string reply_prefix_;  // "<inbox>." for RequestAsync answers
  bool unflushed_ = false;    // Publish queued bytes that no PublishNow has written yet
  std::string scratch_;
};

}  // namespace gannet::streaming
