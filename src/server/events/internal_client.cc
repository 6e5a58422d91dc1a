// The server's own client in the system account (see internal_client.h).
#include "server/events/internal_client.h"

#include <utility>

#include "server/account.h"
#include "server/cluster/routes.h"
#include "server/conn/worker.h"
#include "server/delivery.h"
#include "server/server.h"

namespace gannet {

InternalClient::InternalClient(Server& server, Worker& home, uint64_t id, Account& account,
                               Sink sink)
    : Connection(server, home, ConnectionKind::kInternal, -1, id, "", 0),
      account_(account),
      sink_(std::move(sink)) {}

InternalClient::~InternalClient() { UnsubscribeAll(); }

void InternalClient::Subscribe(std::string subject) {
  auto sub = std::make_unique<Subscription>();
  sub->subject = std::move(subject);
  sub->subscriber = this;
  std::lock_guard lock(subs_mu_);
  sub->id = next_sid_++;
  sub->sid = std::to_string(sub->id);
  account_.sublist().Insert(sub.get());
  if (Routes* routes = server().routes()) routes->LocalInterest(account_, *sub, +1);
  subs_.push_back(std::move(sub));
}

void InternalClient::UnsubscribeAll() {
  std::vector<std::unique_ptr<Subscription>> subs;
  {
    std::lock_guard lock(subs_mu_);
    subs.swap(subs_);
  }
  for (auto& sub : subs) {
    account_.sublist().Remove(sub.get());
    if (Routes* routes = server().routes()) routes->LocalInterest(account_, *sub, -1);
    // Workers may still hold it from a match until their next quiescent point.
    server().reclaimer().Retire([s = sub.release()] { delete s; });
  }
}

void InternalClient::Publish(std::string subject, std::string reply, std::string payload,
                             std::function<void()> done) {
  Worker& home = worker();
  home.PostRun([this, &home, subject = std::move(subject), reply = std::move(reply),
                payload = std::move(payload), done = std::move(done)]() mutable {
    std::string size = std::to_string(payload.size());
    MsgArgs args;
    args.subject = subject;
    args.reply = reply;
    args.total_size = static_cast<int64_t>(payload.size());
    args.total_size_token = size;
    DeliverToMatch(home, account_, home.cache(account_).Lookup(subject), args, payload, nullptr);
    // Run in the worker's next round: after this one has handed the message over to the
    // receivers of other workers.
    if (done) home.PostRun(std::move(done));
  });
}

bool InternalClient::Deliver(const MsgArgs& args, std::string_view payload) {
  Message m;
  m.subject.assign(args.subject);
  m.reply.assign(args.reply);
  if (args.header_size > 0 && static_cast<size_t>(args.header_size) <= payload.size()) {
    m.headers.assign(payload.substr(0, static_cast<size_t>(args.header_size)));
    payload.remove_prefix(static_cast<size_t>(args.header_size));
  }
  m.payload.assign(payload);
  sink_(std::move(m));
  return true;
}

}  // namespace gannet
