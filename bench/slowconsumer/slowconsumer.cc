// gannet-slowconsumer: what one slow or stuck subscriber does to everyone else, gannet-server
// and nats-server side by side (issue 11's table).
//
// Starts both servers on free ports (GANNET_SERVER_BIN, NATS_SERVER_BIN), then, on raw sockets
// (so the server is the bound), publishes N messages on one subject to:
//   alone       one normal subscriber: the time it takes to receive all N (its alone rate);
//   stuck       the same beside a subscriber that never reads (a hung process): the normal
//               subscriber's time and its share of its alone rate, whether the stuck one was
//               cut, and the server's peak memory growth;
//   pause       beside a subscriber that reads nothing for --pause-ms, then reads at full
//               speed: how many it lost, and the normal subscriber's share;
//   pause-fits  the same with as many messages as fit in max_pending (--fit-msgs);
//   slow        beside a subscriber that reads at --slow-mbps: how many it lost (a reader that
//               moves is protected by back-pressure), and the normal subscriber's share;
//   many-stuck  --stuck-subs subscribers that never read, with max_pending 4 MB, and gannet's
//               max_pending_total 256 MB: the server's peak memory growth, how many were cut.
// Prints one table; --markdown for docs/PERFORMANCE.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Config {
  long msgs = 200000;
  int size = 1024;
  int pause_ms = 300;
  long fit_msgs = 40000;
  int slow_mbps = 64;
  int stuck_subs = 1000;
  bool markdown = false;
  std::string gannet_bin;
  std::string nats_bin = "/usr/sbin/nats-server";
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

int Dial(int port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  // A small receive buffer makes a stuck subscriber stuck at once (and keeps the kernel's
  // memory for many of them small).
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadUntil(int fd, const std::string& needle) {
  std::string buf;
  char tmp[4096];
  while (buf.find(needle) == std::string::npos) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  return true;
}

// Connects, subscribes (when `sub` is not empty) and waits for the PONG proving it happened.
int Connect(int port, const std::string& sub, int rcvbuf = 0) {
  int fd = Dial(port, rcvbuf);
  if (fd < 0 || !ReadUntil(fd, "\r\n")) return -1;
  std::string hello = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n" + sub + "PING\r\n";
  if (!WriteAll(fd, hello.data(), hello.size()) || !ReadUntil(fd, "PONG\r\n")) return -1;
  return fd;
}

// Counts MSGs in a stream that may also carry PINGs (answered).
class MsgCounter {
 public:
  explicit MsgCounter(int fd) : fd_(fd) {}
  long count() const { return count_; }
  void Feed(const char* p, size_t n) {
    buf_.append(p, n);
    size_t at = 0;
    for (;;) {
      if (skip_ > 0) {
        size_t k = std::min(skip_, buf_.size() - at);
        skip_ -= k;
        at += k;
        if (skip_ > 0) break;
        ++count_;
        continue;
      }
      size_t eol = buf_.find("\r\n", at);
      if (eol == std::string::npos) break;
      std::string_view line(buf_.data() + at, eol - at);
      at = eol + 2;
      if (line.starts_with("MSG ")) {
        size_t sp = line.rfind(' ');
        skip_ = std::stoul(std::string(line.substr(sp + 1))) + 2;
      } else if (line == "PING") {
        WriteAll(fd_, "PONG\r\n", 6);
      }
    }
    buf_.erase(0, at);
  }

 private:
  int fd_;
  std::string buf_;
  size_t skip_ = 0;
  long count_ = 0;
};

struct ServerProc {
  pid_t pid = -1;
  int port = 0;
  std::string dir;
};

ServerProc StartServer(const std::string& bin, const std::vector<std::string>& extra,
                       const std::string& config_text) {
  ServerProc s;
  s.port = FreePort();
  char tmpl[] = "/tmp/gannet-slowconsumer-XXXXXX";
  s.dir = mkdtemp(tmpl);
  std::vector<std::string> args = {bin, "-a", "127.0.0.1", "-p", std::to_string(s.port)};
  if (!config_text.empty()) {
    std::string path = s.dir + "/server.conf";
    std::ofstream(path) << config_text;
    args.push_back("-c");
    args.push_back(path);
  }
  for (const auto& e : extra) args.push_back(e);
  s.pid = fork();
  if (s.pid == 0) {
    std::string log = s.dir + "/server.log";
    FILE* f = freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    int fd = Dial(s.port);
    if (fd >= 0) {
      close(fd);
      return s;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::fprintf(stderr, "%s did not start\n", bin.c_str());
  std::exit(1);
}

void StopServer(ServerProc& s) {
  if (s.pid <= 0) return;
  kill(s.pid, SIGTERM);
  int status;
  for (int i = 0; i < 200 && waitpid(s.pid, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  kill(s.pid, SIGKILL);
  waitpid(s.pid, &status, 0);
  s.pid = -1;
  std::string cmd = "rm -rf " + s.dir;
  (void)std::system(cmd.c_str());
}

long RssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Samples a process's resident memory until stopped; keeps the peak.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), base_(RssKb(pid)) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        peak_ = std::max(peak_.load(), RssKb(pid_));
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  ~RssSampler() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
  }
  double GrowthMb() const { return std::max(0L, peak_.load() - base_) / 1024.0; }

 private:
  pid_t pid_;
  long base_;
  std::atomic<long> peak_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A subscriber reading on its own thread. `pace`: called before each read (sleeps for the
// pausing and slow readers). Stops at `want` messages, at EOF (cut), or at the deadline.
struct Reader {
  int fd = -1;
  std::atomic<long> count{0};
  std::atomic<bool> eof{false};
  std::atomic<Clock::rep> done_at{0};
  std::thread thread;

  void Start(long want, Clock::time_point deadline, std::function<size_t(long)> pace) {
    thread = std::thread([this, want, deadline, pace] {
      MsgCounter counter(fd);
      std::vector<char> buf(256 * 1024);
      while (counter.count() < want && Clock::now() < deadline) {
        size_t max = pace ? pace(counter.count()) : buf.size();
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = read(fd, buf.data(), std::min(max, buf.size()));
        if (n <= 0) {
          eof = true;
          break;
        }
        counter.Feed(buf.data(), static_cast<size_t>(n));
        count = counter.count();
      }
      done_at = Clock::now().time_since_epoch().count();
    });
  }
  void Join() {
    if (thread.joinable()) thread.join();
  }
  double SecondsSince(Clock::time_point t0) const {
    return Seconds(Clock::time_point(Clock::duration(done_at.load())) - t0);
  }
};

// Whether the server closed a connection we never read from: drain it until EOF (cut) or
// until it stays quiet (still open).
bool WasCut(int fd) {
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) return false;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return true;
  }
}

std::string Frame(const Config& c) {
  return "PUB bench.sc " + std::to_string(c.size) + "\r\n" +
         std::string(static_cast<size_t>(c.size), 'x') + "\r\n";
}

void Publish(int fd, const Config& c, long msgs) {
  std::string one = Frame(c);
  size_t per_chunk = std::max<size_t>(1, (64 * 1024) / one.size());
  std::string chunk;
  for (size_t i = 0; i < per_chunk; ++i) chunk += one;
  long sent = 0;
  while (sent < msgs) {
    long n = std::min<long>(static_cast<long>(per_chunk), msgs - sent);
    if (!WriteAll(fd, chunk.data(), static_cast<size_t>(n) * one.size())) return;
    sent += n;
  }
}

struct Row {
  std::map<std::string, std::string> cells;  // by server
};

struct Results {
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  void Set(const std::string& row, const std::string& server, const std::string& v) {
    if (!rows.count(row)) order.push_back(row);
    rows[row].cells[server] = v;
  }
};

std::string Fmt(const char* fmt, double v) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

// One server: every scenario.
void RunServer(const Config& c, const std::string& name, const std::string& bin, bool gannet,
               Results& r) {
  const std::string sub = "SUB bench.sc 1\r\n";
  const auto kDeadline = 60s;
  // alone
  double alone;
  {
    ServerProc s = StartServer(bin, {}, "");
    Reader normal;
    normal.fd = Connect(s.port, sub);
    int pub = Connect(s.port, "");
    auto t0 = Clock::now();
    normal.Start(c.msgs, t0 + kDeadline, nullptr);
    Publish(pub, c, c.msgs);
    normal.Join();
    alone = normal.SecondsSince(t0);
    r.Set("normal subscriber alone: all " + std::to_string(c.msgs) + " received in (s)", name,
          normal.count == c.msgs ? Fmt("%.3f", alone)
                                 : "lost " + std::to_string(c.msgs - normal.count));
    close(normal.fd);
    close(pub);
    StopServer(s);
  }
  // stuck
  {
    ServerProc s = StartServer(bin, {}, "");
    Reader normal;
    normal.fd = Connect(s.port, sub);
    int stuck = Connect(s.port, sub, 16 * 1024);
    int pub = Connect(s.port, "");
    RssSampler rss(s.pid);
    auto t0 = Clock::now();
    normal.Start(c.msgs, t0 + kDeadline, nullptr);
    Publish(pub, c, c.msgs);
    normal.Join();
    rss.Stop();
    double t = normal.SecondsSince(t0);
    r.Set(
        "beside a stuck subscriber, it receives them in (s)", name,
        normal.count == c.msgs ? Fmt("%.3f", t) : "lost " + std::to_string(c.msgs - normal.count));
    r.Set("its share of its alone rate", name, Fmt("%.2f", alone / t));
    r.Set("the stuck subscriber was cut", name, WasCut(stuck) ? "yes" : "no");
    r.Set("server memory growth during the run (MB)", name, Fmt("%.0f", rss.GrowthMb()));
    close(normal.fd);
    close(stuck);
    close(pub);
    StopServer(s);
  }
  // pause, pause-fits
  for (long msgs : {c.msgs, c.fit_msgs}) {
    ServerProc s = StartServer(bin, {}, "");
    Reader normal, pauser;
    normal.fd = Connect(s.port, sub);
    pauser.fd = Connect(s.port, sub);
    int pub = Connect(s.port, "");
    auto t0 = Clock::now();
    normal.Start(msgs, t0 + kDeadline, nullptr);
    const auto pause_until = t0 + std::chrono::milliseconds(c.pause_ms);
    pauser.Start(msgs, t0 + kDeadline, [pause_until](long) {
      auto left = pause_until - Clock::now();
      if (left > 0s) std::this_thread::sleep_for(left);
      return size_t{256 * 1024};
    });
    Publish(pub, c, msgs);
    normal.Join();
    pauser.Join();
    double t = normal.SecondsSince(t0);
    std::string label = "subscriber pausing " + std::to_string(c.pause_ms) + " ms, " +
                        std::to_string(msgs) + " msgs (" + std::to_string(msgs * c.size / 1000000) +
                        " MB): ";
    long lost = msgs - pauser.count.load();
    r.Set(label + "it lost", name,
          lost == 0 ? "nothing" : std::to_string(lost) + (pauser.eof ? " (cut)" : ""));
    r.Set(label + "normal subscriber's share", name,
          normal.count == msgs ? Fmt("%.2f", alone * static_cast<double>(msgs) / c.msgs / t)
                               : "lost");
    close(normal.fd);
    close(pauser.fd);
    close(pub);
    StopServer(s);
  }
  // slow
  {
    ServerProc s = StartServer(bin, {}, "");
    Reader normal, slow;
    normal.fd = Connect(s.port, sub);
    slow.fd = Connect(s.port, sub);
    int pub = Connect(s.port, "");
    auto t0 = Clock::now();
    normal.Start(c.msgs, t0 + kDeadline, nullptr);
    // 64 KB reads at --slow-mbps.
    const auto per_read =
        std::chrono::microseconds(65536LL * 1'000'000 / (c.slow_mbps * 1'000'000LL));
    auto next = std::make_shared<Clock::time_point>(t0);
    slow.Start(c.msgs, t0 + kDeadline, [per_read, next](long) {
      std::this_thread::sleep_until(*next);
      *next = std::max(*next + per_read, Clock::now());
      return size_t{65536};
    });
    Publish(pub, c, c.msgs);
    normal.Join();
    slow.Join();
    double t = normal.SecondsSince(t0);
    std::string label = "subscriber reading at " + std::to_string(c.slow_mbps) + " MB/s: ";
    long lost = c.msgs - slow.count.load();
    r.Set(label + "it lost", name,
          lost == 0 ? "nothing" : std::to_string(lost) + (slow.eof ? " (cut)" : ""));
    r.Set(label + "normal subscriber's share", name,
          normal.count == c.msgs ? Fmt("%.2f", alone / t) : "lost");
    close(normal.fd);
    close(slow.fd);
    close(pub);
    StopServer(s);
  }
  // many-stuck
  {
    std::vector<std::string> extra;
    if (gannet) extra = {"--max_pending_total", std::to_string(256LL << 20)};
    ServerProc s = StartServer(bin, extra, "max_pending: 4MB\nmax_connections: 100000\n");
    std::vector<int> stuck;
    for (int i = 0; i < c.stuck_subs; ++i) {
      int fd = Connect(s.port, sub, 4096);
      if (fd < 0) break;
      stuck.push_back(fd);
    }
    Reader normal;
    normal.fd = Connect(s.port, sub);
    int pub = Connect(s.port, "");
    const long msgs = 20000;  // 20 MB: five times each stuck subscriber's max_pending
    RssSampler rss(s.pid);
    auto t0 = Clock::now();
    normal.Start(msgs, t0 + kDeadline, nullptr);
    Publish(pub, c, msgs);
    normal.Join();
    rss.Stop();
    int cut = 0;
    for (int fd : stuck) {
      // A cut connection's EOF comes after what the server wrote before closing: drain it.
      char buf[65536];
      bool eof = false;
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
          eof = true;
          break;
        }
      }
      cut += eof;
    }
    std::string label = std::to_string(stuck.size()) + " stuck subscribers (max_pending 4 MB): ";
    r.Set(label + "server memory growth (MB)", name, Fmt("%.0f", rss.GrowthMb()));
    r.Set(label + "normal subscriber got all in (s)", name,
          normal.count == msgs ? Fmt("%.3f", normal.SecondsSince(t0)) : "lost");
    r.Set(label + "stuck ones cut by the end", name, std::to_string(cut));
    for (int fd : stuck) close(fd);
    close(normal.fd);
    close(pub);
    StopServer(s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  const char* env = std::getenv("GANNET_SERVER_BIN");
  std::string self = argv[0];
  c.gannet_bin = env ? env : self.substr(0, self.rfind('/') + 1) + "gannet-server";
  if (const char* n = std::getenv("NATS_SERVER_BIN")) c.nats_bin = n;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--msgs")
      c.msgs = std::stol(next());
    else if (a == "--size")
      c.size = std::stoi(next());
    else if (a == "--pause-ms")
      c.pause_ms = std::stoi(next());
    else if (a == "--fit-msgs")
      c.fit_msgs = std::stol(next());
    else if (a == "--slow-mbps")
      c.slow_mbps = std::stoi(next());
    else if (a == "--stuck-subs")
      c.stuck_subs = std::stoi(next());
    else if (a == "--markdown")
      c.markdown = true;
    else {
      std::printf(
          "usage: gannet-slowconsumer [--msgs N] [--size BYTES] [--pause-ms MS] [--fit-msgs N]\n"
          "                           [--slow-mbps MB] [--stuck-subs N] [--markdown]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  Results r;
  RunServer(c, "nats-server", c.nats_bin, false, r);
  RunServer(c, "gannet-server", c.gannet_bin, true, r);
  size_t width = 0;
  for (const auto& k : r.order) width = std::max(width, k.size());
  if (c.markdown) {
    std::printf(
        "| %zu × %d B on one subject | nats-server 2.9.10 | gannet-server |\n|---|---|---|\n",
        static_cast<size_t>(c.msgs), c.size);
    for (const auto& k : r.order) {
      std::printf("| %s | %s | %s |\n", k.c_str(), r.rows[k].cells["nats-server"].c_str(),
                  r.rows[k].cells["gannet-server"].c_str());
    }
  } else {
    std::printf("%-*s  %14s  %14s\n", static_cast<int>(width), "", "nats-server", "gannet-server");
    for (const auto& k : r.order) {
      std::printf("%-*s  %14s  %14s\n", static_cast<int>(width), k.c_str(),
                  r.rows[k].cells["nats-server"].c_str(), r.rows[k].cells["gannet-server"].c_str());
    }
  }
  return 0;
}
