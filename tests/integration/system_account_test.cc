// The system account: system_account / no_system_account and the keys naming it in /varz and
// /accountz; the monitoring requests on $SYS.REQ.SERVER.* and $SYS.REQ.ACCOUNT.* with the
// reference's options and {"server":...,"data":...} wrapping; the CONNECT, DISCONNECT, CONNS
// and STATSZ events. Each runs against gannet-server and nats-server; the replies and events of
// both are then compared key by key (json_shape.h).
#include <csignal>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "http_client.h"
#include "integration_util.h"
#include "json_shape.h"
#include "test_cluster.h"

namespace gannet::test {
namespace {

using Json = nlohmann::json;

constexpr const char* kAccounts = R"(
accounts {
  SYS { users = [{user: admin, password: pw}] }
  APP { users = [{user: app, password: pw}] }
}
system_account: SYS
)";

// The endpoints every server answers on $SYS.REQ.SERVER.PING.<E>, with their HTTP paths.
const std::pair<const char*, const char*> kEndpoints[] = {
    {"VARZ", "/varz"},         {"CONNZ", "/connz"},     {"SUBSZ", "/subsz"},
    {"ROUTEZ", "/routez"},     {"HEALTHZ", "/healthz"}, {"ACCOUNTZ", "/accountz"},
    {"GATEWAYZ", "/gatewayz"}, {"LEAFZ", "/leafz"}};

std::set<std::string> Keys(const Json& j) {
  std::set<std::string> out;
  for (auto& [k, v] : j.items()) out.insert(k);
  return out;
}

// A client connection that reads its messages one by one (answering the server's PINGs).
class Conn {
 public:
  Conn(int port, std::string_view user, std::string_view pass = "pw") {
    if (!conn_.Connect(port)) Fail("cannot connect");
    Handshake(conn_, R"({"verbose":false,"pedantic":false,"headers":true,"user":")" +
                         std::string(user) + R"(","pass":")" + std::string(pass) + "\"}");
    std::string got = conn_.Flush();
    if (!got.empty()) Fail("CONNECT refused: " + got);
  }
  void Send(std::string_view bytes) {
    if (!conn_.Send(bytes)) Fail("send");
  }
  // SUB and wait until the server has it (its PONG). Messages may come before the PONG (the
  // subscription is live as soon as the server has it, an event may be on its way): they are
  // kept for Next. An -ERR fails the test.
  void Sub(std::string_view subject, int sid) {
    Send("SUB " + std::string(subject) + " " + std::to_string(sid) + "\r\nPING\r\n");
    while (true) {
      bool pong = false;
      auto m = Read(5s, &pong);
      if (pong) return;
      if (!m) Fail("no PONG after SUB " + std::string(subject));
      stash_.push_back(std::move(*m));
    }
  }
  // The next message (those a request read past first), if one comes within the timeout.
  std::optional<Msg> Next(std::chrono::milliseconds timeout = 5s) {
    if (!stash_.empty()) {
      Msg m = std::move(stash_.front());
      stash_.pop_front();
      return m;
    }
    return Read(timeout);
  }
  // The next message on a subject starting with `prefix` (others skipped).
  std::optional<Msg> NextOn(std::string_view prefix, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = Next(left);
      if (!m || m->subject.rfind(prefix, 0) == 0) return m;
    }
  }
  // The next message's JSON body; fails the test if none comes.
  Json NextJson(std::chrono::milliseconds timeout = 5s) {
    auto m = Next(timeout);
    if (!m) Fail("no message came");
    return Json::parse(m->payload);
  }
  // A request on a fresh inbox: the replies that came within the timeout, up to `n`. Other
  // messages read meanwhile are kept for Next.
  std::vector<Json> Request(std::string_view subject, std::string_view body, size_t n = 1,
                            std::chrono::milliseconds timeout = 5s) {
    std::string inbox = "_INBOX.t" + std::to_string(++inboxes_);
    // The server takes the SUB before the PUB that follows it on this connection.
    Send("SUB " + inbox + " " + std::to_string(1000 + inboxes_) + "\r\nPUB " +
         std::string(subject) + " " + inbox + " " + std::to_string(body.size()) + "\r\n" +
         std::string(body) + "\r\n");
    std::vector<Json> out;
    while (out.size() < n) {
      auto m = Read(timeout);
      if (!m) break;
      if (m->subject == inbox) {
        out.push_back(Json::parse(m->payload));
      } else {
        stash_.push_back(std::move(*m));
      }
    }
    return out;
  }
  Json RequestOne(std::string_view subject, std::string_view body = "") {
    auto replies = Request(subject, body);
    if (replies.size() != 1) Fail("no reply to " + std::string(subject));
    return replies[0];
  }
  RawConn& raw() { return conn_; }

 private:
  // The next MSG or HMSG. With `pong`, a PONG ends the wait (*pong set) and an -ERR fails.
  std::optional<Msg> Read(std::chrono::milliseconds timeout, bool* pong = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      std::string line = conn_.ReadLine(left);
      if (line.empty()) return std::nullopt;
      if (line == "PING") {
        Send("PONG\r\n");
        continue;
      }
      if (pong && line == "PONG") {
        *pong = true;
        return std::nullopt;
      }
      if (pong && line.rfind("-ERR", 0) == 0) Fail("SUB answered " + line);
      if (line.rfind("MSG ", 0) != 0 && line.rfind("HMSG ", 0) != 0) continue;
      std::vector<std::string> parts;
      for (size_t pos = 0; pos <= line.size();) {
        size_t space = line.find(' ', pos);
        if (space == std::string::npos) space = line.size();
        parts.push_back(line.substr(pos, space - pos));
        pos = space + 1;
      }
      Msg m;
      m.verb = parts[0];
      m.subject = parts[1];
      m.sid = parts[2];
      size_t size = std::stoul(parts.back());
      if (parts.size() == (m.verb == "MSG" ? 5u : 6u)) m.reply = parts[3];
      std::string body = conn_.ReadExactly(size + 2, left);
      if (body.size() != size + 2) Fail("message body cut short");
      body.resize(size);
      if (m.verb == "HMSG") {
        size_t hdr = std::stoul(parts[parts.size() - 2]);
        m.headers = body.substr(0, hdr);
        body.erase(0, hdr);
      }
      m.payload = std::move(body);
      return m;
    }
    return std::nullopt;
  }

  RawConn conn_;
  int inboxes_ = 0;
  std::deque<Msg> stash_;
};

class SystemAccountTest : public ProtocolTest {
 protected:
  // A server with the SYS and APP accounts and monitoring.
  void StartWithAccounts() {
    http_port_ = FreeTcpPort();
    StartWithConfig(kAccounts, {"-m", std::to_string(http_port_)});
  }
  Json Http(const std::string& target) {
    HttpResult r = HttpGet(http_port_, target);
    if (r.status != 200) Fail(target + " answered " + std::to_string(r.status));
    return Json::parse(r.body);
  }
  int http_port_ = 0;
};

TEST_P(SystemAccountTest, VarzAndAccountzNameTheConfiguredSystemAccount) {
  StartWithAccounts();
  EXPECT_EQ(Http("/varz")["system_account"], "SYS");
  Json accountz = Http("/accountz");
  EXPECT_EQ(accountz["system_account"], "SYS");
  EXPECT_EQ(Http("/accountz?acc=SYS")["account_detail"]["is_system"], true);
  EXPECT_FALSE(Http("/accountz?acc=APP")["account_detail"].contains("is_system"));
}

TEST_P(SystemAccountTest, DefaultSystemAccountIsCreated) {
  int http = FreeTcpPort();
  Start({"-m", std::to_string(http)});
  HttpResult varz = HttpGet(http, "/varz");
  ASSERT_EQ(varz.status, 200);
  EXPECT_EQ(Json::parse(varz.body)["system_account"], "$SYS");
  Json accountz = Json::parse(HttpGet(http, "/accountz").body);
  EXPECT_EQ(accountz["system_account"], "$SYS");
  std::set<std::string> names(accountz["accounts"].begin(), accountz["accounts"].end());
  EXPECT_EQ(names, (std::set<std::string>{"$G", "$SYS"}));
}

TEST_P(SystemAccountTest, NoSystemAccount) {
  int http = FreeTcpPort();
  StartWithConfig("no_system_account: true\n", {"-m", std::to_string(http)});
  EXPECT_FALSE(Json::parse(HttpGet(http, "/varz").body).contains("system_account"));
  Json accountz = Json::parse(HttpGet(http, "/accountz").body);
  EXPECT_FALSE(accountz.contains("system_account"));
  EXPECT_EQ(accountz["accounts"], Json::array({"$G"}));
  // Nothing answers there: a PING reaches the client's own subscription, and nothing else
  // (without it, no responders).
  auto c = Client(R"({"verbose":false,"headers":true,"no_responders":true})");
  EXPECT_EQ(SendAndFlush(*c, "SUB _INBOX.x 1\r\nSUB $SYS.> 2\r\n" +
                                 PubBytes("$SYS.REQ.SERVER.PING", "_INBOX.x", "")),
            MsgBytes("$SYS.REQ.SERVER.PING", "2", "_INBOX.x", ""));
  EXPECT_EQ(SendAndFlush(*c, "UNSUB 2\r\n" + PubBytes("$SYS.REQ.SERVER.PING", "_INBOX.x", "")),
            "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
}

TEST_P(SystemAccountTest, SystemAccountThatDoesNotExistIsRefused) {
  TempDir dir;
  std::string conf = dir.Write("sys.conf", "system_account: NOPE\n");
  int status = 0;
  std::string out = RunToExit({"-c", conf}, &status);
  EXPECT_NE(out.find("error resolving system account: account missing"), std::string::npos) << out;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
}

TEST_P(SystemAccountTest, ServerPingAnswersWithStatsz) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  Json reply = admin.RequestOne("$SYS.REQ.SERVER.PING");
  Json varz = Http("/varz");
  EXPECT_EQ(reply["server"]["id"], varz["server_id"]);
  EXPECT_EQ(reply["server"]["name"], varz["server_name"]);
  EXPECT_EQ(reply["server"]["ver"], "2.9.10");
  EXPECT_TRUE(reply["server"]["seq"].is_number_unsigned());
  EXPECT_EQ(reply["statsz"]["connections"], 1);
  EXPECT_EQ(reply["statsz"]["active_accounts"], 1);
  EXPECT_EQ(reply["statsz"]["start"], varz["start"]);
  // The same document on PING.STATSZ and on this server's own subject.
  for (std::string subject :
       {std::string("$SYS.REQ.SERVER.PING.STATSZ"),
        "$SYS.REQ.SERVER." + varz["server_id"].get<std::string>() + ".STATSZ"}) {
    Json r = admin.RequestOne(subject);
    EXPECT_EQ(Keys(r), (std::set<std::string>{"server", "statsz"})) << subject;
    EXPECT_EQ(r["server"]["id"], varz["server_id"]) << subject;
  }
}

TEST_P(SystemAccountTest, EndpointRequestsAnswerWithTheHttpDocuments) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  std::string id = Http("/varz")["server_id"];
  for (const auto& [endpoint, path] : kEndpoints) {
    Json http = Http(path);
    for (const std::string& subject : {"$SYS.REQ.SERVER.PING." + std::string(endpoint),
                                       "$SYS.REQ.SERVER." + id + "." + std::string(endpoint)}) {
      SCOPED_TRACE(subject);
      Json r = admin.RequestOne(subject);
      EXPECT_EQ(Keys(r), (std::set<std::string>{"server", "data"}));
      EXPECT_EQ(r["server"]["id"], id);
      std::set<std::string> keys = Keys(http);
      // /subsz without subs=1 is the figures alone; the request answers with an empty page.
      if (std::string(endpoint) == "SUBSZ")
        keys.insert({"server_id", "now", "total", "offset", "limit"});
      EXPECT_EQ(Keys(r["data"]), keys);
    }
  }
}

TEST_P(SystemAccountTest, RequestOptionsAreTheReferences) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  Conn app(server().port(), "app");
  app.Sub("app.orders", 7);

  Json connz = admin.RequestOne("$SYS.REQ.SERVER.PING.CONNZ", R"({"subscriptions":true})");
  ASSERT_EQ(connz["data"]["connections"].size(), 2u) << connz.dump();
  std::set<std::string> subjects;
  for (const Json& c : connz["data"]["connections"]) {
    for (const Json& s : c.value("subscriptions_list", Json::array())) subjects.insert(s);
  }
  EXPECT_EQ(subjects.count("app.orders"), 1u);
  Json limited = admin.RequestOne("$SYS.REQ.SERVER.PING.CONNZ", R"({"limit":1,"sort":"cid"})");
  EXPECT_EQ(limited["data"]["connections"].size(), 1u);
  EXPECT_EQ(limited["data"]["limit"], 1);
  Json detail = admin.RequestOne("$SYS.REQ.SERVER.PING.CONNZ", R"({"subscriptions_detail":true})");
  bool has_detail = false;
  for (const Json& c : detail["data"]["connections"]) {
    has_detail |= c.contains("subscriptions_list_detail");
  }
  EXPECT_TRUE(has_detail) << detail.dump();
  Json accountz = admin.RequestOne("$SYS.REQ.SERVER.PING.ACCOUNTZ", R"({"account":"APP"})");
  EXPECT_EQ(accountz["data"]["account_detail"]["account_name"], "APP");
  Json subsz = admin.RequestOne("$SYS.REQ.SERVER.PING.SUBSZ",
                                R"({"subscriptions":true,"test":"app.orders"})");
  EXPECT_EQ(subsz["data"]["subscriptions_list"].size(), 1u) << subsz.dump();

  // A filter that leaves this server out: no reply. The request after it is answered first.
  std::string inbox = "_INBOX.filtered";
  admin.Sub(inbox, 99);
  admin.Send("PUB $SYS.REQ.SERVER.PING.VARZ " + inbox + " " +
             PubBytes("", "", R"({"server_name":"no-such-server"})").substr(5));
  Json next = admin.RequestOne("$SYS.REQ.SERVER.PING.HEALTHZ", R"({"server_name":""})");
  EXPECT_EQ(next["data"]["status"], "ok");
  auto late = admin.Next(50ms);  // a reply to it would have come first: it is stashed
  EXPECT_FALSE(late.has_value()) << late->subject;

  // A body that is not JSON: an error, with the server.
  Json bad = admin.RequestOne("$SYS.REQ.SERVER.PING.VARZ", "{bad");
  EXPECT_EQ(bad["error"]["code"], 400);
  EXPECT_TRUE(bad["error"]["description"].is_string());
  EXPECT_FALSE(bad.contains("data"));
  EXPECT_TRUE(bad["server"]["id"].is_string());
}

TEST_P(SystemAccountTest, AccountRequestsSeeOneAccount) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  Conn app(server().port(), "app");
  app.Sub("app.orders", 7);

  Json connz = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.CONNZ", R"({"auth":true})");
  EXPECT_EQ(connz["data"]["num_connections"], 1) << connz.dump();
  EXPECT_EQ(connz["data"]["connections"][0]["account"], "APP");
  Json subsz = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.SUBSZ");
  // The client's, and in the reference those of its imports of the system services.
  std::set<std::string> subjects;
  for (const Json& s : subsz["data"]["subscriptions_list"]) {
    EXPECT_EQ(s["account"], "APP");
    subjects.insert(s["subject"].get<std::string>());
  }
  EXPECT_EQ(subjects.count("app.orders"), 1u) << subsz.dump();
  Json info = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.INFO");
  EXPECT_EQ(info["data"]["account_name"], "APP");
  EXPECT_EQ(info["data"]["client_connections"], 1);
  Json sys = admin.RequestOne("$SYS.REQ.ACCOUNT.SYS.CONNZ", R"({"auth":true})");
  EXPECT_EQ(sys["data"]["num_connections"], 1);
  EXPECT_EQ(sys["data"]["connections"][0]["account"], "SYS");
}

TEST_P(SystemAccountTest, AccountsAskAboutThemselves) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  Conn app(server().port(), "app");
  app.Sub("app.orders", 7);
  // As the reference: every account imports these from the system account.
  for (const char* subject : {"$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"}) {
    SCOPED_TRACE(subject);
    Json connz = app.RequestOne(subject, R"({"subscriptions":true})");
    ASSERT_EQ(connz["data"]["num_connections"], 1) << connz.dump();  // its own only
    std::set<std::string> subs;  // app.orders and the test's reply inboxes
    for (const Json& sub : connz["data"]["connections"][0]["subscriptions_list"]) {
      subs.insert(sub.get<std::string>());
    }
    EXPECT_EQ(subs.count("app.orders"), 1u) << connz.dump();
  }
  Json statz = app.RequestOne("$SYS.REQ.ACCOUNT.PING.STATZ");
  ASSERT_EQ(statz["data"]["account_statz"].size(), 1u) << statz.dump();
  EXPECT_EQ(statz["data"]["account_statz"][0]["acc"], "APP");
  EXPECT_EQ(statz["data"]["account_statz"][0]["conns"], 1);
  // The system account's users: one account, or all with connections.
  Json one = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.STATZ");
  ASSERT_EQ(one["data"]["account_statz"].size(), 1u);
  EXPECT_EQ(one["data"]["account_statz"][0]["acc"], "APP");
  Json all = admin.RequestOne("$SYS.REQ.ACCOUNT.PING.STATZ");
  std::set<std::string> names;
  for (const Json& a : all["data"]["account_statz"]) names.insert(a["acc"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"APP", "SYS"}));
  Json only = admin.RequestOne("$SYS.REQ.ACCOUNT.PING.STATZ", R"({"accounts":["SYS"]})");
  ASSERT_EQ(only["data"]["account_statz"].size(), 1u);
  EXPECT_EQ(only["data"]["account_statz"][0]["acc"], "SYS");
  // The account's CONNS message, on request.
  Json conns = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.CONNS");
  EXPECT_EQ(conns["type"], "io.nats.server.advisory.v1.account_connections");
  EXPECT_EQ(conns["acc"], "APP");
  EXPECT_EQ(conns["conns"], 1);
  EXPECT_TRUE(admin.Request("$SYS.REQ.ACCOUNT.$G.CONNS", "", 1, 300ms).empty());
  // An account without connections: no reply, unless include_unused.
  EXPECT_TRUE(admin.Request("$SYS.REQ.ACCOUNT.$G.STATZ", "", 1, 300ms).empty());
  Json unused = admin.RequestOne("$SYS.REQ.ACCOUNT.$G.STATZ", R"({"include_unused":true})");
  EXPECT_EQ(unused["data"]["account_statz"][0]["conns"], 0);
  // /accountz lists the imports, and the system account's exports.
  Json detail = Http("/accountz?acc=APP")["account_detail"];
  std::set<std::string> imported;
  for (const Json& i : detail["imports"]) imported.insert(i["subject"].get<std::string>());
  EXPECT_EQ(imported,
            (std::set<std::string>{"$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.SERVER.PING.CONNZ",
                                   "$SYS.REQ.ACCOUNT.PING.STATZ"}));
}

// The counting requests: NSUBS (a peer's question, JSON with the queue as a Go []byte) and
// DEBUG.SUBSCRIBERS ("<subject>[ <queue>]", the asker's account: here the system account's);
// JSZ with JetStream disabled; account claim updates without an operator; and the CLAIMS
// requests only a resolver answers (none here). The same numbers and texts from both servers.
TEST_P(SystemAccountTest, CountsJetStreamAndClaimsAnswerAsTheReference) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  Conn app(server().port(), "app");
  app.Sub("foo", 1);
  app.Sub("foo q1", 2);
  app.Sub("foo q1", 3);
  app.Sub("foo q2", 4);
  app.Sub("f.*", 5);
  auto nsubs = [&](const std::string& body) {
    return admin.RequestOne("$SYS.REQ.ACCOUNT.NSUBS", body);
  };
  EXPECT_EQ(nsubs(R"({"acc":"APP","subject":"foo"})"), 4);
  EXPECT_EQ(nsubs(R"({"acc":"APP","subject":"foo","queue":"cTE="})"), 2);  // "q1"
  EXPECT_EQ(nsubs(R"({"acc":"APP","subject":"f.*"})"), 1);
  EXPECT_EQ(nsubs(R"({"acc":"APP","subject":">"})"), 5);
  EXPECT_EQ(admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "foo"), 0);  // none in SYS
  admin.Sub("foo", 2);
  admin.Sub("foo.bar", 3);
  EXPECT_EQ(admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "foo"), 1);
  EXPECT_EQ(admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "foo.>"), 1);
  EXPECT_EQ(admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "foo q1"), 0);

  Json jsz = admin.RequestOne("$SYS.REQ.SERVER.PING.JSZ");
  EXPECT_EQ(jsz["data"]["disabled"], true) << jsz.dump();
  EXPECT_EQ(jsz["data"]["streams"], 0);
  EXPECT_EQ(jsz["server"]["jetstream"], false);
  Json acc_jsz = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.JSZ");
  EXPECT_TRUE(acc_jsz["data"].is_null()) << acc_jsz.dump();
  EXPECT_EQ(acc_jsz["error"], (Json{{"code", 500}, {"description", "jetstream not enabled"}}));

  Json empty = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.CLAIMS.UPDATE");
  EXPECT_EQ(empty["error"], (Json{{"account", "APP"},
                                  {"code", 500},
                                  {"description", "jwt update error - request body is empty"}}));
  Json garbage = admin.RequestOne("$SYS.ACCOUNT.APP.CLAIMS.UPDATE", "garbage");
  EXPECT_EQ(garbage["error"]["description"], "jwt update resulted in error - expected 3 chunks");

  // Nobody answers the resolver's requests: the next request's reply comes first.
  admin.Sub("_INBOX.claims", 98);
  admin.Send("PUB $SYS.REQ.CLAIMS.LIST _INBOX.claims 0\r\n\r\n");
  admin.Send("PUB $SYS.REQ.ACCOUNT.APP.CLAIMS.LOOKUP _INBOX.claims 0\r\n\r\n");
  EXPECT_EQ(nsubs(R"({"acc":"APP","subject":"foo"})"), 4);
  auto late = admin.Next(50ms);
  EXPECT_FALSE(late.has_value()) << late->subject;
}

// $SYS.DEBUG.SUBSCRIBERS imported by another account counts that account's subscriptions (the
// request's Nats-Request-Info names it).
TEST_P(SystemAccountTest, DebugSubscribersThroughAnImportCountsTheAsker) {
  StartWithConfig(R"(
accounts {
  SYS { users = [{user: admin, password: pw}], exports = [{service: "$SYS.DEBUG.SUBSCRIBERS"}] }
  APP { users = [{user: app, password: pw}],
        imports = [{service: {account: SYS, subject: "$SYS.DEBUG.SUBSCRIBERS"}}] }
}
system_account: SYS
)");
  Conn admin(server().port(), "admin");
  Conn app(server().port(), "app");
  admin.Sub("orders", 1);
  app.Sub("orders", 1);
  app.Sub("orders", 2);
  EXPECT_EQ(app.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "orders"), 2);
  EXPECT_EQ(admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "orders"), 1);
}

// The system account's internal subscriptions are the reference's (events.go
// initEventTracking, and the three system imports of every other account): /varz counts the
// same on an idle server, and with two more accounts.
TEST_P(SystemAccountTest, IdleSubscriptionCountIsTheReferences) {
  int http = FreeTcpPort();
  Start({"-m", std::to_string(http)});
  EXPECT_EQ(Json::parse(HttpGet(http, "/varz").body)["subscriptions"], 43);
}

TEST_P(SystemAccountTest, SubscriptionCountWithAccountsIsTheReferences) {
  StartWithAccounts();
  // SYS (the system account) and APP: 40 + 3 imports in each of $G and APP.
  EXPECT_EQ(Http("/varz")["subscriptions"], 46);
}

TEST_P(SystemAccountTest, ConnectAndDisconnectEvents) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  admin.Sub("$SYS.ACCOUNT.APP.>", 1);
  uint64_t cid = 0;
  {
    Conn app(server().port(), "app");
    app.Send(PubBytes("app.x", "", "hello"));
    EXPECT_EQ(app.raw().Flush(), "");
    cid = Http("/connz?acc=APP")["connections"][0]["cid"];
  }
  std::map<std::string, std::vector<Json>> events;
  while (events["$SYS.ACCOUNT.APP.DISCONNECT"].empty() ||
         events["$SYS.ACCOUNT.APP.SERVER.CONNS"].size() < 2) {
    auto m = admin.Next();
    ASSERT_TRUE(m.has_value()) << "events so far: " << events.size();
    events[m->subject].push_back(Json::parse(m->payload));
  }
  ASSERT_EQ(events["$SYS.ACCOUNT.APP.CONNECT"].size(), 1u);
  const Json& connect = events["$SYS.ACCOUNT.APP.CONNECT"][0];
  EXPECT_EQ(connect["type"], "io.nats.server.advisory.v1.client_connect");
  EXPECT_EQ(connect["client"]["acc"], "APP");
  EXPECT_EQ(connect["client"]["user"], "app");
  EXPECT_EQ(connect["client"]["id"], cid);
  EXPECT_EQ(connect["client"]["kind"], "Client");
  EXPECT_EQ(connect["client"]["client_type"], "nats");
  EXPECT_EQ(connect["server"]["id"], Http("/varz")["server_id"]);
  const Json& disconnect = events["$SYS.ACCOUNT.APP.DISCONNECT"][0];
  EXPECT_EQ(disconnect["type"], "io.nats.server.advisory.v1.client_disconnect");
  EXPECT_EQ(disconnect["client"]["id"], cid);
  EXPECT_EQ(disconnect["reason"], "Client Closed");
  EXPECT_EQ(disconnect["sent"]["msgs"], 1);  // what the client published
  EXPECT_EQ(disconnect["sent"]["bytes"], 5);
  EXPECT_TRUE(disconnect["client"]["stop"].is_string());
  const auto& conns = events["$SYS.ACCOUNT.APP.SERVER.CONNS"];
  EXPECT_EQ(conns[0]["acc"], "APP");
  EXPECT_EQ(conns[0]["conns"], 1);
  EXPECT_EQ(conns[1]["conns"], 0);
  EXPECT_EQ(conns[0]["type"], "io.nats.server.advisory.v1.account_connections");
}

TEST_P(SystemAccountTest, StatszIsPublishedOnItsSubject) {
  StartWithAccounts();
  Conn admin(server().port(), "admin");
  std::string id = Http("/varz")["server_id"];
  admin.Sub("$SYS.SERVER." + id + ".STATSZ", 1);
  // A PING without a reply asks for the message on the server's own subject.
  admin.Send("PUB $SYS.REQ.SERVER.PING 0\r\n\r\n");
  Json statsz = admin.NextJson();
  EXPECT_EQ(statsz["server"]["id"], id);
  EXPECT_TRUE(statsz["statsz"]["mem"].is_number());
  // And the periodic ones follow, each with a new sequence number.
  Json later = admin.NextJson(15s);
  EXPECT_GT(later["server"]["seq"], statsz["server"]["seq"]);
}

TEST_P(SystemAccountTest, OtherAccountsCannotSeeSystemSubjects) {
  StartWithAccounts();
  Conn app(server().port(), "app");
  app.Sub("$SYS.>", 1);
  Conn admin(server().port(), "admin");
  admin.RequestOne("$SYS.REQ.SERVER.PING");
  auto m = app.Next(300ms);
  EXPECT_FALSE(m.has_value()) << m->subject;
  // Nor can they ask: nothing in APP answers $SYS.REQ.SERVER.PING.VARZ.
  EXPECT_TRUE(app.Request("$SYS.REQ.SERVER.PING.VARZ", "", 1, 300ms).empty());
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(SystemAccountTest);

// ---- Across a cluster ----

// Users whose password is their name (TestCluster::Client).
constexpr const char* kClusterAccounts = R"(
accounts {
  SYS { users = [{user: admin, password: admin}] }
  APP { users = [{user: app, password: app}] }
}
system_account: SYS
)";

class SystemAccountClusterTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SystemAccountClusterTest, EveryServerAnswersAndEventsCrossTheRoutes) {
  TestCluster cluster(GetParam(), Routing::kFullMesh, {}, kClusterAccounts);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh(20s, "app"));
  Conn admin(cluster.node(0).client_port, "admin", "admin");
  admin.Sub("$SYS.ACCOUNT.APP.CONNECT", 1);
  admin.Sub("$SYS.SERVER.*.SHUTDOWN", 2);

  // A PING reaches every server once the system account's interest has crossed the routes.
  std::vector<Json> pongs;
  auto deadline = Clock::now() + 20s;
  while (pongs.size() < cluster.size() && Clock::now() < deadline) {
    pongs = admin.Request("$SYS.REQ.SERVER.PING", "", cluster.size(), 1s);
  }
  ASSERT_EQ(pongs.size(), cluster.size());
  std::set<std::string> ids;
  for (const Json& p : pongs) ids.insert(p["server"]["id"].get<std::string>());
  EXPECT_EQ(ids.size(), cluster.size());
  for (const Json& p : pongs) {
    EXPECT_EQ(p["server"]["cluster"], "c");
    EXPECT_EQ(p["statsz"]["routes"].size(), cluster.size() - 1) << p.dump();
  }

  // A user of another account asking about it: every server answers (the request goes on
  // into the system account; the answers come back as a streamed response).
  Conn app(cluster.node(0).client_port, "app", "app");
  std::vector<Json> own = app.Request("$SYS.REQ.SERVER.PING.CONNZ", "", cluster.size());
  ASSERT_EQ(own.size(), cluster.size());
  std::set<std::string> answered;
  for (const Json& r : own) answered.insert(r["server"]["id"].get<std::string>());
  EXPECT_EQ(answered, ids);

  // One server by its id; the others stay silent.
  const size_t last = cluster.size() - 1;
  std::vector<Json> all_varz = admin.Request("$SYS.REQ.SERVER.PING.VARZ", "", cluster.size());
  ASSERT_EQ(all_varz.size(), cluster.size());
  std::string id_last;
  for (const Json& v : all_varz) {
    if (v["data"]["port"] == cluster.node(last).client_port) id_last = v["server"]["id"];
  }
  ASSERT_FALSE(id_last.empty());
  std::vector<Json> direct = admin.Request("$SYS.REQ.SERVER." + id_last + ".CONNZ", "", 2, 500ms);
  ASSERT_EQ(direct.size(), 1u);
  EXPECT_EQ(direct[0]["data"]["server_id"], id_last);

  // A client connecting to the last server: its CONNECT event reaches the first one.
  // (The first server's own CONNECT events, of the client above, come first.)
  Json connect = Json::object();
  {
    auto app_last = cluster.Client(last, "app");
    while (connect.value("server", Json::object()).value("id", "") != id_last) {
      std::optional<Msg> event = admin.NextOn("$SYS.ACCOUNT.APP.CONNECT");
      ASSERT_TRUE(event.has_value());
      connect = Json::parse(event->payload);
    }
  }
  EXPECT_EQ(connect["client"]["acc"], "APP");

  // The last server shuts down: its SHUTDOWN event reaches the first one.
  cluster.node(last).process->Stop();
  std::optional<Msg> shutdown = admin.NextOn("$SYS.SERVER.");
  ASSERT_TRUE(shutdown.has_value());
  EXPECT_EQ(shutdown->subject, "$SYS.SERVER." + id_last + ".SHUTDOWN");
  EXPECT_EQ(Json::parse(shutdown->payload)["id"], id_last);
}

// $SYS.DEBUG.SUBSCRIBERS adds up the cluster: the asking server counts its own and asks the
// servers where the account has clients ($SYS.REQ.ACCOUNT.NSUBS, answered to its
// $SYS._INBOX.<hash>. inbox), then answers with the sum.
TEST_P(SystemAccountClusterTest, DebugSubscribersAddsUpTheCluster) {
  TestCluster cluster(GetParam(), Routing::kFullMesh, {}, kClusterAccounts);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh(20s, "admin"));
  Conn admin(cluster.node(0).client_port, "admin", "admin");
  Conn far(cluster.node(1).client_port, "admin", "admin");
  admin.Sub("count.me", 1);
  far.Sub("count.me", 1);
  far.Sub("count.me q", 2);
  // Until node 0 has heard of node 1's clients of SYS (its CONNS events), the sum is local.
  Json n;
  for (auto deadline = Clock::now() + 20s; n != 3 && Clock::now() < deadline;) {
    n = admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "count.me");
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "count.me q"), 1);
  EXPECT_EQ(admin.RequestOne("$SYS.DEBUG.SUBSCRIBERS", "count.*"), 3);
}

INSTANTIATE_TEST_SUITE_P(Clusters, SystemAccountClusterTest,
                         ::testing::Values("GGG", "NNN", "GNG"));

constexpr const char* kLimitedApp = R"(
accounts {
  SYS { users = [{user: admin, password: admin}] }
  APP { users = [{user: app, password: app}], limits: { max_connections: 2 } }
}
system_account: SYS
)";

// One more client of APP on the server `port`: whether it was refused for the account's
// max_connections (else it was admitted: PONG).
bool RefusedForAccountConnections(int port) {
  RawConn c;
  if (!c.Connect(port)) Fail("connect");
  Handshake(c, R"({"verbose":false,"user":"app","pass":"app"})");
  c.Send("PING\r\n");
  std::string line = c.ReadLine();
  if (line != "PONG" && line != "-ERR 'maximum account active connections exceeded'") {
    Fail("unexpected answer: " + line);
  }
  return line != "PONG";
}

// An account's max_connections counts its clients on every server of the cluster (the CONNS
// events tell each server the others' counts), as the reference.
TEST_P(SystemAccountClusterTest, AccountMaxConnectionsIsClusterWide) {
  TestCluster cluster(GetParam(), Routing::kFullMesh, {}, kLimitedApp);
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh(20s, "admin"));
  Conn admin(cluster.node(0).client_port, "admin", "admin");
  admin.Sub("$SYS.SERVER.ACCOUNT.APP.CONNS", 1);
  std::string id0 = admin.RequestOne("$SYS.REQ.SERVER.PING")["server"]["id"];
  auto first = cluster.Client(0, "app");
  auto second = cluster.Client(1, "app");
  // The first server hears of the second's client...
  bool heard = false;
  while (!heard) {
    auto m = admin.NextOn("$SYS.SERVER.ACCOUNT.APP.CONNS", 10s);
    ASSERT_TRUE(m.has_value());
    Json conns = Json::parse(m->payload);
    heard = conns["server"]["id"] != id0 && conns["conns"] == 1;
  }
  // ...and refuses a third client once it has taken that in: its events thread may take the
  // event a moment after the admin had it (both got it from the same delivery), so a probe
  // let in before then is closed and the next one tried.
  auto deadline = Clock::now() + 10s;
  bool refused = false;
  while (!(refused = RefusedForAccountConnections(cluster.node(0).client_port)) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(refused);
}

class SystemAccountLameDuckTest : public ::testing::TestWithParam<std::string> {};

// A server in lame duck mode closes its clients (each a DISCONNECT event) and, once it exits,
// says so (SHUTDOWN): a system account user on its peer hears it. (The reference may exit
// before the last client's DISCONNECT goes out: two clients, the first one's is checked.)
TEST_P(SystemAccountLameDuckTest, DisconnectsThenShutdownReachThePeer) {
  TestCluster cluster(GetParam(), Routing::kFullMesh, {},
                      std::string(kClusterAccounts) +
                          "lame_duck_grace_period: \"1s\"\nlame_duck_duration: \"30s\"\n");
  ASSERT_TRUE(cluster.StartAll());
  ASSERT_TRUE(cluster.WaitMesh(20s, "app"));
  Conn admin(cluster.node(0).client_port, "admin", "admin");
  // (The probes of WaitMesh may still be leaving: their events can come at once.)
  admin.Send("SUB $SYS.ACCOUNT.APP.DISCONNECT 1\r\nSUB $SYS.SERVER.*.SHUTDOWN 2\r\n");
  // The second server's id, once the subscriptions above have reached it.
  std::string id;
  auto deadline = Clock::now() + 20s;
  while (id.empty() && Clock::now() < deadline) {
    for (const Json& v : admin.Request("$SYS.REQ.SERVER.PING.VARZ", "", 2, 1s)) {
      if (v["data"]["port"] == cluster.node(1).client_port) id = v["server"]["id"];
    }
  }
  ASSERT_FALSE(id.empty());
  auto app = cluster.Client(1, "app");
  auto app2 = cluster.Client(1, "app");
  cluster.node(1).process->Signal(SIGUSR2);
  // The probes of WaitMesh closed as clients do ("Client Closed"); these by the server.
  Json d = Json::object();
  while (d.value("reason", "") != "Server Shutdown") {
    std::optional<Msg> disconnect = admin.NextOn("$SYS.ACCOUNT.APP.DISCONNECT", 10s);
    ASSERT_TRUE(disconnect.has_value());
    d = Json::parse(disconnect->payload);
  }
  EXPECT_EQ(d["server"]["id"], id);
  std::optional<Msg> shutdown = admin.NextOn("$SYS.SERVER.", 10s);
  ASSERT_TRUE(shutdown.has_value());
  EXPECT_EQ(shutdown->subject, "$SYS.SERVER." + id + ".SHUTDOWN");
}

INSTANTIATE_TEST_SUITE_P(Clusters, SystemAccountLameDuckTest, ::testing::Values("GG", "NN", "GN"));

// ---- The replies and events of both servers, key by key ----

struct Scenario {
  std::unique_ptr<ServerProcess> server;
  std::map<std::string, Json> docs;

  explicit Scenario(ServerKind kind) {
    TempDir dir;
    std::string conf = dir.Write("sys.conf", kAccounts);
    server = std::make_unique<ServerProcess>(kind, std::vector<std::string>{"-c", conf});
    if (!server->Start()) Fail("server did not start");
    Conn admin(server->port(), "admin");
    admin.Sub("$SYS.ACCOUNT.APP.>", 1);
    {
      Conn app(server->port(), "app");
      app.Sub("app.orders", 7);
      docs["PING"] = admin.RequestOne("$SYS.REQ.SERVER.PING");
      for (const auto& [endpoint, path] : kEndpoints) {
        docs[endpoint] = admin.RequestOne("$SYS.REQ.SERVER.PING." + std::string(endpoint));
      }
      docs["CONNZ subs"] =
          admin.RequestOne("$SYS.REQ.SERVER.PING.CONNZ", R"({"subscriptions_detail":true})");
      docs["SUBSZ subs"] =
          admin.RequestOne("$SYS.REQ.SERVER.PING.SUBSZ", R"({"subscriptions":true})");
      docs["ACCOUNTZ APP"] =
          admin.RequestOne("$SYS.REQ.SERVER.PING.ACCOUNTZ", R"({"account":"APP"})");
      for (const char* e : {"CONNZ", "SUBSZ", "INFO", "STATZ"}) {
        docs[std::string("APP ") + e] = admin.RequestOne("$SYS.REQ.ACCOUNT.APP." + std::string(e));
      }
      docs["ACCOUNT PING STATZ"] = admin.RequestOne("$SYS.REQ.ACCOUNT.PING.STATZ");
      docs["APP CONNS"] = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.CONNS");
      docs["SYS INFO"] = admin.RequestOne("$SYS.REQ.ACCOUNT.SYS.INFO");
      // What a user of APP may ask about its own account.
      docs["APP asks PING.CONNZ"] = app.RequestOne("$SYS.REQ.SERVER.PING.CONNZ");
      docs["APP asks ACCOUNT.PING.STATZ"] = app.RequestOne("$SYS.REQ.ACCOUNT.PING.STATZ");
      docs["bad JSON"] = admin.RequestOne("$SYS.REQ.SERVER.PING.VARZ", "{bad");
      docs["JSZ"] = admin.RequestOne("$SYS.REQ.SERVER.PING.JSZ");
      docs["APP JSZ"] = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.JSZ");
      docs["APP CLAIMS.UPDATE"] = admin.RequestOne("$SYS.REQ.ACCOUNT.APP.CLAIMS.UPDATE", "x");
    }
    while (!docs.count("$SYS.ACCOUNT.APP.DISCONNECT") ||
           !docs.count("$SYS.ACCOUNT.APP.SERVER.CONNS")) {
      auto m = admin.Next();
      if (!m) Fail("the events did not come");
      if (m->subject.rfind("$SYS.ACCOUNT.APP.", 0) == 0) docs[m->subject] = Json::parse(m->payload);
    }
  }
};

TEST(SystemAccountCompatTest, RepliesAndEventsHaveEveryReferenceKeyWithTheSameType) {
  Scenario ours(ServerKind::kGannet);
  Scenario ref(ServerKind::kNatsServer);
  for (auto& [name, doc] : ref.docs) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(ours.docs.count(name));
    std::vector<std::string> problems;
    CompareShape(doc, ours.docs[name], name, problems);
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems)
                                  << "\nreference: " << doc.dump(2)
                                  << "\nours: " << ours.docs[name].dump(2);
    // The top level has no key the reference lacks.
    EXPECT_EQ(Keys(ours.docs[name]), Keys(doc));
  }
}

// /subsz lists the system account's own subscriptions as the reference lists its internal
// clients': the same subjects in the same accounts on an idle server (the server's id replaced,
// the hash of its name, the same, kept).
TEST(SystemAccountCompatTest, InternalSubscriptionsAreTheReferences) {
  auto subjects = [](ServerKind kind) {
    TempDir dir;
    std::string conf = dir.Write("named.conf", "server_name: fixed\n");
    int http = FreeTcpPort();
    ServerProcess server(kind, {"-c", conf, "-m", std::to_string(http)});
    if (!server.Start()) Fail("server did not start");
    Json varz = Json::parse(HttpGet(http, "/varz").body);
    std::string id = varz["server_id"];
    Json subsz = Json::parse(HttpGet(http, "/subsz?subs=1&limit=1000").body);
    std::multiset<std::string> out;
    for (const Json& sub : subsz.value("subscriptions_list", Json::array())) {
      std::string subject = sub["subject"];
      if (size_t at = subject.find(id); at != std::string::npos)
        subject.replace(at, id.size(), "<id>");
      out.insert(sub["account"].get<std::string>() + " " + subject);
    }
    EXPECT_EQ(out.size(), subsz["num_subscriptions"].get<size_t>());
    return out;
  };
  std::multiset<std::string> ours = subjects(ServerKind::kGannet);
  std::multiset<std::string> ref = subjects(ServerKind::kNatsServer);
  EXPECT_EQ(ours, ref);
  EXPECT_EQ(ref.size(), 43u);
}

}  // namespace
}  // namespace gannet::test
