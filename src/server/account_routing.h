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

// How many accounts a service import may chain through (B imports from A what C imports from
// B): beyond it a request or response goes no further (a cycle of imports ends there).
inline constexpr int kMaxImportChain = 8;

// Each returns whether the message counts as delivered (no-responders). `producer` is the
// connection it came from (echo, flow control; a route's messages stay on this server).
// `depth`: how many imports the message already went through.
// Stream imports: to every account importing a stream of `from` that matches the subject
// (and, as the reference, no further).
bool RouteStreamImports(Worker& worker, Account& from, const MsgArgs& args,
                        std::string_view payload, Connection* producer);
// A service import of `from` matching the subject: the request goes to the exporter's
// responders with a reply of the exporter's, and the requestor's account (`origin`, default
// `from`) and `rtt_ns` in a Nats-Request-Info header; and on through the exporter's own import
// of the service, if it has one.
bool RouteServiceImport(Worker& worker, Account& from, const MsgArgs& args,
                        std::string_view payload, Connection* producer, int64_t rtt_ns,
                        const Account* origin = nullptr, int depth = 0);
// A publish in `from` on one of its pending response subjects: to the requestor's reply (and
// on, when that reply is the requestor's own response subject for a chained request).
bool RouteResponse(Worker& worker, Account& from, const MsgArgs& args, std::string_view payload,
                   Connection* producer, int depth = 0);
// A message a route brought in `account`.
void PublishFromRoute(Worker& worker, Account& account, const MsgArgs& args,
                      std::string_view payload, Connection* route);

}  // namespace gannet
