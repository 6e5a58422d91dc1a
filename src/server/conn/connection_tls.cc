// A connection's TLS: the server side of the handshake, and reading and writing through OpenSSL
// on the worker thread that owns the connection (see connection.h for who may use the SSL
// when).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "base/logger.h"
#include "base/socket_address.h"
#include "server/conn/connection.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"

namespace gannet {

namespace {

// Go's net.Addr text: "1.2.3.4:5" or "[::1]:5".
std::string GoAddress(const std::string& ip, int port) {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

}  // namespace

std::string Connection::RemoteAddress() const { return GoAddress(ip_, port_); }

std::string Connection::LocalAddress() const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  std::string ip;
  int port = 0;
  SplitSocketAddress(addr, ip, port);
  return GoAddress(ip, port);
}

bool Connection::StartTls(std::shared_ptr<const TlsContext> ctx) {
  tls_ = std::move(ctx);
  tls_started_ = worker_.now();
  ssl_ = tls_->NewServerSsl(fd_, /*verify_clients=*/true, /*memory_input=*/true);
  tls_state_ = TlsState::kHandshake;
  if (!ssl_) {
    FailHandshake("tls: out of memory");
    return false;
  }
  return true;
}

bool Connection::StartTlsClient(std::shared_ptr<const TlsContext> ctx, const std::string& host) {
  tls_ = std::move(ctx);
  tls_started_ = worker_.now();
  tls_client_side_ = true;
  tls_peeked_ = true;  // we speak first
  ssl_ = tls_->NewClientSsl(fd_, host);
  tls_state_ = TlsState::kHandshake;
  if (!ssl_) {
    FailHandshake("tls: out of memory");
    return false;
  }
  ContinueHandshake();  // sends the ClientHello
  return !closing();
}

void Connection::FailHandshake(const std::string& why) {
  LOG_ERROR("%s - TLS handshake error: %s", log_prefix_.c_str(), why.c_str());
  Close(CloseReason::kTLSHandshakeError);
}

// Reads what the socket has into the SSL's input (a memory BIO): one read per readiness
// event, as for plain connections, so OpenSSL never holds bytes that epoll would not announce,
// and a fast producer cannot keep its worker reading forever. Returns the read's result
// (bytes, 0 at EOF, -1 with errno).
ssize_t Connection::FeedTls() {
  std::vector<char>& buf = worker_.read_buffer;
  ssize_t n = ::read(fd_, buf.data(), buf.size());
  if (n > 0) BIO_write(SSL_get_rbio(ssl_), buf.data(), static_cast<int>(n));
  return n;
}

void Connection::ContinueHandshake() {
  if (!tls_peeked_) {
    // As Go's crypto/tls: a first record that is not a handshake (a client speaking plain
    // text) fails at once, without an alert.
    unsigned char first = 0;
    ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      FailHandshake("EOF");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      FailHandshake("read tcp " + LocalAddress() + "->" + RemoteAddress() +
                    ": read: " + std::strerror(errno));
      return;
    }
    if (first != 0x16) {
      FailHandshake("tls: first record does not look like a TLS handshake");
      return;
    }
    tls_peeked_ = true;
  }
  ssize_t fed = FeedTls();
  int read_errno = errno;
  if (fed == 0) {
    FailHandshake("EOF");
    return;
  }
  if (fed < 0 && read_errno != EAGAIN && read_errno != EWOULDBLOCK && read_errno != EINTR) {
    FailHandshake("read tcp " + LocalAddress() + "->" + RemoteAddress() +
                  ": read: " + std::strerror(read_errno));
    return;
  }
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_);
  if (rc != 1) {
    int saved_errno = errno;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) {
      UpdateWriteInterest(false);
      return;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
      UpdateWriteInterest(true);
      return;
    }
    FailHandshake(HandshakeErrorText(ssl_, err, saved_errno));
    return;
  }
  UpdateWriteInterest(false);
  if (!tls_client_side_ && !tls_->PeerKeyPinned(ssl_)) {
    LOG_DEBUG("%s - Failed pinned cert test", log_prefix_.c_str());
    FailHandshake("certificate not pinned");
    return;
  }
  tls_version_ = TlsVersionName(ssl_);
  tls_cipher_ = TlsCipherName(ssl_);
  LOG_DEBUG("%s - TLS handshake complete", log_prefix_.c_str());
  LOG_DEBUG("%s - TLS version %s, cipher suite %s", log_prefix_.c_str(), tls_version_.c_str(),
            tls_cipher_.c_str());
  tls_state_ = TlsState::kEstablished;
  OnTlsEstablished();
  if (closing()) return;
  // The peer's first commands may have come with its last handshake record.
  if (SSL_has_pending(ssl_) || BIO_ctrl_pending(SSL_get_rbio(ssl_)) > 0) DecryptAndDeliver(false);
}

void Connection::ReadTls() {
  ssize_t n;
  int read_errno;
  {
    std::lock_guard wlock(write_mu_);  // direct writers use the SSL too
    n = FeedTls();
    read_errno = errno;
  }
  if (n < 0 && (read_errno == EAGAIN || read_errno == EWOULDBLOCK || read_errno == EINTR)) {
    return;
  }
  if (n < 0) {
    Close(read_errno == ECONNRESET ? CloseReason::kClientClosed : CloseReason::kReadError);
    return;
  }
  DecryptAndDeliver(n == 0);
}

void Connection::DecryptAndDeliver(bool eof) {
  std::vector<char>& buf = worker_.read_buffer;
  // What was fed is bounded (one socket read), so this ends.
  for (;;) {
    size_t filled = 0;
    int err = SSL_ERROR_NONE;
    {
      std::lock_guard wlock(write_mu_);
      while (filled < buf.size()) {
        ERR_clear_error();
        int n = SSL_read(ssl_, buf.data() + filled,
                         static_cast<int>(std::min<size_t>(buf.size() - filled, INT_MAX)));
        if (n > 0) {
          filled += static_cast<size_t>(n);
          continue;
        }
        err = SSL_get_error(ssl_, n);
        break;
      }
    }
    if (filled > 0) OnInput(buf.data(), filled);
    if (closing()) return;
    switch (err) {
      case SSL_ERROR_NONE:  // the buffer filled up: decrypt the rest
        continue;
      case SSL_ERROR_WANT_READ:
        if (eof) Close(CloseReason::kClientClosed);
        return;
      case SSL_ERROR_WANT_WRITE:
        read_wants_write_ = true;
        UpdateWriteInterest(true);
        return;
      case SSL_ERROR_ZERO_RETURN:  // close_notify
        Close(CloseReason::kClientClosed);
        return;
      default:  // a bad record, an alert
        ERR_clear_error();
        Close(CloseReason::kReadError);
        return;
    }
  }
}

ssize_t Connection::WriteSome() {
  // Plain connections, and the INFO that precedes the handshake.
  if (tls_state_ != TlsState::kEstablished) return out_.WriteTo(fd_);
  std::string_view front = out_.Front();
  if (front.empty()) return 0;
  ERR_clear_error();
  errno = 0;
  int n = SSL_write(ssl_, front.data(), static_cast<int>(std::min<size_t>(front.size(), INT_MAX)));
  if (n > 0) {
    out_.Consume(static_cast<size_t>(n));
    return n;
  }
  int saved_errno = errno;
  int err = SSL_get_error(ssl_, n);
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
    errno = EAGAIN;
  } else if (err == SSL_ERROR_SYSCALL && saved_errno == EINTR) {
    errno = EINTR;
  } else {
    errno = saved_errno != 0 ? saved_errno : EPIPE;
  }
  return -1;
}

void Connection::ShutdownTls() {
  // A close_notify, as Go's tls.Conn.Close after a completed handshake; best effort.
  if (tls_state_ == TlsState::kEstablished) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  SSL_free(ssl_);
  ssl_ = nullptr;
}

}  // namespace gannet
