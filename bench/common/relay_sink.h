// The least a server can do to deliver: a relay that knows one thing, which connection
// subscribed to which literal subject, and forwards each PUB to them as a MSG. No wildcards, no
// queue groups, no permissions, no flow control, no accounts; every connection on a thread of
// its own that reads 1 MiB per recv() and writes what it produced straight to the subscribers'
// sockets (one send per subscriber per read, under that subscriber's lock). What a raw loader
// reaches against it (pubsub, fan-out, fan-in rows) is the ceiling any server can reach with
// that loader and this kernel on this machine: the kernel's copies and wake-ups with the rest
// stripped away (gannet-discard-sink --relay; bench/compare's relay table).
//
// It speaks only what gannet-rawload sends (CONNECT, SUB subject sid, PUB subject size, PING);
// anything else ends the connection with a message on stderr.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "loopback_listener.h"

namespace gannet::bench {

class RelaySink {
 public:
  explicit RelaySink(int port = 0) {
    fd_ = ListenLoopback(port, port_, "relay");
    acceptor_ = std::thread([this] { Accept(); });
    acceptor_.detach();  // runs until the process exits
  }
  RelaySink(const RelaySink&) = delete;
  RelaySink& operator=(const RelaySink&) = delete;

  int port() const { return port_; }

 private:
  struct Conn {
    int fd;
    std::mutex write_mu;  // every writer to this socket: its own thread and the publishers'
  };
  struct Sub {
    std::shared_ptr<Conn> conn;
    std::string sid;
  };
  // What one reader thread produced for one subscriber during one read.
  struct Out {
    std::shared_ptr<Conn> conn;
    std::string bytes;
  };

  void Accept() {
    while (true) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto conn = std::make_shared<Conn>();
      conn->fd = c;
      std::thread([this, conn] { Serve(conn); }).detach();
    }
  }

  static void SendAll(Conn& c, std::string_view bytes) {
    while (c.fd >= 0 && !bytes.empty()) {
      ssize_t n = send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  void Serve(const std::shared_ptr<Conn>& self) {
    static constexpr std::string_view kInfo =
        "INFO {\"server_id\":\"RELAY\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,"
        "\"max_payload\":1048576}\r\n";
    {
      std::lock_guard lock(self->write_mu);
      SendAll(*self, kInfo);
    }
    std::string in;
    std::vector<char> buf(1 << 20);
    std::vector<Out> outs;
    // The subscribers of the last subject published, looked up once per subject change.
    std::string last_subject;
    std::vector<size_t> last_targets;
    while (true) {
      ssize_t n = recv(self->fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      in.append(buf.data(), static_cast<size_t>(n));
      size_t at = 0;
      bool bad = false;
      while (at < in.size()) {
        const size_t eol = in.find("\r\n", at);
        if (eol == std::string::npos) break;
        std::string_view line(in.data() + at, eol - at);
        if (line.starts_with("PUB ")) {
          std::string_view args = line.substr(4);
          const size_t space = args.rfind(' ');
          if (space == std::string_view::npos) {
            bad = true;
            break;
          }
          std::string_view subject = args.substr(0, args.find(' '));
          std::string_view size_token = args.substr(space + 1);
          size_t size = 0;
          std::from_chars(size_token.data(), size_token.data() + size_token.size(), size);
          if (in.size() - (eol + 2) < size + 2) break;  // the payload is still to come
          std::string_view payload(in.data() + eol + 2, size);
          if (subject != last_subject) {
            last_subject.assign(subject);
            last_targets = Targets(subject, outs);
          }
          for (size_t t : last_targets) {
            const std::string& sid = subs_snapshot_[t].sid;
            std::string& o = outs[t].bytes;
            o.append("MSG ").append(subject).append(" ").append(sid).append(" ");
            o.append(size_token).append("\r\n").append(payload).append("\r\n");
          }
          at = eol + 2 + size + 2;
        } else if (line.starts_with("SUB ")) {
          std::string_view args = line.substr(4);
          const size_t space = args.find(' ');
          std::lock_guard lock(subs_mu_);
          subs_[std::string(args.substr(0, space))].push_back(
              Sub{self, std::string(args.substr(space + 1))});
          at = eol + 2;
        } else if (line == "PING") {
          Flush(outs);  // a PONG after every MSG before it, as a server sends them
          std::lock_guard lock(self->write_mu);
          SendAll(*self, "PONG\r\n");
          at = eol + 2;
        } else if (line.starts_with("CONNECT ") || line == "PONG" || line.starts_with("UNSUB ")) {
          at = eol + 2;
        } else {
          bad = true;
          break;
        }
      }
      Flush(outs);
      if (bad) {
        std::fprintf(stderr, "relay: unexpected input: %.40s\n", in.c_str() + at);
        break;
      }
      in.erase(0, at);
    }
    // Gone: out of the subscriptions before the descriptor can be reused by a new connection.
    {
      std::lock_guard lock(subs_mu_);
      for (auto& [subject, subs] : subs_) {
        std::erase_if(subs, [&](const Sub& s) { return s.conn == self; });
      }
    }
    std::lock_guard lock(self->write_mu);
    close(self->fd);
    self->fd = -1;
  }

  // The subscribers of `subject`, as indexes into `outs` (and subs_snapshot_), resized to fit.
  std::vector<size_t> Targets(std::string_view subject, std::vector<Out>& outs) {
    std::lock_guard lock(subs_mu_);
    std::vector<size_t> targets;
    subs_snapshot_.clear();
    auto it = subs_.find(std::string(subject));
    if (it == subs_.end()) return targets;
    Flush(outs);
    outs.clear();
    for (const Sub& s : it->second) {
      targets.push_back(subs_snapshot_.size());
      subs_snapshot_.push_back(s);
      outs.push_back(Out{s.conn, {}});
    }
    return targets;
  }

  static void Flush(std::vector<Out>& outs) {
    for (Out& o : outs) {
      if (o.bytes.empty()) continue;
      std::lock_guard lock(o.conn->write_mu);
      SendAll(*o.conn, o.bytes);
      o.bytes.clear();
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex subs_mu_;
  std::map<std::string, std::vector<Sub>> subs_;
  // Per reader thread, in principle; the loads this serves publish one subject per connection
  // and subscribe before publishing, so a thread's snapshot stays what it looked up.
  static inline thread_local std::vector<Sub> subs_snapshot_;
};

}  // namespace gannet::bench
