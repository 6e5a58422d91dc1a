// A NATS server that does nothing: it sends INFO, answers each PING with a PONG and throws
// every other byte away. What a client reaches against it is the ceiling any server can reach
// with that client and this kernel (gannet-discard-sink for raw-socket loads, bench/compare's
// ceiling row; gannet-client-sink for the client libraries' publish rate).
//
// Each accepted connection is read on a thread of its own, 1 MiB per recv().
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "loopback_listener.h"

namespace gannet::bench {

class DiscardSink {
 public:
  // Listens on 127.0.0.1:`port` (0: a port the kernel picks; see port()).
  // kScan: every byte read is scanned for PINGs (memmem), the least work per small message: the
  // raw loads' ceiling. kFrames: frame by frame, payloads skipped by their size, as a server
  // reads; cheaper per large message, so a client publishing 1 KB messages is not bound by the
  // sink's scan (gannet-client-sink).
  enum class Mode { kScan, kFrames };
  explicit DiscardSink(int port = 0, Mode mode = Mode::kScan) : mode_(mode) {
    fd_ = ListenLoopback(port, port_, "sink");
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~DiscardSink() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
  }
  DiscardSink(const DiscardSink&) = delete;
  DiscardSink& operator=(const DiscardSink&) = delete;

  int port() const { return port_; }
  uint64_t bytes() const { return bytes_.load(); }

 private:
  void Accept() {
    while (!stop_) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, c] { Serve(c); });
    }
  }

  void Serve(int c) {
    static constexpr std::string_view kInfo =
        "INFO {\"server_id\":\"SINK\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,"
        "\"max_payload\":1048576}\r\n";
    send(c, kInfo.data(), kInfo.size(), MSG_NOSIGNAL);
    if (mode_ == Mode::kFrames) {
      ServeFrames(c);
    } else {
      ServeScan(c);
    }
    close(c);
  }

  void ServeScan(int c) {
    static constexpr std::string_view kPing = "PING\r\n";
    // The last bytes of the previous read go in front of the next one, so that a PING split
    // across two reads is found; memmem keeps the scan near memory speed.
    constexpr size_t kCarry = kPing.size() - 1;
    std::vector<char> buf(kCarry + (1 << 20));
    size_t carried = 0;
    while (true) {
      ssize_t n = recv(c, buf.data() + carried, buf.size() - carried, 0);
      if (n <= 0) break;
      bytes_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      size_t len = carried + static_cast<size_t>(n);
      const char* p = buf.data();
      const char* end = p + len;
      int pings = 0;
      while (const void* hit =
                 memmem(p, static_cast<size_t>(end - p), kPing.data(), kPing.size())) {
        ++pings;
        p = static_cast<const char*>(hit) + kPing.size();
      }
      for (int i = 0; i < pings; ++i) send(c, "PONG\r\n", 6, MSG_NOSIGNAL);
      // Carry the tail that could start a PING, unless it is part of one already counted.
      size_t keep = std::min<size_t>(kCarry, static_cast<size_t>(end - p));
      std::memmove(buf.data(), end - keep, keep);
      carried = keep;
    }
  }

  void ServeFrames(int c) {
    // Frame by frame, as a server reads: a control line (carried over when a read splits it),
    // then, for PUB and HPUB, a payload skipped by its size, never scanned. A PING is answered.
    std::vector<char> buf(1 << 20);
    std::string line;  // a control line split across reads
    size_t skip = 0;   // payload bytes (and their CRLF) still to come
    while (true) {
      ssize_t n = recv(c, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      bytes_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      const char* p = buf.data();
      const char* end = p + n;
      int pings = 0;
      while (p < end) {
        if (skip > 0) {
          const size_t k = std::min(skip, static_cast<size_t>(end - p));
          skip -= k;
          p += k;
          continue;
        }
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
        if (nl == nullptr) {
          line.append(p, end);
          break;
        }
        std::string_view l;
        if (line.empty()) {
          l = std::string_view(p, nl - p);
        } else {
          line.append(p, nl);
          l = line;
        }
        p = nl + 1;
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        if (l.starts_with("PUB ") || l.starts_with("HPUB ")) {
          const size_t last = l.find_last_of(' ');
          size_t size = 0;
          std::from_chars(l.data() + last + 1, l.data() + l.size(), size);
          skip = size + 2;
        } else if (l == "PING") {
          ++pings;
        }
        line.clear();
      }
      for (int i = 0; i < pings; ++i) send(c, "PONG\r\n", 6, MSG_NOSIGNAL);
    }
  }

  Mode mode_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
};

}  // namespace gannet::bench
