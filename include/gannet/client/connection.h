// The NATS client connection.
//
// Threads. A Connection runs three threads of its own:
//   - the I/O thread reads and parses what the server sends, writes what the application
//     queued, answers PINGs, sends keepalive PINGs, and reconnects;
//   - the dispatcher thread runs subscription callbacks, one at a time, in arrival order;
//   - the event thread runs the Options' event callbacks (disconnected, error, ...), in order.
// Every method of Connection and Subscription is safe to call from any thread, including from
// inside a callback: replies to Request and PONGs for Flush are completed by the I/O thread,
// so a callback that makes a request or flushes cannot deadlock the connection. A callback
// that blocks does hold up later callbacks (of every subscription of this connection), but
// not events: the slow-consumer error it causes is still reported.
//
// Handles. Connection and Subscription are cheap handles to shared state: copies refer to the
// same connection. When the last Connection handle goes away the connection is closed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/client/headers.h"
#include "gannet/client/message.h"
#include "gannet/client/options.h"
#include "gannet/client/status.h"

namespace gannet::client {

namespace detail {
class ConnectionImpl;
struct SubState;
struct Owner;
}  // namespace detail

// Called on the dispatcher thread for each message of an asynchronous subscription.
using MessageHandler = std::function<void(Message&)>;

enum class ConnectionState { kConnecting, kConnected, kReconnecting, kDraining, kClosed };
const char* ConnectionStateName(ConnectionState s);

// What the server said about itself in INFO.
struct ServerInfo {
  std::string server_id;
  std::string server_name;
  std::string version;
  std::string host;
  int port = 0;
  int proto = 0;
  bool headers = false;
  bool auth_required = false;
  bool tls_required = false;
  int64_t max_payload = 1024 * 1024;
  uint64_t client_id = 0;
  std::string client_ip;
  std::string nonce;
  std::string cluster;
  std::vector<std::string> connect_urls;
  bool lame_duck_mode = false;
};

struct Statistics {
  uint64_t in_msgs = 0;
  uint64_t in_bytes = 0;
  uint64_t out_msgs = 0;
  uint64_t out_bytes = 0;
  uint64_t reconnects = 0;
};

class Subscription {
 public:
  Subscription() = default;
  bool valid() const { return state_ != nullptr; }
  uint64_t sid() const;
  const std::string& subject() const;
  const std::string& queue() const;

  // Stops delivery now; messages already received but not yet handed out are discarded.
  Status Unsubscribe();
  // Stops after `max` messages in all (counting those already delivered), as UNSUB <sid> <max>.
  Status AutoUnsubscribe(int64_t max);
  // Stops interest, waits until messages in flight have arrived and been handed to the
  // application (callbacks run, or NextMessage calls took them), then removes the
  // subscription. Called from a callback it does not wait for that callback's own queue.
  Status Drain(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Synchronous subscriptions only: the next message, waiting up to `timeout`.
  Result<Message> NextMessage(std::chrono::milliseconds timeout);

  Status SetPendingLimits(int64_t msgs, int64_t bytes);
  int64_t pending_msgs() const;
  int64_t pending_bytes() const;
  int64_t delivered() const;  // handed to the application
  int64_t dropped() const;    // dropped by the pending limits
  bool active() const;        // still subscribed

 private:
  friend class detail::ConnectionImpl;
  friend class Connection;
  explicit Subscription(std::shared_ptr<detail::SubState> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::SubState> state_;
};

class Connection {
 public:
  // Connects to the first reachable server of the list (in random order unless
  // options.randomize is false): TCP connect, INFO, CONNECT, then a PING/PONG round trip so
  // that credentials are known to be accepted when this returns.
  static Result<Connection> Connect(Options options);
  // The same with default options and a comma-separated URL list.
  static Result<Connection> Connect(std::string_view urls);

  Connection() = default;
  bool valid() const { return owner_ != nullptr; }

  // Queues a message; the I/O thread writes it. Returns before it reaches the server (use
  // Flush to know it did). While reconnecting the message is kept for the next connection.
  // (Two overloads rather than a default reply: the x86-64 calling convention passes a third
  // string_view on the stack, and copying it cost the publish path a store-forwarding stall.)
  Status Publish(std::string_view subject, std::string_view data);
  Status Publish(std::string_view subject, std::string_view data, std::string_view reply);
  Status Publish(std::string_view subject, const Headers& headers, std::string_view data,
                 std::string_view reply = {});
  // Publishes `data` to the message's reply subject.
  Status Respond(const Message& request, std::string_view data);

  Result<Subscription> Subscribe(std::string_view subject, MessageHandler handler);
  Result<Subscription> QueueSubscribe(std::string_view subject, std::string_view queue,
                                      MessageHandler handler);
  // A subscription read with Subscription::NextMessage.
  Result<Subscription> SubscribeSync(std::string_view subject, std::string_view queue = {});

  // Publishes to `subject` with a unique reply subject and waits for the first reply. All
  // requests share one wildcard inbox subscription. kNoResponders when nobody listens.
  Result<Message> Request(std::string_view subject, std::string_view data,
                          std::chrono::milliseconds timeout);
  Result<Message> Request(std::string_view subject, const Headers& headers, std::string_view data,
                          std::chrono::milliseconds timeout);

  // Sends PING and waits for the PONG: everything published before has reached the server.
  Status Flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Drains every subscription, then stops publishing, flushes and closes.
  Status Drain(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Writes what is queued (briefly), then closes. Idempotent.
  void Close();

  ConnectionState state() const;
  bool IsClosed() const { return state() == ConnectionState::kClosed; }
  // The URL of the server we are connected to ("" when not connected).
  std::string connected_url() const;
  ServerInfo server_info() const;
  int64_t max_payload() const;
  // Every server URL known: configured and discovered.
  std::vector<std::string> servers() const;
  Statistics stats() const;
  // The most recent -ERR text or I/O error description.
  std::string last_error() const;
  // A unique subject under the inbox prefix, for replies.
  std::string NewInbox() const;

 private:
  explicit Connection(std::shared_ptr<detail::Owner> owner);
  detail::ConnectionImpl& impl() const;
  std::shared_ptr<detail::Owner> owner_;
};

}  // namespace gannet::client
