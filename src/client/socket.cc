#include "client/socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gannet::client::detail {

int PollTimeout(Deadline deadline) {
  // Rounded up: a deadline 0.4 ms away must not become a 0 ms timeout, which would return
  // at once and spin the caller's loop until the deadline.
  auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 1000000 ? 1000000 : static_cast<int>(left.count());
}

namespace {
// Waits for `events` on fd until the deadline. False on timeout or error.
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

int ConnectTcp(const std::string& host, int port, Deadline deadline,
               std::chrono::milliseconds send_timeout, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int gai = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (gai != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(gai);
    return -1;
  }
  int fd = -1;
  const std::string where = "connect to " + host + ":" + service + ": ";
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int r = connect(fd, a->ai_addr, a->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      if (!WaitFor(fd, POLLOUT, deadline)) {
        *error = where + "timeout";
        close(fd);
        fd = -1;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      r = err == 0 ? 0 : -1;
      errno = err;
    }
    if (r != 0) {
      *error = where + std::strerror(errno);
      close(fd);
      fd = -1;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    // Blocking from here on: every call that must not block says MSG_DONTWAIT, and a
    // publisher writing a batch lets the kernel wait for room, bounded by SO_SNDTIMEO (one
    // system call per batch instead of send, poll, send).
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{};
    tv.tv_sec = send_timeout.count() / 1000;
    tv.tv_usec = static_cast<suseconds_t>(send_timeout.count() % 1000 * 1000);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    break;
  }
  freeaddrinfo(res);
  return fd;
}

bool WriteAll(int fd, const char* data, size_t len, Deadline deadline, std::string* error) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd, POLLOUT, deadline)) {
        *error = "write timeout";
        return false;
      }
      continue;
    }
    *error = std::string("write: ") + std::strerror(errno);
    return false;
  }
  return true;
}

long ReadSome(int fd, char* buf, size_t len, Deadline deadline, std::string* error) {
  while (true) {
    ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
    if (n >= 0) return static_cast<long>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!WaitFor(fd, POLLIN, deadline)) {
        *error = "read timeout";
        return -1;
      }
      continue;
    }
    *error = std::string("read: ") + std::strerror(errno);
    return -1;
  }
}

}  // namespace gannet::client::detail
