// The server's own client in the system account (see internal_client.h).
#include "server/events/internal_client.h"

#include <utility>

#include "server/account.h"
#include "server/account_routing.h"
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

void InternalClient::Subscribe(std::string subject, Account* in, bool local_only) {
  Account& account = in ? *in : account_;
  auto sub = std::make_unique<Subscription>();
  sub->subject = std::move(subject);
  sub->subscriber = this;
  Subscription* s = sub.get();
  {
    // A leaf: the index and the routes are told outside it.
    std::lock_guard lock(subs_mu_);
    sub->id = next_sid_++;
    sub->sid = std::to_string(sub->id);
    // The account of a subscription, for Deliver: its id is its place here, plus one.
    subs_.push_back(Sub{std::move(sub), &account, local_only});
  }
  account.sublist().Insert(s);
  if (Routes* routes = server().routes(); routes && !local_only) {
    routes->LocalInterest(account, *s, +1);
  }
}

void InternalClient::UnsubscribeAll() {
  std::vector<Sub> subs;
  {
    std::lock_guard lock(subs_mu_);
    subs.swap(subs_);
  }
  for (Sub& s : subs) {
    if (!s.sub) continue;  // unsubscribed with its account
    s.account->sublist().Remove(s.sub.get());
    if (Routes* routes = server().routes(); routes && !s.local_only) {
      routes->LocalInterest(*s.account, *s.sub, -1);
    }
    // Workers may still hold it from a match until their next quiescent point.
    server().reclaimer().Retire([sub = s.sub.release()] { delete sub; });
  }
}

void InternalClient::UnsubscribeIn(Account& in) {
  std::vector<Sub> subs;
  {
    std::lock_guard lock(subs_mu_);
    // The slots stay (a subscription's id is its place): emptied.
    for (Sub& s : subs_) {
      if (s.sub && s.account == &in) subs.push_back(Sub{std::move(s.sub), s.account, s.local_only});
    }
  }
  for (Sub& s : subs) {
    s.account->sublist().Remove(s.sub.get());
    if (Routes* routes = server().routes(); routes && !s.local_only) {
      routes->LocalInterest(*s.account, *s.sub, -1);
    }
    server().reclaimer().Retire([sub = s.sub.release()] { delete sub; });
  }
}

std::vector<std::pair<const Account*, SubSnapshot>> InternalClient::Subscriptions() const {
  std::vector<std::pair<const Account*, SubSnapshot>> out;
  std::lock_guard lock(subs_mu_);
  for (const Sub& s : subs_) {
    if (!s.sub) continue;
    SubSnapshot snap;
    snap.subject = s.sub->subject;
    snap.sid = s.sub->sid;
    snap.msgs = s.sub->Delivered();
    out.emplace_back(s.account, std::move(snap));
  }
  return out;
}

void InternalClient::Publish(std::string subject, std::string reply, std::string payload,
                             std::function<void()> done, Account* in) {
  Worker& home = worker();
  Account& account = in ? *in : account_;
  home.PostRun([&home, &account, subject = std::move(subject), reply = std::move(reply),
                payload = std::move(payload), done = std::move(done)]() mutable {
    std::string size = std::to_string(payload.size());
    MsgArgs args;
    args.subject = subject;
    args.reply = reply;
    args.total_size = static_cast<int64_t>(payload.size());
    args.total_size_token = size;
    DeliverToMatch(home, account, home.cache(account).Lookup(subject), args, payload, nullptr);
    RouteResponse(home, account, args, payload, nullptr);
    // Run in the worker's next round: after this one has handed the message over to the
    // receivers of other workers.
    if (done) home.PostRun(std::move(done));
  });
}

bool InternalClient::Deliver(const Subscription& sub, const MsgArgs& args,
                             std::string_view payload) {
  Message m;
  {
    std::lock_guard lock(subs_mu_);
    size_t i = static_cast<size_t>(sub.id - 1);
    m.account = i < subs_.size() && subs_[i].sub.get() == &sub ? subs_[i].account : &account_;
  }
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
