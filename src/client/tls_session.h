// The client side of TLS on one connection (OpenSSL): the handshake after the server's
// plain-text INFO, then non-blocking reads and writes.
//
// Threading: the I/O thread reads while publishers write (under the connection's mu_), and an
// SSL object is not safe for concurrent use, so every SSL call is made under the session's own
// lock (a leaf: held only for the duration of one non-blocking call).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "client/socket.h"
#include "gannet/client/options.h"

struct ssl_st;
struct ssl_ctx_st;

namespace gannet::client::detail {

class TlsSession {
 public:
  // Makes the socket non-blocking and does the handshake before the deadline: the server's
  // certificate is verified against opts.tls_ca_file (else the system's CAs) and `host` (or
  // opts.tls_expected_hostname), unless opts.tls_skip_verify; the client certificate is sent
  // when configured. Null with *error set on failure.
  static std::unique_ptr<TlsSession> Connect(int fd, const Options& opts, const std::string& host,
                                             Deadline deadline, std::string* error);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // As recv/send with MSG_DONTWAIT: bytes, 0 at the end of the stream (reads), or -1 with
  // errno (EAGAIN: try again when the socket is ready) and *error set for real errors.
  long Read(char* buf, size_t len, std::string* error);
  long Write(const char* data, size_t len, std::string* error);
  // Decrypted bytes waiting inside OpenSSL (poll would not report them).
  bool HasPending();
  // close_notify, best effort.
  void Shutdown();

 private:
  TlsSession() = default;
  std::mutex mu_;
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
};

// Reads/writes through `tls` when there is one, else the plain socket (non-blocking).
long RecvSome(int fd, TlsSession* tls, char* buf, size_t len, std::string* error);
// Writes everything before the deadline (waiting for room); false with *error set.
bool WriteAllTo(int fd, TlsSession* tls, const char* data, size_t len, Deadline deadline,
                std::string* error);
// Reads what is available, waiting until the deadline for something (0 on EOF, -1 on error
// or timeout with *error set).
long ReadSomeFrom(int fd, TlsSession* tls, char* buf, size_t len, Deadline deadline,
                  std::string* error);

}  // namespace gannet::client::detail
