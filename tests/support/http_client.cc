// A blocking HTTP/1.1 client for tests (see http_client.h).
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace gannet::test {

namespace {

void Parse(HttpResult& r) {
  size_t head_end = r.raw.find("\r\n\r\n");
  if (head_end == std::string::npos || r.raw.compare(0, 5, "HTTP/") != 0) return;
  std::string_view head(r.raw.data(), head_end);
  size_t sp = head.find(' ');
  if (sp == std::string_view::npos) return;
  r.status = std::atoi(std::string(head.substr(sp + 1, 3)).c_str());
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(
        pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers[name] = std::string(value);
    }
    pos = next;
  }
  r.body = r.raw.substr(head_end + 4);
  if (r.headers["transfer-encoding"] == "chunked") {  // Go streams large bodies so
    std::string chunked = std::move(r.body);
    r.body.clear();
    size_t at = 0;
    while (at < chunked.size()) {
      size_t eol = chunked.find("\r\n", at);
      if (eol == std::string::npos) break;
      size_t len = std::stoul(chunked.substr(at, eol - at), nullptr, 16);
      if (len == 0) break;
      r.body += chunked.substr(eol + 2, len);
      at = eol + 2 + len + 2;
    }
  }
}

}  // namespace

HttpResult HttpRaw(int port, std::string_view request, std::chrono::milliseconds timeout) {
  HttpResult r;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return r;
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    r.raw.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  Parse(r);
  return r;
}

HttpResult HttpGet(int port, std::string_view target, std::chrono::milliseconds timeout) {
  std::string request =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  return HttpRaw(port, request, timeout);
}

}  // namespace gannet::test
