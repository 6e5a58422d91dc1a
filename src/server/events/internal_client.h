// The server's own client in the system account (the reference's internal system client): a
// connection without a socket whose subscriptions hand their messages to a sink (the system
// events thread), and whose publishes are delivered on a worker like any producer's.
//
// Threading: Subscribe, UnsubscribeAll and Publish from any thread (the events thread);
// Deliver from whichever worker delivers a matching message. The client belongs to no
// worker's connection table: the workers never tick, read or close it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sublist.h"
#include "protocol/parser.h"
#include "server/conn/conn_snapshot.h"
#include "server/conn/connection.h"

namespace gannet {

class Account;

class InternalClient final : public Connection {
 public:
  struct Message {
    Account* account = nullptr;  // where it was published
    std::string subject;
    std::string reply;
    std::string headers;  // the header block (NATS/1.0 ...), empty without headers
    std::string payload;  // without the headers
  };
  using Sink = std::function<void(Message)>;

  // `home`: the worker its publishes are delivered on. Made before the workers start.
  InternalClient(Server& server, Worker& home, uint64_t id, Account& account, Sink sink);
  ~InternalClient() override;

  Account& account() const { return account_; }

  // ---- Any thread ----
  // In the system account, or in `in` (the reference's imports of the system services into
  // every account: $SYS.REQ.SERVER.PING.CONNZ asked by one of its users). The peers hear of
  // it (RS+) unless `local_only`.
  void Subscribe(std::string subject, Account* in = nullptr, bool local_only = false);
  void UnsubscribeAll();
  // Drops the subscriptions made in `in` (a reload removed that account).
  void UnsubscribeIn(Account& in);
  // Its subscriptions, each with the account it is in (for /subsz).
  std::vector<std::pair<const Account*, SubSnapshot>> Subscriptions() const;
  // Publishes in the system account (or `in`), on the home worker; `done` (if any) runs there
  // once the message was handed to its receivers (those of other workers may not have written
  // it yet). A reply to a request that came in through a service import is routed back.
  void Publish(std::string subject, std::string reply, std::string payload,
               std::function<void()> done = nullptr, Account* in = nullptr);

  // ---- A delivering worker's thread ----
  // A message matched our subscription `sub`: copied to the sink. Always taken.
  bool Deliver(const Subscription& sub, const MsgArgs& args, std::string_view payload);

  void Start() override {}

 protected:
  void OnInput(const char* /*data*/, size_t /*n*/) override {}
  void OnTimer(Clock::time_point /*now*/) override {}
  void OnClosed(CloseReason /*reason*/) override {}

 private:
  Account& account_;
  Sink sink_;
  struct Sub {
    std::unique_ptr<Subscription> sub;
    Account* account;
    bool local_only;
  };
  mutable std::mutex subs_mu_;  // a leaf
  std::vector<Sub> subs_;
  uint64_t next_sid_ = 1;
};

}  // namespace gannet
