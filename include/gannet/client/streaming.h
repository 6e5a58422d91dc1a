// The NATS Streaming client: at-least-once publish and subscribe with replay, through a
// Streaming server (gannet-streaming or nats-streaming-server 0.25) over a NATS connection.
// Link gannet::streaming_client (CMake: find_package(gannet), or add_subdirectory).
//
//   namespace stan = gannet::client::streaming;
//   stan::Options o;
//   o.cluster_id = "test-cluster";
//   o.client_id = "me";
//   o.nats_options.servers = {"nats://127.0.0.1:4222"};
//   auto sc = stan::Connection::Connect(o);
//   if (!sc) { std::cerr << sc.error() << "\n"; return 1; }
//   sc->Subscribe("orders", [](stan::Message& m) { ... },
//                 stan::SubscriptionOptions().DeliverAllAvailable().Durable("audit"));
//   sc->Publish("orders", "hello");  // returns once the server has stored it
//   sc->Close();
//
// Protocol. Connect sends a ConnectRequest (client id, heartbeat inbox, protocol 1, a
// connection id) to `<discover_prefix>.<cluster_id>` and takes the subjects to publish,
// subscribe and close on from the ConnectResponse. A publish is a PubMsg to
// `<pub_prefix>.<channel>` answered by a PubAck carrying the message's guid; a subscription is
// a SubscriptionRequest answered with the inbox that takes its acks.
//
// Threads. Message handlers run on the NATS connection's dispatcher thread (one at a time, in
// order, as core NATS callbacks). The acks of PublishAsync, their timeouts, server heartbeats
// and the connection pings are handled by the Streaming connection's own control thread, which
// runs the AckHandlers and the connection-lost handler; an AckHandler should be short, and
// PublishAsync from one fails (kBufferFull) rather than wait when the window is full. Publish
// (synchronous) waits on its own request inbox, completed by the NATS I/O thread, so it may be
// called from any handler. Every method is safe from any thread.
//
// Handles. Connection and Subscription are cheap handles to shared state. Close() unregisters
// the client from the server; dropping the last Connection handle without Close() only stops
// this process's side, which the server sees as a crashed client (its durable subscriptions
// can be resumed by a new connection with the same client id). A handler that holds a copy of
// its Connection keeps it alive until Close(): capture a reference, or call Close().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "gannet/client/connection.h"
#include "gannet/client/options.h"
#include "gannet/client/status.h"

namespace gannet::client::streaming {

namespace detail {
class ConnImpl;
struct SubImpl;
}  // namespace detail

// The outcome of a call that produces nothing: Status::kOk, or why not. detail() holds the
// server's error text ("stan: ...") when it refused, as the reference clients report it.
using Outcome = Result<std::monostate>;

// Called once per published message on the control thread: `error` is ok when the server
// stored the message, else the server's error or kTimeout ("stan: publish ack timeout").
using AckHandler = std::function<void(const std::string& guid, const Outcome& error)>;
// Called once when the connection is lost (pings unanswered or refused by the server, or the
// NATS connection closed for good); the connection is then closed. On the control thread or
// the NATS connection's event thread.
using ConnectionLostHandler = std::function<void(const std::string& reason)>;

struct Options {
  std::string cluster_id = "test-cluster";
  std::string client_id;  // required: letters, digits, '-' and '_'

  // The NATS connection to use. When valid it is shared (Close leaves it open); otherwise a
  // connection is made from nats_options (named after the client id unless it has a name),
  // owned by this Streaming connection and closed with it.
  client::Connection nats;
  client::Options nats_options;

  std::string discover_prefix = "_STAN.discover";
  std::chrono::milliseconds connect_wait{2000};  // for each request to the server
  std::chrono::milliseconds pub_ack_wait{30000};
  // Publishes waiting for their ack; beyond it PublishAsync waits for room.
  int max_pub_acks_in_flight = 16384;
  // Connection pings (protocol 1): a Ping every ping_interval; the connection is lost after
  // ping_max_out unanswered in a row, or at once when the server no longer knows it.
  std::chrono::seconds ping_interval{5};
  int ping_max_out = 88;
  ConnectionLostHandler on_connection_lost;
};

// A received message. It owns its bytes.
class Message {
 public:
  Message() = default;
  uint64_t sequence() const { return sequence_; }
  const std::string& channel() const { return channel_; }
  const std::string& data() const { return data_; }
  int64_t timestamp() const { return timestamp_; }  // ns since the epoch, set by the server
  bool redelivered() const { return redelivered_; }
  uint32_t redelivery_count() const { return redelivery_count_; }
  // Acknowledges the message (subscriptions with manual acks only; others ack each message
  // when its handler returns). kInvalidArgument in auto-ack mode, kInvalidSubscription when
  // the subscription is gone.
  Outcome Ack() const;

 private:
  friend struct detail::SubImpl;
  uint64_t sequence_ = 0;
  std::string channel_;
  std::string data_;
  int64_t timestamp_ = 0;
  bool redelivered_ = false;
  uint32_t redelivery_count_ = 0;
  std::weak_ptr<detail::SubImpl> sub_;
};

using MessageHandler = std::function<void(Message&)>;

enum class StartPosition { kNewOnly, kLastReceived, kTimeDelta, kSequence, kFirst };

// Every subscription option of the protocol. The setters return *this to chain.
struct SubscriptionOptions {
  std::string durable_name;  // resumes where the last subscription of that name left off
  int max_in_flight = 1024;  // unacknowledged messages before the server pauses delivery
  // Redelivery after this long without an ack; whole seconds, at least 1 s.
  std::chrono::seconds ack_wait{30};
  bool manual_acks = false;  // the handler calls Message::Ack
  StartPosition start = StartPosition::kNewOnly;
  uint64_t start_sequence = 0;                  // kSequence
  std::chrono::nanoseconds start_time_delta{};  // kTimeDelta: messages this recent or newer

  SubscriptionOptions& Durable(std::string name) { return durable_name = std::move(name), *this; }
  SubscriptionOptions& MaxInFlight(int n) { return max_in_flight = n, *this; }
  SubscriptionOptions& AckWait(std::chrono::seconds d) { return ack_wait = d, *this; }
  SubscriptionOptions& ManualAcks() { return manual_acks = true, *this; }
  SubscriptionOptions& StartWithLastReceived() {
    return start = StartPosition::kLastReceived, *this;
  }
  SubscriptionOptions& DeliverAllAvailable() { return start = StartPosition::kFirst, *this; }
  SubscriptionOptions& StartAtSequence(uint64_t seq) {
    start = StartPosition::kSequence;
    start_sequence = seq;
    return *this;
  }
  SubscriptionOptions& StartAtTimeDelta(std::chrono::nanoseconds ago) {
    start = StartPosition::kTimeDelta;
    start_time_delta = ago;
    return *this;
  }
  // From the first message stored at or after `t` (sent as the delta from now).
  SubscriptionOptions& StartAtTime(std::chrono::system_clock::time_point t) {
    return StartAtTimeDelta(std::chrono::system_clock::now() - t);
  }
};

class Subscription {
 public:
  Subscription() = default;
  bool valid() const { return impl_ != nullptr; }
  const std::string& channel() const;
  const std::string& queue_group() const;
  const std::string& durable_name() const;
  const std::string& inbox() const;      // where the server delivers
  const std::string& ack_inbox() const;  // where acks go (chosen by the server)
  int64_t delivered() const;             // messages handed to the handler
  bool active() const;

  // Stops delivery and removes the subscription from the server: a durable is forgotten, a
  // durable queue group loses this member (and is destroyed with its last one).
  Outcome Unsubscribe();
  // Stops delivery; a durable (or durable queue group) stays on the server, offline, to be
  // resumed by a later subscription with the same durable name and client id.
  Outcome Close();

 private:
  friend class detail::ConnImpl;
  explicit Subscription(std::shared_ptr<detail::SubImpl> s) : impl_(std::move(s)) {}
  std::shared_ptr<detail::SubImpl> impl_;
};

class Connection {
 public:
  // Connects the NATS connection (unless given one) and registers with the Streaming server.
  // Fails with kTimeout ("stan: connect request timeout (possibly wrong cluster ID?)") when no
  // server of that cluster id answers, kServerError with the server's text when it refuses.
  static Result<Connection> Connect(Options options);

  Connection() = default;
  bool valid() const { return owner_ != nullptr; }

  // Publishes and waits (up to pub_ack_wait) for the PubAck: ok once the server has stored the
  // message. Not counted in max_pub_acks_in_flight. Made as a NATS request, so it fails at once
  // with kNoResponders when no Streaming server listens on the publish subject.
  Outcome Publish(std::string_view channel, std::string_view data);
  // Publishes; `on_ack` (may be empty) runs when the PubAck or the ack timeout comes. When
  // max_pub_acks_in_flight publishes are unacknowledged, waits until a few acks came back (a
  // quarter of the window, at most 512). Returns the message's guid.
  Result<std::string> PublishAsync(std::string_view channel, std::string_view data,
                                   AckHandler on_ack);

  Result<Subscription> Subscribe(std::string_view channel, MessageHandler handler,
                                 const SubscriptionOptions& options = {});
  // Each message of the channel goes to one member of the queue group.
  Result<Subscription> QueueSubscribe(std::string_view channel, std::string_view queue_group,
                                      MessageHandler handler,
                                      const SubscriptionOptions& options = {});

  // Unregisters the client (non-durable subscriptions end, durables go offline), then closes
  // the NATS connection if it is ours. Publish acks still outstanding fail with
  // kConnectionClosed. Idempotent: a second call returns kConnectionClosed.
  Outcome Close();

  bool IsClosed() const;
  const std::string& client_id() const;
  // The NATS connection underneath.
  client::Connection nats() const;
  int64_t pub_acks_in_flight() const;

 private:
  struct Owner;
  explicit Connection(std::shared_ptr<Owner> owner) : owner_(std::move(owner)) {}
  std::shared_ptr<Owner> owner_;
};

}  // namespace gannet::client::streaming
