// TLS for the server's listeners (client port, HTTPS monitoring): an OpenSSL context built from
// a `tls {}` block with the reference's defaults, and what a connection asks of its peer's
// certificate (verify_and_map names, pinned keys, version and cipher names for /connz).
//
// Threading: a TlsContext is immutable once built and shared (std::shared_ptr) by every
// connection made with it; SSL_CTX is safe to use from many threads. The server holds the
// current one and may replace it (certificate reload): connections keep the context they
// started with, new connections take the new one. A connection's SSL object is used by one
// thread at a time (see Client).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "auth/cert_names.h"
#include "server/config/options.h"

namespace gannet {

class TlsContext {
 public:
  // Builds a server-side context: certificate and key, CA for client certificates, verify,
  // cipher suites (TLS 1.2) and curves as the reference's GenTLSConfig, TLS 1.2 minimum.
  // Returns null and sets `error` (the reference's words where it has them) on failure.
  static std::shared_ptr<const TlsContext> Create(const TlsConfig& config, std::string& error);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A new server-side SSL for an accepted socket; null if OpenSSL is out of memory.
  // `verify_clients` false: no client certificate asked for (HTTPS monitoring).
  // `memory_input`: the SSL reads from a memory BIO the caller fills from the socket (writes
  // still go straight to the socket).
  SSL* NewServerSsl(int fd, bool verify_clients = true, bool memory_input = false) const;

  // A new client-side SSL for a socket we dialed (a route): verifies the peer's certificate
  // names `host` (a DNS name or an IP); reads from a memory BIO as NewServerSsl's.
  SSL* NewClientSsl(int fd, const std::string& host) const;

  bool verify() const { return verify_; }  // client certificates required (tls_verify)
  bool map_users() const { return map_; }  // verify_and_map
  std::chrono::milliseconds timeout() const { return timeout_; }
  // Whether the peer's certificate key is pinned (always true without pinned_certs).
  bool PeerKeyPinned(SSL* ssl) const;

 private:
  TlsContext() = default;

  SSL_CTX* ctx_ = nullptr;
  bool verify_ = false;
  bool map_ = false;
  bool insecure_ = false;
  std::chrono::milliseconds timeout_{0};
  std::unordered_set<std::string> pinned_;  // lowercase hex SHA-256 of SubjectPublicKeyInfo
};

// The names verify_and_map tries (auth/cert_names.h), read from the peer's certificate.
PeerCertNames PeerNames(SSL* ssl);

// "1.2" / "1.3", and the cipher suite's name as the reference prints it.
std::string TlsVersionName(const SSL* ssl);
std::string TlsCipherName(const SSL* ssl);

// Config checks with the reference's error texts (opts.go parseTLS).
bool IsKnownCipherSuite(std::string_view name);
bool IsKnownCurve(std::string_view name);

// Why a server handshake failed, in the words of the reference's log ("tls: ...", "x509: ...",
// "EOF"). Call right after the failing SSL call, with its SSL_get_error result and errno.
std::string HandshakeErrorText(SSL* ssl, int ssl_error, int saved_errno);

}  // namespace gannet
