// Test harness for gannet-streaming: the server as a child process on free ports (embedded
// NATS, or -ns to another server), and RAII wrappers over libnats' Streaming API
// (stanConnection_*), with collectors that tests wait on (conditions with deadlines, no sleeps).
#pragma once

#define NATS_HAS_STREAMING 1
#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace gannet::streaming::test {

using namespace std::chrono_literals;

// The build's gannet-streaming (GANNET_STREAMING_BIN overrides).
std::string StreamingBinary();

// A gannet-streaming child process. Start() waits for "Streaming Server is ready" (or for the
// process to exit). Args are passed as given, after "-a 127.0.0.1 -p <port>" unless the test
// gives -p itself or uses -ns.
class StanServer {
 public:
  explicit StanServer(std::vector<std::string> args = {}, bool embedded = true);
  ~StanServer();
  StanServer(const StanServer&) = delete;
  StanServer& operator=(const StanServer&) = delete;

  bool Start(std::chrono::milliseconds timeout = 15s);
  // SIGTERM (or SIGKILL when `kill`), waits; returns the exit status.
  int Stop(bool kill = false);
  bool Running();
  void Signal(int sig);
  // Waits for the process to exit by itself; its exit status, or -1 on timeout.
  int WaitExit(std::chrono::milliseconds timeout = 10s);
  std::string Output() const;
  // A sanitizer report (ASan, UBSan, LSan) in the output, or "".
  std::string SanitizerReport() const;

  int pid() const { return pid_; }
  int port() const { return port_; }
  int http_port() const { return http_port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // Asks for an HTTP monitoring port (-m) before Start.
  void EnableMonitoring();
  // The log line Start waits for (default "Streaming Server is ready"; a fault-tolerance
  // standby says "Starting in standby mode").
  void SetReadyMarker(std::string marker) { ready_marker_ = std::move(marker); }
  // The server is expected to end itself with _exit (an FT active that lost its lock): under
  // ThreadSanitizer its threads not joined then are not a leak to report. Before Start.
  void ExpectAbort() { expect_abort_ = true; }

 private:
  std::vector<std::string> args_;
  bool embedded_;
  int port_ = 0;
  int http_port_ = 0;
  int pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
  std::string ready_marker_ = "Streaming Server is ready";
  bool expect_abort_ = false;
};

// Polls `cond` until true or the deadline; true when it became true.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s);

// ---- libnats Streaming wrappers ----

struct StanConnDeleter {
  void operator()(stanConnection* sc) const;
};
using StanConn = std::unique_ptr<stanConnection, StanConnDeleter>;
struct StanSubDeleter {
  void operator()(stanSubscription* s) const { stanSubscription_Destroy(s); }
};
using StanSub = std::unique_ptr<stanSubscription, StanSubDeleter>;

struct ConnectOptions {
  std::string cluster_id = "test-cluster";
  int64_t connect_wait_ms = 2000;
  int ping_interval = 0;  // seconds; 0: the library's default
  int ping_max_out = 0;
  stanConnectionLostHandler lost_handler = nullptr;
  void* lost_closure = nullptr;
  int max_pub_acks_inflight = 0;
};

// Connects; on failure returns null and sets `error` (status text and last error).
StanConn Connect(const std::string& url, const std::string& client_id, std::string* error,
                 const ConnectOptions& o = {});

struct Received {
  uint64_t seq;
  std::string data;
  bool redelivered;
  int64_t timestamp;
};

// Collects the messages of one subscription; acks them (manual ack mode) unless told not to.
class Collector {
 public:
  std::vector<Received> Snapshot();
  size_t Count();
  bool WaitCount(size_t n, std::chrono::milliseconds timeout = 10s);
  // Stops (or resumes) acknowledging in manual ack mode.
  void SetAck(bool ack) { ack_.store(ack); }

  static void OnMsg(stanConnection* sc, stanSubscription* sub, const char* channel, stanMsg* msg,
                    void* closure);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> got_;
  std::atomic<bool> ack_{true};
};

struct SubscribeOptions {
  std::string durable;
  std::string queue;
  int max_inflight = 0;
  int64_t ack_wait_ms = 0;
  bool manual_ack = false;
  enum class Start {
    kNewOnly,
    kLastReceived,
    kTimeDelta,
    kSequence,
    kFirst
  } start = Start::kNewOnly;
  uint64_t start_seq = 0;
  int64_t start_delta_ms = 0;
};

// Subscribes `collector` to `channel`; null on failure with `error` set.
StanSub Subscribe(stanConnection* sc, const std::string& channel, Collector& collector,
                  const SubscribeOptions& o, std::string* error);

// Publishes synchronously; "" or the error text.
std::string Publish(stanConnection* sc, const std::string& channel, const std::string& data);

// The last libnats error text (status and message).
std::string LastError(natsStatus s);

// The history checker's read (the FT and cluster tests): connects as "reader", publishes "END"
// on `channel`, reads the channel from its first sequence up to END and returns the payloads
// before it. The test fails (and `ok` is false) if END does not come within a minute, or on a
// gap or a reused sequence.
struct History {
  bool ok = false;
  std::vector<Received> msgs;    // in sequence order, END left out
  std::set<std::string> stored;  // their payloads
  size_t duplicates = 0;         // payloads stored more than once
};
History ReadHistory(const std::string& nats_url, const std::string& channel);

}  // namespace gannet::streaming::test
