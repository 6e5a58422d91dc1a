// Delivery from a match to each receiver's output (see delivery.h).
#include "server/delivery.h"

#include <charconv>
#include <random>

#include "auth/permissions.h"
#include "base/logger.h"
#include "core/fast_random.h"
#include "server/client/client.h"
#include "server/conn/flow_control.h"
#include "server/conn/worker.h"

namespace gannet {

namespace {

// Per-thread random numbers: the queue group member for a message.
FastRandom& ThreadRandom() {
  thread_local FastRandom random(std::random_device{}());
  return random;
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, static_cast<size_t>(end - buf));
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

  uint64_t count = sub->delivered.fetch_add(1, std::memory_order_acq_rel) + 1;
  uint64_t max = sub->max.load(std::memory_order_acquire);
  if (max > 0) {
    if (count > max) return false;
    if (count == max) dst->worker().PostRemoveSub(dst->id(), sub->sid, sub->id);
  }
  if (!args.reply.empty() && dst->tracks_reply_permits()) dst->TrackReplyPermit(args.reply);

  if (&dst->worker() == &worker) {
    AppendMessage(dst->OutputTail(), args.subject, sub->sid, args, payload, dst->wants_headers());
    dst->QueuedMessage(payload.size());
    // Judged per message only past half the limit: the common case pays one comparison.
    int64_t pending = static_cast<int64_t>(dst->pending_out());
    if (pending > worker.max_pending() / 2) {
      worker.flow().AfterDelivery(producer, *dst, dst->pending_bytes(), dst->stalled_since_ns());
    }
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

}  // namespace

void AppendMessage(std::string& out, std::string_view subject, std::string_view sid,
                   const MsgArgs& args, std::string_view payload, bool wants_headers) {
  bool has_headers = args.header_size > 0;
  if (has_headers && wants_headers) {
    out.append("HMSG ", 5);
  } else {
    out.append("MSG ", 4);
  }
  out.append(subject);
  out += ' ';
  out.append(sid);
  out += ' ';
  if (!args.reply.empty()) {
    out.append(args.reply);
    out += ' ';
  }
  if (has_headers && wants_headers) {
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

bool DeliverToMatch(Worker& worker, const MatchResult& match, const MsgArgs& args,
                    std::string_view payload, Connection* producer) {
  bool delivered = false;
  for (Subscription* sub : match.plain) {
    delivered |= ToClientSubscription(worker, sub, args, payload, producer);
  }
  for (const QueueGroupMatch& group : match.queues) {
    size_t n = group.members.size();
    size_t start = ThreadRandom().Below(n);  // as the reference: a random member first
    for (size_t i = 0; i < n; ++i) {
      if (ToClientSubscription(worker, group.members[(start + i) % n], args, payload, producer)) {
        delivered = true;
        break;
      }
    }
  }
  return delivered;
}

}  // namespace gannet
