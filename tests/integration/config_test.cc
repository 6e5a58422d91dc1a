// The configuration file as the reference reads it: the same file given to gannet-server and
// nats-server must be accepted or refused the same way, with the same effect or error.
#include <stdlib.h>
#include <sys/wait.h>

#include "integration_util.h"

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

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(ConfigTest);

// Gannet only: features of later work in a config file are refused, not ignored.
TEST(ConfigGannet, ClusterAndJetStreamAreRefusedNotIgnored) {
  TempDir dir;
  for (std::string body :
       {"cluster {\n  listen: 127.0.0.1:6222\n  routes: [\"nats://a:1\"]\n}\n", "jetstream {}\n"}) {
    std::string conf = dir.Write("later.conf", body);
    ServerProcess p(ServerKind::kGannet, {"-c", conf});
    EXPECT_FALSE(p.Start(2s));
    p.Stop();
    EXPECT_NE(p.Output().find("not supported yet"), std::string::npos) << p.Output();
  }
}

}  // namespace
}  // namespace gannet::test
