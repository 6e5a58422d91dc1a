// Config reload (SIGHUP, --signal reload) with clients connected, against both servers: changed
// and removed users, changed permissions, a publisher that loses nothing across a reload,
// refused options and broken files (the old configuration stays), lowered max_connections; and
// bcrypt CONNECTs checked off the worker thread (other clients are not held up, and what a
// client sent after its CONNECT is handled once the CONNECT is accepted).
#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

#include "integration_util.h"
#include "tls_support.h"

namespace gannet::test {
namespace {

constexpr std::string_view kViolation = "-ERR 'Authorization Violation'\r\n";
// bcrypt hashes of "s3cret" at cost 10 (tens of milliseconds) and 11 (twice that).
constexpr const char* kHash10 = "$2a$10$9jAfCteB0ybX.e9UhrVMYOrAxHPjlg02RNRXtTtifvO5/oxQE.FKy";
constexpr const char* kHash11 = "$2a$11$ut1V5n.ulb2pdo7IOzFqaeGJsWuPzVMPYtAeZTL6k9U96avEii5Y.";

std::string Connect(std::string_view user, std::string_view pass) {
  return R"({"verbose":false,"user":")" + std::string(user) + R"(","pass":")" + std::string(pass) +
         "\"}";
}

// What a connection received before the PONG of its PING, without the server's own PINGs (the
// first comes 2 s after CONNECT, which a loaded machine may reach during a bcrypt check).
std::string FlushSkippingPings(RawConn& conn) {
  std::string got = conn.Flush(20s);
  for (size_t at = got.find("PING\r\n"); at != std::string::npos; at = got.find("PING\r\n")) {
    got.erase(at, 6);
  }
  return got;
}

size_t Count(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class ReloadTest : public ProtocolTest {
 protected:
  // Starts the server on a config file that Reload rewrites.
  ServerProcess& StartReloadable(std::string_view config, std::vector<std::string> args = {}) {
    conf_ = dir_.Write("server.conf", config);
    args.insert(args.begin(), {"-c", conf_});
    return Start(std::move(args));
  }
  // Rewrites the config file, sends SIGHUP and waits for the outcome; returns what the server
  // logged meanwhile.
  std::string Reload(std::string_view config) {
    dir_.Write("server.conf", config);
    return AwaitReload([this] { server().Signal(SIGHUP); });
  }
  // Runs `trigger` and waits until the server logs that a reload succeeded or failed.
  std::string AwaitReload(const std::function<void()>& trigger) {
    std::string before = server().Output();
    size_t outcomes = Outcomes(before);
    trigger();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string now = before;
    while (Outcomes(now) == outcomes) {
      if (std::chrono::steady_clock::now() > deadline) Fail("no reload outcome logged:\n" + now);
      std::this_thread::sleep_for(5ms);  // polling the server's log
      now = server().Output();
    }
    return now.substr(before.size());
  }
  static size_t Outcomes(const std::string& log) {
    return Count(log, "Reloaded server configuration") +
           Count(log, "Failed to reload server configuration");
  }
  // Dials and sends `connect_json` after INFO.
  std::unique_ptr<RawConn> DialConnect(std::string_view connect_json) {
    auto conn = DialInfo();
    conn->Send("CONNECT " + std::string(connect_json) + "\r\n");
    return conn;
  }
  // The server binary with `args`; its exit status.
  int Run(const std::vector<std::string>& args) { return RunServerCommand(kind(), args); }

  TempDir dir_;
  std::string conf_;
};

TEST_P(ReloadTest, ChangedPasswordClosesThatUsersClients) {
  StartReloadable("authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }");
  auto a = Client(Connect("a", "pa"));
  auto b = Client(Connect("b", "pb"));
  std::string log =
      Reload("authorization { users = [ {user: a, password: pa2}, {user: b, password: pb} ] }");
  EXPECT_NE(log.find("[INF] Reloaded: authorization users"), std::string::npos) << log;
  EXPECT_NE(log.find("authentication error - User \"a\""), std::string::npos) << log;
  EXPECT_TRUE(ClosesWith(*a, kViolation));
  EXPECT_EQ(b->Flush(), "");
  auto a2 = Client(Connect("a", "pa2"));
  auto stale = DialConnect(Connect("a", "pa"));
  EXPECT_TRUE(ClosesWith(*stale, kViolation));
}

TEST_P(ReloadTest, AddedUserMayConnectRemovedUsersClientsClose) {
  StartReloadable("authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }");
  auto a = Client(Connect("a", "pa"));
  auto b = Client(Connect("b", "pb"));
  auto early = DialConnect(Connect("c", "pc"));
  EXPECT_TRUE(ClosesWith(*early, kViolation));
  Reload("authorization { users = [ {user: a, password: pa}, {user: c, password: pc} ] }");
  // As the reference: a client whose user is gone is closed without an -ERR.
  EXPECT_TRUE(ClosesWith(*b, ""));
  EXPECT_EQ(a->Flush(), "");
  auto c = Client(Connect("c", "pc"));
  EXPECT_EQ(SendAndFlush(*c, "SUB x 1\r\nPUB x 2\r\nhi\r\n"), MsgBytes("x", "1", "", "hi"));
}

TEST_P(ReloadTest, ChangedPermissionsApplyToConnectedClients) {
  constexpr std::string_view kBefore = R"(authorization { users = [
    {user: a, password: pa}
    {user: b, password: pb, permissions: {publish: ["x", "y"], subscribe: ["foo", "bar"]}}
  ] })";
  constexpr std::string_view kAfter = R"(authorization { users = [
    {user: a, password: pa}
    {user: b, password: pb, permissions: {publish: ["x"], subscribe: ["foo"]}}
  ] })";
  StartReloadable(kBefore);
  auto a = Client(Connect("a", "pa"));
  auto b = Client(Connect("b", "pb"));
  EXPECT_EQ(SendAndFlush(*b, "SUB foo 1\r\nSUB bar 2\r\nPUB y 2\r\nhi\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a, "PUB foo 1\r\n1\r\nPUB bar 1\r\n2\r\n"), "");
  EXPECT_EQ(b->Flush(), MsgBytes("foo", "1", "", "1") + MsgBytes("bar", "2", "", "2"));

  std::string log = Reload(kAfter);
  EXPECT_NE(log.find("Removed sub \"bar\" (sid \"2\") for User \"b\" - not authorized"),
            std::string::npos)
      << log;
  EXPECT_EQ(b->ReadLine(), "-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"2\")'");
  // The remaining subscription still delivers; the removed one no longer does.
  EXPECT_EQ(SendAndFlush(*a, "PUB foo 1\r\n3\r\nPUB bar 1\r\n4\r\n"), "");
  EXPECT_EQ(b->Flush(), MsgBytes("foo", "1", "", "3"));
  // Publishing to "y" was allowed (and remembered) before; now it is not.
  EXPECT_EQ(SendAndFlush(*b, "PUB y 2\r\nhi\r\n"),
            "-ERR 'Permissions Violation for Publish to \"y\"'\r\n");
  EXPECT_EQ(SendAndFlush(*b, "PUB x 2\r\nhi\r\n"), "");
  // New subscriptions follow the new permissions too.
  EXPECT_EQ(SendAndFlush(*b, "SUB bar 4\r\n"),
            "-ERR 'Permissions Violation for Subscription to \"bar\"'\r\n");
}

TEST_P(ReloadTest, UnchangedClientsLoseNoMessageAcrossReload) {
  constexpr std::string_view kBefore = R"(authorization { users = [
    {user: pub, password: p}
    {user: sub, password: s, permissions: {subscribe: "count"}}
    {user: other, password: o, permissions: {subscribe: ["foo", "bar"]}}
  ] })";
  constexpr std::string_view kAfter = R"(authorization { users = [
    {user: pub, password: p}
    {user: sub, password: s, permissions: {subscribe: "count"}}
    {user: other, password: o, permissions: {subscribe: "foo"}}
  ] })";
  StartReloadable(kBefore);
  auto sub = Client(Connect("sub", "s"));
  EXPECT_EQ(SendAndFlush(*sub, "SUB count 1\r\n"), "");
  auto pub = Client(Connect("pub", "p"));

  // The publisher runs until the reload is over (and at least 2,000 messages), in batches of
  // 100 each confirmed by a PONG; the reload is triggered once it is under way.
  std::atomic<int> sent{0};
  std::atomic<bool> reloaded{false};
  std::string pub_errors;
  std::thread publisher([&] {
    int i = 0;
    while ((i < 2000 || !reloaded.load()) && i < 200000) {
      std::string batch;
      for (int end = i + 100; i < end; ++i) batch += PubBytes("count", "", std::to_string(i));
      pub->Send(batch);
      pub_errors += pub->Flush(10s);
      sent.store(i);
    }
  });
  while (sent.load() < 500) std::this_thread::sleep_for(1ms);  // waiting for the publisher
  std::string log = Reload(kAfter);
  reloaded.store(true);
  publisher.join();
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
  EXPECT_EQ(pub_errors, "");
  const int total = sent.load();
  EXPECT_GT(total, 500);
  std::string got = sub->ReadUntil(MsgBytes("count", "1", "", std::to_string(total - 1)), 20s);
  Parsed parsed = ParseStream(got);
  ASSERT_EQ(parsed.msgs.size(), static_cast<size_t>(total));
  for (int i = 0; i < total; ++i) ASSERT_EQ(parsed.msgs[i].payload, std::to_string(i));
  EXPECT_EQ(sub->Flush(), "");
}

TEST_P(ReloadTest, RefusedOptionKeepsTheOldConfiguration) {
  const int port = FreeTcpPort();
  const int other = FreeTcpPort();
  const std::string users = "authorization { users = [ {user: a, password: pa} ] }\n";
  conf_ = dir_.Write("server.conf", "listen: \"127.0.0.1:" + std::to_string(port) + "\"\n" + users);
  StartOnConfigPort(port, {"-c", conf_});
  auto a = Client(Connect("a", "pa"));
  std::string log = Reload("listen: \"127.0.0.1:" + std::to_string(other) + "\"\n" +
                           "authorization { users = [ {user: a, password: pa}, "
                           "{user: b, password: pb} ] }\n");
  EXPECT_NE(log.find("[ERR] Failed to reload server configuration: config reload not supported "
                     "for Port: old=" +
                     std::to_string(port) + ", new=" + std::to_string(other)),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("Reloaded"), std::string::npos) << log;
  // Nothing of the new file applies: not the user, not the port.
  EXPECT_EQ(a->Flush(), "");
  auto b = DialConnect(Connect("b", "pb"));
  EXPECT_TRUE(ClosesWith(*b, kViolation));
  // Another refused option, on the same server: max_pending.
  log = Reload("listen: \"127.0.0.1:" + std::to_string(port) + "\"\nmax_pending: 100000\n" + users);
  EXPECT_NE(log.find("config reload not supported for MaxPending: old=67108864, new=100000"),
            std::string::npos)
      << log;
}

TEST_P(ReloadTest, BrokenFileKeepsTheOldConfiguration) {
  StartReloadable("authorization { users = [ {user: a, password: pa} ] }\n");
  auto a = Client(Connect("a", "pa"));
  std::string log = Reload("authorization { users = [ {user: a, password: new} ] }\nport: [\n");
  EXPECT_NE(log.find("[ERR] Failed to reload server configuration: "), std::string::npos) << log;
  EXPECT_EQ(a->Flush(), "");
  auto again = Client(Connect("a", "pa"));
  EXPECT_EQ(SendAndFlush(*again, "SUB x 1\r\nPUB x 2\r\nhi\r\n"), MsgBytes("x", "1", "", "hi"));
}

TEST_P(ReloadTest, SignalReloadThroughPidFile) {
  std::string pid_file = dir_.path() + "/server.pid";
  StartReloadable("authorization { users = [ {user: a, password: pa} ] }\n", {"-P", pid_file});
  auto early = DialConnect(Connect("b", "pb"));
  EXPECT_TRUE(ClosesWith(*early, kViolation));
  dir_.Write("server.conf",
             "authorization { users = [ {user: a, password: pa}, {user: b, password: pb} ] }\n");
  std::string log = AwaitReload([&] {
    EXPECT_EQ(Run({"--signal", "reload=" + pid_file}), 0) << "--signal reload failed";
  });
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
  auto b = Client(Connect("b", "pb"));
  EXPECT_EQ(b->Flush(), "");
}

TEST_P(ReloadTest, LoweredMaxConnectionsClosesTheExtraClients) {
  StartReloadable("max_connections: 10\n");
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 3; ++i) conns.push_back(Client());
  std::string log = Reload("max_connections: 1\n");
  EXPECT_NE(log.find("Reloaded: max_connections = 1"), std::string::npos) << log;
  int closed = 0;
  for (auto& c : conns) {
    c->Send("PING\r\n");
    std::string line = c->ReadLine();
    if (line == "PONG") continue;
    EXPECT_EQ(line, "-ERR 'maximum connections exceeded'");
    EXPECT_TRUE(c->WaitClosed());
    ++closed;
  }
  EXPECT_EQ(closed, 2);
}

TEST_P(ReloadTest, ChangedBcryptHashIsCheckedAgain) {
  StartReloadable(std::string("authorization { users = [ {user: a, password: \"") + kHash10 +
                  "\"}, {user: b, password: \"" + kHash10 + "\"} ] }\n");
  auto a = Client(Connect("a", "s3cret"));
  auto b = Client(Connect("b", "s3cret"));
  // a: another hash of the same password (checked again, passes); b: another password.
  Reload(std::string("authorization { users = [ {user: a, password: \"") + kHash11 +
         "\"}, {user: b, password: \"other\"} ] }\n");
  EXPECT_TRUE(ClosesWith(*b, kViolation));
  EXPECT_EQ(SendAndFlush(*a, "SUB x 1\r\nPUB x 2\r\nhi\r\n"), MsgBytes("x", "1", "", "hi"));
}

// The bcrypt check of a CONNECT (cost 11: a tenth of a second or more) does not hold up
// another client of the same worker (gannet: one worker thread): that client's PING is answered
// while the CONNECT is still being checked, and the commands sent right after the CONNECT are
// handled, in order, once it is accepted.
TEST_P(ReloadTest, BcryptConnectDoesNotHoldUpOtherClients) {
  // Traced, so the test can see when the server has read the CONNECT.
  std::vector<std::string> args{"-V"};
  if (kind() == ServerKind::kGannet) args = {"-V", "--threads", "1"};
  StartReloadable(std::string("authorization { users = [ {user: slow, password: \"") + kHash11 +
                      "\"}, {user: fast, password: quick} ] }\n",
                  args);
  auto fast = Client(Connect("fast", "quick"));
  EXPECT_EQ(SendAndFlush(*fast, "SUB foo 9\r\n"), "");
  auto slow = DialInfo();
  slow->Send("CONNECT " + Connect("slow", "s3cret") +
             "\r\nSUB foo 1\r\nPUB foo 5\r\nearly\r\nPING\r\n");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server().Output().find("\"user\":\"slow\"") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the CONNECT was not traced";
    std::this_thread::sleep_for(1ms);  // polling the server's log
  }
  // The CONNECT is being checked: the other client is served meanwhile.
  EXPECT_EQ(FlushSkippingPings(*fast), "");
  EXPECT_EQ(slow->ReadUntil("PONG\r\n", 1ms), "") << "the bcrypt CONNECT finished first";
  // Once accepted, what came after the CONNECT is handled in order: SUB, PUB, PING.
  std::string accepted = slow->ReadUntil("PONG\r\n", 20s);
  if (accepted.starts_with("PING\r\n")) accepted.erase(0, 6);  // the server's first PING
  EXPECT_EQ(accepted, MsgBytes("foo", "1", "", "early") + "PONG\r\n");
  EXPECT_EQ(FlushSkippingPings(*fast), MsgBytes("foo", "9", "", "early"));
  // A wrong password: what follows the CONNECT is never handled.
  auto wrong = DialInfo();
  wrong->Send("CONNECT " + Connect("slow", "nope") + "\r\nPUB foo 4\r\nlost\r\n");
  EXPECT_TRUE(ClosesWith(*wrong, kViolation, 20s));
  EXPECT_EQ(FlushSkippingPings(*fast), "");
}

// Accounts across a reload: a user moved to another account has its clients closed (without
// -ERR, as the reference) and connects again into the new one; the others stay in theirs.
TEST_P(ReloadTest, UserMovedToAnotherAccountIsClosed) {
  StartReloadable(R"(accounts {
  A: { users: [ {user: a, password: a}, {user: m, password: m} ] }
  B: { users: [ {user: b, password: b} ] }
})");
  auto a = Client(Connect("a", "a"));
  auto moved = Client(Connect("m", "m"));
  auto b = Client(Connect("b", "b"));
  EXPECT_EQ(SendAndFlush(*a, "SUB x 1\r\n"), "");
  std::string log = Reload(R"(accounts {
  A: { users: [ {user: a, password: a} ] }
  B: { users: [ {user: b, password: b}, {user: m, password: m} ] }
})");
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
  EXPECT_TRUE(ClosesWith(*moved, ""));
  auto again = Client(Connect("m", "m"));
  EXPECT_EQ(SendAndFlush(*b, "SUB x 1\r\n"), "");
  // m is now in B: it reaches b, not a (whose subscription survived the reload).
  EXPECT_EQ(SendAndFlush(*again, "PUB x 1\r\nm\r\n"), "");
  EXPECT_EQ(SendAndFlush(*b, ""), MsgBytes("x", "1", "", "m"));
  EXPECT_EQ(SendAndFlush(*a, "PUB x 1\r\na\r\n"), MsgBytes("x", "1", "", "a"));
}

// A reload changes what is in the accounts (imports, exports, mappings, limits): the clients
// stay connected, and those of accounts that did not change lose nothing — a publisher and a
// subscriber of U exchange every one of their messages across it, counted exactly.
TEST_P(ReloadTest, AccountChangesKeepTheClients) {
  const std::string users = R"(
  U: { users: [ {user: u, password: u}, {user: u2, password: u2} ] }
  C: { users: [ {user: c, password: c} ] })";
  StartReloadable(
      "accounts {\n  A: { users: [ {user: a, password: a} ], exports: [{stream: "
      "\"news.>\"}] }\n  B: { users: [ {user: b, password: b} ] }" +
      users + "\n}\n");
  auto a = Client(Connect("a", "a"));
  auto b = Client(Connect("b", "b"));
  auto c = Client(Connect("c", "c"));
  auto sub = Client(Connect("u", "u"));
  auto pub = Client(Connect("u2", "u2"));
  EXPECT_EQ(SendAndFlush(*b, "SUB a.news.> 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*c, "SUB out 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*sub, "SUB steady 3\r\n"), "");
  // Before: B imports nothing, C maps nothing.
  EXPECT_EQ(SendAndFlush(*a, PubBytes("news.x", "", "before")), "");
  EXPECT_EQ(SendAndFlush(*c, PubBytes("in", "", "before")), "");
  EXPECT_EQ(SendAndFlush(*b, ""), "");

  // U's traffic runs across the reload.
  constexpr int kMessages = 100000;
  MessageCounter counter(*sub, kMessages);
  std::thread publisher([&] {
    for (int i = 0; i < kMessages / 100; ++i) {
      std::string batch;
      for (int k = 0; k < 100; ++k) batch += PubBytes("steady", "", "m");
      pub->Send(batch);
    }
  });
  // The reload starts once the traffic is flowing (a condition, polled).
  for (int i = 0; i < 5000 && counter.count() < 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_LT(counter.count(), kMessages);  // still flowing when the reload starts
  std::string log = Reload(
      "accounts {\n  A: { users: [ {user: a, password: a} ], exports: [{stream: \"news.>\"}] }\n"
      "  B: { users: [ {user: b, password: b} ], imports: [{stream: {account: A, subject: "
      "\"news.>\"}, prefix: a}] }" +
      users.substr(0, users.size() - 1) + ", mappings: { in: out } }\n}\n");
  publisher.join();
  counter.Join();
  EXPECT_EQ(counter.count(), kMessages);
  EXPECT_FALSE(counter.closed());
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
  EXPECT_EQ(log.find("Failed to reload"), std::string::npos) << log;

  // After: the new import and mapping apply, on the same connections. (b and c were idle all
  // along: in a slow, sanitized run the server's first PING may be waiting there too.)
  auto without_pings = [](std::string got) {
    for (size_t at = got.find("PING\r\n"); at != std::string::npos; at = got.find("PING\r\n", at)) {
      if (at == 0 || got[at - 1] == '\n') {
        got.erase(at, 6);
      } else {
        at += 6;
      }
    }
    return got;
  };
  EXPECT_EQ(SendAndFlush(*a, PubBytes("news.x", "", "after")), "");
  EXPECT_EQ(without_pings(SendAndFlush(*b, "")), MsgBytes("a.news.x", "1", "", "after"));
  // A new client of C has the mapping. (nats-server 2.9.10 leaves it out for the clients of C
  // connected before the reload, Gannet applies it to them too: not compared.)
  auto c_new = Client(Connect("c", "c"));
  EXPECT_EQ(SendAndFlush(*c_new, PubBytes("in", "", "mapped")), "");
  EXPECT_EQ(without_pings(SendAndFlush(*c, "")), MsgBytes("out", "2", "", "mapped"));
  EXPECT_EQ(pub->Flush(), "");
}

// A reload adds and removes accounts (reload.go reloadAuthorization): the clients of a removed
// account are closed (without -ERR: their users are gone) and its users refused; a new
// account's users connect and its imports apply; the clients of an account that stays lose
// nothing — U's publisher and subscriber exchange every message across the reload, counted.
TEST_P(ReloadTest, AccountsAddedAndRemoved) {
  const std::string kept =
      "  A: { users: [ {user: a, password: a} ], exports: [{stream: \"news.>\"}] }\n"
      "  U: { users: [ {user: u, password: u}, {user: u2, password: u2} ] }\n";
  StartReloadable("accounts {\n" + kept + "  R: { users: [ {user: r, password: r} ] }\n}\n");
  auto a = Client(Connect("a", "a"));
  auto r = Client(Connect("r", "r"));
  auto sub = Client(Connect("u", "u"));
  auto pub = Client(Connect("u2", "u2"));
  EXPECT_EQ(SendAndFlush(*r, "SUB steady 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*sub, "SUB steady 3\r\n"), "");

  constexpr int kMessages = 100000;
  MessageCounter counter(*sub, kMessages);
  std::thread publisher([&] {
    for (int i = 0; i < kMessages / 100; ++i) {
      std::string batch;
      for (int k = 0; k < 100; ++k) batch += PubBytes("steady", "", "m");
      pub->Send(batch);
    }
  });
  for (int i = 0; i < 5000 && counter.count() < 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // until the traffic flows
  }
  EXPECT_LT(counter.count(), kMessages);  // still flowing when the reload starts
  std::string log =
      Reload("accounts {\n" + kept +
             "  N: { users: [ {user: n, password: n} ], imports: [{stream: {account: A, subject: "
             "\"news.>\"}, prefix: a}] }\n}\n");
  publisher.join();
  counter.Join();
  EXPECT_EQ(counter.count(), kMessages);
  EXPECT_FALSE(counter.closed());
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
  EXPECT_EQ(log.find("Failed to reload"), std::string::npos) << log;

  // R's client is closed without -ERR (it received nothing of U's traffic); r is refused now.
  EXPECT_TRUE(ClosesWith(*r, ""));
  auto refused = DialConnect(Connect("r", "r"));
  EXPECT_TRUE(ClosesWith(*refused, kViolation));
  // N's users connect, and its import of A's stream applies.
  auto n = Client(Connect("n", "n"));
  EXPECT_EQ(SendAndFlush(*n, "SUB a.news.> 1\r\nSUB steady 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*a, PubBytes("news.x", "", "hi")), "");
  EXPECT_EQ(SendAndFlush(*n, ""), MsgBytes("a.news.x", "1", "", "hi"));
  // Accounts stay apart: U's subject is not N's.
  EXPECT_EQ(SendAndFlush(*pub, PubBytes("steady", "", "u")), "");
  EXPECT_EQ(SendAndFlush(*n, ""), "");

  // R comes back: its users connect again, into an account of their own.
  log = Reload("accounts {\n" + kept + "  R: { users: [ {user: r, password: r} ] }\n}\n");
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
  EXPECT_TRUE(ClosesWith(*n, ""));
  auto r2 = Client(Connect("r", "r"));
  EXPECT_EQ(SendAndFlush(*r2, "SUB steady 1\r\nPUB steady 1\r\nr\r\n"),
            MsgBytes("steady", "1", "", "r"));
  EXPECT_EQ(SendAndFlush(*sub, ""), MsgBytes("steady", "3", "", "u"));
  EXPECT_EQ(sub->Flush(), "");
}

// ---- cluster {}: what a reload may change (reload.go clusterOption, routesOption) ----

// A cluster block listening on `port`, with `extra` lines inside.
std::string ClusterConf(int port, const std::string& extra = "") {
  return "cluster {\n  listen: 127.0.0.1:" + std::to_string(port) + "\n" + extra + "}\n";
}

TEST_P(ReloadTest, ClusterRoutesAddedAndRemoved) {
  const int port = FreeTcpPort();
  const std::string a = "nats://127.0.0.1:" + std::to_string(FreeTcpPort());
  const std::string b = "nats://127.0.0.1:" + std::to_string(FreeTcpPort());
  StartReloadable(ClusterConf(port, "  name: c1\n  routes: [" + a + "]\n"));
  auto c = Client();
  std::string log = Reload(ClusterConf(port, "  name: c1\n  routes: [" + b + ", " + a + "]\n"));
  EXPECT_NE(log.find("[INF] Reloaded: cluster routes"), std::string::npos) << log;
  EXPECT_EQ(log.find("Reloaded: cluster\n"), std::string::npos) << log;  // nothing else changed
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
  // The same routes in another order: nothing to reload.
  log = Reload(ClusterConf(port, "  name: c1\n  routes: [" + a + ", " + b + "]\n"));
  EXPECT_EQ(log.find("Reloaded: cluster"), std::string::npos) << log;
  log = Reload(ClusterConf(port, "  name: c1\n  routes: [" + b + "]\n"));
  EXPECT_NE(log.find("[INF] Reloaded: cluster routes"), std::string::npos) << log;
  EXPECT_EQ(c->Flush(), "");
}

TEST_P(ReloadTest, ClusterSettingsAreReloaded) {
  const int port = FreeTcpPort();
  StartReloadable(ClusterConf(port, "  name: c1\n"));
  std::string log = Reload(ClusterConf(
      port,
      "  name: c2\n  no_advertise: true\n  connect_retries: 4\n  advertise: \"127.0.0.1:1\"\n"
      "  authorization { user: ruser, password: rpass }\n  permissions { import: \"foo.>\" }\n"));
  EXPECT_NE(log.find("[INF] Reloaded: cluster\n"), std::string::npos) << log;
  EXPECT_NE(log.find("Reloaded server configuration"), std::string::npos) << log;
}

TEST_P(ReloadTest, ClusterHostAndPortAreRefused) {
  const int port = FreeTcpPort();
  const int other = FreeTcpPort();
  StartReloadable(ClusterConf(port, "  name: c1\n"));
  std::string log = Reload(ClusterConf(other, "  name: c1\n"));
  EXPECT_NE(log.find("[ERR] Failed to reload server configuration: config reload not supported "
                     "for cluster port: old=" +
                     std::to_string(port) + ", new=" + std::to_string(other)),
            std::string::npos)
      << log;
  log = Reload("cluster {\n  listen: 127.0.0.2:" + std::to_string(port) + "\n}\n");
  EXPECT_NE(log.find("config reload not supported for cluster host: old=127.0.0.1, new=127.0.0.2"),
            std::string::npos)
      << log;
  // Clustering cannot be stopped.
  log = Reload("");
  EXPECT_NE(log.find("config reload not supported for cluster host: old=127.0.0.1, new="),
            std::string::npos)
      << log;
  log = Reload(ClusterConf(port, "  advertise: \"1.2.3.4:abc\"\n"));
  EXPECT_NE(log.find("Failed to reload server configuration: invalid Cluster.Advertise value of "
                     "1.2.3.4:abc, err=strconv.Atoi: parsing \"abc\": invalid syntax"),
            std::string::npos)
      << log;
}

TEST_P(ReloadTest, ClusteringCannotBeStarted) {
  StartReloadable("debug: false\n");
  std::string log = Reload(ClusterConf(FreeTcpPort()));
  EXPECT_NE(log.find("[ERR] Failed to reload server configuration: config reload not supported "
                     "for cluster host: old=, new=127.0.0.1"),
            std::string::npos)
      << log;
  log = Reload("cluster {\n  port: " + std::to_string(FreeTcpPort()) + "\n}\n");
  EXPECT_NE(log.find("config reload not supported for cluster host: old=, new=0.0.0.0"),
            std::string::npos)
      << log;
}

TEST_P(ReloadTest, InsecureRouteTlsIsWarnedAbout) {
  const TestCerts& certs = Certs();
  const int port = FreeTcpPort();
  const std::string tls = "  tls {\n    cert_file: \"" + certs.server_cert +
                          "\"\n    key_file: \"" + certs.server_key + "\"\n    ca_file: \"" +
                          certs.ca + "\"\n";
  StartReloadable(ClusterConf(port, tls + "  }\n"));
  // With route TLS every reload reloads the cluster (its TLS configuration never compares equal).
  std::string log = Reload(ClusterConf(port, tls + "  }\n"));
  EXPECT_NE(log.find("[INF] Reloaded: cluster\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("DO NOT USE IN PRODUCTION"), std::string::npos) << log;
  log = Reload(ClusterConf(port, tls + "    insecure: true\n  }\n"));
  EXPECT_NE(log.find("[WRN] TLS certificate chain and hostname of solicited routes will not be "
                     "verified. DO NOT USE IN PRODUCTION!"),
            std::string::npos)
      << log;
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(ReloadTest);

}  // namespace
}  // namespace gannet::test
