#include "client_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gannet::test {

FakeServer::FakeServer(std::string info_json) : info_(std::move(info_json)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  listen(listen_fd_, 16);
  socklen_t len = sizeof(a);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
}

FakeServer::~FakeServer() {
  DropClient();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void FakeServer::DropClient() {
  if (client_fd_ >= 0) close(client_fd_);
  client_fd_ = -1;
  received_.clear();
}

bool FakeServer::AcceptClient(std::chrono::milliseconds timeout) {
  DropClient();
  pollfd p{listen_fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  client_fd_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (client_fd_ < 0) return false;
  if (!Send("INFO " + info_ + "\r\n")) return false;
  bool saved = answer_pings_;
  answer_pings_ = false;
  std::string got = ReadUntil("PING\r\n", timeout);
  answer_pings_ = saved;
  if (got.find("CONNECT ") == std::string::npos) return false;
  received_.clear();
  return Send("PONG\r\n");
}

bool FakeServer::AcceptRaw(std::chrono::milliseconds timeout) {
  DropClient();
  pollfd p{listen_fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  client_fd_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  return client_fd_ >= 0;
}

bool FakeServer::Send(const std::string& bytes) {
  if (client_fd_ < 0) return false;
  return ::send(client_fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

std::string FakeServer::ReadUntil(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t answered = 0;
  while (received_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || client_fd_ < 0) break;
    pollfd p{client_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = recv(client_fd_, buf, sizeof(buf), 0);
    if (n <= 0) break;
    received_.append(buf, static_cast<size_t>(n));
    if (answer_pings_) {
      size_t pos;
      while ((pos = received_.find("PING\r\n", answered)) != std::string::npos) {
        Send("PONG\r\n");
        answered = pos + 6;
      }
    }
  }
  return received_;
}

bool FakeServer::WaitClientClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (client_fd_ >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{client_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = recv(client_fd_, buf, sizeof(buf), 0);
    if (n <= 0) return true;
    received_.append(buf, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace gannet::test
