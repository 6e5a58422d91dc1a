// Test harness: starts gannet-server or the reference nats-server on a free port, and talks raw
// TCP.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace gannet::test {

// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range (so no
// outgoing connection takes it before a server listens on it).
int FreeTcpPort();

// Which server binary a test runs against. Every behavioural test runs against both, so that
// the reference proves the expectation right.
enum class ServerKind { kGannet, kNatsServer };
const char* ServerKindName(ServerKind kind);
// Path of the binary: GANNET_SERVER_BIN / NATS_SERVER_BIN from the environment, else the
// build's gannet-server and Debian's /usr/sbin/nats-server.
std::string ServerBinary(ServerKind kind);

// A server child process. Start() returns once the client port accepts connections. Once the
// process has exited (seen by Running or Stop), a sanitizer report in its output fails the
// running test.
class ServerProcess {
 public:
  explicit ServerProcess(ServerKind kind, std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // The config file sets the client port (`port`): Start adds no -a/-p flags, which would win
  // over the file (a config reload test changes the port in the file).
  void UsePortFromConfig(int port) { config_port_ = port; }
  // Picks a free port (unless -p is among extra_args), forks, execs, waits for the port.
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // SIGTERM, then SIGKILL if it does not exit within the timeout. Returns the exit status
  // (of the earlier exit, if the server had already exited; -1 if it was never started).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends a signal to the child.
  void Signal(int sig);
  bool Running();

  int port() const { return port_; }
  int pid() const { return pid_; }
  ServerKind kind() const { return kind_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // Everything the server wrote to stdout+stderr so far.
  std::string Output() const;

 private:
  // The child has exited with `status`: keep it, and scan the output for sanitizer reports.
  void Reaped(int status);

  ServerKind kind_;
  std::vector<std::string> args_;
  int port_ = 0;
  int config_port_ = 0;
  int pid_ = -1;
  int exit_status_ = -1;
  std::string log_path_;
};

// Runs the server binary with exactly `args` (no -a/-p added) as a command that exits by itself
// (--signal, a bad flag) and waits for it. Returns its exit code, or -1 if a signal ended it;
// `output` receives what it printed (stdout and stderr). A sanitizer report in it fails the
// running test.
int RunServerCommand(ServerKind kind, const std::vector<std::string>& args,
                     std::string* output = nullptr);

// A raw TCP connection for black-box protocol tests: send bytes, expect bytes.
class RawConn {
 public:
  RawConn() = default;
  ~RawConn();
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool Connect(int port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool Send(std::string_view bytes);
  // Reads until the accumulated unread input contains `needle`; returns everything up to and
  // including it (and consumes that), or "" on timeout/close.
  std::string ReadUntil(std::string_view needle,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads one CRLF-terminated line (without the CRLF); "" on timeout.
  std::string ReadLine(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads exactly n bytes; "" on timeout.
  std::string ReadExactly(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends "PING\r\n" and reads until "PONG\r\n": everything received before the PONG is
  // returned (so a test can assert that nothing else, e.g. no -ERR, arrived).
  std::string Flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True once the peer has closed the connection (EOF or reset) within the timeout. Data that
  // arrives meanwhile is kept in the unread buffer.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Unread bytes received so far (does not consume).
  const std::string& pending() const { return buf_; }
  void Close();
  int fd() const { return fd_; }

 private:
  // Reads what is available within the deadline into buf_; false on timeout, sets closed_.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  bool closed_ = false;
  std::string buf_;
};

// Connects, reads the INFO line and (optionally) sends CONNECT; returns the INFO JSON text.
std::string Handshake(RawConn& conn, std::string_view connect_json = "{\"verbose\":false}");

// In a child just forked from `parent` (the test process), before exec: the kernel kills the
// child when the test process ends, so that a test that crashes leaves no server running (a
// crashed cluster test left its servers and database busy for the tests after it). Call it after
// any change of user: that clears the setting.
void DieWithParent(pid_t parent);

}  // namespace gannet::test
