// gannet-idleconns: opens N raw TCP connections to a NATS server, completes the handshake on
// each (read INFO, send CONNECT + PING, wait for PONG), then holds them idle (answering the
// server's PINGs) until SIGTERM/SIGINT or until stdin reaches end of file with --stdin.
//
//   gannet-idleconns --port 4222 --conns 10000
//
// On stdout: "READY <established> <failed>" once every connection has either completed the
// handshake or failed, then "DONE <still-open> <closed-by-server>" when it stops.
// Exit status 0 only if every connection was established and none was closed by the server.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

enum class State { kIdle, kConnecting, kWaitInfo, kWaitPong, kReady, kFailed, kClosed };

struct Conn {
  int fd = -1;
  State state = State::kIdle;
  std::string in;
};

const char kHello[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n";

double NowSecs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

[[noreturn]] void Usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: gannet-idleconns [--host 127.0.0.1] --port P [--conns 10000]\n"
               "                        [--parallel 200] [--timeout 60] [--stdin]\n"
               "  --parallel K   handshakes in flight at once\n"
               "  --timeout S    give up establishing after S seconds\n"
               "  --stdin        also stop when stdin reaches end of file\n");
  std::exit(code);
}

bool SendAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      return false;
    }
    data += n;
    len -= size_t(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 4222;
  int total = 10000;
  int parallel = 200;
  double timeout = 60;
  bool watch_stdin = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) Usage(1);
      return argv[++i];
    };
    if (a == "--host") {
      host = val();
    } else if (a == "--port") {
      port = std::atoi(val());
    } else if (a == "--conns") {
      total = std::atoi(val());
    } else if (a == "--parallel") {
      parallel = std::atoi(val());
    } else if (a == "--timeout") {
      timeout = std::atof(val());
    } else if (a == "--stdin") {
      watch_stdin = true;
    } else if (a == "-h" || a == "--help") {
      Usage(0);
    } else {
      std::fprintf(stderr, "unknown argument: %s\n", argv[i]);
      Usage(1);
    }
  }
  if (port <= 0 || total < 0 || parallel < 1) Usage(1);

  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rlim_t(total) + 16) {
    std::fprintf(stderr, "gannet-idleconns: open-file limit %llu is too low for %d connections\n",
                 (unsigned long long)rl.rlim_cur, total);
    return 1;
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "gannet-idleconns: bad IPv4 address %s\n", host.c_str());
    return 1;
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    std::perror("epoll_create1");
    return 1;
  }
  if (watch_stdin) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX;
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  }

  std::vector<Conn> conns(static_cast<size_t>(total));
  int next = 0, in_flight = 0, ready = 0, failed = 0, closed = 0;
  std::string first_error;
  auto fail = [&](Conn& c, const std::string& why) {
    if (first_error.empty()) first_error = why;
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    if (c.state == State::kReady) {
      --ready;
      ++closed;
      c.state = State::kClosed;
    } else {
      --in_flight;
      ++failed;
      c.state = State::kFailed;
    }
    c.in.clear();
    c.in.shrink_to_fit();
  };

  auto start_more = [&] {
    while (in_flight < parallel && next < total) {
      Conn& c = conns[size_t(next)];
      uint64_t idx = uint64_t(next);
      ++next;
      ++in_flight;
      c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) {
        fail(c, std::string("socket: ") + std::strerror(errno));
        continue;
      }
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int rc = connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      if (rc < 0 && errno != EINPROGRESS) {
        fail(c, std::string("connect: ") + std::strerror(errno));
        continue;
      }
      c.state = rc == 0 ? State::kWaitInfo : State::kConnecting;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP | (rc == 0 ? 0u : uint32_t(EPOLLOUT));
      ev.data.u64 = idx;
      epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
  };

  // Consumes complete protocol lines in c.in.
  auto process_lines = [&](Conn& c) {
    for (;;) {
      size_t eol = c.in.find("\r\n");
      if (eol == std::string::npos) {
        if (c.in.size() > 65536) fail(c, "line too long");
        return;
      }
      std::string_view line(c.in.data(), eol);
      if (line.starts_with("PING")) {
        if (!SendAll(c.fd, "PONG\r\n", 6)) return fail(c, "send PONG failed");
      } else if (line.starts_with("-ERR")) {
        return fail(c, std::string(line));
      } else if (c.state == State::kWaitInfo) {
        if (!line.starts_with("INFO")) return fail(c, "expected INFO, got: " + std::string(line));
        if (!SendAll(c.fd, kHello, sizeof kHello - 1)) return fail(c, "send CONNECT failed");
        c.state = State::kWaitPong;
      } else if (c.state == State::kWaitPong && line.starts_with("PONG")) {
        c.state = State::kReady;
        --in_flight;
        ++ready;
      }
      c.in.erase(0, eol + 2);
      if (c.state == State::kReady && c.in.empty()) c.in.shrink_to_fit();
    }
  };

  std::vector<epoll_event> events(1024);
  const double t0 = NowSecs();
  bool reported = false;
  bool timed_out = false;
  start_more();
  while (!g_stop) {
    if (!reported && ready + failed + closed >= total) {
      std::printf("READY %d %d\n", ready, failed + closed);
      std::fflush(stdout);
      std::fprintf(stderr, "gannet-idleconns: %d connections established in %.2f s%s%s\n", ready,
                   NowSecs() - t0,
                   first_error.empty() ? "" : "; first error: ", first_error.c_str());
      reported = true;
    }
    if (!reported && !timed_out && NowSecs() - t0 > timeout) {
      std::printf("READY %d %d\n", ready, total - ready);
      std::fflush(stdout);
      std::fprintf(stderr, "gannet-idleconns: timed out with %d of %d established\n", ready, total);
      timed_out = reported = true;
    }
    int n = epoll_wait(ep, events.data(), int(events.size()), 200);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("epoll_wait");
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (events[size_t(i)].data.u64 == UINT64_MAX) {
        char buf[256];
        if (read(0, buf, sizeof buf) <= 0) g_stop = 1;
        continue;
      }
      Conn& c = conns[events[size_t(i)].data.u64];
      if (c.fd < 0) continue;
      uint32_t what = events[size_t(i)].events;
      if (c.state == State::kConnecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          fail(c, std::string("connect: ") + std::strerror(err));
          continue;
        }
        if (!(what & EPOLLOUT) && !(what & EPOLLIN)) continue;
        c.state = State::kWaitInfo;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = events[size_t(i)].data.u64;
        epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
      }
      if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        char buf[4096];
        for (;;) {
          ssize_t r = read(c.fd, buf, sizeof buf);
          if (r > 0) {
            c.in.append(buf, size_t(r));
            continue;
          }
          if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
          process_lines(c);
          if (c.fd >= 0) fail(c, r == 0 ? "closed by server" : std::strerror(errno));
          break;
        }
        if (c.fd >= 0) process_lines(c);
      }
    }
    if (!timed_out) start_more();
  }

  std::printf("DONE %d %d\n", ready, closed);
  std::fflush(stdout);
  if (closed > 0) {
    std::fprintf(stderr, "gannet-idleconns: %d connections were closed by the server\n", closed);
  }
  for (auto& c : conns) {
    if (c.fd >= 0) close(c.fd);
  }
  return ready == total ? 0 : 2;
}
