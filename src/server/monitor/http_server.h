// A small HTTP/1.1 server on its own thread (one epoll loop), for the monitoring endpoints.
//
// Any method (HEAD without a body), request bodies only as a bounded Content-Length that is read
// and dropped, keep-alive and pipelining, Content-Length responses. Malformed requests get a 400
// (and the connection closed); the handler runs on this thread, one request at a time.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/shared_snapshot.h"

struct ssl_st;  // OpenSSL's SSL

namespace gannet {

class TlsContext;

struct HttpRequest {
  std::string method;
  std::string path;   // percent-decoded, without the query
  std::string query;  // raw, without '?'
  // The first value of a query parameter, percent-decoded ("" when absent), as Go's
  // url.Values.Get.
  std::string Param(std::string_view key) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static HttpResponse Text(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// One request head parsed from the start of a buffer (the server's parser, exposed for tests
// and the fuzzer).
struct HttpRequestHead {
  HttpRequest request;
  bool keep_alive = true;
  size_t content_length = 0;
  size_t head_bytes = 0;  // request line and headers, with the blank line
};
struct HttpParseError {
  int status = 400;
  std::string text;
};
enum class HttpParse { kIncomplete, kComplete, kError };
HttpParse ParseHttpRequestHead(std::string_view buffer, HttpRequestHead& out,
                               HttpParseError& error);

class HttpServer {
 public:
  explicit HttpServer(HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: any free port) and starts the thread. Returns an error text.
  std::string Start(const std::string& host, int port);
  void Stop();
  int port() const { return port_; }
  // HTTPS: connections accepted from now on speak TLS with this context (no client
  // certificates asked for). Any thread.
  void SetTls(std::shared_ptr<const TlsContext> tls) { tls_.Store(std::move(tls)); }

  // Exposed for tests: percent-decoding ('+' as space when `plus_is_space`).
  static bool PercentDecode(std::string_view in, std::string& out, bool plus_is_space);

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    std::string out;
    size_t out_off = 0;
    size_t body_left = 0;  // request body bytes still to drop
    bool close_after_write = false;
    int64_t last_active_ms = 0;
    ssl_st* ssl = nullptr;  // HTTPS
    bool handshaking = false;
  };

  void Run();
  void Accept();
  void OnReadable(Conn& c);
  // Handles the complete requests in c.in; false when the connection must close now.
  bool ProcessInput(Conn& c);
  // Tries to write c.out; false when the connection must close.
  bool Flush(Conn& c);
  void CloseConn(int fd);
  void UpdateInterest(Conn& c);
  // HTTPS: goes on with the handshake; false when it failed (the caller closes).
  bool ContinueHandshake(Conn& c);
  // Plain or through SSL; as read/send: bytes, 0 at EOF, or -1 with errno (EAGAIN: wait).
  ssize_t ReadSome(Conn& c, char* buf, size_t len);
  ssize_t WriteSome(Conn& c, const char* data, size_t len);
  void SetEvents(int fd, uint32_t events);

  HttpHandler handler_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::unordered_map<int, Conn> conns_;
  SharedSnapshot<const TlsContext> tls_;
};

}  // namespace gannet
