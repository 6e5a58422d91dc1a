// Delivery: from the subscriptions a subject matched to each receiver's output, on the
// producer's worker. Every plain subscription gets the message, and one member of each queue
// group; a receiver on this worker gets it straight into its output queue, one on another
// worker into this worker's staging buffer for it (handed over after the read batch), and the
// flow control judges each receiver for the producer (flow_control.h).
//
// A route's subscriptions stand for a peer's interest: each route gets at most one RMSG per
// message, naming the queue groups it was picked for (route.go processMsgResults). A message
// that came in on a route goes to this server's clients only (full mesh: one hop); its queue
// groups are those the sender listed, served by a local member when there is one.
#pragma once

#include <string_view>

#include "core/sublist.h"
#include "protocol/parser.h"

namespace gannet {

class Account;
class Connection;
class Worker;

enum class DeliveryScope {
  kAll,        // clients and routes
  kLocalOnly,  // this server's clients (a stream import: its remote importers import it there)
};

// Delivers one message of `account` to `match`. `producer` is the connection it came from
// (null for an internal one): a client is skipped when it subscribed with echo off and paused
// when a receiver is behind; a route's messages stay on this server. Returns whether any
// receiver took the message (for no-responders).
bool DeliverToSubscribers(Worker& worker, const Account& account, const MatchResult& match,
                          const MsgArgs& args, std::string_view payload, Connection* producer,
                          DeliveryScope scope);
// A subject nobody wants costs a test here, not a call (a pub-only load's every message).
inline bool DeliverToMatch(Worker& worker, const Account& account, const MatchResult& match,
                           const MsgArgs& args, std::string_view payload, Connection* producer,
                           DeliveryScope scope = DeliveryScope::kAll) {
  if (match.plain.empty() && match.queues.empty()) return false;
  return DeliverToSubscribers(worker, account, match, args, payload, producer, scope);
}

// Appends one MSG or HMSG for subscription `sid` (headers stripped for receivers that did not
// ask for them; size tokens echoed as sent).
void AppendMessage(std::string& out, std::string_view subject, std::string_view sid,
                   const MsgArgs& args, std::string_view payload, bool wants_headers);

}  // namespace gannet
