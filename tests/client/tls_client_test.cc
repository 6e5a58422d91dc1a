// The client library over TLS, against gannet-server and the reference nats-server with the
// same tls {} block: tls:// URLs, taking up TLS a server requires, CA and hostname
// verification, client certificates.
#include <gtest/gtest.h>

#include <memory>

#include "gannet/client.h"
#include "server_test.h"
#include "tls_support.h"

namespace gannet::test {
namespace {

using namespace std::chrono_literals;
using client::Connection;
using client::Options;

class TlsClientTest : public ServerTest {
 protected:
  // Starts the server with tls {} from our test certificates (plus `extra` in the block).
  ServerProcess& StartTls(const std::string& extra = "",
                          const std::string& cert = Certs().server_cert,
                          const std::string& key = Certs().server_key) {
    return StartWithConfig("tls { cert_file: \"" + cert + "\", key_file: \"" + key +
                           "\", ca_file: \"" + Certs().ca + "\"\n" + extra + "\n}\n");
  }
  std::string TlsUrl() { return "tls://localhost:" + std::to_string(server().port()); }
  Options Trusting() {
    Options o;
    o.servers = {TlsUrl()};
    o.tls_ca_file = Certs().ca;
    o.allow_reconnect = false;
    return o;
  }
};

TEST_P(TlsClientTest, PublishSubscribeRequestOverTls) {
  StartTls();
  auto nc = Connection::Connect(Trusting());
  ASSERT_TRUE(nc.ok()) << nc.error();
  EXPECT_TRUE(nc->server_info().tls_required);
  auto sub = nc->SubscribeSync("greet.*");
  ASSERT_TRUE(sub.ok());
  auto svc = nc->Subscribe("svc", [&](client::Message& m) { nc->Respond(m, "pong"); });
  ASSERT_TRUE(svc.ok());
  std::string big(200000, 'z');  // many TLS records each way
  ASSERT_EQ(nc->Publish("greet.joe", "hello"), client::Status::kOk);
  ASSERT_EQ(nc->Publish("greet.big", big), client::Status::kOk);
  auto m1 = sub->NextMessage(5s);
  ASSERT_TRUE(m1.ok()) << m1.error();
  EXPECT_EQ(m1->data(), "hello");
  auto m2 = sub->NextMessage(5s);
  ASSERT_TRUE(m2.ok()) << m2.error();
  EXPECT_EQ(m2->data(), big);
  auto reply = nc->Request("svc", "ping", 5s);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->data(), "pong");
  // Many small publishes: the publisher's batched writes go through TLS too.
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(nc->Publish("greet.n", "x"), client::Status::kOk);
  EXPECT_EQ(nc->Flush(), client::Status::kOk);
  int got = 0;
  while (got < 20000) {
    auto m = sub->NextMessage(5s);
    ASSERT_TRUE(m.ok()) << "after " << got << ": " << m.error();
    ++got;
  }
  nc->Close();
}

TEST_P(TlsClientTest, NatsUrlTakesUpTlsTheServerRequires) {
  StartTls();
  Options o = Trusting();
  o.servers = {"nats://localhost:" + std::to_string(server().port())};
  auto nc = Connection::Connect(o);
  ASSERT_TRUE(nc.ok()) << nc.error();
  EXPECT_EQ(nc->Flush(), client::Status::kOk);
}

TEST_P(TlsClientTest, ServerCertificateIsVerified) {
  StartTls();
  // Not the CA that signed the server's certificate.
  Options o = Trusting();
  o.tls_ca_file = Certs().other_ca;
  auto bad_ca = Connection::Connect(o);
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_NE(bad_ca.error().find("certificate verify failed"), std::string::npos) << bad_ca.error();
  // Not the name in the certificate.
  o = Trusting();
  o.tls_expected_hostname = "example.org";
  auto bad_name = Connection::Connect(o);
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.error().find("certificate verify failed"), std::string::npos)
      << bad_name.error();
  // An IP address URL is checked against the certificate's IP SAN.
  o = Trusting();
  o.servers = {"tls://127.0.0.1:" + std::to_string(server().port())};
  auto by_ip = Connection::Connect(o);
  EXPECT_TRUE(by_ip.ok()) << by_ip.error();
  // Verification off (for tests): accepted whatever the CA.
  o = Trusting();
  o.tls_ca_file = Certs().other_ca;
  o.tls_skip_verify = true;
  auto skipped = Connection::Connect(o);
  EXPECT_TRUE(skipped.ok()) << skipped.error();
}

TEST_P(TlsClientTest, ClientCertificateForVerifyingServer) {
  StartTls("verify: true");
  Options o = Trusting();
  o.tls_cert_file = Certs().client_cert;
  o.tls_key_file = Certs().client_key;
  auto nc = Connection::Connect(o);
  ASSERT_TRUE(nc.ok()) << nc.error();
  EXPECT_EQ(nc->Flush(), client::Status::kOk);
  // Without one the server refuses us (at once, or at the first read under TLS 1.3).
  auto none = Connection::Connect(Trusting());
  EXPECT_FALSE(none.ok());
}

TEST_P(TlsClientTest, SecureAskedButNotOffered) {
  Start();
  Options o = Trusting();
  auto nc = Connection::Connect(o);
  ASSERT_FALSE(nc.ok());
  EXPECT_NE(nc.error().find("secure connection required"), std::string::npos) << nc.error();
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(TlsClientTest);

}  // namespace
}  // namespace gannet::test
