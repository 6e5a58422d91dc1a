// Routing across accounts (account.h) and in from a route: a message published in one
// account also goes to the accounts importing it as a stream, a request on an imported
// service to the exporting account (with a reply mapped back), a response to the account
// that asked; and a message that came in on a route goes to this server's subscribers in its
// account, and on from there as if it had been published here (imports, responses).
#pragma once

#include <cstdint>
#include <string_view>

#include "protocol/parser.h"

namespace gannet {

class Account;
class Connection;
class Worker;

// Each returns whether the message counts as delivered (no-responders). `producer` is the
// connection it came from (echo, flow control; a route's messages stay on this server).
// Stream imports: to every account importing a stream of `from` that matches the subject.
bool RouteStreamImports(Worker& worker, Account& from, const MsgArgs& args,
                        std::string_view payload, Connection* producer);
// A service import of `from` matching the subject: the request goes to the exporter's
// responders with a reply of the exporter's, and the requestor's account and `rtt_ns` in a
// Nats-Request-Info header.
bool RouteServiceImport(Worker& worker, Account& from, const MsgArgs& args,
                        std::string_view payload, Connection* producer, int64_t rtt_ns);
// A publish in `from` on one of its pending response subjects: to the requestor's reply.
bool RouteResponse(Worker& worker, Account& from, const MsgArgs& args, std::string_view payload,
                   Connection* producer);
// A message a route brought in `account`.
void PublishFromRoute(Worker& worker, Account& account, const MsgArgs& args,
                      std::string_view payload, Connection* route);

}  // namespace gannet
