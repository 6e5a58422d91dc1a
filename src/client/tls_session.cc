// The client side of TLS (see tls_session.h).
#include "client/tls_session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace gannet::client::detail {

namespace {

std::string SslErrorText(const char* what) {
  unsigned long e = ERR_peek_last_error();
  std::string text = what;
  if (e != 0) {
    const char* reason = ERR_reason_error_string(e);
    text += ": ";
    text += reason ? reason : "error";
  }
  ERR_clear_error();
  return text;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool WaitFor(int fd, short events, Deadline deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, PollTimeout(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

std::unique_ptr<TlsSession> TlsSession::Connect(int fd, const Options& opts,
                                                const std::string& host, Deadline deadline,
                                                std::string* error) {
  std::unique_ptr<TlsSession> s(new TlsSession());
  s->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!s->ctx_) {
    *error = SslErrorText("tls");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(s->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(s->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(s->ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (!opts.tls_skip_verify) {
    int ok = opts.tls_ca_file.empty()
                 ? SSL_CTX_set_default_verify_paths(s->ctx_)
                 : SSL_CTX_load_verify_locations(s->ctx_, opts.tls_ca_file.c_str(), nullptr);
    if (ok != 1) {
      *error = SslErrorText(("tls: cannot load CA file " + opts.tls_ca_file).c_str());
      return nullptr;
    }
    SSL_CTX_set_verify(s->ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!opts.tls_cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(s->ctx_, opts.tls_cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(s->ctx_, opts.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(s->ctx_) != 1) {
      *error = SslErrorText(("tls: cannot load certificate " + opts.tls_cert_file).c_str());
      return nullptr;
    }
  }
  s->ssl_ = SSL_new(s->ctx_);
  if (!s->ssl_) {
    *error = SslErrorText("tls");
    return nullptr;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);  // OpenSSL reads without MSG_DONTWAIT
  SSL_set_fd(s->ssl_, fd);
  const std::string name = opts.tls_expected_hostname.empty() ? host : opts.tls_expected_hostname;
  if (IsIpAddress(name)) {
    if (!opts.tls_skip_verify) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(s->ssl_, name.c_str());
    if (!opts.tls_skip_verify) SSL_set1_host(s->ssl_, name.c_str());
  }
  while (true) {
    ERR_clear_error();
    int rc = SSL_connect(s->ssl_);
    if (rc == 1) break;
    int err = SSL_get_error(s->ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!WaitFor(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        *error = "tls: handshake timeout";
        return nullptr;
      }
      continue;
    }
    long verify = SSL_get_verify_result(s->ssl_);
    if (verify != X509_V_OK) {
      *error =
          std::string("tls: certificate verify failed: ") + X509_verify_cert_error_string(verify);
      ERR_clear_error();
    } else {
      *error = SslErrorText("tls: handshake failed");
      if (*error == "tls: handshake failed") *error += ": connection closed by the server";
    }
    return nullptr;
  }
  return s;
}

TlsSession::~TlsSession() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
}

long TlsSession::Read(char* buf, size_t len, std::string* error) {
  std::lock_guard lock(mu_);
  ERR_clear_error();
  errno = 0;
  int n = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (n > 0) return n;
  int saved = errno;
  int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && saved == 0)) {
    ERR_clear_error();
    return 0;
  }
  *error = err == SSL_ERROR_SYSCALL ? std::string("read: ") + std::strerror(saved)
                                    : SslErrorText("tls: read");
  errno = saved != 0 && saved != EAGAIN ? saved : EIO;
  return -1;
}

long TlsSession::Write(const char* data, size_t len, std::string* error) {
  std::lock_guard lock(mu_);
  ERR_clear_error();
  errno = 0;
  int n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (n > 0) return n;
  int saved = errno;
  int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  *error = err == SSL_ERROR_SYSCALL ? std::string("write: ") + std::strerror(saved)
                                    : SslErrorText("tls: write");
  errno = saved != 0 && saved != EAGAIN ? saved : EPIPE;
  return -1;
}

bool TlsSession::HasPending() {
  std::lock_guard lock(mu_);
  return SSL_pending(ssl_) > 0;
}

void TlsSession::Shutdown() {
  std::lock_guard lock(mu_);
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

long RecvSome(int fd, TlsSession* tls, char* buf, size_t len, std::string* error) {
  if (tls) return tls->Read(buf, len, error);
  ssize_t n = ::recv(fd, buf, len, MSG_DONTWAIT);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    *error = std::string("read: ") + std::strerror(errno);
  }
  return static_cast<long>(n);
}

bool WriteAllTo(int fd, TlsSession* tls, const char* data, size_t len, Deadline deadline,
                std::string* error) {
  if (!tls) return WriteAll(fd, data, len, deadline, error);
  while (len > 0) {
    long n = tls->Write(data, len, error);
    if (n > 0) {
      data += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (errno != EAGAIN) return false;
    if (!WaitFor(fd, POLLOUT, deadline)) {
      *error = "write timeout";
      return false;
    }
  }
  return true;
}

long ReadSomeFrom(int fd, TlsSession* tls, char* buf, size_t len, Deadline deadline,
                  std::string* error) {
  if (!tls) return ReadSome(fd, buf, len, deadline, error);
  while (true) {
    long n = tls->Read(buf, len, error);
    if (n >= 0) return n;
    if (errno != EAGAIN) return -1;
    if (!WaitFor(fd, POLLIN, deadline)) {
      *error = "read timeout";
      return -1;
    }
  }
}

}  // namespace gannet::client::detail
