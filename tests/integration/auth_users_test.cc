// Authentication and authorization from the config file's authorization {} block: users lists
// with plain and bcrypt passwords, NKEY users signing the INFO nonce, no_auth_user, and the
// permissions (publish/subscribe allow and deny, queue entries, allow_responses, the delivery
// deny filter), each checked byte for byte against nats-server with the same config.
#include <set>
#include <thread>

#include "auth/nkey.h"
#include "integration_util.h"

namespace gannet::test {
namespace {

constexpr std::string_view kViolation = "-ERR 'Authorization Violation'\r\n";

// The reference's own vectors: a bcrypt hash (cost 4) and its password
// (server/auth_test.go), and an NKEY seed and the user key it makes.
constexpr const char* kBcryptHash = "$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq";
constexpr const char* kBcryptPassword = "IW@$6v(y1(t@fhPDvf!5^%";
constexpr const char* kSeed = "SUAEL6RU3BSDAFKOHNTEOK5Q6FTM5FTAMWVIKBET6FHPO4JRII3CYELVNM";
constexpr const char* kNkeyUser = "UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3";

class AuthUsersTest : public ProtocolTest {
 protected:
  // Dials and sends `connect_json` after INFO; `info` receives the INFO JSON.
  std::unique_ptr<RawConn> DialConnect(std::string_view connect_json,
                                       nlohmann::json* info = nullptr) {
    auto conn = DialInfo(info);
    conn->Send("CONNECT " + std::string(connect_json) + "\r\n");
    return conn;
  }
  // Whether the server's log gets a line containing `text` (within a second).
  bool LogHas(std::string_view text) {
    for (int i = 0; i < 100; ++i) {
      if (server().Output().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

TEST_P(AuthUsersTest, PlainPasswordUsers) {
  StartWithConfig(R"(authorization { users = [
    {user: alice, password: s3cret}
    {user: bob, pass: "b0b"}
  ] })");
  EXPECT_TRUE(LogHas("[WRN] Plaintext passwords detected, use nkeys or bcrypt"));
  nlohmann::json info;
  auto a = DialConnect(R"({"verbose":false,"user":"alice","pass":"s3cret"})", &info);
  EXPECT_EQ(info.value("auth_required", false), true);
  EXPECT_FALSE(info.contains("nonce"));
  EXPECT_EQ(SendAndFlush(*a, "SUB foo 1\r\nPUB foo 2\r\nhi\r\n"), MsgBytes("foo", "1", "", "hi"));
  auto b = DialConnect(R"({"verbose":false,"user":"bob","pass":"b0b"})");
  EXPECT_EQ(SendAndFlush(*b, ""), "");
  for (std::string_view connect : {
           R"({"user":"alice","pass":"b0b"})",
           R"({"user":"carol","pass":"s3cret"})",
           R"({"user":"alice"})",
           R"({})",
           R"({"auth_token":"s3cret"})",
       }) {
    SCOPED_TRACE(connect);
    auto bad = DialConnect(connect);
    EXPECT_TRUE(ClosesWith(*bad, kViolation));
  }
}

TEST_P(AuthUsersTest, BcryptPasswordUser) {
  StartWithConfig(std::string("authorization { users = [ {user: alice, password: \"") +
                  kBcryptHash + "\"} ] }\n");
  auto good = DialConnect(std::string(R"({"verbose":false,"user":"alice","pass":")") +
                          kBcryptPassword + "\"}");
  EXPECT_EQ(SendAndFlush(*good, ""), "");
  auto bad = DialConnect(std::string(R"({"user":"alice","pass":")") + kBcryptHash + "\"}");
  EXPECT_TRUE(ClosesWith(*bad, kViolation));
  EXPECT_EQ(server().Output().find("Plaintext passwords"), std::string::npos);
}

TEST_P(AuthUsersTest, TokenFromConfig) {
  StartWithConfig("authorization { token: \"t0ken\" }\n");
  auto good = DialConnect(R"({"verbose":false,"auth_token":"t0ken"})");
  EXPECT_EQ(SendAndFlush(*good, ""), "");
  auto bad = DialConnect(R"({"auth_token":"nope"})");
  EXPECT_TRUE(ClosesWith(*bad, kViolation));
}

// Signs the nonce of `info` with the reference's seed: base64url without padding.
std::string SignNonce(const nlohmann::json& info) {
  auto seed = nkey::DecodeSeed(kSeed);
  if (!seed) Fail("bad seed");
  auto sig = nkey::Sign(seed->second, info.value("nonce", std::string()));
  if (!sig) Fail("cannot sign");
  return nkey::EncodeBase64Url(*sig);
}

TEST_P(AuthUsersTest, NkeyUserSignsTheNonce) {
  StartWithConfig(std::string("authorization { users = [ {nkey: ") + kNkeyUser +
                  "}, {user: alice, password: x} ] }\n");
  nlohmann::json info;
  auto conn = DialInfo(&info);
  ASSERT_TRUE(info.contains("nonce")) << info.dump();
  EXPECT_EQ(info["nonce"].get<std::string>().size(), 15u);
  conn->Send(std::string(R"(CONNECT {"verbose":false,"nkey":")") + kNkeyUser + R"(","sig":")" +
             SignNonce(info) + "\"}\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "SUB n 1\r\nPUB n 1\r\nx\r\n"), MsgBytes("n", "1", "", "x"));

  // Every connection gets its own nonce: a signature of another one fails.
  nlohmann::json other;
  auto replay = DialInfo(&other);
  EXPECT_NE(other["nonce"], info["nonce"]);
  replay->Send(std::string(R"(CONNECT {"nkey":")") + kNkeyUser + R"(","sig":")" + SignNonce(info) +
               "\"}\r\n");
  EXPECT_TRUE(ClosesWith(*replay, kViolation));

  auto no_sig = DialConnect(std::string(R"({"nkey":")") + kNkeyUser + "\"}");
  EXPECT_TRUE(ClosesWith(*no_sig, kViolation));
  auto unknown = DialConnect(
      R"({"nkey":"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4","sig":"AAAA"})");
  EXPECT_TRUE(ClosesWith(*unknown, kViolation));
  // Users with passwords still connect beside NKEY users.
  auto alice = DialConnect(R"({"verbose":false,"user":"alice","pass":"x"})");
  EXPECT_EQ(SendAndFlush(*alice, ""), "");
}

TEST_P(AuthUsersTest, NonceFollowsClientIpInInfo) {
  StartWithConfig(std::string("authorization { users = [ {nkey: ") + kNkeyUser + "} ] }\n");
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
                                            "client_id", "client_ip", "nonce"}));
}

constexpr std::string_view kPermsConfig = R"(authorization {
  users = [
    {user: alice, password: a, permissions: {
      publish: {allow: ["foo.>", "bar"], deny: ["foo.secret"]}
      subscribe: {allow: ["foo.*", "bar", "q v1", "w"], deny: ["foo.denied"]}
    }}
    {user: bob, password: b}
  ]
})";

TEST_P(AuthUsersTest, PublishViolationKeepsConnectionOpen) {
  StartWithConfig(kPermsConfig);
  auto bob = DialConnect(R"({"verbose":false,"user":"bob","pass":"b"})");
  EXPECT_EQ(SendAndFlush(*bob, "SUB > 1\r\n"), "");
  auto alice = DialConnect(R"({"verbose":false,"user":"alice","pass":"a"})");
  EXPECT_EQ(
      SendAndFlush(*alice, "PUB baz 1\r\nx\r\nPUB foo.secret 1\r\ny\r\nPUB foo.ok 1\r\nz\r\n"),
      "-ERR 'Permissions Violation for Publish to \"baz\"'\r\n"
      "-ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n");
  // Same again: the cached answer gives the same result.
  EXPECT_EQ(SendAndFlush(*alice, "PUB baz 1\r\nx\r\nPUB bar 1\r\nw\r\n"),
            "-ERR 'Permissions Violation for Publish to \"baz\"'\r\n");
  EXPECT_EQ(SendAndFlush(*bob, ""),
            MsgBytes("foo.ok", "1", "", "z") + MsgBytes("bar", "1", "", "w"));
  EXPECT_TRUE(LogHas("Publish Violation - User \"alice\", Subject \"foo.secret\""));
}

TEST_P(AuthUsersTest, SubscribeViolations) {
  StartWithConfig(kPermsConfig);
  auto alice = DialConnect(R"({"verbose":false,"user":"alice","pass":"a"})");
  EXPECT_EQ(SendAndFlush(*alice,
                         "SUB foo.a.b 1\r\nSUB foo.denied 2\r\nSUB foo.ok 3\r\nSUB q 4\r\n"
                         "SUB q v1 5\r\nSUB q v2 6\r\nSUB w any 7\r\nSUB > 8\r\n"),
            "-ERR 'Permissions Violation for Subscription to \"foo.a.b\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"foo.denied\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"q\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"q\" using queue \"v2\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \">\"'\r\n");
  // The permitted subscriptions work.
  EXPECT_EQ(SendAndFlush(*alice, "PUB foo.ok 1\r\nm\r\n"), MsgBytes("foo.ok", "3", "", "m"));
  EXPECT_TRUE(
      LogHas("Subscription Violation - User \"alice\", Subject \"q\", Queue: \"v2\", SID 6"));
  EXPECT_TRUE(LogHas("Subscription Violation - User \"alice\", Subject \"foo.denied\", SID 2"));
}

TEST_P(AuthUsersTest, WildcardSubscriptionSkipsDeniedSubjects) {
  StartWithConfig(R"(authorization { users = [
    {user: alice, password: a, permissions: {subscribe: {deny: ["foo.secret", "baz.*.x"]}}}
    {user: bob, password: b}
  ] })");
  auto alice = DialConnect(R"({"verbose":false,"user":"alice","pass":"a"})");
  EXPECT_EQ(SendAndFlush(*alice, "SUB foo.ok 1\r\nSUB foo.* 2\r\nSUB baz.> 3\r\n"), "");
  auto bob = DialConnect(R"({"verbose":false,"user":"bob","pass":"b"})");
  EXPECT_EQ(SendAndFlush(*bob,
                         "PUB foo.secret 1\r\ns\r\nPUB foo.ok 1\r\no\r\nPUB baz.y.x 1\r\nd\r\n"
                         "PUB baz.y.z 1\r\nz\r\n"),
            "");
  Parsed got = ParseStream(SendAndFlush(*alice, ""));
  EXPECT_TRUE(got.lines.empty());
  std::multiset<std::string> seen;
  for (const Msg& m : got.msgs) seen.insert(m.subject + " " + m.sid + " " + m.payload);
  EXPECT_EQ(seen, (std::multiset<std::string>{"foo.ok 1 o", "foo.ok 2 o", "baz.y.z 3 z"}));
  // A subscription to a denied subject is refused outright.
  EXPECT_EQ(SendAndFlush(*alice, "SUB foo.secret 4\r\n"),
            "-ERR 'Permissions Violation for Subscription to \"foo.secret\"'\r\n");
}

TEST_P(AuthUsersTest, AllowResponsesPermitsOneReplyPerRequest) {
  StartWithConfig(R"(authorization { users = [
    {user: svc, password: s, permissions: {subscribe: "req", allow_responses: true}}
    {user: client, password: c}
  ] })");
  auto svc = DialConnect(R"({"verbose":false,"user":"svc","pass":"s"})");
  EXPECT_EQ(SendAndFlush(*svc, "SUB req 1\r\nPUB other 1\r\nx\r\n"),
            "-ERR 'Permissions Violation for Publish to \"other\"'\r\n");
  auto client = DialConnect(R"({"verbose":false,"user":"client","pass":"c"})");
  EXPECT_EQ(SendAndFlush(*client, "SUB _INBOX.> 9\r\nPUB req _INBOX.1 1\r\nq\r\n"), "");
  EXPECT_EQ(SendAndFlush(*svc, ""), MsgBytes("req", "1", "_INBOX.1", "q"));
  EXPECT_EQ(
      SendAndFlush(*svc, "PUB _INBOX.1 1\r\na\r\nPUB _INBOX.1 1\r\nb\r\nPUB _INBOX.2 1\r\nc\r\n"),
      "-ERR 'Permissions Violation for Publish to \"_INBOX.1\"'\r\n"
      "-ERR 'Permissions Violation for Publish to \"_INBOX.2\"'\r\n");
  EXPECT_EQ(SendAndFlush(*client, ""), MsgBytes("_INBOX.1", "9", "", "a"));
}

TEST_P(AuthUsersTest, AllowResponsesWithMax) {
  StartWithConfig(R"(authorization { users = [
    {user: svc, password: s, permissions: {subscribe: "req", allow_responses: {max: 2}}}
    {user: client, password: c}
  ] })");
  auto svc = DialConnect(R"({"verbose":false,"user":"svc","pass":"s"})");
  EXPECT_EQ(SendAndFlush(*svc, "SUB req 1\r\n"), "");
  auto client = DialConnect(R"({"verbose":false,"user":"client","pass":"c"})");
  EXPECT_EQ(SendAndFlush(*client, "SUB r 9\r\nPUB req r 1\r\nq\r\n"), "");
  EXPECT_EQ(SendAndFlush(*svc, ""), MsgBytes("req", "1", "r", "q"));
  EXPECT_EQ(SendAndFlush(*svc, "PUB r 1\r\na\r\nPUB r 1\r\nb\r\nPUB r 1\r\nc\r\n"),
            "-ERR 'Permissions Violation for Publish to \"r\"'\r\n");
  EXPECT_EQ(SendAndFlush(*client, ""), MsgBytes("r", "9", "", "a") + MsgBytes("r", "9", "", "b"));
}

TEST_P(AuthUsersTest, NoAuthUserStandsInForClientsWithoutCredentials) {
  StartWithConfig(R"(
no_auth_user: guest
authorization { users = [
  {user: guest, password: g, permissions: {publish: "public.>"}}
  {user: admin, password: a}
] })");
  nlohmann::json info;
  auto guest = DialConnect(R"({"verbose":false})", &info);
  EXPECT_FALSE(info.contains("auth_required")) << info.dump();
  EXPECT_EQ(SendAndFlush(*guest, "PUB public.x 1\r\nx\r\nPUB private 1\r\ny\r\n"),
            "-ERR 'Permissions Violation for Publish to \"private\"'\r\n");
  EXPECT_TRUE(LogHas("Publish Violation - User \"guest\", Subject \"private\""));
  auto admin = DialConnect(R"({"verbose":false,"user":"admin","pass":"a"})");
  EXPECT_EQ(SendAndFlush(*admin, "PUB private 1\r\ny\r\n"), "");
  auto bad = DialConnect(R"({"user":"admin","pass":"wrong"})");
  EXPECT_TRUE(ClosesWith(*bad, kViolation));
}

TEST_P(AuthUsersTest, DefaultPermissionsApplyToUsersWithoutTheirOwn) {
  StartWithConfig(R"(authorization {
  default_permissions: {publish: {deny: "secret"}}
  users = [
    {user: alice, password: a}
    {user: root, password: r, permissions: {publish: ">"}}
  ]
})");
  auto alice = DialConnect(R"({"verbose":false,"user":"alice","pass":"a"})");
  EXPECT_EQ(SendAndFlush(*alice, "PUB secret 1\r\nx\r\nPUB open 1\r\nx\r\n"),
            "-ERR 'Permissions Violation for Publish to \"secret\"'\r\n");
  auto root = DialConnect(R"({"verbose":false,"user":"root","pass":"r"})");
  EXPECT_EQ(SendAndFlush(*root, "PUB secret 1\r\nx\r\n"), "");
}

TEST_P(AuthUsersTest, UnknownNoAuthUserIsRefusedAtStartup) {
  TempDir dir;
  std::string file = dir.Write("bad.conf", R"(
no_auth_user: nobody
authorization { users = [ {user: a, password: b} ] })");
  ServerProcess proc(kind(), {"-c", file});
  EXPECT_FALSE(proc.Start(3s));
  EXPECT_NE(proc.Output().find("no_auth_user: \"nobody\" not present as user in authorization "
                               "block or account configuration"),
            std::string::npos)
      << proc.Output();
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(AuthUsersTest);

}  // namespace
}  // namespace gannet::test
