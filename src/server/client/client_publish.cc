// The client role's publishing: subject mappings, publish permissions and reserved subjects,
// delivery in the client's account and across accounts (stream and service imports, service
// responses), and no-responders.
#include <charconv>
#include <string>

#include "auth/permissions.h"
#include "base/logger.h"
#include "base/strings.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/client/client.h"
#include "server/conn/worker.h"
#include "server/delivery.h"

namespace gannet {

namespace {

constexpr std::string_view kNoRespondersHeader = "NATS/1.0 503\r\n\r\n";

// Reply subjects the reference refuses (client.go:isReservedReply).
bool IsReservedReply(std::string_view reply) {
  return reply.starts_with("_R_.") || (reply.size() > 8 && reply.starts_with("$JS.ACK.")) ||
         (reply.size() > 5 && reply.starts_with("_GR_."));
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, static_cast<size_t>(end - buf));
}

// Copies a header block ("NATS/1.0...\r\n...\r\n\r\n") without its final blank line and
// without the lines of header `name` (compared case-insensitively, as Go's textproto).
void AppendHeadersWithout(std::string& out, std::string_view headers, std::string_view name) {
  if (headers.size() >= 2 && headers.substr(headers.size() - 2) == "\r\n") {
    headers.remove_suffix(2);
  }
  bool first = true;
  while (!headers.empty()) {
    size_t eol = headers.find("\r\n");
    std::string_view line =
        headers.substr(0, eol == std::string_view::npos ? headers.size() : eol + 2);
    headers.remove_prefix(line.size());
    bool drop = false;
    if (!first && line.size() > name.size() && line[name.size()] == ':') {
      drop = true;
      for (size_t i = 0; i < name.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(line[i])) !=
            std::tolower(static_cast<unsigned char>(name[i]))) {
          drop = false;
          break;
        }
      }
    }
    first = false;
    if (!drop) out.append(line);
  }
}

}  // namespace

void Client::ProcessPublish(const MsgArgs& published, std::string_view payload) {
  in_msgs++;
  in_bytes += payload.size();
  last_activity_ = worker().now();

  // Subject mappings apply first: permissions and routing see the mapped subject, as in the
  // reference.
  const MsgArgs* routed = &published;
  MsgArgs mapped;
  std::string mapped_subject;
  if (account_->has_mappings() && account_->MapSubject(published.subject, mapped_subject)) {
    LOG_TRACE("%s - <<- [MAPPING %.*s -> %s]", log_prefix().c_str(),
              static_cast<int>(published.subject.size()), published.subject.data(),
              mapped_subject.c_str());
    mapped = published;
    mapped.subject = mapped_subject;
    routed = &mapped;
  }
  const MsgArgs& args = *routed;

  if (args.subject.size() > 5 && args.subject.starts_with("_GR_.")) {
    LOG_ERROR("%s - Publish Violation - User \"N/A\", Subject \"%.*s\"", log_prefix().c_str(),
              static_cast<int>(args.subject.size()), args.subject.data());
    SendErr("Permissions Violation for Publish to " + Quoted(args.subject));
    return;
  }
  if (identity_.permissions && identity_.permissions->restricts_publish() &&
      !CheckPublishAllowed(args.subject)) {
    return;
  }
  if (!args.reply.empty() && IsReservedReply(args.reply)) {
    LOG_ERROR("%s - Publish Violation - User \"N/A\", Reply \"%.*s\"", log_prefix().c_str(),
              static_cast<int>(args.reply.size()), args.reply.data());
    SendErr("Permissions Violation for Publish with Reply of " + Quoted(args.reply));
    return;
  }
  if (opts_.verbose) SendProto("+OK\r\n");

  bool delivered = DeliverToMatch(worker(), cache_->Lookup(args.subject), args, payload, this);
  // Accounts that share nothing (nearly always) pay one test each here.
  if (!account_->stream_routes().empty()) delivered |= RouteStreamImports(args, payload);
  if (account_->has_service_imports()) delivered |= RouteServiceImport(args, payload);
  if (account_->exports_services() && args.subject.starts_with("_R_.")) {
    delivered |= RouteResponse(args, payload);
  }

  if (!delivered && !args.reply.empty() && opts_.no_responders) SendNoResponders(args.reply);
}

void Client::SendNoResponders(std::string_view reply) {
  // The reference answers on the publisher's own plain subscription matching the reply.
  MatchResult reply_subs;
  account_->sublist().Match(reply, reply_subs);
  for (Subscription* sub : reply_subs.plain) {
    if (sub->subscriber != this) continue;
    std::string& tail = OutputTail();
    tail.append("HMSG ");
    tail.append(reply);
    tail += ' ';
    tail.append(sub->sid);
    tail.append(" 16 16\r\n");
    tail.append(kNoRespondersHeader);
    tail.append("\r\n");
    MarkDirty();
    break;
  }
}

// ---- Across accounts ----

void Client::BindAccount(Account& account) {
  account_ = &account;
  cache_ = &worker().cache(account);
}

bool Client::RouteStreamImports(const MsgArgs& args, std::string_view payload) {
  bool delivered = false;
  std::string subject;
  for (const Account::StreamRoute& route : account_->stream_routes()) {
    if (!SubjectMatchesPattern(args.subject, route.from)) continue;
    Account::MapStreamSubject(route, args.subject, subject);
    MsgArgs mapped = args;
    mapped.subject = subject;
    delivered |= DeliverToMatch(worker(), worker().cache(*route.importer).Lookup(subject), mapped,
                                payload, this);
  }
  return delivered;
}

bool Client::RouteServiceImport(const MsgArgs& args, std::string_view payload) {
  const Account::ServiceImport* si = account_->MatchServiceImport(args.subject);
  if (!si) return false;
  MsgArgs request = args;
  std::string mapped;
  if (si->transform) {
    si->transform->Apply(args.subject, mapped);
    request.subject = mapped;
  } else if (!si->to.empty()) {
    request.subject = si->to;
  }
  const MatchResult& responders = worker().cache(*si->exporter).Lookup(request.subject);
  // As the reference, a request into a service import counts as delivered even when the
  // exporting account has no responder: the requestor gets no 503.
  if (responders.empty()) return true;

  // The reply comes back through the exporting account's reply subject mapped to ours.
  std::string reply;
  if (!args.reply.empty()) {
    reply = si->exporter->NewResponse(account_, args.reply, worker().now());
    request.reply = reply;
  }
  // The reference tells the service who is asking: a Nats-Request-Info header with the
  // requestor's account and RTT, added to (or replacing the one in) the message's headers.
  std::string info = "Nats-Request-Info: {\"acc\":" + JsonQuote(account_->name());
  if (rtt_ns_ > 0) {
    info += ",\"rtt\":";
    AppendNumber(info, static_cast<uint64_t>(rtt_ns_));
  }
  info += "}\r\n";
  std::string message;
  std::string_view body = payload;
  if (args.header_size > 0) {
    std::string_view headers = payload.substr(0, static_cast<size_t>(args.header_size));
    body.remove_prefix(static_cast<size_t>(args.header_size));
    AppendHeadersWithout(message, headers, "Nats-Request-Info");
  } else {
    message = "NATS/1.0\r\n";
  }
  message += info;
  message += "\r\n";
  size_t header_size = message.size();
  message.append(body);
  std::string header_token = std::to_string(header_size);
  std::string total_token = std::to_string(message.size());
  request.header_size = static_cast<int64_t>(header_size);
  request.total_size = static_cast<int64_t>(message.size());
  request.header_size_token = header_token;
  request.total_size_token = total_token;
  DeliverToMatch(worker(), responders, request, message, this);
  return true;
}

bool Client::RouteResponse(const MsgArgs& args, std::string_view payload) {
  Account* requestor = nullptr;
  std::string reply;
  if (!account_->TakeResponse(args.subject, requestor, reply, worker().now())) return false;
  MsgArgs response = args;
  response.subject = reply;
  response.reply = {};
  DeliverToMatch(worker(), worker().cache(*requestor).Lookup(reply), response, payload, this);
  return true;
}

}  // namespace gannet
