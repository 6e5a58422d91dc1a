// Delivery from a match to each receiver's output (see delivery.h).
#include "server/delivery.h"

#include <charconv>
#include <cstring>
#include <random>

#include "auth/permissions.h"
#include "base/logger.h"
#include "core/fast_random.h"
#include "server/account.h"
#include "server/client/client.h"
#include "server/cluster/route.h"
#include "server/conn/flow_control.h"
#include "server/conn/worker.h"
#include "server/events/internal_client.h"

namespace gannet {

namespace {

// Per-thread random numbers: the queue group member for a message.
FastRandom& ThreadRandom() {
  thread_local FastRandom random(std::random_device{}());
  return random;
}

// Copies n bytes, n in [sizeof(Word), 2 * sizeof(Word)], as two word moves that overlap
// when n is less than twice the word.
template <typename Word>
inline void CopyTwoWords(char* d, const char* s, size_t n) {
  Word head;
  Word tail;
  std::memcpy(&head, s, sizeof(Word));
  std::memcpy(&tail, s + n - sizeof(Word), sizeof(Word));
  std::memcpy(d, &head, sizeof(Word));
  std::memcpy(d + n - sizeof(Word), &tail, sizeof(Word));
}

// memcpy for the short pieces of a control line, inline: a call per piece cost more than the
// copy (a subject, a sid, a size token are a few bytes to a few dozen).
inline void CopyPiece(char* d, const char* s, size_t n) {
  if (n > 16) {
    std::memcpy(d, s, n);
  } else if (n >= 8) {
    CopyTwoWords<uint64_t>(d, s, n);
  } else if (n >= 4) {
    CopyTwoWords<uint32_t>(d, s, n);
  } else if (n > 0) {
    d[0] = s[0];
    d[n / 2] = s[n / 2];
    d[n - 1] = s[n - 1];
  }
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, static_cast<size_t>(end - buf));
}

// After a message was queued for `receiver` on this worker: the flow control judges it, but
// only past half its limit (the common case pays one comparison).
void JudgeLocalReceiver(Worker& worker, Connection* producer, Connection& receiver) {
  const auto pending = static_cast<int64_t>(receiver.pending_out());
  if (pending > worker.max_pending() / 2) {
    worker.flow().AfterDelivery(producer, receiver, receiver.pending_bytes(),
                                receiver.stalled_since_ns());
    return;
  }
  if (producer) producer->NoteFedMovingReceiver();
  if (pending > worker.max_pending() / 4) [[unlikely]] {
    worker.flow().NotePressure(worker.now());
  }
}

// One message to one client's subscription. False if it was not delivered (closed receiver,
// echo off, denied subject, auto-unsubscribe limit reached).
bool ToClientSubscription(Worker& worker, Subscription* sub, const MsgArgs& args,
                          std::string_view payload, Connection* producer) {
  auto* dst = static_cast<Client*>(static_cast<Connection*>(sub->subscriber));
  if (dst->closing()) return false;
  if (dst == producer && dst->no_echo()) return false;
  const auth::DeliveryDenyFilter* deny = sub->deny_filter.load(std::memory_order_acquire);
  if (deny && deny->Denies(args.subject)) return false;

  const uint64_t max = sub->max.load(std::memory_order_acquire);
  if (max == 0 && &dst->worker() == &worker) {
    // The subscriber's own thread: the only writer of delivered_owner (see Subscription).
    sub->delivered_owner.store(sub->delivered_owner.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
  } else {
    const uint64_t count = sub->delivered.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (max > 0) {
      if (count > max) return false;
      if (count == max) dst->worker().PostRemoveSub(dst->id(), sub->sid, sub->id);
    }
  }
  if (!args.reply.empty() && dst->tracks_reply_permits()) dst->TrackReplyPermit(args.reply);

  if (&dst->worker() == &worker) {
    AppendMessage(dst->OutputTail(), args.subject, sub->sid, args, payload, dst->wants_headers());
    dst->QueuedMessage(payload.size());
    JudgeLocalReceiver(worker, producer, *dst);
  } else {
    AppendMessage(worker.StagingFor(dst, payload.size()), args.subject, sub->sid, args, payload,
                  dst->wants_headers());
  }
  if (Logger::trace()) {
    LOG_TRACE("%s - ->> [MSG %.*s %s %.*s]", dst->log_prefix().c_str(),
              static_cast<int>(args.subject.size()), args.subject.data(), sub->sid.c_str(),
              static_cast<int>(args.total_size_token.size()), args.total_size_token.data());
  }
  return true;
}

// The routes a message goes to, and for each the queue groups it was picked for: per worker
// thread, reused from message to message.
struct RouteTarget {
  Route* route;
  std::string queues;  // "q1 q2", empty for plain interest only
};
thread_local std::vector<RouteTarget> t_targets;
thread_local size_t t_num_targets = 0;

void AddRouteTarget(Route* route, std::string_view queue) {
  for (size_t i = 0; i < t_num_targets; ++i) {
    RouteTarget& t = t_targets[i];
    if (t.route != route) continue;
    if (!queue.empty()) {
      if (!t.queues.empty()) t.queues += ' ';
      t.queues.append(queue);
    }
    return;
  }
  if (t_num_targets == t_targets.size()) t_targets.push_back(RouteTarget{nullptr, {}});
  RouteTarget& t = t_targets[t_num_targets++];
  t.route = route;
  t.queues.assign(queue);
}

// Whether `name` is among the queue groups a routed message names ("q1 q2 ...").
bool QueueListed(std::string_view list, std::string_view name) {
  SplitArgs a(list);
  for (int i = 0; i < a.count && i < SplitArgs::kMax; ++i) {
    if (a.arg(i) == name) return true;
  }
  if (a.count <= SplitArgs::kMax) return false;
  RoutedArgs all(list);  // more names than SplitArgs keeps
  for (size_t i = 0; i < all.count(); ++i) {
    if (all.arg(i) == name) return true;
  }
  return false;
}

// RMSG <account> <subject> [+ <reply> <queues> | | <queues> | <reply>] <size>, or HMSG with
// the header size before the size; headers stripped for a peer that does not take them.
void AppendRoutedMessage(std::string& out, std::string_view account, const MsgArgs& args,
                         std::string_view queues, std::string_view payload, bool peer_headers) {
  const bool has_headers = args.header_size > 0;
  const bool send_headers = has_headers && peer_headers;
  out.append(send_headers ? "HMSG " : "RMSG ");
  out.append(account);
  out += ' ';
  out.append(args.subject);
  out += ' ';
  if (!queues.empty()) {
    if (!args.reply.empty()) {
      out.append("+ ");
      out.append(args.reply);
      out += ' ';
    } else {
      out.append("| ");
    }
    out.append(queues);
    out += ' ';
  } else if (!args.reply.empty()) {
    out.append(args.reply);
    out += ' ';
  }
  if (send_headers) {
    out.append(args.header_size_token);
    out += ' ';
    out.append(args.total_size_token);
  } else if (has_headers) {
    payload.remove_prefix(static_cast<size_t>(args.header_size));
    AppendNumber(out, payload.size());
  } else {
    out.append(args.total_size_token);
  }
  out.append("\r\n", 2);
  out.append(payload);
  out.append("\r\n", 2);
}

void ToRoute(Worker& worker, Route* route, const Account& account, const MsgArgs& args,
             std::string_view queues, std::string_view payload, Connection* producer) {
  size_t body = args.header_size > 0 && !route->peer_headers()
                    ? payload.size() - static_cast<size_t>(args.header_size)
                    : payload.size();
  if (&route->worker() == &worker) {
    // In order after what other workers handed over (RS+ before the messages it enables).
    AppendRoutedMessage(route->OutputTailInOrder(), account.name(), args, queues, payload,
                        route->peer_headers());
    route->QueuedMessage(body);
    JudgeLocalReceiver(worker, producer, *route);
  } else {
    AppendRoutedMessage(worker.StagingFor(route, body), account.name(), args, queues, payload,
                        route->peer_headers());
  }
}

}  // namespace

void AppendMessage(std::string& out, std::string_view subject, std::string_view sid,
                   const MsgArgs& args, std::string_view payload, bool wants_headers) {
  const bool has_headers = args.header_size > 0;
  const bool hmsg = has_headers && wants_headers;
  std::string_view size = args.total_size_token;
  char stripped_size[24];
  if (has_headers && !wants_headers) {
    payload.remove_prefix(static_cast<size_t>(args.header_size));
    auto [end, ec] =
        std::to_chars(stripped_size, stripped_size + sizeof stripped_size, payload.size());
    size = std::string_view(stripped_size, static_cast<size_t>(end - stripped_size));
  }
  // The control line is sized first and written with one resize: a call per piece (nine
  // appends, each checking the capacity) was a fifth of the server's time on a 16 B fan-out.
  // A small payload goes in the same resize; a large one is appended, not zero-filled first.
  const std::string_view verb = hmsg ? std::string_view("HMSG ") : std::string_view("MSG ");
  const size_t line = verb.size() + subject.size() + 1 + sid.size() + 1 +
                      (args.reply.empty() ? 0 : args.reply.size() + 1) +
                      (hmsg ? args.header_size_token.size() + 1 : 0) + size.size() + 2;
  constexpr size_t kInlinePayload = 256;
  const bool inline_payload = payload.size() <= kInlinePayload;
  const size_t at = out.size();
  out.resize(at + line + (inline_payload ? payload.size() + 2 : 0));
  char* p = out.data() + at;
  auto put = [&p](std::string_view piece) {
    CopyPiece(p, piece.data(), piece.size());
    p += piece.size();
  };
  put(verb);
  put(subject);
  *p++ = ' ';
  put(sid);
  *p++ = ' ';
  if (!args.reply.empty()) {
    put(args.reply);
    *p++ = ' ';
  }
  if (hmsg) {
    put(args.header_size_token);
    *p++ = ' ';
  }
  put(size);
  *p++ = '\r';
  *p++ = '\n';
  if (inline_payload) {
    put(payload);
    *p++ = '\r';
    *p++ = '\n';
  } else {
    out.append(payload);
    out.append("\r\n", 2);
  }
}

bool DeliverToSubscribers(Worker& worker, const Account& account, const MatchResult& match,
                          const MsgArgs& args, std::string_view payload, Connection* producer,
                          DeliveryScope scope) {
  const bool from_route = producer && producer->is_route();
  const bool to_routes = !from_route && scope == DeliveryScope::kAll;
  bool delivered = false;
  t_num_targets = 0;
  for (Subscription* sub : match.plain) {
    auto* dst = static_cast<Connection*>(sub->subscriber);
    if (!dst->is_client()) {  // one test for clients, as before the server's own client
      if (dst->is_route()) {
        if (to_routes && !dst->closing()) AddRouteTarget(static_cast<Route*>(dst), {});
      } else {
        delivered |= static_cast<InternalClient*>(dst)->Deliver(*sub, args, payload);
      }
      continue;
    }
    delivered |= ToClientSubscription(worker, sub, args, payload, producer);
  }
  // A routed message names the groups the sender picked this server for: no others, and none
  // at all when it names none.
  if (!from_route || !args.queues.empty()) {
    for (const QueueGroupMatch& group : match.queues) {
      if (from_route && !QueueListed(args.queues, group.name)) continue;
      size_t n = group.members.size();
      size_t start = ThreadRandom().Below(n);  // as the reference: a random member first
      Route* fallback = nullptr;
      bool picked = false;
      for (size_t i = 0; i < n && !picked; ++i) {
        Subscription* sub = group.members[(start + i) % n];
        auto* dst = static_cast<Connection*>(sub->subscriber);
        if (dst->is_route()) {
          if (dst->closing() || dst == producer || scope == DeliveryScope::kLocalOnly) continue;
          if (from_route) {
            // Local members first; a peer's only if none here can take it (route.go).
            if (!fallback) fallback = static_cast<Route*>(dst);
            continue;
          }
          AddRouteTarget(static_cast<Route*>(dst), group.name);
          picked = true;
        } else {
          picked = ToClientSubscription(worker, sub, args, payload, producer);
        }
      }
      if (!picked && fallback) {
        AddRouteTarget(fallback, group.name);
        picked = true;
      }
      delivered |= picked;
    }
  }
  for (size_t i = 0; i < t_num_targets; ++i) {
    const RouteTarget& t = t_targets[i];
    ToRoute(worker, t.route, account, args, t.queues, payload, producer);
    delivered = true;
  }
  return delivered;
}

}  // namespace gannet
