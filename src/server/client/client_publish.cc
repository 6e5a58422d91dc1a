// The client role's publishing: subject mappings, publish permissions and reserved subjects,
// delivery in the client's account and across accounts (account_routing.h), no-responders.
#include <charconv>
#include <string>

#include "auth/permissions.h"
#include "base/logger.h"
#include "base/strings.h"
#include "core/subject.h"
#include "server/account.h"
#include "server/account_routing.h"
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

}  // namespace

void Client::ProcessPublish(const MsgArgs& published, std::string_view payload) {
  in_msgs++;
  in_bytes += payload.size();
  last_activity_ = worker().now();

  // Subject mappings apply first: permissions and routing see the mapped subject, as in the
  // reference. (The mapped copy lives only on this branch: a MsgArgs zeroed on every publish,
  // to stay unused, was a tenth of the server's time on a pub-only load.)
  // The account's tables, read once per message (a reload may replace them).
  const Account::Tables& tables = account_->tables();
  if (!tables.mappings.empty()) [[unlikely]] {
    std::string mapped_subject;
    if (account_->MapSubject(published.subject, mapped_subject)) {
      LOG_TRACE("%s - <<- [MAPPING %.*s -> %s]", log_prefix().c_str(),
                static_cast<int>(published.subject.size()), published.subject.data(),
                mapped_subject.c_str());
      MsgArgs mapped = published;
      mapped.subject = mapped_subject;
      PublishMapped(tables, mapped, payload);
      return;
    }
  }
  PublishMapped(tables, published, payload);
}

void Client::PublishMapped(const Account::Tables& tables, const MsgArgs& args,
                           std::string_view payload) {
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

  bool delivered =
      DeliverToMatch(worker(), *account_, cache_->Lookup(args.subject), args, payload, this);
  // Accounts that share nothing (nearly always) pay one test each here.
  if (!tables.stream_routes.empty()) {
    delivered |= RouteStreamImports(worker(), *account_, args, payload, this);
  }
  if (!tables.service_imports.empty()) {
    delivered |= RouteServiceImport(worker(), *account_, args, payload, this, rtt_ns_);
  }
  if (tables.exports_services && args.subject.starts_with("_R_.")) {
    delivered |= RouteResponse(worker(), *account_, args, payload, this);
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
  ApplyLimits();
}

}  // namespace gannet
