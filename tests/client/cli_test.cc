// The `gannet` tool as a user runs it, against gannet-server and the reference nats-server.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sanitizer_report.h"
#include "server_test.h"
#include "tls_support.h"
#include "tool_process.h"

namespace gannet::test {
namespace {

using namespace std::chrono_literals;

// `gannet ARGS...` as a user runs it.
class Tool : public ToolProcess {
 public:
  explicit Tool(std::vector<std::string> args, int stdin_fd = -1)
      : ToolProcess(GANNET_CLI_PATH, std::move(args), stdin_fd) {}
};

class CliTest : public ServerTest {
 protected:
  void SetUp() override { url_ = Start().url(); }
  std::string url_;
};

TEST_P(CliTest, PubAndSub) {
  Tool sub({"sub", "-s", url_, "greet.*", "--count", "2"});
  ASSERT_TRUE(sub.WaitForStderr("Subscribing on greet.*")) << sub.err();
  Tool pub1({"pub", "-s", url_, "greet.joe", "hello", "-H", "Trace: 7"});
  ASSERT_EQ(pub1.Wait(), 0) << pub1.err();
  EXPECT_NE(pub1.out().find("Published 5 bytes to \"greet.joe\""), std::string::npos) << pub1.out();
  Tool pub2({"pub", "--server", url_, "greet.ann", "bye", "--reply", "back"});
  ASSERT_EQ(pub2.Wait(), 0) << pub2.err();
  ASSERT_EQ(sub.Wait(), 0) << sub.err();
  EXPECT_EQ(sub.out(),
            "[#1] Received on \"greet.joe\"\nTrace: 7\n\nhello\n\n"
            "[#2] Received on \"greet.ann\" with reply \"back\"\nbye\n\n");
}

TEST_P(CliTest, PubReadsPipedStandardInput) {
  Tool sub({"sub", "-s", url_, "piped", "--count", "1", "--raw"});
  ASSERT_TRUE(sub.WaitForStderr("Subscribing on piped"));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "from stdin", 10), 10);
  close(fds[1]);
  Tool pub({"pub", "-s", url_, "piped"}, fds[0]);
  close(fds[0]);
  ASSERT_EQ(pub.Wait(), 0) << pub.err();
  ASSERT_EQ(sub.Wait(), 0);
  EXPECT_EQ(sub.out(), "from stdin\n");
}

TEST_P(CliTest, PubCountAndQueueSub) {
  Tool a({"sub", "-s", url_, "jobs", "--queue", "w", "--raw"});
  Tool b({"sub", "-s", url_, "jobs", "--queue", "w", "--raw"});
  ASSERT_TRUE(a.WaitForStderr("Subscribing on jobs in group w"));
  ASSERT_TRUE(b.WaitForStderr("Subscribing on jobs in group w"));
  Tool pub({"pub", "-s", url_, "jobs", "job", "--count", "200", "--quiet"});
  ASSERT_EQ(pub.Wait(), 0) << pub.err();
  EXPECT_EQ(pub.out(), "");
  auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  // The messages reached the server; wait until the subscribers have printed them all.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (lines(a.out()) + lines(b.out()) < 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polling the output files for a condition
  }
  a.Signal(SIGTERM);
  b.Signal(SIGTERM);
  ASSERT_EQ(a.Wait(), 0);
  ASSERT_EQ(b.Wait(), 0);
  // Each message went to exactly one member of the group.
  EXPECT_GT(lines(a.out()), 0);
  EXPECT_GT(lines(b.out()), 0);
  EXPECT_EQ(lines(a.out()) + lines(b.out()), 200) << a.out().size() << " " << b.out().size();
}

TEST_P(CliTest, RequestAndReply) {
  Tool svc({"reply", "-s", url_, "time.now", "noon", "--count", "1"});
  ASSERT_TRUE(svc.WaitForStderr("Listening on \"time.now\" in group \"NATS-RPLY-22\""));
  Tool req({"request", "-s", url_, "time.now", "what time?", "--raw"});
  ASSERT_EQ(req.Wait(), 0) << req.err();
  EXPECT_EQ(req.out(), "noon\n");
  ASSERT_EQ(svc.Wait(), 0);
  EXPECT_NE(svc.out().find("what time?"), std::string::npos) << svc.out();

  Tool none({"request", "-s", url_, "nobody", "x", "--timeout", "2s"});
  EXPECT_EQ(none.Wait(), 1);
  EXPECT_NE(none.err().find("no responders"), std::string::npos) << none.err();
}

TEST_P(CliTest, BenchJson) {
  Tool pubsub({"bench", "-s", url_, "--msgs", "20000", "--size", "64", "--pub", "2", "--sub", "2",
               "--json"});
  ASSERT_EQ(pubsub.Wait(60s), 0) << pubsub.err() << pubsub.out();
  auto j = nlohmann::json::parse(pubsub.out());
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["mode"], "fanout");
  EXPECT_EQ(j["expected"], 40000);
  EXPECT_EQ(j["received"], 40000);
  EXPECT_EQ(j["lost"], 0);
  EXPECT_GT(j["rate"].get<double>(), 0);
  EXPECT_EQ(j["pub_clients"].size(), 2u);
  EXPECT_EQ(j["sub_clients"].size(), 2u);

  Tool queue({"bench", "-s", url_, "--msgs", "10000", "--sub", "3", "--queue", "--json"});
  ASSERT_EQ(queue.Wait(60s), 0) << queue.err();
  auto q = nlohmann::json::parse(queue.out());
  EXPECT_EQ(q["mode"], "queue");
  EXPECT_EQ(q["received"], 10000);

  Tool req({"bench", "-s", url_, "--msgs", "500", "--request", "--json"});
  ASSERT_EQ(req.Wait(60s), 0) << req.err();
  auto r = nlohmann::json::parse(req.out());
  EXPECT_EQ(r["mode"], "reqrep");
  EXPECT_EQ(r["completed"], 500);
  EXPECT_GT(r["p50_us"].get<double>(), 0);
  EXPECT_LE(r["p50_us"].get<double>(), r["p99_us"].get<double>());
  EXPECT_LE(r["p99_us"].get<double>(), r["max_us"].get<double>());
}

TEST_P(CliTest, BenchTextAndCsv) {
  Tool text({"bench", "-s", url_, "--msgs", "5000", "--sub", "1", "--no-progress"});
  ASSERT_EQ(text.Wait(60s), 0) << text.err();
  EXPECT_NE(text.out().find("NATS Pub/Sub stats:"), std::string::npos) << text.out();
  EXPECT_NE(text.out().find(" Pub stats:"), std::string::npos);
  EXPECT_NE(text.out().find(" Sub stats:"), std::string::npos);
  Tool csv({"bench", "-s", url_, "--msgs", "5000", "--pub", "2", "--csv"});
  ASSERT_EQ(csv.Wait(60s), 0) << csv.err();
  std::string out = csv.out();
  EXPECT_EQ(out.rfind("#RunID, ClientID, MsgCount", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);  // header + 2 publishers
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS_SANITIZED(CliTest);

// gannet server ...: over the system account (SYS), with an APP client to see.
class CliServerTest : public ServerTest {
 protected:
  void SetUp() override {
    url_ = StartWithConfig(R"(
server_name: cli-srv
accounts {
  SYS { users = [{user: admin, password: pw}] }
  APP { users = [{user: app, password: pw}] }
}
system_account: SYS
)")
               .url();
  }
  std::vector<std::string> Admin(std::vector<std::string> args) {
    std::vector<std::string> out = {"server"};
    out.insert(out.end(), args.begin(), args.end());
    out.insert(out.end(), {"-s", url_, "--user", "admin", "--password", "pw"});
    return out;
  }
  std::string url_;
};

TEST_P(CliServerTest, ListPingAndInfo) {
  Tool list(Admin({"list", "--expect", "1"}));
  ASSERT_EQ(list.Wait(), 0) << list.err();
  EXPECT_NE(list.out().find("Name"), std::string::npos) << list.out();
  EXPECT_NE(list.out().find("cli-srv"), std::string::npos) << list.out();
  EXPECT_NE(list.out().find("1 servers"), std::string::npos) << list.out();

  Tool json(Admin({"list", "--expect", "1", "--json"}));
  ASSERT_EQ(json.Wait(), 0) << json.err();
  auto servers = nlohmann::json::parse(json.out());
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]["server"]["name"], "cli-srv");
  EXPECT_EQ(servers[0]["statsz"]["connections"], 1);  // the tool itself

  Tool ping(Admin({"ping", "--expect", "1", "--json"}));
  ASSERT_EQ(ping.Wait(), 0) << ping.err();
  auto pongs = nlohmann::json::parse(ping.out());
  ASSERT_EQ(pongs.size(), 1u);
  EXPECT_EQ(pongs[0]["name"], "cli-srv");
  EXPECT_GT(pongs[0]["rtt_ms"].get<double>(), 0);

  Tool info(Admin({"info", "cli-srv"}));
  ASSERT_EQ(info.Wait(), 0) << info.err();
  EXPECT_NE(info.out().find("Server information for cli-srv"), std::string::npos) << info.out();
  EXPECT_NE(info.out().find("System Account: SYS"), std::string::npos) << info.out();
  Tool info_json(Admin({"info", "--json"}));
  ASSERT_EQ(info_json.Wait(), 0) << info_json.err();
  EXPECT_EQ(nlohmann::json::parse(info_json.out())["server_name"], "cli-srv");
  Tool nobody(Admin({"info", "no-such-server", "--timeout", "500ms"}));
  EXPECT_EQ(nobody.Wait(), 1);
  EXPECT_NE(nobody.err().find("no server named no-such-server answered"), std::string::npos)
      << nobody.err();
}

TEST_P(CliServerTest, ReportConnectionsAndAccounts) {
  Tool app({"sub", "-s", url_, "--user", "app", "--password", "pw", "orders", "--name", "shop"});
  ASSERT_TRUE(app.WaitForStderr("Subscribing on orders")) << app.err();

  Tool conns(Admin({"report", "connections", "--expect", "1", "--json"}));
  ASSERT_EQ(conns.Wait(), 0) << conns.err();
  auto list = nlohmann::json::parse(conns.out());
  ASSERT_EQ(list.size(), 2u) << conns.out();  // the subscriber and the tool
  bool shop = false;
  for (const auto& c : list) {
    if (c.value("name", "") != "shop") continue;
    shop = true;
    EXPECT_EQ(c["account"], "APP");
    EXPECT_EQ(c["subscriptions"], 1);
    EXPECT_EQ(c["server"]["name"], "cli-srv");
  }
  EXPECT_TRUE(shop) << conns.out();
  Tool app_only(Admin({"report", "connections", "--account", "APP", "--expect", "1"}));
  ASSERT_EQ(app_only.Wait(), 0) << app_only.err();
  EXPECT_NE(app_only.out().find("shop"), std::string::npos) << app_only.out();
  EXPECT_NE(app_only.out().find("1 connections"), std::string::npos) << app_only.out();

  Tool accounts(Admin({"report", "accounts", "--expect", "1", "--json"}));
  ASSERT_EQ(accounts.Wait(), 0) << accounts.err();
  auto per = nlohmann::json::parse(accounts.out());
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& a : per) by_name[a["account"]] = a;
  ASSERT_EQ(by_name.size(), 2u) << accounts.out();
  EXPECT_EQ(by_name["APP"]["connections"], 1);
  EXPECT_EQ(by_name["APP"]["subscriptions"], 1);
  EXPECT_EQ(by_name["SYS"]["connections"], 1);
  Tool table(Admin({"report", "accounts", "--expect", "1"}));
  ASSERT_EQ(table.Wait(), 0) << table.err();
  EXPECT_NE(table.out().find("Account"), std::string::npos) << table.out();
  EXPECT_NE(table.out().find("2 accounts, 2 connections"), std::string::npos) << table.out();
  app.Signal(SIGTERM);
  EXPECT_EQ(app.Wait(), 0);
}

TEST_P(CliServerTest, OnlyTheSystemAccountGetsAnswers) {
  Tool list(
      {"server", "list", "-s", url_, "--user", "app", "--password", "pw", "--timeout", "500ms"});
  EXPECT_EQ(list.Wait(), 1);
  EXPECT_NE(list.out().find("0 servers"), std::string::npos) << list.out();
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS_SANITIZED(CliServerTest);

TEST_P(CliTest, Credentials) {
  ServerProcess& secured = Start({"--user", "bob", "--pass", "pw"});
  Tool ok({"pub", "-s", secured.url(), "--user", "bob", "--password", "pw", "x", "y"});
  EXPECT_EQ(ok.Wait(), 0) << ok.err();
  Tool in_url({"pub", "-s", "nats://bob:pw@127.0.0.1:" + std::to_string(secured.port()), "x", "y"});
  EXPECT_EQ(in_url.Wait(), 0) << in_url.err();
  Tool wrong({"pub", "-s", secured.url(), "--user", "bob", "--password", "nope", "x", "y"});
  EXPECT_EQ(wrong.Wait(), 1);
  EXPECT_NE(wrong.err().find("authorization violation"), std::string::npos) << wrong.err();
  ServerProcess& tokened = Start({"--auth", "s3cr3t"});
  Tool token({"pub", "-s", tokened.url(), "--token", "s3cr3t", "x", "y"});
  EXPECT_EQ(token.Wait(), 0) << token.err();
}

TEST_P(CliTest, Tls) {
  const TestCerts& c = Certs();
  ServerProcess& secured =
      StartWithConfig("tls { cert_file: \"" + c.server_cert + "\", key_file: \"" + c.server_key +
                      "\", ca_file: \"" + c.ca + "\", verify: true }\n");
  std::string url = "tls://localhost:" + std::to_string(secured.port());
  std::vector<std::string> tls = {"--tlsca",     c.ca,       "--tlscert",
                                  c.client_cert, "--tlskey", c.client_key};
  std::vector<std::string> sub_args = {"sub", "-s", url, "--count", "1", "--raw", "t.x"};
  sub_args.insert(sub_args.end(), tls.begin(), tls.end());
  Tool sub(sub_args);
  ASSERT_TRUE(sub.WaitForStderr("Subscribing on t.x")) << sub.err();
  std::vector<std::string> pub_args = {"pub", "-s", url, "t.x", "over tls"};
  pub_args.insert(pub_args.end(), tls.begin(), tls.end());
  Tool pub(pub_args);
  EXPECT_EQ(pub.Wait(), 0) << pub.err();
  EXPECT_EQ(sub.Wait(), 0) << sub.err();
  EXPECT_EQ(sub.out(), "over tls\n");
  // Without the client certificate the server refuses the tool.
  Tool refused({"pub", "-s", url, "--tlsca", c.ca, "t.x", "no"});
  EXPECT_EQ(refused.Wait(), 1);
}

TEST(Cli, UnreachableServerAndBadUsage) {
  std::string url = "nats://127.0.0.1:" + std::to_string(FreeTcpPort());
  Tool pub({"pub", "-s", url, "x", "y"});
  EXPECT_EQ(pub.Wait(), 1);
  EXPECT_NE(pub.err().find("gannet: cannot connect to " + url), std::string::npos) << pub.err();
  EXPECT_NE(pub.err().find("Connection refused"), std::string::npos) << pub.err();
  Tool bad({"pub", "--bogus", "x"});
  EXPECT_EQ(bad.Wait(), 2);
  EXPECT_NE(bad.err().find("unknown option: --bogus"), std::string::npos) << bad.err();
  Tool unknown({"frobnicate"});
  EXPECT_EQ(unknown.Wait(), 2);
  EXPECT_NE(unknown.err().find("unknown command 'frobnicate'"), std::string::npos);
}

}  // namespace
}  // namespace gannet::test
