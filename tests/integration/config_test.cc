// The configuration file as the reference reads it: the same file given to gannet-server and
// nats-server must be accepted or refused the same way, with the same effect or error.
#include <stdlib.h>
#include <sys/wait.h>

#include "integration_util.h"
#include "tls_support.h"

namespace gannet::test {
namespace {

class ConfigTest : public ProtocolTest {
 protected:
  TempDir dir_;
};

TEST_P(ConfigTest, EverySyntaxFormTakesEffect) {
  int port = FreeTcpPort();
  setenv("GANNET_TEST_MAX_PAYLOAD", "2KB", 1);
  dir_.Write("limits.conf", "max_control_line: 2048\n");
  std::string conf = dir_.Write("main.conf",
                                "# comment\n"
                                "// another comment\n"
                                "PORT_VAR = " +
                                    std::to_string(port) +
                                    "\n"
                                    "host: \"127.0.0.1\"\n"
                                    "port: $PORT_VAR\n"
                                    "max_payload = $GANNET_TEST_MAX_PAYLOAD\n"
                                    "include ./limits.conf\n"
                                    "ping_interval: \"2m\"\n"
                                    "write_deadline \"3s\"\n"
                                    "debug: false; trace: no\n"
                                    "authorization {\n"
                                    "  timeout: 1.5\n"
                                    "}\n");
  ServerProcess& s = Start({"-c", conf, "-p", std::to_string(port)});
  EXPECT_EQ(s.Output().find("unknown field"), std::string::npos) << s.Output();
  RawConn c;
  ASSERT_TRUE(c.Connect(port));
  auto info = nlohmann::json::parse(c.ReadLine().substr(5));
  EXPECT_EQ(info["max_payload"], 2048);
  EXPECT_EQ(info["port"], port);
  unsetenv("GANNET_TEST_MAX_PAYLOAD");
  s.Stop();
}

TEST_P(ConfigTest, UnknownTopLevelFieldIsAnError) {
  std::string conf = dir_.Write("bad.conf", "port: 4222\nfoo: 1\n");
  int status = 0;
  std::string out = RunToExit({"-c", conf}, &status);
  EXPECT_NE(out.find(conf + ":2:1: unknown field \"foo\""), std::string::npos) << out;
  EXPECT_NE(status, 0);
}

TEST_P(ConfigTest, CheckModeReportsValidFile) {
  std::string conf = dir_.Write("ok.conf", "port: 4222\nmax_payload: 1MB\n");
  int status = 0;
  std::string out = RunToExit({"-c", conf, "-t"}, &status);
  EXPECT_NE(out.find("configuration file " + conf + " is valid"), std::string::npos) << out;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_P(ConfigTest, BareSecondsAreAnErrorWhenChecking) {
  std::string conf = dir_.Write("secs.conf", "ping_interval: 5\n");
  int status = 0;
  std::string out = RunToExit({"-c", conf, "-t"}, &status);
  EXPECT_NE(out.find("invalid use of field \"ping_interval\": ping_interval should be converted "
                     "to a duration"),
            std::string::npos)
      << out;
  EXPECT_NE(status, 0);
}

TEST_P(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  std::string conf = dir_.Write("syntax.conf", "port: 4222\nauthorization {\n  user: a\n");
  int status = 0;
  std::string out = RunToExit({"-c", conf}, &status);
  EXPECT_NE(out.find("Unexpected EOF processing map"), std::string::npos) << out;
  // The reference says only "Parse error on line 4"; Gannet names the file and column too.
  if (kind() == ServerKind::kGannet) {
    EXPECT_NE(out.find(conf + ":4:1: "), std::string::npos) << out;
  }
  EXPECT_EQ(out.find("Usage:"), std::string::npos) << out;
  EXPECT_NE(status, 0);
}

TEST_P(ConfigTest, MissingIncludeIsAnError) {
  std::string conf = dir_.Write("inc.conf", "include ./nowhere.conf\n");
  int status = 0;
  std::string out = RunToExit({"-c", conf}, &status);
  EXPECT_NE(out.find("nowhere.conf"), std::string::npos) << out;
  EXPECT_NE(status, 0);
}

TEST_P(ConfigTest, FlagsOverrideTheFile) {
  int port = FreeTcpPort();
  std::string conf = dir_.Write("p.conf", "port: 1\nmax_payload: 4096\n");
  ServerProcess& s = Start({"-c", conf, "-p", std::to_string(port)});
  EXPECT_EQ(s.port(), port);
  s.Stop();
}

TEST_P(ConfigTest, ClusterBlockIsAccepted) {
  int cluster_port = FreeTcpPort();
  int dead_port = FreeTcpPort();
  ServerProcess& s = StartWithConfig(
      "cluster {\n"
      "  name: c1\n"
      "  listen: 127.0.0.1:" +
      std::to_string(cluster_port) +
      "\n"
      "  no_advertise: true\n"
      "  connect_retries: 2\n"
      "  routes: [\n"
      "    nats-route://ruser:rpass@127.0.0.1:" +
      std::to_string(dead_port) +
      "\n"
      "  ]\n"
      "  authorization { user: ruser, password: rpass, timeout: 2 }\n"
      "  permissions { import: \"foo.>\", export: { allow: \">\", deny: \"secret.>\" } }\n"
      "}\n");
  EXPECT_EQ(s.Output().find("[ERR] Failed"), std::string::npos) << s.Output();
  // Clients are served as ever.
  RawConn c;
  ASSERT_TRUE(c.Connect(s.port()));
  EXPECT_EQ(c.ReadLine().substr(0, 5), "INFO ");
}

TEST_P(ConfigTest, ClusterFlagsAreAccepted) {
  int cluster_port = FreeTcpPort();
  ServerProcess& s =
      Start({"--cluster", "nats://127.0.0.1:" + std::to_string(cluster_port), "--cluster_name",
             "c1", "--routes", "nats://127.0.0.1:" + std::to_string(FreeTcpPort()),
             "--no_advertise", "--connect_retries", "3", "--cluster_advertise", "127.0.0.1",
             "--client_advertise", "127.0.0.1:4222"});
  EXPECT_EQ(s.Output().find("[ERR] Failed"), std::string::npos) << s.Output();
}

// ---- The same files and flags given to both servers: the same verdicts, in the same words ----

// What a server printed when it exits at once (-t, or a refused file or flag), without its
// program name, and its exit status.
struct Verdict {
  std::string output;
  int status = -1;
};
Verdict RunToExit(ServerKind kind, const std::vector<std::string>& args) {
  ServerProcess p(kind, args);  // -a and -p come first, `args` last
  EXPECT_FALSE(p.Start(5s));
  Verdict v;
  int status = p.Stop();
  v.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  v.output = p.Output();
  for (const char* name : {"nats-server: ", "gannet-server: "}) {
    for (size_t at = v.output.find(name); at != std::string::npos; at = v.output.find(name)) {
      v.output.erase(at, std::string_view(name).size());
    }
  }
  while (!v.output.empty() && (v.output.back() == '\n' || v.output.back() == ' ')) {
    v.output.pop_back();
  }
  return v;
}

// Each text (errors on lines after the first, route URLs unquoted: Gannet reports the columns
// of the first line and of quoted array items one further than the reference does).
TEST(ConfigBothServers, ClusterBlockCheckedAsTheReference) {
  const TestCerts& certs = Certs();
  const std::string tls_files = "    cert_file: \"" + certs.server_cert + "\"\n    key_file: \"" +
                                certs.server_key + "\"\n    ca_file: \"" + certs.ca + "\"\n";
  const std::vector<std::string> texts = {
      // Valid.
      "cluster {\n  name: c1\n  listen: 127.0.0.1:6222\n  advertise: \"10.0.0.1:6222\"\n"
      "  no_advertise: true\n  connect_retries: 5\n  routes: [\n"
      "    nats-route://ruser:rpass@127.0.0.1:6223\n    nats://127.0.0.1:6224\n  ]\n"
      "  authorization {\n    user: ruser\n    password: rpass\n    timeout: 0.5\n  }\n"
      "  permissions {\n    import: [\"foo.>\"]\n    export: { allow: \"bar.>\", deny: "
      "\"bar.secret\" }\n  }\n  tls {\n" +
          tls_files +
          "    verify_cert_and_check_known_urls: true\n    connection_rate_limit: 5\n"
          "    timeout: 3\n  }\n}",
      "cluster {\n  name: \"a b\"\n  port: 70000\n  routes: [\n    a:1\n    nats://h\n  ]\n}",
      "cluster {\n  tls {}\n  authorization { user: a, password: \"$2a$11$x\", timeout: \"5s\" "
      "}\n}",
      // Refused.
      "port: 4222\ncluster: 5",
      "cluster {\n  name: 1\n}",
      "cluster {\n  port: \"x\"\n}",
      "cluster {\n  host: 1\n}",
      "cluster {\n  listen: 1.5\n}",
      "cluster {\n  listen: \"127.0.0.1\"\n}",
      "cluster {\n  listen: \"a:b:1\"\n}",
      "cluster {\n  listen: \":abc\"\n}",
      "cluster {\n  routes: \"nats://a:1\"\n}",
      "cluster {\n  routes: [\n    nats://a:1\n    1\n  ]\n}",
      "cluster {\n  routes: [\n    nats://a:1\n    nats://a:1\n  ]\n}",
      "cluster {\n  routes: [\n    nats://a:1\n    nats://x:abc\n  ]\n}",
      "cluster {\n  advertise: 5\n}",
      "cluster {\n  no_advertise: \"yes\"\n}",
      "cluster {\n  connect_retries: \"x\"\n}",
      "cluster {\n  pool_size: 3\n}",
      "cluster {\n  compression: s2_auto\n}",
      "cluster {\n  authorization { users: [{user: a, password: b}] }\n}",
      "cluster {\n  authorization { token: abc }\n}",
      "cluster {\n  authorization { user: a, password: b, permissions: { import: foo } }\n}",
      "cluster {\n  authorization { user: 1 }\n}",
      "cluster {\n  authorization: 1\n}",
      "cluster {\n  authorization { user: a, bogus: 1 }\n}",
      "cluster {\n  permissions { import: foo, allow_responses: true }\n}",
      "cluster {\n  permissions { import: foo, bogus: 1 }\n}",
      "cluster {\n  permissions: x\n}",
      "cluster {\n  permissions { export: \"a..b\" }\n}",
      "cluster {\n  permissions { import: { allow: x, foo: 1 } }\n}",
      "cluster {\n  tls: 1\n}",
      "cluster {\n  tls {\n    foo: 1\n  }\n}",
      "cluster {\n  tls {\n    cert_file: \"" + certs.server_cert + "\"\n  }\n}",
      "cluster {\n  tls {\n    cert_file: /nonexistent.pem\n    key_file: /nonexistent.key\n  }\n}",
      "cluster {\n  tls {\n    timeout: \"x\"\n  }\n}",
      "cluster {\n  tls {\n    pinned_certs: [\n      abc\n    ]\n  }\n}",
      "tls {\n  cert_file: \"" + certs.server_cert + "\"\n  key_file: \"" + certs.server_key +
          "\"\n  verify_cert_and_check_known_urls: true\n}",
      "port: 4222\nping_interval: 5",
  };
  TempDir dir;
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    std::string conf = dir.Write("cluster.conf", text + "\n");
    Verdict reference = RunToExit(ServerKind::kNatsServer, {"-t", "-c", conf});
    Verdict gannet = RunToExit(ServerKind::kGannet, {"-t", "-c", conf});
    EXPECT_EQ(gannet.output, reference.output);
    EXPECT_EQ(gannet.status, reference.status);
  }
}

TEST(ConfigBothServers, ClusterFlagErrorsAsTheReference) {
  const std::vector<std::vector<std::string>> cases = {
      {"--cluster", "nats://u@127.0.0.1:-1"},
      {"--cluster", "127.0.0.1:6222"},
      {"--cluster", "nats://127.0.0.1"},
      {"--cluster", "nats://127.0.0.1:abc"},
      {"--cluster_listen", "nats://a b:1"},
      {"--cluster", "nats://127.0.0.1:"},
      {"--cluster", "nats://%41:-1"},
      {"--cluster", "nats://a:b:1"},
      {"--routes", "nats://127.0.0.1:1"},
      {"--cluster", "", "--routes", "nats://127.0.0.1:1"},
      {"--connect_retries", "x"},
      {"--no_advertise=maybe"},
      {"--cluster"},
      {"-t"},
      {"--tls"},
      {"frob", "--cluster", "x"},
  };
  for (const std::vector<std::string>& args : cases) {
    SCOPED_TRACE(::testing::PrintToString(args));
    Verdict reference = RunToExit(ServerKind::kNatsServer, args);
    Verdict gannet = RunToExit(ServerKind::kGannet, args);
    // The first line: the error (a flag's syntax error is followed by each server's usage).
    EXPECT_EQ(gannet.output.substr(0, gannet.output.find('\n')),
              reference.output.substr(0, reference.output.find('\n')));
    EXPECT_EQ(gannet.status, reference.status);
  }
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(ConfigTest);

// Gannet only: features of later work in a config file are refused, not ignored.
TEST(ConfigGannet, JetStreamIsRefusedNotIgnored) {
  TempDir dir;
  std::string conf = dir.Write("later.conf", "jetstream {}\n");
  ServerProcess p(ServerKind::kGannet, {"-c", conf});
  EXPECT_FALSE(p.Start(2s));
  p.Stop();
  EXPECT_NE(p.Output().find("not supported yet"), std::string::npos) << p.Output();
}

}  // namespace
}  // namespace gannet::test
