// Helpers for the client library's tests: waiting on counts and events without sleeping, and a
// scripted fake server for what a real one cannot be made to do on demand.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gannet::test {

// A count that tests wait on: callbacks Add, the test waits until it reaches a value.
class Counter {
 public:
  void Add(int n = 1) {
    std::lock_guard lk(mu_);
    count_ += n;
    cv_.notify_all();
  }
  bool WaitFor(int target, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return count_ >= target; });
  }
  int value() {
    std::lock_guard lk(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

// A one-shot gate a callback can wait on.
class Gate {
 public:
  void Open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A fake NATS server on 127.0.0.1 for one client at a time: sends `info` on accept, answers
// the handshake PING, then lets the test script it (send bytes, read what the client sent).
class FakeServer {
 public:
  explicit FakeServer(std::string info_json);
  ~FakeServer();
  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // Waits for a client and completes its handshake (INFO, then CONNECT+PING → PONG).
  bool AcceptClient(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits for a client and sends nothing.
  bool AcceptRaw(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool Send(const std::string& bytes);
  // Reads until what the client sent contains `needle`; everything read so far is returned.
  std::string ReadUntil(const std::string& needle,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Whether the client closed its connection (EOF) within the timeout.
  bool WaitClientClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void DropClient();
  // Answer the client's PINGs as they come (in ReadUntil), or not (to test stale detection).
  void set_answer_pings(bool on) { answer_pings_ = on; }

 private:
  std::string info_;
  int listen_fd_ = -1;
  int port_ = 0;
  int client_fd_ = -1;
  std::string received_;
  bool answer_pings_ = true;
};

}  // namespace gannet::test
