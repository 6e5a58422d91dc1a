// Accounts from the config file's accounts {} block, and subject mappings: isolated subject spaces,
// users bound to accounts, stream exports and imports (with a prefix or a mapped subject), service
// exports and imports (the request's reply mapped through the exporting account and back, with the
// Nats-Request-Info header the reference adds), and the reference's config errors — each
// checked against nats-server with the same config.
#include <map>
#include <set>

#include "http_client.h"
#include "integration_util.h"

namespace gannet::test {
namespace {

constexpr std::string_view kAccountsConfig = R"(accounts {
  A: {
    users: [ {user: a, password: a}, {user: a2, password: a2} ]
    exports: [
      {stream: "events.>"}
      {service: "svc.>"}
      {stream: "private.>", accounts: [B]}
    ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: "from_a"}
      {service: {account: A, subject: "svc.>"}}
      {service: {account: A, subject: "svc.echo"}, to: "echo"}
      {stream: {account: A, subject: "private.x"}, to: "px"}
    ]
  }
  C: { users: [ {user: c, password: c} ] }
}
authorization { users: [ {user: g, password: g} ] }
)";

class AccountsTest : public ProtocolTest {
 protected:
  std::unique_ptr<RawConn> As(std::string_view user, bool headers = true) {
    std::string json = R"({"verbose":false,"pedantic":false,"protocol":1,"user":")" +
                       std::string(user) + R"(","pass":")" + std::string(user) + "\"";
    json += headers ? R"(,"headers":true,"no_responders":true})" : "}";
    return Client(json);
  }
  TempDir dir_;
};

TEST_P(AccountsTest, AccountsAreIsolated) {
  StartWithConfig(kAccountsConfig);
  auto a = As("a");
  auto a2 = As("a2");
  auto c = As("c");
  auto g = As("g");
  for (auto* conn : {a.get(), a2.get(), c.get(), g.get()}) {
    EXPECT_EQ(SendAndFlush(*conn, "SUB foo 1\r\n"), "");
  }
  // Only the publisher's own account sees it, and the publisher itself (echo is on).
  EXPECT_EQ(SendAndFlush(*a2, "PUB foo 2\r\nhi\r\n"), MsgBytes("foo", "1", "", "hi"));
  EXPECT_EQ(SendAndFlush(*a, ""), MsgBytes("foo", "1", "", "hi"));
  EXPECT_EQ(SendAndFlush(*c, ""), "");
  EXPECT_EQ(SendAndFlush(*g, ""), "");
  // Users outside accounts {} are in the global account, together.
  auto g2 = As("g");
  EXPECT_EQ(SendAndFlush(*g2, "PUB foo 1\r\nx\r\n"), "");
  EXPECT_EQ(SendAndFlush(*g, ""), MsgBytes("foo", "1", "", "x"));
  EXPECT_EQ(SendAndFlush(*a, ""), "");
}

TEST_P(AccountsTest, StreamImportsDeliverUnderTheirMappedSubject) {
  StartWithConfig(kAccountsConfig);
  auto a = As("a");
  auto b = As("b");
  auto b_plain = As("b", /*headers=*/false);
  auto c = As("c");
  EXPECT_EQ(SendAndFlush(*b, "SUB from_a.> 1\r\nSUB events.> 2\r\nSUB px 3\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b_plain, "SUB from_a.events.* 7\r\n"), "");
  EXPECT_EQ(SendAndFlush(*c, "SUB > 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a, "SUB events.> 9\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a,
                         "PUB events.x r.1 2\r\nhi\r\nPUB private.x 2\r\nho\r\n"
                         "PUB private.y 2\r\nno\r\nPUB other 2\r\nno\r\n"),
            MsgBytes("events.x", "9", "r.1", "hi"));
  // The prefix goes in front; the reply is passed on; B's own events.> is another subject.
  EXPECT_EQ(SendAndFlush(*b, ""),
            MsgBytes("from_a.events.x", "1", "r.1", "hi") + MsgBytes("px", "3", "", "ho"));
  EXPECT_EQ(SendAndFlush(*b_plain, ""), MsgBytes("from_a.events.x", "7", "r.1", "hi"));
  EXPECT_EQ(SendAndFlush(*c, ""), "");
}

TEST_P(AccountsTest, StreamImportFeedsOneMemberOfAQueueGroup) {
  StartWithConfig(kAccountsConfig);
  auto q1 = As("b");
  auto q2 = As("b");
  EXPECT_EQ(SendAndFlush(*q1, "SUB from_a.events.n workers 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*q2, "SUB from_a.events.n workers 1\r\n"), "");
  auto a = As("a");
  std::string pubs;
  for (int i = 0; i < 20; ++i) pubs += PubBytes("events.n", "", std::to_string(i));
  EXPECT_EQ(SendAndFlush(*a, pubs), "");
  std::multiset<std::string> got;
  for (auto* conn : {q1.get(), q2.get()}) {
    for (const Msg& m : ParseStream(SendAndFlush(*conn, "")).msgs) got.insert(m.payload);
  }
  std::multiset<std::string> want;
  for (int i = 0; i < 20; ++i) want.insert(std::to_string(i));
  EXPECT_EQ(got, want);
}

// The header the reference adds to a request crossing accounts: {"acc":"B","rtt":N}.
void ExpectRequestInfo(const Msg& m, std::string_view extra_headers) {
  const std::string prefix = "NATS/1.0\r\n" + std::string(extra_headers) + "Nats-Request-Info: ";
  ASSERT_TRUE(m.headers.starts_with(prefix)) << m.headers;
  std::string value = m.headers.substr(prefix.size());
  ASSERT_TRUE(value.ends_with("\r\n\r\n")) << value;
  auto info = nlohmann::json::parse(value.substr(0, value.size() - 4));
  EXPECT_EQ(info["acc"], "B");
  EXPECT_TRUE(info["rtt"].is_number_integer()) << info;
  EXPECT_GT(info["rtt"].get<int64_t>(), 0);
}

TEST_P(AccountsTest, ServiceImportRoutesRequestAndOneResponse) {
  StartWithConfig(kAccountsConfig);
  auto a = As("a");
  auto b = As("b");
  EXPECT_EQ(SendAndFlush(*a, "SUB svc.> 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b, "SUB _INBOX.> 4\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b,
                         "PUB svc.time _INBOX.q1 3\r\nreq\r\n"
                         "HPUB echo _INBOX.q2 20 23\r\nNATS/1.0\r\nX-A: 1\r\n\r\nabc\r\n"),
            "");
  Parsed got = ParseStream(SendAndFlush(*a, ""));
  ASSERT_EQ(got.msgs.size(), 2u);
  const Msg& time = got.msgs[0];
  EXPECT_EQ(time.verb, "HMSG");
  EXPECT_EQ(time.subject, "svc.time");
  EXPECT_EQ(time.payload, "req");
  EXPECT_TRUE(time.reply.starts_with("_R_.")) << time.reply;
  ExpectRequestInfo(time, "");
  const Msg& echo = got.msgs[1];
  EXPECT_EQ(echo.subject, "svc.echo");  // `to` maps B's subject onto A's
  EXPECT_EQ(echo.payload, "abc");
  ExpectRequestInfo(echo, "X-A: 1\r\n");
  // The reply subjects are A's, and different for each request.
  EXPECT_NE(time.reply, echo.reply);
  EXPECT_EQ(time.reply.substr(0, 11), echo.reply.substr(0, 11));  // "_R_.xxxxxx."

  // Each response goes back to the requestor's reply subject, once.
  EXPECT_EQ(SendAndFlush(*a, PubBytes(time.reply, "", "t1") + PubBytes(echo.reply, "", "e1") +
                                 PubBytes(time.reply, "", "again")),
            "");
  EXPECT_EQ(SendAndFlush(*b, ""),
            MsgBytes("_INBOX.q1", "4", "", "t1") + MsgBytes("_INBOX.q2", "4", "", "e1"));
}

TEST_P(AccountsTest, StreamedAndChunkedResponsesRouteUntilAnEmptyOne) {
  int http = FreeTcpPort();
  StartWithConfig(R"(accounts {
  A: {
    users: [ {user: a, password: a} ]
    exports: [
      {service: "svc.stream", response_type: stream, response_threshold: "1m30s"}
      {service: "svc.chunk", response: chunked}
      {service: "svc.single"}
    ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      {service: {account: A, subject: "svc.stream"}}
      {service: {account: A, subject: "svc.chunk"}}
      {service: {account: A, subject: "svc.single"}}
    ]
  }
})",
                  {"-m", std::to_string(http)});
  auto a = As("a");
  auto b = As("b");
  EXPECT_EQ(SendAndFlush(*a, "SUB svc.* 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b, "SUB _INBOX.> 4\r\n"), "");
  for (std::string kind : {"stream", "chunk", "single"}) {
    SCOPED_TRACE(kind);
    std::string inbox = "_INBOX." + kind;
    EXPECT_EQ(SendAndFlush(*b, PubBytes("svc." + kind, inbox, "req")), "");
    Parsed got = ParseStream(SendAndFlush(*a, ""));
    ASSERT_EQ(got.msgs.size(), 1u);
    std::string reply = got.msgs[0].reply;
    // Three responses, an empty one, then one more.
    EXPECT_EQ(SendAndFlush(*a, PubBytes(reply, "", "r1") + PubBytes(reply, "", "r2") +
                                   PubBytes(reply, "", "r3") + PubBytes(reply, "", "") +
                                   PubBytes(reply, "", "late")),
              "");
    std::string expected = MsgBytes(inbox, "4", "", "r1");
    if (kind != "single") {
      expected += MsgBytes(inbox, "4", "", "r2") + MsgBytes(inbox, "4", "", "r3") +
                  MsgBytes(inbox, "4", "", "");
    }
    EXPECT_EQ(SendAndFlush(*b, ""), expected);
  }
  // /accountz shows each export's response type.
  auto r = HttpGet(http, "/accountz?acc=A");
  ASSERT_EQ(r.status, 200) << r.raw;
  std::map<std::string, std::string> types;
  auto accountz = nlohmann::json::parse(r.body);
  for (const auto& e : accountz["account_detail"]["exports"]) {
    types[e["subject"]] = e["response_type"];
    EXPECT_FALSE(e.contains("response_threshold")) << e.dump();  // not shown, as the reference
  }
  EXPECT_EQ(types, (std::map<std::string, std::string>{{"svc.stream", "Streamed"},
                                                       {"svc.chunk", "Chunked"},
                                                       {"svc.single", "Singleton"}}));
}

// An import of an import: B imports from A what it exports to C. Services chain; streams do not
// (as the reference).
TEST_P(AccountsTest, ChainedImportsReachTheThirdAccount) {
  StartWithConfig(R"(accounts {
  A: {
    users: [ {user: a, password: a} ]
    exports: [ {stream: "news.>"}, {service: "svc.time"} ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      {stream: {account: A, subject: "news.>"}}
      {service: {account: A, subject: "svc.time"}}
    ]
    exports: [ {stream: "news.>"}, {service: "svc.time"} ]
  }
  C: {
    users: [ {user: c, password: c} ]
    imports: [
      {stream: {account: B, subject: "news.>"}, prefix: "via_b"}
      {service: {account: B, subject: "svc.time"}, to: "time"}
    ]
  }
})");
  auto a = As("a");
  auto b = As("b");
  auto c = As("c");
  EXPECT_EQ(SendAndFlush(*b, "SUB news.> 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*c, "SUB via_b.news.> 3\r\nSUB _INBOX.> 4\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a, "SUB svc.time 1\r\n" + PubBytes("news.today", "", "hi")), "");
  EXPECT_EQ(SendAndFlush(*b, ""), MsgBytes("news.today", "2", "", "hi"));
  // As the reference 2.9.10: an imported stream goes no further than its importer.
  EXPECT_EQ(SendAndFlush(*c, ""), "");
  // What B publishes itself on the subject it exports does reach C.
  EXPECT_EQ(SendAndFlush(*b, PubBytes("news.local", "", "b")),
            MsgBytes("news.local", "2", "", "b"));
  EXPECT_EQ(SendAndFlush(*c, ""), MsgBytes("via_b.news.local", "3", "", "b"));

  // A request of C's goes through B's import to A's responder; the response comes back.
  EXPECT_EQ(SendAndFlush(*c, PubBytes("time", "_INBOX.c", "what time?")), "");
  Parsed got = ParseStream(SendAndFlush(*a, ""));
  ASSERT_EQ(got.msgs.size(), 1u);
  EXPECT_EQ(got.msgs[0].subject, "svc.time");
  EXPECT_EQ(got.msgs[0].payload, "what time?");
  ASSERT_TRUE(got.msgs[0].reply.starts_with("_R_.")) << got.msgs[0].reply;
  EXPECT_EQ(SendAndFlush(*a, PubBytes(got.msgs[0].reply, "", "noon")), "");
  EXPECT_EQ(SendAndFlush(*c, ""), MsgBytes("_INBOX.c", "4", "", "noon"));
}

TEST_P(AccountsTest, ServiceRequestToResponderWithoutHeaders) {
  StartWithConfig(kAccountsConfig);
  auto a = As("a", /*headers=*/false);
  auto b = As("b");
  EXPECT_EQ(SendAndFlush(*a, "SUB svc.plain 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b, "SUB r 2\r\nPUB svc.plain r 5\r\nhello\r\n"), "");
  Parsed got = ParseStream(SendAndFlush(*a, ""));
  ASSERT_EQ(got.msgs.size(), 1u);
  EXPECT_EQ(got.msgs[0].verb, "MSG");  // the added header is stripped with the others
  EXPECT_EQ(got.msgs[0].payload, "hello");
  EXPECT_EQ(SendAndFlush(*a, PubBytes(got.msgs[0].reply, "", "world")), "");
  EXPECT_EQ(SendAndFlush(*b, ""), MsgBytes("r", "2", "", "world"));
}

TEST_P(AccountsTest, ServiceImportWithoutResponderSendsNoNoResponders) {
  StartWithConfig(kAccountsConfig);
  auto b = As("b");
  // In B's own space a request nobody answers gets the 503 status...
  EXPECT_EQ(SendAndFlush(*b, "SUB _INBOX.> 4\r\nPUB nobody _INBOX.x 0\r\n\r\n"),
            "HMSG _INBOX.x 4 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  // ...but, as the reference, one into a service import counts as delivered.
  EXPECT_EQ(SendAndFlush(*b, "PUB svc.none _INBOX.y 0\r\n\r\n"), "");
}

TEST_P(AccountsTest, UnimportedSubjectsStayPrivate) {
  StartWithConfig(kAccountsConfig);
  auto a = As("a");
  auto c = As("c");
  EXPECT_EQ(SendAndFlush(*a, "SUB svc.> 1\r\n"), "");
  // C imports nothing: its publishes on svc.* stay in C.
  EXPECT_EQ(SendAndFlush(*c, "PUB svc.x r 1\r\nx\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a, ""), "");
}

TEST_P(AccountsTest, WildcardImportsMapTokens) {
  StartWithConfig(R"(accounts {
  A: { users: [{user: a, password: a}]
       exports: [{stream: "orders.>"}, {service: "svc.>"}] }
  B: { users: [{user: b, password: b}]
       imports: [
         {stream: {account: A, subject: "orders.*.*"}, to: "o.$2.$1"}
         {stream: {account: A, subject: "orders.*"}, to: "one.*"}
         {stream: {account: A, subject: "orders.x.>"}, to: "ox.>"}
         {service: {account: A, subject: "svc.*.*"}, to: "ask.*.*"}
         {service: {account: A, subject: "svc.t.>"}, to: "t.>"}
       ] }
})");
  auto a = As("a");
  auto b = As("b");
  EXPECT_EQ(SendAndFlush(*b, "SUB > 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a,
                         "SUB svc.> 1\r\n"
                         "PUB orders.1.2 2\r\nhi\r\nPUB orders.5 2\r\nho\r\n"
                         "PUB orders.x.y.z 2\r\nhu\r\n"),
            "");
  EXPECT_EQ(SendAndFlush(*b, ""), MsgBytes("o.2.1", "1", "", "hi") +
                                      MsgBytes("one.5", "1", "", "ho") +
                                      MsgBytes("ox.y.z", "1", "", "hu"));
  EXPECT_EQ(SendAndFlush(*b, "UNSUB 1\r\nPUB ask.p.q 1\r\nq\r\nPUB t.u.v 1\r\nr\r\n"), "");
  Parsed got = ParseStream(SendAndFlush(*a, ""));
  ASSERT_EQ(got.msgs.size(), 2u);
  EXPECT_EQ(got.msgs[0].subject, "svc.p.q");
  EXPECT_EQ(got.msgs[1].subject, "svc.t.u.v");
}

TEST_P(AccountsTest, SubjectMappings) {
  StartWithConfig(R"(
mappings {
  "req.*": "svc.$1"
  "a.*.*": "b.{{wildcard(2)}}.{{wildcard(1)}}"
  "c.>": "d.>"
  "split": [ {destination: "left", weight: 30%}, {destination: "right", weight: 70%} ]
  "some": [ {destination: "half", weight: 50} ]
}
accounts { A: { users: [{user: a, password: a}], mappings: { "x": "y" } } }
authorization { users: [{user: g, password: g}] }
)");
  auto g = As("g");
  auto a = As("a");
  EXPECT_EQ(SendAndFlush(*a, "SUB > 1\r\n"), "");
  // The global account's mappings; A's own apply only in A.
  EXPECT_EQ(SendAndFlush(*g,
                         "SUB > 1\r\nPUB req.x 1\r\n1\r\nPUB a.p.q 1\r\n2\r\n"
                         "PUB c.e.f 1\r\n3\r\nPUB x 1\r\n4\r\n"),
            MsgBytes("svc.x", "1", "", "1") + MsgBytes("b.q.p", "1", "", "2") +
                MsgBytes("d.e.f", "1", "", "3") + MsgBytes("x", "1", "", "4"));
  EXPECT_EQ(SendAndFlush(*a, "PUB x 1\r\n5\r\nPUB req.z 1\r\n6\r\n"),
            MsgBytes("y", "1", "", "5") + MsgBytes("req.z", "1", "", "6"));
  // Weighted destinations: 1000 messages each. The bounds are 10 standard deviations wide.
  std::string pubs;
  for (int i = 0; i < 1000; ++i) pubs += "PUB split 1\r\ns\r\nPUB some 1\r\nh\r\n";
  std::map<std::string, int> count;
  for (const Msg& m : ParseStream(SendAndFlush(*g, pubs)).msgs) count[m.subject]++;
  EXPECT_EQ(count["left"] + count["right"], 1000);
  EXPECT_EQ(count["half"] + count["some"], 1000);  // the rest keeps its subject
  EXPECT_GT(count["left"], 150);
  EXPECT_LT(count["left"], 450);
  EXPECT_GT(count["half"], 340);
  EXPECT_LT(count["half"], 660);
}

constexpr std::string_view kLimitsConfig = R"(accounts {
  L: {
    users: [ {user: l, password: l}, {user: l2, password: l2} ]
    limits: { max_connections: 2, max_subscriptions: 2, max_payload: 8, max_leafnodes: 1 }
  }
  S: { users: [ {user: s, password: s} ], limits: { max_conn: 1, max_subs: 1, max_pay: 4 } }
  U: { users: [ {user: u, password: u} ] }
}
)";

TEST_P(AccountsTest, AccountMaxConnectionsCountsTheAccountsClients) {
  StartWithConfig(kLimitsConfig);
  auto first = As("l");
  auto second = As("l2");
  // A third client of L is refused once authenticated, as the reference.
  auto third = DialInfo();
  third->Send(R"(CONNECT {"verbose":false,"user":"l","pass":"l"})"
              "\r\nPING\r\n");
  EXPECT_TRUE(ClosesWith(*third, "-ERR 'maximum account active connections exceeded'\r\n"));
  // Other accounts are not limited by it; S by its own (max_conn).
  auto u1 = As("u");
  auto u2 = As("u");
  auto s1 = As("s");
  auto s2 = DialInfo();
  s2->Send(R"(CONNECT {"verbose":false,"user":"s","pass":"s"})"
           "\r\nPING\r\n");
  EXPECT_TRUE(ClosesWith(*s2, "-ERR 'maximum account active connections exceeded'\r\n"));
  // A client that leaves frees its place.
  second->Close();
  bool admitted = false;
  for (int i = 0; i < 200 && !admitted; ++i) {
    auto again = DialInfo();
    again->Send(R"(CONNECT {"verbose":false,"user":"l2","pass":"l2"})"
                "\r\nPING\r\n");
    std::string line = again->ReadLine();
    admitted = line == "PONG";
    if (!admitted) {
      EXPECT_EQ(line, "-ERR 'maximum account active connections exceeded'");
    }
  }
  EXPECT_TRUE(admitted);
}

TEST_P(AccountsTest, AccountMaxSubscriptionsAndPayloadArePerConnection) {
  StartWithConfig(kLimitsConfig);
  // Protocol 0: no INFO with the account's max_payload after the first PONG (tested below).
  auto as = [this](const std::string& user) {
    return Client(R"({"verbose":false,"user":")" + user + R"(","pass":")" + user + "\"}");
  };
  auto l = as("l");
  EXPECT_EQ(SendAndFlush(*l, "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n"),
            "-ERR 'maximum subscriptions exceeded'\r\n");
  auto l2 = as("l2");  // its own two
  EXPECT_EQ(SendAndFlush(*l2, "SUB a 1\r\nSUB b 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*l, PubBytes("z", "", "12345678")), "");
  l->Send(PubBytes("z", "", "123456789"));
  EXPECT_TRUE(ClosesWith(*l, "-ERR 'Maximum Payload Violation'\r\n"));
  // Unlimited accounts keep the server's limits.
  auto u = as("u");
  EXPECT_EQ(SendAndFlush(*u, "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n" +
                                 PubBytes("z", "", std::string(1000, 'x'))),
            "");
}

TEST_P(AccountsTest, AccountMaxPayloadIsAnnouncedAfterTheFirstPing) {
  StartWithConfig(kLimitsConfig);
  // As the reference: the INFO of a client of a limited account still has the server's
  // max_payload; an INFO with the account's follows the first PONG (protocol 1 clients).
  nlohmann::json info;
  auto conn = DialInfo(&info);
  EXPECT_EQ(info["max_payload"], 1048576);
  conn->Send(R"(CONNECT {"verbose":false,"protocol":1,"user":"s","pass":"s"})"
             "\r\nPING\r\n");
  EXPECT_EQ(conn->ReadLine(), "PONG");
  std::string line = conn->ReadLine();
  ASSERT_EQ(line.rfind("INFO ", 0), 0u) << line;
  EXPECT_EQ(nlohmann::json::parse(line.substr(5))["max_payload"], 4);
  EXPECT_EQ(conn->Flush(), "");  // only once
  auto u = As("u");
  EXPECT_EQ(u->Flush(), "");  // no INFO for a client without an account limit
}

TEST_P(AccountsTest, AccountLimitsConfigErrors) {
  for (const auto& [config, error] : std::vector<std::pair<std::string, std::string>>{
           {"accounts { A: { limits: { max_widgets: 1 } } }\n",
            "Unknown field \"max_widgets\" parsing account limits"},
           {"accounts { A: { limits: 5 } }\n", "Expected account limits to be a map/struct"}}) {
    SCOPED_TRACE(config);
    std::string conf = dir_.Write("limits.conf", config);
    int status = 0;
    std::string out = RunToExit({"-c", conf}, &status);
    EXPECT_NE(out.find(error), std::string::npos) << out;
    EXPECT_NE(status, 0);
  }
}

TEST_P(AccountsTest, ConfigErrorsAsTheReference) {
  struct Case {
    std::string config;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"accounts {\n  A: { exports: [{stream: \"p.>\", accounts: [B]}] }\n  B: {}\n"
       "  C: { imports: [{stream: {account: A, subject: \"p.x\"}}] }\n}\n",
       "Error adding stream import \"p.x\": stream import not authorized"},
      {"accounts {\n  A: { exports: [{service: \"s\"}] }\n"
       "  C: { imports: [{stream: {account: A, subject: \"s\"}}] }\n}\n",
       "Error adding stream import \"s\": stream import not authorized"},
      {"accounts {\n  A: { exports: [{stream: \"s\"}] }\n"
       "  C: { imports: [{service: {account: A, subject: \"s\"}}] }\n}\n",
       "Error adding service import \"s\": service import not authorized"},
      {"accounts {\n  C: { imports: [{stream: {account: Z, subject: \"p.x\"}}] }\n}\n",
       "\"Z\" account not defined for stream import"},
      {"accounts {\n  A: { users: [{user: x, password: y}] }\n  B: { users: [{user: x, password: "
       "z}] }\n}\n",
       "Duplicate user \"x\" detected"},
      // The reference says "... and accounts" or "... and a users array" depending on which
      // of the two blocks it happens to read first.
      {"accounts {\n  A: { users: [{user: x, password: y}] }\n}\n"
       "authorization { user: u, password: p }\n",
       "Can not have a single user/pass and "},
      {"accounts {\n  C: { imports: [{stream: {account: A}}] }\n}\n",
       "Expect an account name and a subject"},
      {"mappings { \"a.*\": \"b\" }\n",
       "Error adding mapping for \"a.*\" to \"b\" : invalid mapping destination: not using all "
       "of the token wildcard(s) in b"},
      {"mappings { \"a\": {destination: x} }\n", "Missing weight for mapping destination \"x\""},
      {"accounts {\n  A: { exports: [{service: \"s\", response_type: weird}] }\n}\n",
       "Unknown response type: \"weird\""},
      {"accounts {\n  A: { exports: [{service: \"s\", response_threshold: \"soon\"}] }\n}\n",
       "Expected response threshold to be a parseable time duration, got \"soon\""},
      {"mappings { \"a\": [{destination: x, weight: 160}] }\n",
       "Invalid weight 160 for mapping destination"},
      {"accounts {\n  A: { exports: [{stream: \"o.>\"}] }\n"
       "  B: { imports: [{stream: {account: A, subject: \"o.*.*\"}, to: \"x.$3\"}] }\n}\n",
       "Error adding stream import \"o.*.*\": failed to create mapping transform for stream "
       "import subject \"o.*.*\" to \"x.$3\": invalid mapping destination: wildcard index out "
       "of range in $3: [3]"},
      // account_token_position: the token must be a '*' of the export, and an import must put
      // the importing account's name there.
      {"accounts {\n  A: { exports: [{stream: \"s\", latency: \"lat\"}] }\n}\n",
       "Detected latency directive on non-service"},
      {"accounts {\n  A: { exports: [{service: \"s\", latency: {sampling: 200, subject: l}}] "
       "}\n}\n",
       "bad sampling percentage, should be 1-100"},
      {"accounts {\n  A: { exports: [{service: \"s\", latency: {sampling: 50}}] }\n}\n",
       "Latency subject required, but missing"},
      {"accounts {\n  A: { exports: [{service: \"svc.x.req\", account_token_position: 2}] }\n}\n",
       "Error adding service export \"svc.x.req\": sublist: invalid subject"},
      {"accounts {\n  A: { exports: [{stream: \"feed.*\", account_token_position: 3}] }\n}\n",
       "Error adding stream export \"feed.*\": sublist: invalid subject"},
      {"accounts {\n  A: { exports: [{service: \"svc.*.req\", account_token_position: 2}] }\n"
       "  B: {}\n  C: { imports: [{service: {account: A, subject: \"svc.B.req\"}}] }\n}\n",
       "Error adding service import \"svc.B.req\": service import not authorized"},
      {"accounts {\n  A: { exports: [{stream: \"feed.*\", account_token_position: 2}] }\n"
       "  C: { imports: [{stream: {account: A, subject: \"feed.*\"}}] }\n}\n",
       "Error adding stream import \"feed.*\": stream import not authorized"},
  };
  // Only the messages are compared: the reference reports these at positions that change from
  // run to run (it walks the accounts in Go's random map order).
  for (const Case& c : cases) {
    SCOPED_TRACE(c.config);
    std::string conf = dir_.Write("bad.conf", c.config);
    std::string out = RunToExit({"-c", conf, "-t"});
    EXPECT_NE(out.find(c.error), std::string::npos) << out;
    EXPECT_EQ(out.find("is valid"), std::string::npos) << out;
  }
  std::string conf = dir_.Write("ok.conf", std::string(kAccountsConfig));
  EXPECT_NE(RunToExit({"-c", conf, "-t"}).find("is valid"), std::string::npos);
}

// account_token_position: each account imports the export with its own name at that token, so
// one export serves every account a subject of its own.
TEST_P(AccountsTest, AccountTokenPositionGivesEachImporterItsSubject) {
  StartWithConfig(R"(accounts {
  A: { users: [{user: a, password: a}],
       exports: [{service: "svc.*.req", account_token_position: 2},
                 {stream: "feed.*", account_token_position: 2}] }
  B: { users: [{user: b, password: b}],
       imports: [{service: {account: A, subject: "svc.B.req"}, to: "req"},
                 {stream: {account: A, subject: "feed.B"}, to: "feed"}] }
  C: { users: [{user: c, password: c}],
       imports: [{service: {account: A, subject: "svc.C.req"}},
                 {stream: {account: A, subject: "feed.C"}}] }
})");
  auto a = As("a");
  auto b = As("b");
  auto c = As("c");
  EXPECT_EQ(SendAndFlush(*a, "SUB svc.*.req 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b, "SUB _INBOX.> 1\r\nSUB feed 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*c, "SUB feed.> 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b, "PUB req _INBOX.b 2\r\nhi\r\n"), "");
  Parsed got = ParseStream(SendAndFlush(*a, ""));
  ASSERT_EQ(got.msgs.size(), 1u);
  EXPECT_EQ(got.msgs[0].subject, "svc.B.req");
  EXPECT_EQ(SendAndFlush(*a, PubBytes(got.msgs[0].reply, "", "yo")), "");
  EXPECT_EQ(SendAndFlush(*b, ""), MsgBytes("_INBOX.b", "1", "", "yo"));
  // Each account gets its own feed, not the other's.
  EXPECT_EQ(SendAndFlush(*a, PubBytes("feed.B", "", "for-b") + PubBytes("feed.C", "", "for-c")),
            "");
  EXPECT_EQ(SendAndFlush(*b, ""), MsgBytes("feed", "2", "", "for-b"));
  EXPECT_EQ(SendAndFlush(*c, ""), MsgBytes("feed.C", "1", "", "for-c"));
}

// Service latency (an export's `latency`): a sampled request's first response publishes the
// reference's ServiceLatency metric on the latency subject, in the exporting account: the
// requestor's account (not shared: no more), the responder's details, and the figures.
TEST_P(AccountsTest, ServiceLatencyIsPublishedInTheExportingAccount) {
  StartWithConfig(R"(accounts {
  A: { users: [{user: a, password: a}],
       exports: [{service: "svc.>", latency: {sampling: 100, subject: "lat.svc"}},
                 {service: "other", latency: "lat.other"},
                 {service: "hdr", latency: {sampling: headers, subject: "lat.hdr"}}] }
  B: { users: [{user: b, password: b}],
       imports: [{service: {account: A, subject: "svc.>"}}, {service: {account: A, subject: "other"}},
                 {service: {account: A, subject: "hdr"}}] }
})");
  auto a = As("a");
  auto b = As("b");
  EXPECT_EQ(SendAndFlush(*a, "SUB svc.> 1\r\nSUB lat.> 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b, "SUB _INBOX.> 1\r\nPUB svc.time _INBOX.q 3\r\nreq\r\n"), "");
  Parsed got = ParseStream(SendAndFlush(*a, ""));
  ASSERT_EQ(got.msgs.size(), 1u);
  // The metric may come before the PONG that ends the response's flush, or after it.
  auto metrics = [&](std::string got, size_t n) {
    for (auto deadline = std::chrono::steady_clock::now() + 5s;
         ParseStream(got).msgs.size() < n && std::chrono::steady_clock::now() < deadline;) {
      got += a->Flush();
    }
    return ParseStream(got);
  };
  std::string metric = SendAndFlush(*a, PubBytes(got.msgs[0].reply, "", "noon"));
  EXPECT_EQ(SendAndFlush(*b, ""), MsgBytes("_INBOX.q", "1", "", "noon"));
  Parsed lat = metrics(metric, 1);
  ASSERT_EQ(lat.msgs.size(), 1u) << metric;
  EXPECT_EQ(lat.msgs[0].subject, "lat.svc");
  auto m = nlohmann::json::parse(lat.msgs[0].payload);
  std::set<std::string> keys;
  for (auto& [k, v] : m.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"type", "id", "timestamp", "status", "requestor",
                                         "responder", "start", "service", "system", "total"}))
      << m.dump();
  EXPECT_EQ(m["type"], "io.nats.server.metric.v1.service_latency");
  EXPECT_EQ(m["status"], 200);
  EXPECT_EQ(m["requestor"]["acc"], "B");
  EXPECT_FALSE(m["requestor"].contains("user")) << m.dump();  // not shared
  EXPECT_EQ(m["responder"]["acc"], "A");
  EXPECT_EQ(m["responder"]["user"], "a");
  EXPECT_EQ(m["responder"]["kind"], "Client");
  EXPECT_TRUE(m["responder"]["id"].is_number_integer());
  EXPECT_TRUE(m["responder"]["server"].is_string());
  for (const char* figure : {"service", "system", "total"}) {
    EXPECT_TRUE(m[figure].is_number_integer()) << figure;
    EXPECT_GE(m[figure].get<int64_t>(), 0) << figure;
  }
  EXPECT_GE(m["total"].get<int64_t>(), m["service"].get<int64_t>());
  EXPECT_TRUE(m["start"].is_string());

  // sampling: headers: only a request whose trace headers say so is measured, and the metric
  // carries them. The first request has none: the first metric is the second's.
  EXPECT_EQ(SendAndFlush(*a, "SUB hdr 3\r\n"), "");
  const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string headers = "NATS/1.0\r\ntraceparent: " + trace + "\r\n\r\n";
  EXPECT_EQ(SendAndFlush(*b, "PUB hdr _INBOX.h1 1\r\nx\r\nHPUB hdr _INBOX.h2 " +
                                 std::to_string(headers.size()) + " " +
                                 std::to_string(headers.size() + 1) + "\r\n" + headers + "y\r\n"),
            "");
  Parsed reqs = ParseStream(a->ReadUntil("\r\ny\r\n", 5s));
  ASSERT_EQ(reqs.msgs.size(), 2u);
  Parsed hdr_lat = metrics(SendAndFlush(*a, PubBytes(reqs.msgs[0].reply, "", "1") +
                                                PubBytes(reqs.msgs[1].reply, "", "2")),
                           1);
  ASSERT_EQ(hdr_lat.msgs.size(), 1u);
  EXPECT_EQ(hdr_lat.msgs[0].subject, "lat.hdr");
  auto h = nlohmann::json::parse(hdr_lat.msgs[0].payload);
  EXPECT_EQ(h["header"], (nlohmann::json{{"Traceparent", {trace}}})) << h.dump();
  EXPECT_EQ(h["requestor"]["acc"], "B");
}

TEST_P(AccountsTest, NoAuthUserBindsItsAccount) {
  StartWithConfig(std::string(kAccountsConfig) + "no_auth_user: b\n");
  auto anonymous = Client(R"({"verbose":false,"pedantic":false})");
  auto a = As("a");
  EXPECT_EQ(SendAndFlush(*anonymous, "SUB from_a.events.x 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a, "PUB events.x 1\r\nz\r\n"), "");
  EXPECT_EQ(SendAndFlush(*anonymous, ""), MsgBytes("from_a.events.x", "1", "", "z"));
}

TEST_P(AccountsTest, MonitoringShowsEachConnectionsAccount) {
  int http_port = FreeTcpPort();
  StartWithConfig(kAccountsConfig, {"-m", std::to_string(http_port)});
  auto b = As("b");
  auto g = As("g");
  EXPECT_EQ(SendAndFlush(*b, "SUB from_a.> 1\r\n"), "");
  HttpResult r = HttpGet(http_port, "/connz?auth=1&sort=cid");
  ASSERT_EQ(r.status, 200) << r.raw;
  auto connz = nlohmann::json::parse(r.body);
  ASSERT_EQ(connz["connections"].size(), 2u) << r.body;
  // As the reference: the account is named unless it is the global one.
  EXPECT_EQ(connz["connections"][0]["authorized_user"], "b");
  EXPECT_EQ(connz["connections"][0]["account"], "B");
  EXPECT_EQ(connz["connections"][1]["authorized_user"], "g");
  EXPECT_FALSE(connz["connections"][1].contains("account")) << connz["connections"][1];
  // acc= keeps one account's connections.
  r = HttpGet(http_port, "/connz?auth=1&acc=B");
  connz = nlohmann::json::parse(r.body);
  EXPECT_EQ(connz["total"], 1);
  ASSERT_EQ(connz["connections"].size(), 1u);
  EXPECT_EQ(connz["connections"][0]["account"], "B");
  r = HttpGet(http_port, "/connz?auth=1&acc=NOPE");
  EXPECT_TRUE(nlohmann::json::parse(r.body)["connections"].is_null()) << r.body;
  // /accountz lists the configured accounts, the global one and the system account ($SYS).
  r = HttpGet(http_port, "/accountz");
  std::set<std::string> names;
  auto accountz = nlohmann::json::parse(r.body);
  for (const auto& n : accountz["accounts"]) names.insert(n.get<std::string>());
  for (const char* n : {"$G", "A", "B", "C", "$SYS"}) {
    EXPECT_EQ(names.count(n), 1u) << n << " " << r.body;
  }

  // One account's details: its connections, imports and exports (the reference's own system
  // imports aside).
  r = HttpGet(http_port, "/accountz?acc=B");
  ASSERT_EQ(r.status, 200) << r.raw;
  auto b_detail = nlohmann::json::parse(r.body)["account_detail"];
  EXPECT_EQ(b_detail["account_name"], "B");
  EXPECT_EQ(b_detail["client_connections"], 1);
  auto has = [](const nlohmann::json& list, const nlohmann::json& want) {
    for (const auto& item : list) {
      if (item == want) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(b_detail["imports"], {{"subject", "events.>"},
                                        {"account", "A"},
                                        {"local_subject", "from_a.events.>"},
                                        {"type", "stream"},
                                        {"invalid", false},
                                        {"share", false},
                                        {"tracking", false}}))
      << b_detail;
  EXPECT_TRUE(has(b_detail["imports"], {{"subject", "echo"},
                                        {"account", "A"},
                                        {"to", "svc.echo"},
                                        {"type", "service"},
                                        {"invalid", false},
                                        {"share", false},
                                        {"tracking", false}}))
      << b_detail;
  r = HttpGet(http_port, "/accountz?acc=A");
  auto a_detail = nlohmann::json::parse(r.body)["account_detail"];
  EXPECT_TRUE(has(a_detail["exports"],
                  {{"subject", "private.>"}, {"type", "stream"}, {"approved_accounts", {"B"}}}))
      << a_detail;
  EXPECT_TRUE(has(a_detail["exports"],
                  {{"subject", "svc.>"}, {"type", "service"}, {"response_type", "Singleton"}}))
      << a_detail;
  r = HttpGet(http_port, "/accountz?acc=NOPE");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Account NOPE does not exist");
}

}  // namespace

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(AccountsTest);

}  // namespace gannet::test
