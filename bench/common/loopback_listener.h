// A TCP listener on 127.0.0.1 for the bench's stand-in servers (discard_sink.h, relay_sink.h).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace gannet::bench {

// Listens on 127.0.0.1:`port` (0: a port the kernel picks), sets `bound` to the port, and
// returns the socket; exits the process with a message when it cannot.
inline int ListenLoopback(int port, int& bound, const char* who) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 512) != 0) {
    std::fprintf(stderr, "%s: bind/listen on 127.0.0.1:%d failed\n", who, port);
    std::exit(1);
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  bound = ntohs(a.sin_port);
  return fd;
}

}  // namespace gannet::bench
