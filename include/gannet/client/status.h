// Outcomes of client operations. Calls on the message path return a Status rather than throw:
// a publisher in a tight loop checks an enum, and nothing allocates on success.
#pragma once

#include <string>
#include <utility>

namespace gannet::client {

enum class Status {
  kOk,
  kTimeout,              // no answer (PONG, reply, message) within the time given
  kNoResponders,         // a request found no subscriber: the server's 503 status
  kConnectionClosed,     // Close() or Drain() finished, or reconnecting gave up
  kNoServers,            // no server in the list could be reached
  kAuthorization,        // the server refused the credentials ('Authorization Violation')
  kServerError,          // the server sent -ERR; the text is in the error event / last_error()
  kProtocolError,        // the server sent bytes that are not the NATS protocol
  kIoError,              // a socket call failed
  kSlowConsumer,         // a subscription's pending limit was hit and messages were dropped
  kInvalidSubject,       // empty, or contains spaces or control characters
  kInvalidArgument,      // e.g. a negative count, a malformed URL
  kMaxPayload,           // the message is larger than the server's max_payload
  kBufferFull,           // reconnecting, and the reconnect buffer is full
  kDraining,             // the connection or subscription is draining: no new work accepted
  kInvalidSubscription,  // the subscription was unsubscribed, drained or its connection closed
  kHeadersNotSupported,  // the server does not support headers
};

// A short English description, e.g. "timeout" or "no responders available for request".
const char* StatusText(Status s);

// A value or the reason there is none. Returned by calls that produce something (Connect,
// Subscribe, Request, NextMessage).
template <typename T>
class Result {
 public:
  Result(T value) : status_(Status::kOk), value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(status) {}                           // NOLINT: implicit by design
  Result(Status status, std::string detail) : status_(status), detail_(std::move(detail)) {}

  bool ok() const { return status_ == Status::kOk; }
  explicit operator bool() const { return ok(); }
  Status status() const { return status_; }
  // More about a failure when there is more to say (the server's -ERR text, an errno string).
  const std::string& detail() const { return detail_; }
  // A description of the failure: StatusText plus the detail.
  std::string error() const {
    std::string s = StatusText(status_);
    if (!detail_.empty()) s += ": " + detail_;
    return s;
  }

  T& value() & { return value_; }
  const T& value() const& { return value_; }
  T&& value() && { return std::move(value_); }
  T& operator*() & { return value_; }
  T&& operator*() && { return std::move(value_); }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }

 private:
  Status status_;
  std::string detail_;
  T value_{};
};

}  // namespace gannet::client
