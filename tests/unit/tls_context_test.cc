// TlsContext: building from tls {} (errors in the reference's words), DN parsing for
// verify_and_map, and the reload hook: a server given a new context serves new connections
// with it while connections made with the old one stay up.
#include "server/conn/tls_context.h"

#include <gtest/gtest.h>

#include "server/server.h"
#include "tls_support.h"

namespace gannet {
namespace {

using test::Certs;
using test::TlsClientOptions;
using test::TlsConn;

TlsConfig ServerConfig(const std::string& cert, const std::string& key) {
  TlsConfig c;
  c.configured = true;
  c.cert_file = cert;
  c.key_file = key;
  c.ca_file = Certs().ca;
  return c;
}

TEST(TlsContext, BuildsWithTheReferenceDefaultsAndReportsBadFiles) {
  std::string error;
  auto ctx = TlsContext::Create(ServerConfig(Certs().server_cert, Certs().server_key), error);
  ASSERT_TRUE(ctx) << error;
  EXPECT_FALSE(ctx->verify());
  EXPECT_EQ(ctx->timeout(), std::chrono::seconds(2));

  TlsConfig missing = ServerConfig("/nonexistent.pem", Certs().server_key);
  EXPECT_FALSE(TlsContext::Create(missing, error));
  EXPECT_EQ(error,
            "error parsing X509 certificate/key pair: open /nonexistent.pem: no such file or "
            "directory");
  // A key that is not the certificate's.
  TlsConfig mismatch = ServerConfig(Certs().server_cert, Certs().client_key);
  EXPECT_FALSE(TlsContext::Create(mismatch, error));
  EXPECT_EQ(error.rfind("error parsing X509 certificate/key pair: ", 0), 0u) << error;
  TlsConfig no_key = ServerConfig(Certs().server_cert, "");
  EXPECT_FALSE(TlsContext::Create(no_key, error));
  EXPECT_EQ(error, "missing 'key_file' in TLS configuration");
  TlsConfig bad_ca = ServerConfig(Certs().server_cert, Certs().server_key);
  bad_ca.ca_file = Certs().server_key;  // not a certificate
  EXPECT_FALSE(TlsContext::Create(bad_ca, error));
  EXPECT_EQ(error, "failed to parse root ca certificate");

  TlsConfig map = ServerConfig(Certs().server_cert, Certs().server_key);
  map.verify_and_map = true;
  auto mapping = TlsContext::Create(map, error);
  ASSERT_TRUE(mapping) << error;
  EXPECT_TRUE(mapping->verify());  // verify_and_map implies verify, as the reference
  EXPECT_TRUE(mapping->map_users());
}

TEST(TlsContext, KnownCipherSuitesAndCurves) {
  EXPECT_TRUE(IsKnownCipherSuite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
  EXPECT_TRUE(IsKnownCipherSuite("TLS_CHACHA20_POLY1305_SHA256"));
  EXPECT_FALSE(IsKnownCipherSuite("ECDHE-RSA-AES128-GCM-SHA256"));  // OpenSSL's name
  EXPECT_TRUE(IsKnownCurve("CurveP256"));
  EXPECT_TRUE(IsKnownCurve("X25519"));
  EXPECT_FALSE(IsKnownCurve("P-256"));
}

TEST(TlsContext, ParseDn) {
  auto dn = ParseDn("CN=alice, OU=Test,o=Gannet");
  ASSERT_TRUE(dn);
  EXPECT_EQ(*dn, (std::vector<std::string>{"CN=alice", "OU=Test", "O=Gannet"}));
  auto escaped = ParseDn("CN=Smith\\, John,O=Acme");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(*escaped, (std::vector<std::string>{"CN=Smith, John", "O=Acme"}));
  EXPECT_FALSE(ParseDn("alice@example.com"));
  EXPECT_FALSE(ParseDn("CN=a,,O=b"));
}

// The reload hook: SIGHUP handling (another branch) builds a context from the new options and
// calls Server::SetTlsContext.
TEST(TlsReloadHook, NewConnectionsUseTheNewContextOldOnesStayUp) {
  Options opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.threads = 2;
  opts.tls = ServerConfig(Certs().server_cert, Certs().server_key);
  Server server(opts);
  ASSERT_TRUE(server.Start());

  TlsClientOptions first_ca;
  first_ca.ca_file = Certs().ca;
  TlsConn old_conn;
  ASSERT_TRUE(old_conn.Connect(server.port(), first_ca)) << old_conn.error();
  old_conn.Send("CONNECT {\"verbose\":false}\r\nSUB news 1\r\n");
  EXPECT_EQ(old_conn.Flush(), "");

  // A certificate from another CA, as after a rotation.
  std::string error;
  auto next = TlsContext::Create(ServerConfig(Certs().server2_cert, Certs().server2_key), error);
  ASSERT_TRUE(next) << error;
  auto before = server.tls_context();
  server.SetTlsContext(next);
  EXPECT_EQ(server.tls_context(), next);

  // New connections get the new certificate: the old CA no longer verifies it...
  TlsConn stale;
  EXPECT_FALSE(stale.Connect(server.port(), first_ca));
  // ...the new one does.
  TlsClientOptions second_ca;
  second_ca.ca_file = Certs().other_ca;
  TlsConn fresh;
  ASSERT_TRUE(fresh.Connect(server.port(), second_ca)) << fresh.error();
  fresh.Send("CONNECT {\"verbose\":false}\r\nPUB news 5\r\nhello\r\n");
  EXPECT_EQ(fresh.Flush(), "");
  // The connection made before the swap was not disturbed and still gets messages.
  EXPECT_EQ(old_conn.ReadUntil("hello\r\n"), "MSG news 1 5\r\nhello\r\n");
  EXPECT_EQ(old_conn.Flush(), "");
  before.reset();  // the old context lives on in the old connection
  EXPECT_EQ(old_conn.Flush(), "");
  server.Shutdown();
}

}  // namespace
}  // namespace gannet
