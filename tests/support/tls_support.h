// TLS for tests: certificates made by the test process itself with the `openssl` command (no
// private key is checked in), and a blocking TLS client connection for raw protocol tests.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

struct ssl_st;
struct ssl_ctx_st;

namespace gannet::test {

// Two CAs and the certificates signed by them, made by the first test process that needs them
// in a directory under /tmp shared by the processes of a test run (test keys only, made for the
// run: nothing secret). EC P-256 keys: quick to make. Tests write their own files elsewhere or
// under names of their own.
struct TestCerts {
  std::string dir;
  std::string ca;           // "Gannet Test CA"
  std::string server_cert;  // signed by ca; SAN DNS:localhost, IP:127.0.0.1
  std::string server_key;
  // Signed by ca; subject O=Gannet, OU=Test, CN=alice; SANs email:alice@example.com,
  // DNS:alice.example.com, URI:nats://alice.
  std::string client_cert;
  std::string client_key;
  // Signed by ca; subject CN=bob, no SANs (verify_and_map by subject DN).
  std::string bob_cert;
  std::string bob_key;
  std::string other_ca;    // "Other CA"
  std::string other_cert;  // a client certificate signed by other_ca
  std::string other_key;
  std::string server2_cert;  // signed by other_ca; SAN DNS:localhost, IP:127.0.0.1
  std::string server2_key;
  // For cluster routes (both ends present them): serverAuth and clientAuth, SAN DNS:localhost,
  // IP:127.0.0.1; route by ca, route2 by other_ca.
  std::string route_cert;
  std::string route_key;
  std::string route2_cert;
  std::string route2_key;
};
const TestCerts& Certs();

struct TlsClientOptions {
  std::string ca_file;  // verify the server against it (empty: no verification)
  std::string cert_file;
  std::string key_file;
  std::string server_name = "localhost";  // SNI and the name verified
};

class TlsConn {
 public:
  TlsConn() = default;
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  // NATS: connects, reads the plain-text INFO line (info()), then does the TLS handshake.
  // False on failure, with error() saying why.
  bool Connect(int port, const TlsClientOptions& opts,
               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // HTTPS: the handshake straight away.
  bool ConnectDirect(int port, const TlsClientOptions& opts,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool Send(std::string_view bytes);
  // Reads until the unread input contains `needle`; returns it and what came before (and
  // consumes that), or "" on timeout, close or TLS error.
  std::string ReadUntil(std::string_view needle,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends PING and returns what came before the PONG ("" on failure, see ok()).
  std::string Flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True once the server closed the connection or the TLS session failed (an alert).
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  const std::string& info() const { return info_; }
  const std::string& error() const { return error_; }
  const std::string& pending() const { return buf_; }
  std::string Version() const;  // "TLSv1.3"

 private:
  bool Setup(int port, const TlsClientOptions& opts, std::chrono::milliseconds timeout,
             bool read_info);
  bool Fill(std::chrono::steady_clock::time_point deadline);  // false: timeout or closed
  int fd_ = -1;
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  bool closed_ = false;
  std::string info_;
  std::string error_;
  std::string buf_;
};

// GET https://localhost:port<target> (Connection: close); the whole response, "" on failure.
std::string HttpsGet(int port, std::string_view target, const std::string& ca_file);

}  // namespace gannet::test
