// gannet-rawload: drives a NATS server with pre-built protocol bytes over raw sockets.
//
// Publishers write a buffer of identical PUBs in big writes; subscribers count fixed-size MSGs
// in what they read (answering the server's PINGs). The client side costs next to nothing, so
// on a 2-core machine the figures measure the server. Modes: pub, pubsub, fanout, queue, reqrep.
// With --sub-ports the subscribers connect round-robin to other servers of a cluster than the
// publisher's (--port): the messages cross routes; publishing starts once a probe has reached
// every subscriber (routes up, interest propagated).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  int port = 4222;
  std::vector<int> sub_ports;  // empty: the subscribers use `port` too
  std::string mode = "pubsub";
  long msgs = 2000000;
  int size = 16;
  int subs = 4;
  bool json = false;
};

int Dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) {
      std::perror("write");
      std::exit(1);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Reads until `needle` has been seen; returns what followed it (already read).
std::string ReadUntil(int fd, const std::string& needle) {
  std::string buf;
  char tmp[4096];
  for (;;) {
    size_t pos = buf.find(needle);
    if (pos != std::string::npos) return buf.substr(pos + needle.size());
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) {
      std::fprintf(stderr, "connection closed while waiting for %s\n", needle.c_str());
      std::exit(1);
    }
    buf.append(tmp, static_cast<size_t>(n));
  }
}

// Connects, sends CONNECT plus `extra`, and waits for the PONG that proves it was processed.
int Connect(int port, const std::string& extra) {
  int fd = Dial(port);
  ReadUntil(fd, "\r\n");  // INFO
  std::string hello = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n" + extra + "PING\r\n";
  WriteAll(fd, hello.data(), hello.size());
  ReadUntil(fd, "PONG\r\n");
  return fd;
}

// Counts MSGs of a known length in a stream that may also carry PINGs.
struct MsgCounter {
  size_t msg_len;
  size_t skip = 0;  // bytes of the current MSG still to come
  std::string partial;
  long count = 0;

  void Feed(int fd, const char* p, size_t n) {
    if (!partial.empty()) {  // a PING/PONG split across reads
      size_t k = std::min(n, 6 - partial.size());
      partial.append(p, k);
      p += k;
      n -= k;
      if (partial.size() < 6) return;
      if (partial == "PING\r\n") WriteAll(fd, "PONG\r\n", 6);
      partial.clear();
    }
    while (n > 0) {
      if (skip > 0) {
        size_t k = std::min(skip, n);
        skip -= k;
        p += k;
        n -= k;
        if (skip == 0) ++count;
        continue;
      }
      if (p[0] == 'M') {
        skip = msg_len;
        continue;
      }
      if (p[0] == 'P') {
        if (n < 6) {
          partial.assign(p, n);
          return;
        }
        if (std::memcmp(p, "PING\r\n", 6) == 0) WriteAll(fd, "PONG\r\n", 6);
        p += 6;
        n -= 6;
        continue;
      }
      std::fprintf(stderr, "unexpected bytes from server: %.*s\n",
                   static_cast<int>(std::min<size_t>(n, 60)), p);
      std::exit(2);
    }
  }
};

std::string MsgFor(const std::string& subject, const std::string& sid, int size) {
  return "MSG " + subject + " " + sid + " " + std::to_string(size) + "\r\n" +
         std::string(static_cast<size_t>(size), 'x') + "\r\n";
}

void Publish(int fd, const std::string& subject, long msgs, int size) {
  std::string one = "PUB " + subject + " " + std::to_string(size) + "\r\n" +
                    std::string(static_cast<size_t>(size), 'x') + "\r\n";
  size_t per_chunk = std::max<size_t>(1, (64 * 1024) / one.size());
  std::string chunk;
  for (size_t i = 0; i < per_chunk; ++i) chunk += one;
  long sent = 0;
  while (sent < msgs) {
    long n = std::min<long>(static_cast<long>(per_chunk), msgs - sent);
    WriteAll(fd, chunk.data(), static_cast<size_t>(n) * one.size());
    sent += n;
  }
  WriteAll(fd, "PING\r\n", 6);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A cluster: probes "bench.ready.<i>" from the publisher's server until every subscriber has
// one (its server's interest reached the publisher's), then each subscriber unsubscribes from
// its probe subject and reads until its PONG, so no probe is left for the measured stream.
void WaitRoutesReady(int port, const std::vector<int>& sub_fds) {
  int probe = Connect(port, "");
  std::vector<bool> ready(sub_fds.size(), false);
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (size_t done = 0; done < sub_fds.size();) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "the cluster's routes did not come up within 30 s\n");
      std::exit(2);
    }
    for (size_t i = 0; i < sub_fds.size(); ++i) {
      if (ready[i]) continue;
      std::string pub = "PUB bench.ready." + std::to_string(i) + " 0\r\n\r\n";
      WriteAll(probe, pub.data(), pub.size());
    }
    WriteAll(probe, "PING\r\n", 6);
    ReadUntil(probe, "PONG\r\n");
    for (size_t i = 0; i < sub_fds.size(); ++i) {
      if (ready[i]) continue;
      pollfd p{sub_fds[i], POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = read(sub_fds[i], buf, sizeof buf);
      if (n > 0 &&
          std::string(buf, static_cast<size_t>(n)).find("MSG bench.ready.") != std::string::npos) {
        WriteAll(sub_fds[i], "UNSUB 2\r\nPING\r\n", 15);
        ReadUntil(sub_fds[i], "PONG\r\n");
        ready[i] = true;
        ++done;
      }
    }
  }
  close(probe);
}

void Report(const Config& c, const char* what, double rate, double secs) {
  if (c.json) {
    std::printf(
        "{\"ok\":true,\"mode\":\"%s\",\"size\":%d,\"msgs\":%ld,\"metric\":\"%s\",\"rate\":%.0f,"
        "\"seconds\":%.3f}\n",
        c.mode.c_str(), c.size, c.msgs, what, rate, secs);
  } else {
    std::printf("%s %s size=%d msgs=%ld: %.0f msgs/s (%.3f s)\n", c.mode.c_str(), what, c.size,
                c.msgs, rate, secs);
  }
}

int RunThroughput(const Config& c) {
  int nsubs = c.mode == "pub" ? 0 : (c.mode == "pubsub" ? 1 : c.subs);
  bool queue = c.mode == "queue";
  std::string subject = "bench.raw";
  std::vector<int> sub_fds;
  for (int i = 0; i < nsubs; ++i) {
    int port = c.sub_ports.empty() ? c.port : c.sub_ports[i % c.sub_ports.size()];
    std::string ready = "bench.ready." + std::to_string(i);
    sub_fds.push_back(Connect(port, "SUB " + subject + (queue ? " q" : "") + " 1\r\n" +
                                        (c.sub_ports.empty() ? "" : "SUB " + ready + " 2\r\n")));
  }
  if (!c.sub_ports.empty()) WaitRoutesReady(c.port, sub_fds);
  long expected_total = c.mode == "pub" ? 0 : (queue ? c.msgs : c.msgs * nsubs);
  std::atomic<long> received{0};
  std::atomic<bool> failed{false};
  std::atomic<Clock::rep> finished_at{0};
  std::vector<std::thread> readers;
  size_t msg_len = MsgFor(subject, "1", c.size).size();
  for (int fd : sub_fds) {
    readers.emplace_back([&, fd] {
      MsgCounter counter{msg_len, 0, {}, 0};
      std::vector<char> buf(256 * 1024);
      long mine_target = queue ? -1 : c.msgs;
      while (received.load(std::memory_order_relaxed) < expected_total) {
        ssize_t n = read(fd, buf.data(), buf.size());
        if (n <= 0) {
          if (received.load() < expected_total) failed = true;
          return;
        }
        long before = counter.count;
        counter.Feed(fd, buf.data(), static_cast<size_t>(n));
        long now_total = received.fetch_add(counter.count - before) + (counter.count - before);
        if (now_total >= expected_total) {
          finished_at = Clock::now().time_since_epoch().count();
          // Wake the other readers, which may be blocked with nothing more to come.
          for (int other : sub_fds) shutdown(other, SHUT_RD);
          return;
        }
        if (mine_target >= 0 && counter.count >= mine_target) return;
      }
    });
  }
  int pub = Connect(c.port, "");
  auto start = Clock::now();
  Publish(pub, subject, c.msgs, c.size);
  ReadUntil(pub, "PONG\r\n");
  auto published = Clock::now();
  for (auto& t : readers) t.join();
  auto done = Clock::time_point(Clock::duration(finished_at.load()));
  if (failed) {
    std::fprintf(stderr, "a subscriber was disconnected (slow consumer?) after %ld of %ld\n",
                 received.load(), expected_total);
    return 2;
  }
  if (c.mode == "pub") {
    Report(c, "published", c.msgs / Seconds(published - start), Seconds(published - start));
  } else {
    Report(c, "delivered", expected_total / Seconds(done - start), Seconds(done - start));
  }
  for (int fd : sub_fds) close(fd);
  close(pub);
  return 0;
}

int RunRequestReply(const Config& c) {
  std::string payload(static_cast<size_t>(c.size), 'x');
  int responder = Connect(c.port, "SUB bench.req 1\r\n");
  std::atomic<bool> stop{false};
  std::thread serve([&] {
    // Answers each request on its reply subject. Requests are sequential, so each read holds
    // whole requests; parse minimally: "MSG bench.req 1 <reply> <n>\r\n<payload>\r\n".
    std::string buf;
    char tmp[65536];
    while (!stop) {
      ssize_t n = read(responder, tmp, sizeof tmp);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
      for (;;) {
        if (buf.compare(0, 6, "PING\r\n") == 0) {
          WriteAll(responder, "PONG\r\n", 6);
          buf.erase(0, 6);
          continue;
        }
        size_t eol = buf.find("\r\n");
        if (eol == std::string::npos) break;
        // tokens: MSG subject sid reply size
        std::vector<std::string> tok;
        size_t s = 0;
        std::string line = buf.substr(0, eol);
        while (s < line.size()) {
          size_t e = line.find(' ', s);
          if (e == std::string::npos) e = line.size();
          tok.push_back(line.substr(s, e - s));
          s = e + 1;
        }
        if (tok.size() < 5) break;
        size_t total = eol + 2 + std::stoul(tok[4]) + 2;
        if (buf.size() < total) break;
        std::string reply =
            "PUB " + tok[3] + " " + std::to_string(c.size) + "\r\n" + payload + "\r\n";
        WriteAll(responder, reply.data(), reply.size());
        buf.erase(0, total);
      }
    }
  });
  int requester = Connect(c.port, "SUB bench.inbox.* 1\r\n");
  std::string pending;
  std::vector<double> lat;
  long n = std::min<long>(c.msgs, 200000);
  long warmup = n / 10;
  size_t reply_len = MsgFor("bench.inbox.0", "1", c.size).size();
  char tmp[65536];
  for (long i = 0; i < n + warmup; ++i) {
    std::string inbox = "bench.inbox." + std::to_string(i);
    std::string req =
        "PUB bench.req " + inbox + " " + std::to_string(c.size) + "\r\n" + payload + "\r\n";
    size_t want = MsgFor(inbox, "1", c.size).size();
    (void)reply_len;
    auto t0 = Clock::now();
    WriteAll(requester, req.data(), req.size());
    while (pending.size() < want) {
      ssize_t r = read(requester, tmp, sizeof tmp);
      if (r <= 0) {
        std::fprintf(stderr, "requester disconnected\n");
        return 2;
      }
      pending.append(tmp, static_cast<size_t>(r));
      while (pending.compare(0, 6, "PING\r\n") == 0) {
        WriteAll(requester, "PONG\r\n", 6);
        pending.erase(0, 6);
      }
    }
    auto t1 = Clock::now();
    pending.erase(0, want);
    if (i >= warmup) lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  stop = true;
  shutdown(responder, SHUT_RDWR);
  serve.join();
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat[static_cast<size_t>(p * (lat.size() - 1))]; };
  if (c.json) {
    std::printf(
        "{\"ok\":true,\"mode\":\"reqrep\",\"size\":%d,\"requests\":%zu,\"p50_us\":%.1f,\"p90_us\":%"
        ".1f,"
        "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
        c.size, lat.size(), pct(0.5), pct(0.9), pct(0.99), pct(0.999), lat.back());
  } else {
    std::printf(
        "reqrep size=%d requests=%zu: p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, "
        "max %.1f us\n",
        c.size, lat.size(), pct(0.5), pct(0.9), pct(0.99), pct(0.999), lat.back());
  }
  close(requester);
  close(responder);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--port")
      c.port = std::stoi(next());
    else if (a == "--sub-ports") {
      std::string list = next();
      for (size_t pos = 0; pos < list.size();) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        c.sub_ports.push_back(std::stoi(list.substr(pos, comma - pos)));
        pos = comma + 1;
      }
    } else if (a == "--mode")
      c.mode = next();
    else if (a == "--msgs")
      c.msgs = std::stol(next());
    else if (a == "--size")
      c.size = std::stoi(next());
    else if (a == "--subs")
      c.subs = std::stoi(next());
    else if (a == "--json")
      c.json = true;
    else {
      std::fprintf(stderr,
                   "usage: gannet-rawload --port P [--sub-ports P1,P2,...] "
                   "--mode pub|pubsub|fanout|queue|reqrep [--msgs N] [--size B] [--subs K] "
                   "[--json]\n");
      return 1;
    }
  }
  if (c.mode == "reqrep") return RunRequestReply(c);
  return RunThroughput(c);
}
