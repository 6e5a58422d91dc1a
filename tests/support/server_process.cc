// Test harness implementation: child processes, free ports, raw TCP conversations.
#include "server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "sanitizer_report.h"

#ifndef GANNET_SERVER_PATH
#define GANNET_SERVER_PATH "gannet-server"
#endif

namespace gannet::test {

using Clock = std::chrono::steady_clock;

namespace {

// The start of the kernel's ephemeral range ("32768 60999" by default): the ports it hands to
// connect() and to bind(port 0).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

bool Bindable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

// A port below the ephemeral range, not bound now and not handed out before by this process.
// Below the range because a port from bind(0) is one the kernel may give the next moment to an
// outgoing connection (a cluster node dialing a peer that is not up yet), and the server meant
// to listen on it then fails with "address already in use". Random, so that parallel test
// processes rarely try the same one; bind-checked, so that they never take one in use.
int FreeTcpPort() {
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::lock_guard lock(mu);
  int first = 10000, last = EphemeralLow() - 1;
  if (last - first < 1000) first = 1024;  // an unusual range: use what lies below it
  std::uniform_int_distribution<int> pick(first, last);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = pick(rng);
    if (handed_out.contains(port) || !Bindable(port)) continue;
    handed_out.insert(port);
    return port;
  }
  return -1;
}

const char* ServerKindName(ServerKind kind) {
  return kind == ServerKind::kGannet ? "gannet" : "nats_server";
}

std::string ServerBinary(ServerKind kind) {
  const char* env =
      std::getenv(kind == ServerKind::kGannet ? "GANNET_SERVER_BIN" : "NATS_SERVER_BIN");
  if (env && *env) return env;
  return kind == ServerKind::kGannet ? GANNET_SERVER_PATH : "/usr/sbin/nats-server";
}

ServerProcess::ServerProcess(ServerKind kind, std::vector<std::string> extra_args)
    : kind_(kind), args_(std::move(extra_args)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

bool ServerProcess::Start(std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{ServerBinary(kind_)};
  bool has_port = false;
  for (size_t i = 0; i < args_.size(); ++i) {
    if ((args_[i] == "-p" || args_[i] == "--port") && i + 1 < args_.size()) {
      port_ = std::atoi(args_[i + 1].c_str());
      has_port = true;
    }
  }
  if (config_port_ != 0) {
    port_ = config_port_;
  } else if (!has_port) {
    port_ = FreeTcpPort();
    argv.push_back("-a");
    argv.push_back("127.0.0.1");
    argv.push_back("-p");
    argv.push_back(std::to_string(port_));
  }
  argv.insert(argv.end(), args_.begin(), args_.end());

  char tmpl[] = "/tmp/gannet-test-log-XXXXXX";
  int log_fd = ::mkstemp(tmpl);
  log_path_ = tmpl;

  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    DieWithParent(parent);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::setpgid(0, 0);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    std::perror("execv");
    std::_Exit(127);
  }
  ::close(log_fd);
  // Ready when the server says so: both servers log "Server is ready" once listening. This
  // does not open a connection, which would count against max_connections.
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!Running()) return false;
    if (Output().find("Server is ready") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

bool ServerProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reaped(status);
    return false;
  }
  return true;
}

void ServerProcess::Reaped(int status) {
  pid_ = -1;
  exit_status_ = status;
  // Only Gannet's binaries are built with sanitizers; the reference's texts may contain what
  // looks like a report (its own "runtime error: invalid memory address" in a config error).
  if (kind_ == ServerKind::kGannet) ExpectNoSanitizerReport("gannet-server", Output());
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ServerProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;  // already exited (seen by Running): how it did
  ::kill(pid_, SIGTERM);
  auto deadline = Clock::now() + timeout;
  int status = 0;
  while (Clock::now() < deadline) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      Reaped(status);
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  Reaped(status);
  return status;
}

std::string ServerProcess::Output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunServerCommand(ServerKind kind, const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> argv{ServerBinary(kind)};
  argv.insert(argv.end(), args.begin(), args.end());
  char tmpl[] = "/tmp/gannet-test-cmd-XXXXXX";
  int out_fd = ::mkstemp(tmpl);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    DieWithParent(parent);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    std::perror("execv");
    std::_Exit(127);
  }
  ::close(out_fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(tmpl);
  std::stringstream ss;
  ss << in.rdbuf();
  ::unlink(tmpl);
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
  if (argv[0] != ServerBinary(ServerKind::kNatsServer)) ExpectNoSanitizerReport(command, ss.str());
  if (output) *output = ss.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

RawConn::~RawConn() { Close(); }

void RawConn::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConn::Connect(int port, std::chrono::milliseconds timeout) {
  Close();
  closed_ = false;
  buf_.clear();
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      int one = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return true;
    }
    Close();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool RawConn::Send(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool RawConn::Fill(Clock::time_point deadline) {
  if (closed_ || fd_ < 0) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(left.count()));
  if (r <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

std::string RawConn::ReadUntil(std::string_view needle, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    size_t pos = buf_.find(needle);
    if (pos != std::string::npos) {
      std::string out = buf_.substr(0, pos + needle.size());
      buf_.erase(0, pos + needle.size());
      return out;
    }
    if (!Fill(deadline)) return "";
  }
}

std::string RawConn::ReadLine(std::chrono::milliseconds timeout) {
  std::string line = ReadUntil("\r\n", timeout);
  if (line.size() >= 2) line.resize(line.size() - 2);
  return line;
}

std::string RawConn::ReadExactly(size_t n, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (buf_.size() < n) {
    if (!Fill(deadline)) return "";
  }
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

std::string RawConn::Flush(std::chrono::milliseconds timeout) {
  Send("PING\r\n");
  std::string got = ReadUntil("PONG\r\n", timeout);
  if (got.empty()) return "<timeout>";
  got.resize(got.size() - 6);
  return got;
}

bool RawConn::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!closed_) {
    if (!Fill(deadline) && !closed_) return false;
  }
  return true;
}

std::string Handshake(RawConn& conn, std::string_view connect_json) {
  std::string info = conn.ReadLine();
  if (!connect_json.empty()) {
    conn.Send("CONNECT " + std::string(connect_json) + "\r\n");
  }
  if (info.rfind("INFO ", 0) == 0) return info.substr(5);
  return "";
}

void DieWithParent(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) std::_Exit(1);  // the parent ended before the line above
}

}  // namespace gannet::test
