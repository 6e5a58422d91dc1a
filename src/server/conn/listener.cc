// A listening socket and its accept thread (see listener.h).
#include "server/conn/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/logger.h"

namespace gannet {

bool Listener::Bind(const std::string& host, int port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port < 0 ? 0 : port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
      rc != 0) {
    error = gai_strerror(rc);
    return false;
  }
  fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error = std::strerror(errno);
    freeaddrinfo(res);
    return false;
  }
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd_, res->ai_addr, res->ai_addrlen) != 0) {
    error = std::strerror(errno);
    freeaddrinfo(res);
    close(fd_);
    fd_ = -1;
    return false;
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return true;
}

bool Listener::Listen(AcceptFn on_accept, std::string& error) {
  if (listen(fd_, 4096) != 0) {
    error = std::strerror(errno);
    return false;
  }
  on_accept_ = std::move(on_accept);
  thread_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void Listener::AcceptLoop() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      {
        std::lock_guard lock(stop_mu_);
        if (stopping_) break;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        LOG_ERROR("Temporary %s Accept Error(%s), sleeping 10ms", what_.c_str(),
                  std::strerror(errno));
        usleep(10000);
        continue;
      }
      if (errno == EINVAL || errno == EBADF) break;  // the listener was shut down
      LOG_ERROR("%s Accept Error: %s", what_.c_str(), std::strerror(errno));
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    on_accept_(fd, addr);
  }
  LOG_DEBUG("%s accept loop exiting..", what_.c_str());
}

void Listener::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace gannet
