// Delivery: from the subscriptions a subject matched to each receiver's output, on the
// producer's worker. Every plain subscription gets the message, and one member of each queue
// group; a receiver on this worker gets it straight into its output queue, one on another
// worker into this worker's staging buffer for it (handed over after the read batch), and the
// flow control judges each receiver for the producer (flow_control.h).
#pragma once

#include <string_view>

#include "core/sublist.h"
#include "protocol/parser.h"

namespace gannet {

class Connection;
class Worker;

// Delivers one message to `match`. `producer` is the connection it came from (null for an
// internal one): it is skipped when it subscribed with echo off, and paused when a receiver
// is behind. Returns whether any receiver took the message (for no-responders).
bool DeliverToMatch(Worker& worker, const MatchResult& match, const MsgArgs& args,
                    std::string_view payload, Connection* producer);

// Appends one MSG or HMSG for subscription `sid` (headers stripped for receivers that did not
// ask for them; size tokens echoed as sent).
void AppendMessage(std::string& out, std::string_view subject, std::string_view sid,
                   const MsgArgs& args, std::string_view payload, bool wants_headers);

}  // namespace gannet
