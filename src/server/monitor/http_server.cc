// A small HTTP/1.1 server for monitoring (see http_server.h).
#include "server/monitor/http_server.h"

#include "base/strings.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/logger.h"
#include "server/conn/tls_context.h"

namespace gannet {

namespace {

constexpr size_t kMaxHeaderBytes = size_t{16} * 1024;
constexpr size_t kMaxBodyBytes = size_t{1} << 20;
constexpr size_t kMaxConnections = 256;
// Pipelined requests wait while this much output is unsent, so a flood of requests on one
// connection cannot pile up responses in memory.
constexpr size_t kMaxQueuedOutput = size_t{1} << 20;
constexpr int64_t kIdleTimeoutMs = 60'000;
constexpr uint64_t kListenTag = ~uint64_t{0};
constexpr uint64_t kWakeTag = ~uint64_t{0} - 1;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Request Entity Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendResponse(std::string& out, const HttpResponse& r, bool head_only, bool closing) {
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += StatusText(r.status);
  out += "\r\nContent-Type: ";
  out += r.content_type;
  for (const auto& [name, value] : r.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  if (closing) out += "\r\nConnection: close";
  out += "\r\n\r\n";
  if (!head_only) out += r.body;
}

}  // namespace

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

bool HttpServer::PercentDecode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

std::string HttpRequest::Param(std::string_view key) const {
  std::string_view rest = query;
  std::string name, value;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (!HttpServer::PercentDecode(raw_name, name, true) || name != key) continue;
    if (!HttpServer::PercentDecode(raw_value, value, true)) continue;
    return value;
  }
  return {};
}

HttpParse ParseHttpRequestHead(std::string_view buffer, HttpRequestHead& out,
                               HttpParseError& error) {
  auto fail = [&](int status, const char* text) {
    error.status = status;
    error.text = text;
    return HttpParse::kError;
  };
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buffer.size() > kMaxHeaderBytes) return fail(431, "request header too large");
    return HttpParse::kIncomplete;
  }
  if (end > kMaxHeaderBytes) return fail(431, "request header too large");
  std::string_view head = buffer.substr(0, end);
  out.head_bytes = end + 4;
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  std::string_view headers =
      line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  // Request line: METHOD SP target SP HTTP/1.x
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0 ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed HTTP request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.substr(0, 5) == "HTTP/") return fail(505, "unsupported HTTP version");
    return fail(400, "malformed HTTP version");
  }
  if (target.empty() || target[0] != '/') return fail(400, "malformed request target");
  out.keep_alive = version == "HTTP/1.1";
  out.content_length = 0;
  // Header lines: "Name: value".
  while (!headers.empty()) {
    size_t eol = headers.find("\r\n");
    std::string_view h = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header line");
    std::string_view name = h.substr(0, colon);
    std::string_view value = Trim(h.substr(colon + 1));
    if (EqualsIgnoreCase(name, "connection")) {
      if (EqualsIgnoreCase(value, "close")) out.keep_alive = false;
      if (EqualsIgnoreCase(value, "keep-alive")) out.keep_alive = true;
    } else if (EqualsIgnoreCase(name, "content-length")) {
      size_t n = 0;
      if (value.empty()) return fail(400, "malformed Content-Length");
      for (char ch : value) {
        if (ch < '0' || ch > '9') return fail(400, "malformed Content-Length");
        if (n > kMaxBodyBytes) return fail(413, "request body too large");
        n = n * 10 + static_cast<size_t>(ch - '0');
      }
      if (n > kMaxBodyBytes) return fail(413, "request body too large");
      out.content_length = n;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      return fail(400, "chunked request bodies are not supported");
    }
  }
  out.request = HttpRequest{};
  out.request.method.assign(method);
  size_t qmark = target.find('?');
  if (qmark != std::string_view::npos) out.request.query.assign(target.substr(qmark + 1));
  if (!HttpServer::PercentDecode(target.substr(0, qmark), out.request.path, false)) {
    return fail(400, "malformed percent-encoding in path");
  }
  return HttpParse::kComplete;
}

HttpServer::HttpServer(HttpHandler handler) : handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

std::string HttpServer::Start(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &res);
      rc != 0) {
    return gai_strerror(rc);
  }
  listen_fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 || bind(listen_fd_, res->ai_addr, res->ai_addrlen) != 0 ||
      listen(listen_fd_, 128) != 0) {
    // Worded as Go's net package does ("bind: address already in use").
    std::string reason = std::strerror(errno);
    if (!reason.empty() && reason[0] >= 'A' && reason[0] <= 'Z') reason[0] += 'a' - 'A';
    std::string err = "bind: " + reason;
    freeaddrinfo(res);
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
    return err;
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Run(); });
  return {};
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  thread_.join();
  for (auto& [fd, c] : conns_) {
    if (c.ssl) SSL_free(c.ssl);
    close(fd);
  }
  conns_.clear();
  close(listen_fd_);
  close(wake_fd_);
  close(epoll_fd_);
  listen_fd_ = wake_fd_ = epoll_fd_ = -1;
}

void HttpServer::Run() {
  epoll_event events[64];
  std::vector<int> idle;
  while (!stopping_.load()) {
    int n = epoll_wait(epoll_fd_, events, 64, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("monitoring: epoll_wait: %s", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) continue;
      if (tag == kListenTag) {
        Accept();
        continue;
      }
      int fd = static_cast<int>(tag);
      auto it = conns_.find(fd);
      if (it == conns_.end()) continue;
      Conn& c = it->second;
      c.last_active_ms = NowMs();
      bool keep = true;
      if (c.handshaking) {
        if (!ContinueHandshake(c)) {
          CloseConn(fd);
          continue;
        }
        if (c.handshaking) continue;
        // Done: a request may have come with the last handshake record.
        if (SSL_has_pending(c.ssl)) events[i].events |= EPOLLIN;
      }
      if (events[i].events & EPOLLOUT) keep = Flush(c);
      if (keep && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        OnReadable(c);
        continue;  // OnReadable closes the connection itself when needed
      }
      if (!keep) CloseConn(fd);
    }
    // Idle keep-alive connections are closed after a while.
    int64_t now = NowMs();
    idle.clear();
    for (auto& [fd, c] : conns_) {
      if (now - c.last_active_ms > kIdleTimeoutMs) idle.push_back(fd);
    }
    for (int fd : idle) CloseConn(fd);
  }
}

void HttpServer::Accept() {
  while (true) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        LOG_ERROR("monitoring: accept: %s", std::strerror(errno));
      }
      return;
    }
    if (conns_.size() >= kMaxConnections) {
      close(fd);  // a monitoring port is no place for thousands of connections
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn& c = conns_[fd];
    c.fd = fd;
    c.last_active_ms = NowMs();
    if (auto tls = tls_.Load()) {
      c.ssl = tls->NewServerSsl(fd, /*verify_clients=*/false);
      if (!c.ssl) {
        conns_.erase(fd);
        close(fd);
        continue;
      }
      c.handshaking = true;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(fd);
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void HttpServer::CloseConn(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (auto it = conns_.find(fd); it != conns_.end() && it->second.ssl) {
    if (!it->second.handshaking) SSL_shutdown(it->second.ssl);  // close_notify, best effort
    SSL_free(it->second.ssl);
    ERR_clear_error();
  }
  close(fd);
  conns_.erase(fd);
}

void HttpServer::UpdateInterest(Conn& c) {
  bool want_write = c.out_off < c.out.size();
  // While a response is going out, stop reading (no unbounded pipelined backlog).
  SetEvents(c.fd, want_write ? uint32_t{EPOLLOUT} : uint32_t{EPOLLIN});
}

void HttpServer::SetEvents(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = static_cast<uint64_t>(fd);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

bool HttpServer::ContinueHandshake(Conn& c) {
  ERR_clear_error();
  int rc = SSL_do_handshake(c.ssl);
  if (rc == 1) {
    c.handshaking = false;
    SetEvents(c.fd, EPOLLIN);
    return true;
  }
  int err = SSL_get_error(c.ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    SetEvents(c.fd, err == SSL_ERROR_WANT_READ ? uint32_t{EPOLLIN} : uint32_t{EPOLLOUT});
    return true;
  }
  unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  // As Go's http.Server reports it through the reference's monitoring log.
  LOG_ERROR("monitoring: http: TLS handshake error: %s", reason ? reason : "EOF");
  ERR_clear_error();
  return false;
}

ssize_t HttpServer::ReadSome(Conn& c, char* buf, size_t len) {
  if (!c.ssl) return read(c.fd, buf, len);
  ERR_clear_error();
  int n = SSL_read(c.ssl, buf, static_cast<int>(len));
  if (n > 0) return n;
  int err = SSL_get_error(c.ssl, n);
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0)) return 0;
  if (errno == 0 || errno == EAGAIN) errno = EIO;
  return -1;
}

ssize_t HttpServer::WriteSome(Conn& c, const char* data, size_t len) {
  if (!c.ssl) return send(c.fd, data, len, MSG_NOSIGNAL);
  ERR_clear_error();
  int n = SSL_write(c.ssl, data, static_cast<int>(std::min<size_t>(len, 1 << 30)));
  if (n > 0) return n;
  int err = SSL_get_error(c.ssl, n);
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (errno == 0 || errno == EAGAIN) errno = EPIPE;
  return -1;
}

void HttpServer::OnReadable(Conn& c) {
  int fd = c.fd;
  char buf[16384];
  while (true) {
    ssize_t n = ReadSome(c, buf, sizeof buf);
    if (n == 0) {
      CloseConn(fd);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseConn(fd);
      return;
    }
    c.in.append(buf, static_cast<size_t>(n));
    if (c.in.size() > kMaxHeaderBytes + sizeof buf) break;
  }
  if (!ProcessInput(c) || !Flush(c)) {
    CloseConn(fd);
    return;
  }
  UpdateInterest(c);
}

bool HttpServer::ProcessInput(Conn& c) {
  while (!c.close_after_write && c.out.size() - c.out_off < kMaxQueuedOutput) {
    if (c.body_left > 0) {
      size_t drop = std::min(c.body_left, c.in.size());
      c.in.erase(0, drop);
      c.body_left -= drop;
      if (c.body_left > 0) return true;
    }
    HttpRequestHead head;
    HttpParseError error;
    switch (ParseHttpRequestHead(c.in, head, error)) {
      case HttpParse::kIncomplete:
        return true;
      case HttpParse::kError:
        AppendResponse(c.out, HttpResponse::Text(error.status, std::move(error.text)), false, true);
        c.close_after_write = true;
        c.in.clear();
        return true;
      case HttpParse::kComplete:
        break;
    }
    c.in.erase(0, head.head_bytes);
    c.body_left = head.content_length;
    HttpRequest& req = head.request;
    bool keep_alive = head.keep_alive;
    bool head_only = req.method == "HEAD";
    // Any method is served, as the reference's handlers do; HEAD gets the headers only.
    HttpResponse resp = handler_(req);
    if (!keep_alive) c.close_after_write = true;
    AppendResponse(c.out, resp, head_only, !keep_alive);
  }
  return true;
}

bool HttpServer::Flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = WriteSome(c, c.out.data() + c.out_off, c.out.size() - c.out_off);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      UpdateInterest(c);
      return true;
    }
    return false;
  }
  c.out.clear();
  c.out_off = 0;
  if (c.close_after_write) return false;
  // Requests pipelined behind the one just answered.
  if (!c.in.empty()) {
    if (!ProcessInput(c)) return false;
    if (!c.out.empty()) return Flush(c);
  }
  UpdateInterest(c);
  return true;
}

}  // namespace gannet
