// Authentication from the command line: --user/--pass and --auth (token).
#include "integration_util.h"

namespace gannet::test {
namespace {

class AuthTest : public ProtocolTest {
 protected:
  // Dials, checks that INFO advertises auth_required, and sends `connect_line` verbatim.
  std::unique_ptr<RawConn> DialAndSend(std::string_view connect_line) {
    nlohmann::json info;
    auto conn = DialInfo(&info);
    EXPECT_EQ(info.value("auth_required", false), true) << info.dump();
    conn->Send(connect_line);
    return conn;
  }
};

constexpr std::string_view kViolation = "-ERR 'Authorization Violation'\r\n";

TEST_P(AuthTest, InfoAdvertisesAuthRequiredBeforeMaxPayload) {
  Start({"--auth", "tok123"});
  auto conn = Dial();
  std::string line = conn->ReadLine();
  ASSERT_TRUE(line.starts_with("INFO ")) << line;
  auto info = nlohmann::ordered_json::parse(line.substr(5));
  std::vector<std::string> keys;
  for (const auto& item : info.items()) {
    if (item.key() != "go") keys.push_back(item.key());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"server_id", "server_name", "version", "proto", "host",
                                            "port", "headers", "auth_required", "max_payload",
                                            "client_id", "client_ip"}));
  EXPECT_EQ(info.value("auth_required", false), true);
}

TEST_P(AuthTest, UserPasswordAccepted) {
  Start({"--user", "alice", "--pass", "s3cret"});
  auto conn = DialAndSend("CONNECT {\"user\":\"alice\",\"pass\":\"s3cret\"}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "SUB foo 1\r\nPUB foo 1\r\nx\r\n"),
            "+OK\r\n+OK\r\nMSG foo 1 1\r\nx\r\n");
}

TEST_P(AuthTest, UserPasswordRejected) {
  Start({"--user", "alice", "--pass", "s3cret"});
  for (std::string_view connect : {
           R"({"user":"alice","pass":"wrong"})",
           R"({"user":"bob","pass":"s3cret"})",
           R"({"user":"alice"})",
           R"({"verbose":false})",
           R"({})",
           R"({"auth_token":"s3cret"})",
           R"({"user":"ALICE","pass":"s3cret"})",
       }) {
    SCOPED_TRACE(connect);
    auto conn = DialAndSend("CONNECT " + std::string(connect) + "\r\n");
    EXPECT_TRUE(ClosesWith(*conn, kViolation));
  }
}

TEST_P(AuthTest, EveryConnectIsAuthenticated) {
  Start({"--user", "alice", "--pass", "s3cret"});
  auto conn = DialAndSend("CONNECT {\"user\":\"alice\",\"pass\":\"s3cret\"}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  conn->Send("CONNECT {\"user\":\"alice\",\"pass\":\"bad\"}\r\n");
  EXPECT_TRUE(ClosesWith(*conn, kViolation));
}

TEST_P(AuthTest, ConnectChecksAfterAuthentication) {
  Start({"--user", "alice", "--pass", "s3cret"});
  auto c1 = DialAndSend("CONNECT {\"user\":\"alice\",\"pass\":\"s3cret\",\"protocol\":5}\r\n");
  EXPECT_TRUE(ClosesWith(*c1, "-ERR 'invalid client protocol'\r\n"));
  auto c2 = DialAndSend("CONNECT {\"user\":\"alice\",\"pass\":\"s3cret\",\"account\":\"A\"}\r\n");
  EXPECT_TRUE(ClosesWith(*c2, kViolation));
  // A token is ignored when user/password auth is configured.
  auto c3 =
      DialAndSend("CONNECT {\"user\":\"alice\",\"pass\":\"s3cret\",\"auth_token\":\"zzz\"}\r\n");
  EXPECT_EQ(c3->ReadUntil("\r\n"), "+OK\r\n");
}

// A bcrypt hash as the configured password or token (the reference's own test vectors, made
// by Go's bcrypt): the client sends the plain text.
TEST_P(AuthTest, BcryptPassword) {
  Start({"--user", "alice", "--pass",
         "$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq"});
  auto ok = DialAndSend("CONNECT {\"user\":\"alice\",\"pass\":\"IW@$6v(y1(t@fhPDvf!5^%\"}\r\n");
  EXPECT_EQ(ok->Flush(), "+OK\r\n");
  auto bad = DialAndSend(
      "CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":"
      "\"$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq\"}\r\n");
  EXPECT_TRUE(ClosesWith(*bad, kViolation));
}

TEST_P(AuthTest, BcryptToken) {
  Start({"--auth", "$2a$04$u5ZClXpcjHgpfc61Ee0VKuwI1K3vTC4zq7SjphjnlHMeb1Llkb5Y6"});
  auto tok =
      DialAndSend("CONNECT {\"verbose\":false,\"auth_token\":\"0uhJOSr3GW7xvHvtd^K6pa\"}\r\n");
  EXPECT_EQ(tok->Flush(), "");
}

TEST_P(AuthTest, TokenAccepted) {
  Start({"--auth", "tok123"});
  auto conn = DialAndSend("CONNECT {\"verbose\":false,\"auth_token\":\"tok123\"}\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "SUB foo 1\r\nPUB foo 1\r\nx\r\n"), "MSG foo 1 1\r\nx\r\n");
}

TEST_P(AuthTest, TokenRejected) {
  Start({"--auth", "tok123"});
  for (std::string_view connect : {
           R"({"auth_token":"nope"})",
           R"({"verbose":false})",
           R"({"user":"tok123"})",
           R"({"pass":"tok123"})",
       }) {
    SCOPED_TRACE(connect);
    auto conn = DialAndSend("CONNECT " + std::string(connect) + "\r\n");
    EXPECT_TRUE(ClosesWith(*conn, kViolation));
  }
}

TEST_P(AuthTest, FirstCommandMustBeConnect) {
  Start({"--user", "alice", "--pass", "s3cret"});
  for (std::string_view first : {"PING\r\n", "SUB foo 1\r\n", "PUB foo 1\r\nx\r\n", "XYZ\r\n"}) {
    SCOPED_TRACE(first);
    auto conn = DialAndSend(first);
    EXPECT_TRUE(ClosesWith(*conn, kViolation));
  }
}

TEST_P(AuthTest, UnauthenticatedClientGetsNoMessages) {
  Start({"--auth", "tok123"});
  auto good = DialAndSend("CONNECT {\"verbose\":false,\"auth_token\":\"tok123\"}\r\n");
  ASSERT_EQ(SendAndFlush(*good, "SUB foo 1\r\n"), "");
  auto bad = DialAndSend("CONNECT {\"auth_token\":\"x\"}\r\nPUB foo 3\r\nbad\r\n");
  EXPECT_TRUE(ClosesWith(*bad, kViolation));
  EXPECT_EQ(good->Flush(), "");
}

TEST_P(AuthTest, NoConnectWithinAuthTimeout) {
  Start({"--user", "alice", "--pass", "s3cret"});
  nlohmann::json info;
  auto conn = DialInfo(&info);
  // Default auth timeout is 2s.
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Authentication Timeout'\r\n", 6s));
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(AuthTest);

}  // namespace
}  // namespace gannet::test
