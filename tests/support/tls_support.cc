// TLS test support: certificates from the openssl command, a TLS client (see tls_support.h).
#include "tls_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace gannet::test {

namespace {

using Clock = std::chrono::steady_clock;

void Run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("test certificates: failed: " + command);
  }
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A key and a certificate signed by `ca` (self-signed when ca is empty).
void MakeCert(const std::string& dir, const std::string& name, const std::string& subject,
              const std::string& extensions, const std::string& ca) {
  std::string key = dir + "/" + name + "-key.pem";
  std::string cert = dir + "/" + name + ".pem";
  std::string newkey = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '" + key + "'";
  if (ca.empty()) {
    Run("openssl req -x509 " + newkey + " -out '" + cert + "' -days 2 -subj '" + subject + "'");
    return;
  }
  std::string csr = dir + "/" + name + ".csr";
  std::string ext = dir + "/" + name + ".ext";
  WriteFile(ext, extensions);
  Run("openssl req " + newkey + " -out '" + csr + "' -subj '" + subject + "'");
  Run("openssl x509 -req -in '" + csr + "' -CA '" + dir + "/" + ca + ".pem' -CAkey '" + dir + "/" +
      ca + "-key.pem' -CAcreateserial -out '" + cert + "' -days 2 -extfile '" + ext + "'");
}

void MakeAll(const std::string& d) {
  const std::string server_ext =
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
  const std::string client_ext =
      "subjectAltName=email:alice@example.com,DNS:alice.example.com,URI:nats://alice\n"
      "extendedKeyUsage=clientAuth\n";
  MakeCert(d, "ca", "/CN=Gannet Test CA", "", "");
  MakeCert(d, "other-ca", "/CN=Other CA", "", "");
  MakeCert(d, "server", "/CN=localhost", server_ext, "ca");
  MakeCert(d, "client", "/O=Gannet/OU=Test/CN=alice", client_ext, "ca");
  MakeCert(d, "bob", "/CN=bob", "extendedKeyUsage=clientAuth\n", "ca");
  MakeCert(d, "other", "/CN=mallory", client_ext, "other-ca");
  MakeCert(d, "server2", "/CN=localhost", server_ext, "other-ca");
  // A cluster node's: presented as the server and as the client of a route.
  const std::string route_ext =
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
  MakeCert(d, "route", "/CN=localhost", route_ext, "ca");
  MakeCert(d, "route2", "/CN=localhost", route_ext, "other-ca");
  WriteFile(d + "/complete", "");
}

// The certificates are made once and shared by the test processes of a run (ctest starts one
// per test): a directory per user and version of this generator, made under a temporary name
// and renamed into place, remade once it is a day old (the certificates last two).
std::string SharedDirectory() {
  namespace fs = std::filesystem;
  const std::string shared = "/tmp/gannet-test-certs-" + std::to_string(::getuid()) + "-v2";
  std::error_code ec;
  if (fs::exists(shared + "/complete", ec)) {
    auto age = fs::file_time_type::clock::now() - fs::last_write_time(shared + "/complete", ec);
    if (!ec && age < std::chrono::hours(24)) return shared;
  }
  char tmpl[] = "/tmp/gannet-certs-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  std::string fresh = tmpl;
  MakeAll(fresh);
  std::string old = fresh + ".old";
  fs::rename(shared, old, ec);  // an expired set, if any (a reader keeps its open files)
  fs::rename(fresh, shared, ec);
  if (ec) fs::remove_all(fresh, ec);  // another process won the race: use its set
  fs::remove_all(old, ec);
  return shared;
}

struct CertsHolder {
  TestCerts certs;
  CertsHolder() {
    std::string d = SharedDirectory();
    certs.dir = d;
    auto pem = [&](const char* name) { return d + "/" + name + ".pem"; };
    auto key = [&](const char* name) { return d + "/" + name + "-key.pem"; };
    certs.ca = pem("ca");
    certs.server_cert = pem("server");
    certs.server_key = key("server");
    certs.client_cert = pem("client");
    certs.client_key = key("client");
    certs.bob_cert = pem("bob");
    certs.bob_key = key("bob");
    certs.other_ca = pem("other-ca");
    certs.other_cert = pem("other");
    certs.other_key = key("other");
    certs.server2_cert = pem("server2");
    certs.server2_key = key("server2");
    certs.route_cert = pem("route");
    certs.route_key = key("route");
    certs.route2_cert = pem("route2");
    certs.route2_key = key("route2");
  }
};

}  // namespace

const TestCerts& Certs() {
  static CertsHolder holder;
  return holder.certs;
}

TlsConn::~TlsConn() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool TlsConn::Connect(int port, const TlsClientOptions& opts, std::chrono::milliseconds timeout) {
  return Setup(port, opts, timeout, true);
}

bool TlsConn::ConnectDirect(int port, const TlsClientOptions& opts,
                            std::chrono::milliseconds timeout) {
  return Setup(port, opts, timeout, false);
}

bool TlsConn::Setup(int port, const TlsClientOptions& opts, std::chrono::milliseconds timeout,
                    bool read_info) {
  // OpenSSL writes with write(2): a peer that closed must be an error, not SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  auto deadline = Clock::now() + timeout;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = "connect failed";
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  if (read_info) {
    // The INFO line, in plain text, byte by byte so nothing of the TLS stream is taken.
    while (info_.size() < 2 || info_.compare(info_.size() - 2, 2, "\r\n") != 0) {
      char c;
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n == 1) {
        info_ += c;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        error_ = "closed before INFO";
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      int ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (ms <= 0 || ::poll(&p, 1, ms) <= 0) {
        error_ = "no INFO";
        return false;
      }
    }
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (!opts.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx_, opts.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!opts.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, opts.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, opts.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      error_ = "cannot load the client certificate";
      return false;
    }
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, opts.server_name.c_str());
  if (!opts.ca_file.empty()) SSL_set1_host(ssl_, opts.server_name.c_str());
  while (true) {
    ERR_clear_error();
    int rc = SSL_connect(ssl_);
    if (rc == 1) break;
    int err = SSL_get_error(ssl_, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      unsigned long e = ERR_peek_last_error();
      error_ = e ? ERR_reason_error_string(e) : "handshake failed";
      if (!error_.empty() && error_[0] == '\0') error_ = "handshake failed";
      return false;
    }
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (ms <= 0 || ::poll(&p, 1, ms) <= 0) {
      error_ = "handshake timed out";
      return false;
    }
  }
  return true;
}

std::string TlsConn::Version() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

bool TlsConn::Send(std::string_view bytes) {
  size_t off = 0;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (off < bytes.size()) {
    ERR_clear_error();
    int n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off));
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return false;
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (Clock::now() > deadline || ::poll(&p, 1, 100) < 0) return false;
  }
  return true;
}

bool TlsConn::Fill(Clock::time_point deadline) {
  while (!closed_) {
    char tmp[16384];
    ERR_clear_error();
    int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    int err = SSL_get_error(ssl_, n);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      unsigned long e = ERR_peek_last_error();
      if (e) error_ = ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "tls error";
      closed_ = true;
      return false;
    }
    int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (ms <= 0) return false;
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    ::poll(&p, 1, ms);
  }
  return false;
}

std::string TlsConn::ReadUntil(std::string_view needle, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto pos = buf_.find(needle);
    if (pos != std::string::npos) {
      std::string out = buf_.substr(0, pos + needle.size());
      buf_.erase(0, pos + needle.size());
      return out;
    }
    if (!Fill(deadline)) return "";
  }
}

std::string TlsConn::Flush(std::chrono::milliseconds timeout) {
  if (!Send("PING\r\n")) return "";
  std::string got = ReadUntil("PONG\r\n", timeout);
  if (got.empty()) return "";
  return got.substr(0, got.size() - 6);
}

bool TlsConn::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!closed_) {
    if (!Fill(deadline) && !closed_) return false;
  }
  return true;
}

std::string HttpsGet(int port, std::string_view target, const std::string& ca_file) {
  TlsConn conn;
  TlsClientOptions opts;
  opts.ca_file = ca_file;
  if (!conn.ConnectDirect(port, opts)) return "";
  std::string request =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (!conn.Send(request)) return "";
  conn.WaitClosed(std::chrono::seconds(10));
  return conn.pending();
}

}  // namespace gannet::test
