// Accounts: reading accounts {} (server/config_auth ApplyAccounts) and the tables the server
// routes with (server/account): stream routes, service imports, response mappings.
#include <gtest/gtest.h>

#include "conf/parser.h"
#include "core/reclaimer.h"
#include "server/account.h"
#include "server/config/config_auth.h"

namespace gannet {
namespace {

struct Loaded {
  Options opts;
  std::optional<std::string> error;
};

Loaded Load(std::string_view text) {
  Loaded out;
  conf::ParseResult r = conf::ParseString(text);
  if (!r.ok()) {
    out.error = "parse: " + r.error->ToString();
    return out;
  }
  for (const conf::MapEntry& e : r.root.AsMap()) {
    if (e.key != "accounts") continue;
    out.error = ApplyAccounts(e, out.opts);
    return out;
  }
  out.error = "no accounts";
  return out;
}

std::string Message(const std::optional<std::string>& error) {
  if (!error) return "";
  auto p = error->find(": ");
  return p == std::string::npos ? *error : error->substr(p + 2);
}

constexpr std::string_view kConfig = R"(accounts {
  A: {
    users: [ {user: a, password: a} ]
    default_permissions: { publish: "a.>" }
    exports: [ {stream: "events.>"}, {service: "svc.>"}, {service: "one", accounts: [B]} ]
  }
  B: {
    users: [ {user: b, password: b, permissions: {publish: ">"}} ]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: "from_a"}
      {stream: {account: A, subject: "events.x"}, to: "x"}
      {service: {account: A, subject: "svc.>"}}
      {service: {account: A, subject: "one"}, to: "uno"}
    ]
  }
})";

TEST(AccountConfig, UsersAreBoundAndGetTheAccountDefaults) {
  Loaded l = Load(kConfig);
  ASSERT_FALSE(l.error) << *l.error;
  ASSERT_EQ(l.opts.accounts.size(), 2u);
  ASSERT_EQ(l.opts.authorization.users.size(), 2u);
  const User& a = l.opts.authorization.users[0].username == "a" ? l.opts.authorization.users[0]
                                                                : l.opts.authorization.users[1];
  const User& b = l.opts.authorization.users[0].username == "b" ? l.opts.authorization.users[0]
                                                                : l.opts.authorization.users[1];
  EXPECT_EQ(a.account, "A");
  EXPECT_EQ(b.account, "B");
  ASSERT_TRUE(a.permissions && a.permissions->publish);
  EXPECT_EQ(a.permissions->publish->allow, std::vector<std::string>{"a.>"});
  ASSERT_TRUE(b.permissions && b.permissions->publish);
  EXPECT_EQ(b.permissions->publish->allow, std::vector<std::string>{">"});  // its own win
}

TEST(AccountConfig, ErrorsAsTheReference) {
  EXPECT_EQ(Message(Load("accounts { $G: {} }").error), "\"$G\" is a Reserved Account");
  EXPECT_EQ(Message(Load("accounts { A: 1 }").error), "Expected map entries for accounts");
  EXPECT_EQ(Message(Load("accounts = [A, A]").error), "Duplicate Account Entry: A");
  EXPECT_EQ(Message(Load("accounts { A: { exports: 1 } }").error),
            "Exports should be an array, got int64");
  EXPECT_EQ(Message(Load("accounts { A: { imports: [\n1\n] } }").error),
            "Import Items should be a map with type entry, got int64");
  EXPECT_EQ(Message(Load("accounts { A: { exports: [{stream: s, response: single}] } }").error),
            "Detected response directive on non-service");
  EXPECT_EQ(Message(Load("accounts { A: { exports: [{stream: s}] }, B: { imports: ["
                         "{stream: {account: A, subject: s}, prefix: p, to: t}] } }")
                        .error),
            "Stream import can not have a 'prefix' and a 'to' property");
  EXPECT_EQ(Message(Load("accounts { A: { exports: [{stream: \"s.>\"}] }, B: { imports: ["
                         "{stream: {account: A, subject: \"s.>\"}, prefix: \"p.*\"}] } }")
                        .error),
            "Error adding stream import \"s.>\": stream import prefix can not contain wildcard "
            "tokens");
  EXPECT_EQ(Message(Load("accounts { A: { exports: [{stream: \"s.>\"}] }, B: { imports: ["
                         "{stream: {account: A, subject: \"s.>\"}}, "
                         "{stream: {account: A, subject: \"s.>\"}}] } }")
                        .error),
            "Error adding stream import \"s.>\": stream import already exists");
  EXPECT_EQ(Message(Load("accounts { A: { exports: [{stream: \"s\", accounts: [Z]}] } }").error),
            "\"Z\" account not defined for stream export");
  EXPECT_EQ(Message(Load("accounts { A: { limits: { max_widgets: 1 } } }").error),
            "Unknown field \"max_widgets\" parsing account limits");
  EXPECT_EQ(Message(Load("accounts { A: { exports: [{service: s, response_type: x}] } }").error),
            "Unknown response type: \"x\"");
}

TEST(Account, RoutingTables) {
  Loaded l = Load(kConfig);
  ASSERT_FALSE(l.error) << *l.error;
  Accounts accounts(l.opts);
  ASSERT_EQ(accounts.size(), 4u);  // $G, A, B and the system account made for them
  EXPECT_EQ(accounts.global().name(), "$G");
  ASSERT_NE(accounts.system(), nullptr);
  EXPECT_EQ(accounts.system()->name(), "$SYS");
  EXPECT_EQ(accounts.system()->index(), 3u);
  Account* a = accounts.Find("A");
  Account* b = accounts.Find("B");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(accounts.Find("nope"), nullptr);
  EXPECT_EQ(b->index(), 2u);

  // A's streams go to B: under the prefix, and one literal subject mapped onto `to`.
  ASSERT_EQ(a->stream_routes().size(), 2u);
  std::string subject;
  Account::MapStreamSubject(a->stream_routes()[0], "events.login", subject);
  EXPECT_EQ(subject, "from_a.events.login");
  Account::MapStreamSubject(a->stream_routes()[1], "events.x", subject);
  EXPECT_EQ(subject, "x");
  EXPECT_EQ(a->stream_routes()[0].importer, b);
  EXPECT_TRUE(b->stream_routes().empty());

  // B's service imports: a wildcard one keeps the published subject, a mapped literal one.
  EXPECT_FALSE(a->has_service_imports());
  const Account::ServiceImport* si = b->MatchServiceImport("svc.time");
  ASSERT_NE(si, nullptr);
  EXPECT_EQ(si->exporter, a);
  EXPECT_EQ(si->to, "");
  si = b->MatchServiceImport("uno");
  ASSERT_NE(si, nullptr);
  EXPECT_EQ(si->to, "one");
  EXPECT_EQ(b->MatchServiceImport("one"), nullptr);
  EXPECT_EQ(b->MatchServiceImport("svc"), nullptr);
  EXPECT_TRUE(a->exports_services());
  EXPECT_FALSE(b->exports_services());
}

// A reload adds accounts (made first, not live, so the workers and routes can make room) and
// removes them (no longer found; the object stays, and comes back when configured again).
TEST(Account, ReloadAddsAndRemovesAccounts) {
  Loaded before = Load(kConfig);
  ASSERT_FALSE(before.error) << *before.error;
  Accounts accounts(before.opts);
  Loaded after = Load(R"(accounts {
  A: { exports: [ {stream: "events.>"} ] }
  C: { imports: [ {stream: {account: A, subject: "events.>"}, prefix: "c"} ] }
})");
  ASSERT_FALSE(after.error) << *after.error;
  Reclaimer reclaimer(1);
  Account* b = accounts.Find("B");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(accounts.AddNew(after.opts), 1);
  ASSERT_EQ(accounts.size(), 5u);
  EXPECT_EQ(accounts.Find("C"), nullptr);  // not live before Reload
  EXPECT_FALSE(accounts.all()[4]->live());
  Accounts::ReloadResult r = accounts.Reload(after.opts, reclaimer);
  Account* c = accounts.Find("C");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->index(), 4u);
  EXPECT_EQ(r.added, std::vector<Account*>{c});
  EXPECT_EQ(r.removed, std::vector<Account*>{b});
  EXPECT_EQ(accounts.Find("B"), nullptr);
  EXPECT_FALSE(b->live());
  EXPECT_TRUE(accounts.system()->live());
  EXPECT_TRUE(accounts.global().live());
  const Account* a = accounts.Find("A");
  ASSERT_EQ(a->stream_routes().size(), 1u);
  EXPECT_EQ(a->stream_routes()[0].importer, c);
  EXPECT_TRUE(b->stream_routes().empty());
  EXPECT_FALSE(b->has_service_imports());

  // B comes back as the same account; C goes.
  EXPECT_EQ(accounts.AddNew(before.opts), 0);
  r = accounts.Reload(before.opts, reclaimer);
  EXPECT_EQ(r.added, std::vector<Account*>{b});
  EXPECT_EQ(r.removed, std::vector<Account*>{c});
  EXPECT_EQ(accounts.Find("B"), b);
  EXPECT_EQ(accounts.size(), 5u);
  reclaimer.Quiescent(0, [] {});
}

TEST(Account, MappingsPickByWeight) {
  Loaded l = Load(R"(accounts { A: { mappings: {
    "all.*": "to.$1"
    "none": [ {destination: "never", weight: 0} ]
    "cluster": [ {destination: "elsewhere", weight: 100, cluster: "c1"} ]
  } } })");
  ASSERT_FALSE(l.error) << *l.error;
  Accounts accounts(l.opts);
  const Account& a = *accounts.Find("A");
  EXPECT_TRUE(a.has_mappings());
  EXPECT_FALSE(accounts.global().has_mappings());
  std::string out;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(a.MapSubject("all.x", out));
    EXPECT_EQ(out, "to.x");
    // Weight 0 and a destination of another cluster: the subject is always kept.
    EXPECT_FALSE(a.MapSubject("none", out));
    EXPECT_FALSE(a.MapSubject("cluster", out));
  }
  EXPECT_FALSE(a.MapSubject("other", out));
}

TEST(Account, ResponsesRouteOnceAndExpire) {
  Account exporter("A", 1);
  Account requestor("B", 2);
  const auto single = ResponseType::kSingleton;
  auto now = Account::Clock::now();
  std::string r1 = exporter.NewResponse(&requestor, "_INBOX.1", single, now);
  std::string r2 = exporter.NewResponse(&requestor, "_INBOX.2", single, now);
  EXPECT_TRUE(r1.starts_with("_R_.")) << r1;
  EXPECT_EQ(r1.size(), 17u);  // "_R_." + 6 + "." + 6, as the reference
  EXPECT_EQ(r1.substr(0, 11), r2.substr(0, 11));
  EXPECT_NE(r1, r2);
  EXPECT_EQ(exporter.pending_responses(), 2u);

  Account* to = nullptr;
  std::string reply;
  bool kept = true;
  EXPECT_FALSE(exporter.TakeResponse("_R_.zzzzzz.zzzzzz", false, to, reply, kept, now));
  ASSERT_TRUE(exporter.TakeResponse(r1, false, to, reply, kept, now));
  EXPECT_EQ(to, &requestor);
  EXPECT_EQ(reply, "_INBOX.1");
  EXPECT_FALSE(kept);
  EXPECT_FALSE(exporter.TakeResponse(r1, false, to, reply, kept, now));  // once

  // A response that comes after the timeout is not routed, and is forgotten.
  EXPECT_FALSE(exporter.TakeResponse(r2, false, to, reply, kept,
                                     now + Account::kResponseTimeout + std::chrono::seconds(1)));
  EXPECT_EQ(exporter.pending_responses(), 0u);
  // Expired mappings nobody answered are swept when new ones are made.
  exporter.NewResponse(&requestor, "_INBOX.3", single, now);
  exporter.NewResponse(&requestor, "_INBOX.4", single,
                       now + Account::kResponseTimeout + std::chrono::seconds(2));
  EXPECT_EQ(exporter.pending_responses(), 1u);
}

TEST(Account, StreamedResponsesRouteUntilAnEmptyOneOrTheTimeout) {
  Account exporter("A", 1);
  Account requestor("B", 2);
  auto now = Account::Clock::now();
  for (ResponseType type : {ResponseType::kStreamed, ResponseType::kChunked}) {
    std::string r = exporter.NewResponse(&requestor, "_INBOX.s", type, now);
    Account* to = nullptr;
    std::string reply;
    bool kept = false;
    for (int i = 1; i <= 3; ++i) {
      // Each response renews the mapping: the timeout counts from the last one.
      auto at = now + i * (Account::kResponseTimeout - std::chrono::seconds(1));
      ASSERT_TRUE(exporter.TakeResponse(r, false, to, reply, kept, at)) << i;
      EXPECT_TRUE(kept);
      EXPECT_EQ(reply, "_INBOX.s");
    }
    // The empty message ends it (and is routed).
    auto end = now + 4 * (Account::kResponseTimeout - std::chrono::seconds(1));
    ASSERT_TRUE(exporter.TakeResponse(r, true, to, reply, kept, end));
    EXPECT_FALSE(kept);
    EXPECT_FALSE(exporter.TakeResponse(r, false, to, reply, kept, end));

    // One nobody could take is ended by its router.
    std::string r2 = exporter.NewResponse(&requestor, "_INBOX.t", type, now);
    ASSERT_TRUE(exporter.TakeResponse(r2, false, to, reply, kept, now));
    exporter.EndResponse(r2);
    EXPECT_FALSE(exporter.TakeResponse(r2, false, to, reply, kept, now));
    // And one not answered within the timeout expires.
    std::string r3 = exporter.NewResponse(&requestor, "_INBOX.u", type, now);
    EXPECT_FALSE(exporter.TakeResponse(r3, false, to, reply, kept,
                                       now + Account::kResponseTimeout + std::chrono::seconds(1)));
  }
  EXPECT_EQ(exporter.pending_responses(), 0u);
}

TEST(Account, ResponseThresholdOfTheExport) {
  Account exporter("A", 1);
  Account requestor("B", 2);
  auto now = Account::Clock::now();
  const auto threshold = std::chrono::milliseconds(500);
  std::string r =
      exporter.NewResponse(&requestor, "_INBOX.r", ResponseType::kStreamed, now, threshold);
  Account* to = nullptr;
  std::string reply;
  bool kept = false;
  // Each response within the threshold of the last one keeps it.
  ASSERT_TRUE(
      exporter.TakeResponse(r, false, to, reply, kept, now + std::chrono::milliseconds(400)));
  ASSERT_TRUE(
      exporter.TakeResponse(r, false, to, reply, kept, now + std::chrono::milliseconds(800)));
  EXPECT_FALSE(
      exporter.TakeResponse(r, false, to, reply, kept, now + std::chrono::milliseconds(1400)));
  // A singleton's too.
  std::string s =
      exporter.NewResponse(&requestor, "_INBOX.s", ResponseType::kSingleton, now, threshold);
  EXPECT_FALSE(
      exporter.TakeResponse(s, false, to, reply, kept, now + std::chrono::milliseconds(600)));
}

}  // namespace
}  // namespace gannet
