// TLS on the client port and HTTPS monitoring: the plain-text INFO with tls_required, the
// handshake, client certificates (verify, verify_and_map), the handshake timeout and bad input,
// the --tls* flags; each run against gannet-server and nats-server with the same config.
// Certificates are made by the test process (tests/support/tls_support.h).
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "http_client.h"
#include "integration_util.h"
#include "tls_support.h"

namespace gannet::test {
namespace {

class TlsTest : public ProtocolTest {
 protected:
  static std::string TlsBlock(std::string_view extra = "") {
    const TestCerts& c = Certs();
    return "tls { cert_file: \"" + c.server_cert + "\", key_file: \"" + c.server_key +
           "\", ca_file: \"" + c.ca + "\"\n" + std::string(extra) + "\n}\n";
  }
  static TlsClientOptions Trusting() {
    TlsClientOptions o;
    o.ca_file = Certs().ca;
    return o;
  }
  static TlsClientOptions WithCert(const std::string& cert, const std::string& key) {
    TlsClientOptions o = Trusting();
    o.cert_file = cert;
    o.key_file = key;
    return o;
  }
  // A TLS connection that sent CONNECT and got its PONG.
  std::unique_ptr<TlsConn> TlsClient(const TlsClientOptions& opts,
                                     std::string_view connect = R"({"verbose":false})") {
    auto conn = std::make_unique<TlsConn>();
    if (!conn->Connect(server().port(), opts)) Fail("TLS connect: " + conn->error());
    conn->Send("CONNECT " + std::string(connect) + "\r\n");
    EXPECT_EQ(conn->Flush(), "");
    return conn;
  }
  // Whether the server's log gets a line containing `text` (within two seconds).
  bool LogHas(std::string_view text) {
    for (int i = 0; i < 200; ++i) {
      if (server().Output().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

TEST_P(TlsTest, InfoInPlainTextThenHandshake) {
  StartWithConfig(TlsBlock());
  nlohmann::json info;
  auto raw = DialInfo(&info);
  EXPECT_EQ(info.value("tls_required", false), true);
  EXPECT_FALSE(info.contains("tls_verify"));
  EXPECT_FALSE(info.contains("tls_available"));

  auto sub = TlsClient(Trusting());
  EXPECT_EQ(sub->Version(), "TLSv1.3");
  auto pub = TlsClient(Trusting());
  EXPECT_EQ(sub->Flush(), "");
  sub->Send("SUB foo 1\r\n");
  EXPECT_EQ(sub->Flush(), "");
  // Enough to span many TLS records, from another connection (maybe another worker).
  std::string big(100000, 'x');
  pub->Send(PubBytes("foo", "", "hello") + PubBytes("foo", "bar", big));
  EXPECT_EQ(pub->Flush(), "");
  std::string expected = MsgBytes("foo", "1", "", "hello") + MsgBytes("foo", "1", "bar", big);
  EXPECT_EQ(sub->ReadUntil(expected.substr(expected.size() - 20)), expected);
}

TEST_P(TlsTest, TlsVersion12StillAccepted) {
  StartWithConfig(TlsBlock());
  // A client limited to TLS 1.2 gets the reference's default ECDHE suites.
  auto conn = std::make_unique<TlsConn>();
  ASSERT_TRUE(conn->Connect(server().port(), Trusting()));
  conn->Send("CONNECT {\"verbose\":false}\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(TlsTest, VerifyRequiresCertificateFromTheCa) {
  StartWithConfig(TlsBlock("verify: true"));
  nlohmann::json info;
  DialInfo(&info);
  EXPECT_EQ(info.value("tls_required", false), true);
  EXPECT_EQ(info.value("tls_verify", false), true);

  // No certificate: refused (in TLS 1.3 the client learns it at its first read).
  {
    TlsConn conn;
    if (conn.Connect(server().port(), Trusting())) {
      conn.Send("CONNECT {}\r\nPING\r\n");
      EXPECT_TRUE(conn.WaitClosed());
      EXPECT_EQ(conn.pending(), "");
    }
    EXPECT_TRUE(LogHas("TLS handshake error: tls: client didn't provide a certificate"));
  }
  // A certificate from another CA: refused with bad_certificate, as the reference.
  {
    TlsConn conn;
    if (conn.Connect(server().port(), WithCert(Certs().other_cert, Certs().other_key))) {
      conn.Send("CONNECT {}\r\nPING\r\n");
      EXPECT_TRUE(conn.WaitClosed());
      EXPECT_EQ(conn.pending(), "");
    }
    EXPECT_NE(conn.error().find("bad certificate"), std::string::npos) << conn.error();
    EXPECT_TRUE(
        LogHas("TLS handshake error: tls: failed to verify client certificate: x509: "
               "certificate signed by unknown authority"));
  }
  // The server went on serving: a client with a good certificate works.
  auto good = TlsClient(WithCert(Certs().client_cert, Certs().client_key));
  EXPECT_EQ(good->Flush(), "");
}

TEST_P(TlsTest, PlainTextToTlsPortIsClosedSilently) {
  StartWithConfig(TlsBlock());
  auto raw = DialInfo();
  raw->Send("CONNECT {\"verbose\":false}\r\nPING\r\n");
  EXPECT_TRUE(ClosesWith(*raw, ""));
  EXPECT_TRUE(LogHas("TLS handshake error: tls: first record does not look like a TLS handshake"));
  auto good = TlsClient(Trusting());
  EXPECT_EQ(good->Flush(), "");
}

TEST_P(TlsTest, HandshakeStoppingHalfWayTimesOut) {
  StartWithConfig(TlsBlock("timeout: 0.5"));
  auto raw = DialInfo();
  // The first bytes of a ClientHello, then nothing.
  raw->Send(std::string("\x16\x03\x01\x00\xc8\x01\x00", 7));
  // Meanwhile other clients are served.
  auto good = TlsClient(Trusting());
  EXPECT_EQ(good->Flush(), "");
  EXPECT_TRUE(ClosesWith(*raw, "", 3s));
  // "TLS handshake timeout" may follow (the reference's timer races its read deadline).
  EXPECT_TRUE(LogHas("TLS handshake error: read tcp 127.0.0.1:" + std::to_string(server().port()) +
                     "->127.0.0.1:"));
  EXPECT_TRUE(LogHas(": i/o timeout"));
  EXPECT_EQ(good->Flush(), "");
}

TEST_P(TlsTest, VerifyAndMapAppliesTheMappedUsersPermissions) {
  StartWithConfig(TlsBlock("verify_and_map: true") + R"(
authorization { users = [
  {user: "alice@example.com", permissions: {publish: "allowed.>", subscribe: ">"}}
  {user: "CN=bob", permissions: {publish: "bob.>"}}
] })");
  nlohmann::json info;
  DialInfo(&info);
  EXPECT_EQ(info.value("tls_verify", false), true);
  EXPECT_EQ(info.value("auth_required", false), true);

  // alice by the email in her certificate; no credentials in CONNECT.
  auto alice = TlsClient(WithCert(Certs().client_cert, Certs().client_key));
  alice->Send("SUB allowed.x 1\r\n" + PubBytes("allowed.x", "", "ok") +
              PubBytes("denied.x", "", "no"));
  EXPECT_EQ(alice->Flush(), MsgBytes("allowed.x", "1", "", "ok") +
                                "-ERR 'Permissions Violation for Publish to \"denied.x\"'\r\n");
  // bob by his subject DN.
  auto bob = TlsClient(WithCert(Certs().bob_cert, Certs().bob_key));
  bob->Send(PubBytes("allowed.x", "", "no"));
  EXPECT_EQ(bob->Flush(), "-ERR 'Permissions Violation for Publish to \"allowed.x\"'\r\n");
}

TEST_P(TlsTest, VerifyAndMapRefusesUnknownCertificateUser) {
  StartWithConfig(TlsBlock("verify_and_map: true") +
                  "authorization { users = [ {user: \"carol@example.com\"} ] }\n");
  TlsConn conn;
  ASSERT_TRUE(conn.Connect(server().port(), WithCert(Certs().client_cert, Certs().client_key)));
  conn.Send("CONNECT {\"verbose\":false}\r\nPING\r\n");
  EXPECT_EQ(conn.ReadUntil("\r\n"), "-ERR 'Authorization Violation'\r\n");
  EXPECT_TRUE(conn.WaitClosed());
}

// As the reference, the password in CONNECT is compared with the mapped user's: a mapped user
// without a password refuses a client that sends one; a user name alone is only warned about.
TEST_P(TlsTest, VerifyAndMapRefusesAPasswordInConnect) {
  StartWithConfig(TlsBlock("verify_and_map: true") + R"(
authorization { users = [
  {user: "alice@example.com"}
  {user: "CN=bob", password: "bobpass"}
] })");
  const TestCerts& c = Certs();
  for (std::string_view connect :
       {R"({"verbose":false,"user":"alice@example.com","pass":"secret"})",
        R"({"verbose":false,"user":"someone","pass":"secret"})",
        R"({"verbose":false,"pass":"secret"})"}) {
    SCOPED_TRACE(connect);
    TlsConn conn;
    ASSERT_TRUE(conn.Connect(server().port(), WithCert(c.client_cert, c.client_key)));
    conn.Send("CONNECT " + std::string(connect) + "\r\nPING\r\n");
    EXPECT_EQ(conn.ReadUntil("\r\n"), "-ERR 'Authorization Violation'\r\n");
    EXPECT_TRUE(conn.WaitClosed());
  }
  // A user name without a password is accepted (and logged as a warning).
  auto alice =
      TlsClient(WithCert(c.client_cert, c.client_key), R"({"verbose":false,"user":"someone"})");
  EXPECT_TRUE(LogHas("User \"someone\" found in connect proto, but user required from cert"));
  // A mapped user with a password needs that password, and only that one.
  auto bob = TlsClient(WithCert(c.bob_cert, c.bob_key), R"({"verbose":false,"pass":"bobpass"})");
  for (std::string_view connect : {R"({"verbose":false})", R"({"verbose":false,"pass":"wrong"})"}) {
    SCOPED_TRACE(connect);
    TlsConn conn;
    ASSERT_TRUE(conn.Connect(server().port(), WithCert(c.bob_cert, c.bob_key)));
    conn.Send("CONNECT " + std::string(connect) + "\r\nPING\r\n");
    EXPECT_EQ(conn.ReadUntil("\r\n"), "-ERR 'Authorization Violation'\r\n");
    EXPECT_TRUE(conn.WaitClosed());
  }
  alice->Send(PubBytes("x", "", "still here"));
  EXPECT_EQ(alice->Flush(), "");
  EXPECT_EQ(bob->Flush(), "");
}

TEST_P(TlsTest, PinnedCerts) {
  // The pin of alice's key (sha256 of the DER SubjectPublicKeyInfo), computed with openssl.
  std::string out = Certs().dir + "/pin-" + std::to_string(::getpid()) + ".txt";
  ASSERT_EQ(std::system(("openssl x509 -in '" + Certs().client_cert +
                         "' -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst "
                         "-sha256 -r | cut -d' ' -f1 > '" +
                         out + "'")
                            .c_str()),
            0);
  std::string pin;
  {
    std::ifstream f(out);
    std::getline(f, pin);
  }
  ::unlink(out.c_str());
  ASSERT_EQ(pin.size(), 64u);
  StartWithConfig(TlsBlock("verify: true\npinned_certs: [\"" + pin + "\"]"));
  auto alice = TlsClient(WithCert(Certs().client_cert, Certs().client_key));
  EXPECT_EQ(alice->Flush(), "");
  TlsConn bob;
  if (bob.Connect(server().port(), WithCert(Certs().bob_cert, Certs().bob_key))) {
    bob.Send("CONNECT {}\r\nPING\r\n");
    EXPECT_TRUE(bob.WaitClosed());
    EXPECT_EQ(bob.pending(), "");
  }
  EXPECT_TRUE(LogHas("TLS handshake error: certificate not pinned"));
}

TEST_P(TlsTest, FlagsEnableTls) {
  const TestCerts& c = Certs();
  Start({"--tls", "--tlscert", c.server_cert, "--tlskey", c.server_key});
  nlohmann::json info;
  DialInfo(&info);
  EXPECT_EQ(info.value("tls_required", false), true);
  EXPECT_FALSE(info.contains("tls_verify"));
  auto conn = TlsClient(Trusting());
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(TlsTest, FlagsVerify) {
  const TestCerts& c = Certs();
  Start({"--tlsverify", "--tlscert", c.server_cert, "--tlskey", c.server_key, "--tlscacert", c.ca});
  nlohmann::json info;
  DialInfo(&info);
  EXPECT_EQ(info.value("tls_verify", false), true);
  auto conn = TlsClient(WithCert(c.client_cert, c.client_key));
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(TlsTest, ConnzShowsTlsVersionAndCipher) {
  int http = FreeTcpPort();
  StartWithConfig(TlsBlock(), {"-m", std::to_string(http)});
  auto conn = TlsClient(Trusting(), R"({"verbose":false,"name":"tls-conn"})");
  HttpResult r = HttpGet(http, "/connz");
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  ASSERT_EQ(j["connections"].size(), 1u);
  EXPECT_EQ(j["connections"][0].value("tls_version", ""), "1.3");
  EXPECT_EQ(j["connections"][0].value("tls_cipher_suite", ""), "TLS_AES_128_GCM_SHA256");
  HttpResult v = HttpGet(http, "/varz");
  auto varz = nlohmann::json::parse(v.body);
  EXPECT_EQ(varz.value("tls_required", false), true);
  EXPECT_EQ(varz.value("tls_timeout", 0.0), 2.0);
}

TEST_P(TlsTest, HttpsMonitoring) {
  int https = FreeTcpPort();
  StartWithConfig(TlsBlock("verify: true"), {"-ms", std::to_string(https)});
  // No client certificate needed for monitoring, even with verify on the client port.
  std::string response = HttpsGet(https, "/varz", Certs().ca);
  ASSERT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  auto body = nlohmann::json::parse(response.substr(response.find("\r\n\r\n") + 4));
  EXPECT_EQ(body.value("https_port", 0), https);
  EXPECT_EQ(body.value("http_port", -1), 0);
  EXPECT_EQ(body.value("tls_verify", false), true);
  // Plain HTTP on the HTTPS port gets nothing useful.
  HttpResult plain = HttpGet(https, "/varz", 2s);
  EXPECT_NE(plain.status, 200);
  EXPECT_TRUE(LogHas("Starting https monitor on"));
}

// Configuration errors: the reference's words, at the reference's position.
// SIGHUP with a new certificate (as when one is renewed): new clients get it at once, clients
// already connected stay up on the old one.
TEST_P(TlsTest, ReloadSwapsTheCertificateWithoutDroppingClients) {
  const TestCerts& c = Certs();
  TempDir dir;
  std::string conf = dir.Write("server.conf", TlsBlock());
  Start({"-c", conf});
  auto old = TlsClient(Trusting());
  old->Send("SUB foo 1\r\n");
  EXPECT_EQ(old->Flush(), "");

  dir.Write("server.conf",
            "tls { cert_file: \"" + c.server2_cert + "\", key_file: \"" + c.server2_key + "\" }\n");
  server().Signal(SIGHUP);
  EXPECT_TRUE(LogHas("Reloaded server configuration")) << server().Output();
  EXPECT_TRUE(LogHas("Reloaded: tls = enabled")) << server().Output();

  TlsClientOptions other;
  other.ca_file = c.other_ca;
  auto renewed = TlsClient(other);
  TlsConn stale;
  EXPECT_FALSE(stale.Connect(server().port(), Trusting()));  // the old CA no longer fits
  renewed->Send(PubBytes("foo", "", "after"));
  EXPECT_EQ(renewed->Flush(), "");
  EXPECT_EQ(old->Flush(), MsgBytes("foo", "1", "", "after"));
}

TEST_P(TlsTest, ConfigErrors) {
  TempDir dir;
  const TestCerts& c = Certs();
  std::string good =
      "  cert_file: \"" + c.server_cert + "\"\n  key_file: \"" + c.server_key + "\"\n";
  struct Case {
    std::string body;
    std::string error;
  };
  for (const Case& k : std::vector<Case>{
           {"# a\ntls {\n  cert_file: \"a.pem\"\n  key_file: \"b.pem\"\n}\n",
            "tls.conf:2:1: error parsing X509 certificate/key pair: open a.pem: no such file or "
            "directory"},
           {"# a\ntls {\n" + good + "  cipher_suites: [FOO]\n}\n",
            "tls.conf:5:19: unrecognized cipher FOO"},
           {"# a\ntls {\n" + good + "  curve_preferences: [P256]\n}\n",
            "tls.conf:5:23: unrecognized curve preference P256"},
           {"# a\ntls {\n  cert_file: \"" + c.server_cert + "\"\n}\n",
            "tls.conf:2:1: missing 'key_file' in TLS configuration"},
       }) {
    std::string conf = dir.Write("tls.conf", k.body);
    ServerProcess p(kind(), {"-c", conf});
    EXPECT_FALSE(p.Start(2s));
    p.Stop();
    EXPECT_NE(p.Output().find(k.error), std::string::npos) << k.error << "\n" << p.Output();
  }
  ServerProcess p(kind(), {"--tls", "--tlskey", c.server_key});
  EXPECT_FALSE(p.Start(2s));
  p.Stop();
  EXPECT_NE(p.Output().find("TLS Server certificate must be present and valid"), std::string::npos)
      << p.Output();
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(TlsTest);

}  // namespace
}  // namespace gannet::test
