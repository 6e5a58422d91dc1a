// INFO on accept and CONNECT handling.
#include <cctype>

#include "integration_util.h"

namespace gannet::test {
namespace {

class ConnectTest : public ProtocolTest {};

TEST_P(ConnectTest, InfoIsSentOnAcceptWithRequiredFields) {
  ServerProcess& s = Start();
  auto conn = Dial();
  // The server speaks first: nothing was sent yet.
  std::string line = conn->ReadUntil("\r\n");
  ASSERT_TRUE(line.starts_with("INFO {")) << line;
  // The reference writes "INFO <json> \r\n" (a space before CRLF).
  EXPECT_TRUE(line.ends_with("} \r\n")) << line;
  nlohmann::json info = nlohmann::json::parse(line.substr(5));
  ASSERT_TRUE(info.is_object());
  ASSERT_TRUE(info.contains("server_id") && info["server_id"].is_string()) << info.dump();
  EXPECT_FALSE(info["server_id"].get<std::string>().empty());
  ASSERT_TRUE(info.contains("server_name") && info["server_name"].is_string()) << info.dump();
  EXPECT_FALSE(info["server_name"].get<std::string>().empty());
  EXPECT_EQ(info.value("version", ""), "2.9.10");
  EXPECT_EQ(info.value("proto", -1), 1);
  EXPECT_EQ(info.value("host", ""), "127.0.0.1");
  EXPECT_EQ(info.value("port", -1), s.port());
  EXPECT_EQ(info.value("headers", false), true);
  EXPECT_EQ(info.value("max_payload", -1), 1048576);
  ASSERT_TRUE(info.contains("client_id") && info["client_id"].is_number_unsigned()) << info.dump();
  EXPECT_GT(info["client_id"].get<uint64_t>(), 0u);
  EXPECT_EQ(info.value("client_ip", ""), "127.0.0.1");
  // Without auth or TLS these are omitted (the reference uses omitempty).
  EXPECT_FALSE(info.contains("auth_required")) << info.dump();
  EXPECT_FALSE(info.contains("tls_required")) << info.dump();
  EXPECT_FALSE(info.contains("nonce")) << info.dump();
  // Nothing else follows INFO until the client talks.
  conn->Send("CONNECT {\"verbose\":false}\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ConnectTest, InfoKeysComeInTheReferenceOrder) {
  Start();
  auto conn = Dial();
  std::string line = conn->ReadLine();
  ASSERT_TRUE(line.starts_with("INFO ")) << line;
  auto info = nlohmann::ordered_json::parse(line.substr(5));
  std::vector<std::string> keys;
  for (const auto& item : info.items()) {
    if (item.key() != "go") keys.push_back(item.key());  // the Go version is the reference's own
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{"server_id", "server_name", "version", "proto", "host",
                                      "port", "headers", "max_payload", "client_id", "client_ip"}));
}

TEST_P(ConnectTest, ServerIdIsAnNkeyAndDefaultsServerName) {
  Start();
  nlohmann::json a, b;
  auto c1 = DialInfo(&a);
  auto c2 = DialInfo(&b);
  std::string id = a.value("server_id", "");
  // nats-server ids are server nkeys: 56 base32 characters starting with 'N'.
  ASSERT_EQ(id.size(), 56u) << id;
  EXPECT_EQ(id[0], 'N') << id;
  for (char ch : id) {
    EXPECT_TRUE((ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7')) << id;
  }
  EXPECT_EQ(a.value("server_name", ""), id);
  EXPECT_EQ(b.value("server_id", ""), id);
}

TEST_P(ConnectTest, ServerNameFlagIsAdvertised) {
  Start({"-n", "gannet-test-name"});
  nlohmann::json info;
  auto conn = DialInfo(&info);
  EXPECT_EQ(info.value("server_name", ""), "gannet-test-name");
}

TEST_P(ConnectTest, ClientIdsIncreasePerConnection) {
  Start();
  nlohmann::json a, b;
  auto c1 = DialInfo(&a);
  auto c2 = DialInfo(&b);
  ASSERT_TRUE(a["client_id"].is_number_unsigned());
  ASSERT_TRUE(b["client_id"].is_number_unsigned());
  EXPECT_GT(b["client_id"].get<uint64_t>(), a["client_id"].get<uint64_t>());
}

TEST_P(ConnectTest, EmptyConnectGetsOkBecauseVerboseDefaultsTrue) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ConnectTest, OmittedVerboseStaysTrue) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"pedantic\":false,\"name\":\"x\",\"lang\":\"c\",\"version\":\"1.0\"}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ConnectTest, VerboseFalseSendsNothing) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"verbose\":false}\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ConnectTest, UnknownFieldsAreIgnored) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"verbose\":true,\"foo\":{\"bar\":[1,2,null]},\"zzz\":\"q\"}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ConnectTest, MalformedJsonClosesSilently) {
  Start();
  for (std::string_view json : {"{bad", "[1]", "{} x", "{\"verbose\":\"yes\"}"}) {
    SCOPED_TRACE(json);
    auto conn = DialInfo();
    conn->Send("CONNECT " + std::string(json) + "\r\n");
    EXPECT_TRUE(ClosesWith(*conn, ""));
  }
}

TEST_P(ConnectTest, ProtocolZeroAndOneAreAccepted) {
  Start();
  for (std::string_view json : {"{\"protocol\":0}", "{\"protocol\":1}"}) {
    SCOPED_TRACE(json);
    auto conn = DialInfo();
    conn->Send("CONNECT " + std::string(json) + "\r\n");
    EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
    EXPECT_EQ(conn->Flush(), "");
  }
}

TEST_P(ConnectTest, ProtocolOutOfRangeIsRejected) {
  Start();
  for (std::string_view json : {"{\"protocol\":2}", "{\"verbose\":false,\"protocol\":-1}"}) {
    SCOPED_TRACE(json);
    auto conn = DialInfo();
    conn->Send("CONNECT " + std::string(json) + "\r\n");
    EXPECT_TRUE(ClosesWith(*conn, "-ERR 'invalid client protocol'\r\n"));
  }
}

TEST_P(ConnectTest, NoRespondersWithoutHeadersIsRejected) {
  Start();
  for (std::string_view json :
       {"{\"no_responders\":true}", "{\"no_responders\":true,\"headers\":false}"}) {
    SCOPED_TRACE(json);
    auto conn = DialInfo();
    conn->Send("CONNECT " + std::string(json) + "\r\n");
    EXPECT_TRUE(ClosesWith(*conn, "-ERR 'no responders requires headers support'\r\n"));
  }
}

TEST_P(ConnectTest, NoRespondersWithHeadersIsAccepted) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"no_responders\":true,\"headers\":true}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ConnectTest, AccountDesignationIsAnAuthorizationViolation) {
  Start();
  for (std::string_view json : {"{\"account\":\"A\"}", "{\"new_account\":true}"}) {
    SCOPED_TRACE(json);
    auto conn = DialInfo();
    conn->Send("CONNECT " + std::string(json) + "\r\n");
    EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Authorization Violation'\r\n"));
  }
}

TEST_P(ConnectTest, CommandsBeforeConnectUseTheDefaultOptions) {
  Start();
  // Without auth a client may skip CONNECT; the options then are the defaults
  // (verbose, pedantic and echo all true), so every SUB and PUB is acknowledged.
  auto sub = DialInfo();
  EXPECT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "+OK\r\n");
  auto pub = DialInfo();
  EXPECT_EQ(SendAndFlush(*pub, "PUB foo 2\r\nhi\r\n"), "+OK\r\n");
  EXPECT_EQ(sub->Flush(), MsgBytes("foo", "1", "", "hi"));
  // Pedantic is on too.
  EXPECT_EQ(SendAndFlush(*pub, "PUB foo.* 2\r\nhi\r\n"),
            "-ERR 'Invalid Publish Subject'\r\n+OK\r\n");
}

TEST_P(ConnectTest, CredentialsAreIgnoredWhenNoAuthIsConfigured) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"auth_token\":\"x\",\"user\":\"a\",\"pass\":\"b\"}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ConnectTest, SecondConnectIsAccepted) {
  Start();
  auto conn = Client();
  conn->Send("CONNECT {\"verbose\":true}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(ConnectTest);

}  // namespace
}  // namespace gannet::test
