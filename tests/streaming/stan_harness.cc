// Test harness for gannet-streaming (see stan_harness.h).
#include "stan_harness.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "sanitizer_report.h"
#include "server_process.h"

#ifndef GANNET_STREAMING_PATH
#define GANNET_STREAMING_PATH "gannet-streaming"
#endif

namespace gannet::streaming::test {

using Clock = std::chrono::steady_clock;

std::string StreamingBinary() {
  const char* env = std::getenv("GANNET_STREAMING_BIN");
  return env && *env ? env : GANNET_STREAMING_PATH;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

StanServer::StanServer(std::vector<std::string> args, bool embedded)
    : args_(std::move(args)), embedded_(embedded) {}

StanServer::~StanServer() {
  // A graceful stop, so that a sanitized server runs its leak check; any report fails the test.
  if (pid_ > 0) Stop();
  if (std::string report = SanitizerReport(); !report.empty()) {
    ADD_FAILURE() << "gannet-streaming sanitizer report:\n" << report;
  }
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

void StanServer::EnableMonitoring() { http_port_ = gannet::test::FreeTcpPort(); }

bool StanServer::Start(std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{StreamingBinary()};
  bool has_port = false;
  for (size_t i = 0; i + 1 < args_.size(); ++i) {
    if (args_[i] == "-p" || args_[i] == "--port") {
      port_ = std::atoi(args_[i + 1].c_str());
      has_port = true;
    }
  }
  if (embedded_ && !has_port) {
    if (port_ == 0) port_ = gannet::test::FreeTcpPort();  // a restart keeps its port
    argv.insert(argv.end(), {"-a", "127.0.0.1", "-p", std::to_string(port_)});
  }
  if (http_port_ != 0) argv.insert(argv.end(), {"-m", std::to_string(http_port_)});
  argv.insert(argv.end(), args_.begin(), args_.end());
  if (log_path_.empty()) {
    char tmpl[] = "/tmp/gannet-streaming-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    ::close(fd);
    log_path_ = tmpl;
  }
  // Ready once the log says so again (a restart appends to the same log).
  auto count_ready = [&] {
    size_t n = 0, at = 0;
    std::string out = Output();
    while ((at = out.find(ready_marker_, at)) != std::string::npos) {
      ++n;
      ++at;
    }
    return n;
  };
  const size_t before = count_ready();
  // Appending: a restarted server keeps the earlier run's output in the same log.
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_APPEND);
  // The environment, built before fork (the child only execs).
  std::vector<std::string> env;
  std::string tsan_options = expect_abort_ ? "report_thread_leaks=0" : "";
  for (char** e = environ; *e; ++e) {
    std::string_view var(*e);
    if (expect_abort_ && var.starts_with("TSAN_OPTIONS=")) {
      tsan_options = std::string(var.substr(13)) + " " + tsan_options;
      continue;
    }
    env.emplace_back(var);
  }
  if (!tsan_options.empty()) env.push_back("TSAN_OPTIONS=" + tsan_options);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    gannet::test::DieWithParent(parent);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::setpgid(0, 0);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execve(cargv[0], cargv.data(), cenv.data());
    std::perror("execve");
    std::_Exit(127);
  }
  ::close(log_fd);
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!Running()) return false;
    if (count_ready() > before) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

namespace {
int ExitCode(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

bool StanServer::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_code_ = ExitCode(status);
    return false;
  }
  return true;
}

void StanServer::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int StanServer::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_code_;  // already reaped: how it ended
  auto deadline = Clock::now() + timeout;
  int status = 0;
  while (Clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_code_ = ExitCode(status);
      return exit_code_;
    }
    std::this_thread::sleep_for(5ms);
  }
  return -1;
}

int StanServer::Stop(bool kill) {
  if (pid_ <= 0) return exit_code_;
  ::kill(pid_, kill ? SIGKILL : SIGTERM);
  int status = WaitExit(20s);
  if (status == -1 && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  return status;
}

std::string StanServer::Output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string StanServer::SanitizerReport() const {
  std::string out = Output();
  std::string_view marker = gannet::test::FindSanitizerReport(out);
  if (marker.empty()) return {};
  return out.substr(out.find(marker), 2000);
}

// ---- libnats ----

void StanConnDeleter::operator()(stanConnection* sc) const {
  stanConnection_Close(sc);
  stanConnection_Destroy(sc);
}

std::string LastError(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(s);
  if (last && *last) out += std::string(": ") + last;
  return out;
}

StanConn Connect(const std::string& url, const std::string& client_id, std::string* error,
                 const ConnectOptions& o) {
  stanConnOptions* opts = nullptr;
  stanConnOptions_Create(&opts);
  stanConnOptions_SetURL(opts, url.c_str());
  stanConnOptions_SetConnectionWait(opts, o.connect_wait_ms);
  if (o.ping_interval > 0) stanConnOptions_SetPings(opts, o.ping_interval, o.ping_max_out);
  if (o.lost_handler)
    stanConnOptions_SetConnectionLostHandler(opts, o.lost_handler, o.lost_closure);
  if (o.max_pub_acks_inflight > 0) {
    stanConnOptions_SetMaxPubAcksInflight(opts, o.max_pub_acks_inflight, 1.0);
  }
  stanConnection* sc = nullptr;
  natsStatus s = stanConnection_Connect(&sc, o.cluster_id.c_str(), client_id.c_str(), opts);
  stanConnOptions_Destroy(opts);
  if (s != NATS_OK) {
    if (error) *error = LastError(s);
    return nullptr;
  }
  return StanConn(sc);
}

void Collector::OnMsg(stanConnection*, stanSubscription* sub, const char*, stanMsg* msg,
                      void* closure) {
  auto* self = static_cast<Collector*>(closure);
  Received r{stanMsg_GetSequence(msg),
             std::string(stanMsg_GetData(msg), static_cast<size_t>(stanMsg_GetDataLength(msg))),
             stanMsg_IsRedelivered(msg), stanMsg_GetTimestamp(msg)};
  if (self->ack_.load()) stanSubscription_AckMsg(sub, msg);  // no-op error in auto-ack mode
  stanMsg_Destroy(msg);
  std::lock_guard lk(self->mu_);
  self->got_.push_back(std::move(r));
  self->cv_.notify_all();
}

std::vector<Received> Collector::Snapshot() {
  std::lock_guard lk(mu_);
  return got_;
}

size_t Collector::Count() {
  std::lock_guard lk(mu_);
  return got_.size();
}

bool Collector::WaitCount(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return got_.size() >= n; });
}

StanSub Subscribe(stanConnection* sc, const std::string& channel, Collector& collector,
                  const SubscribeOptions& o, std::string* error) {
  stanSubOptions* opts = nullptr;
  stanSubOptions_Create(&opts);
  if (!o.durable.empty()) stanSubOptions_SetDurableName(opts, o.durable.c_str());
  if (o.max_inflight > 0) stanSubOptions_SetMaxInflight(opts, o.max_inflight);
  if (o.ack_wait_ms > 0) stanSubOptions_SetAckWait(opts, o.ack_wait_ms);
  if (o.manual_ack) stanSubOptions_SetManualAckMode(opts, true);
  switch (o.start) {
    case SubscribeOptions::Start::kNewOnly:
      break;
    case SubscribeOptions::Start::kLastReceived:
      stanSubOptions_StartWithLastReceived(opts);
      break;
    case SubscribeOptions::Start::kTimeDelta:
      stanSubOptions_StartAtTimeDelta(opts, o.start_delta_ms);
      break;
    case SubscribeOptions::Start::kSequence:
      stanSubOptions_StartAtSequence(opts, o.start_seq);
      break;
    case SubscribeOptions::Start::kFirst:
      stanSubOptions_DeliverAllAvailable(opts);
      break;
  }
  stanSubscription* sub = nullptr;
  natsStatus s;
  if (o.queue.empty()) {
    s = stanConnection_Subscribe(&sub, sc, channel.c_str(), &Collector::OnMsg, &collector, opts);
  } else {
    s = stanConnection_QueueSubscribe(&sub, sc, channel.c_str(), o.queue.c_str(), &Collector::OnMsg,
                                      &collector, opts);
  }
  stanSubOptions_Destroy(opts);
  if (s != NATS_OK) {
    if (error) *error = LastError(s);
    return nullptr;
  }
  return StanSub(sub);
}

std::string Publish(stanConnection* sc, const std::string& channel, const std::string& data) {
  natsStatus s =
      stanConnection_Publish(sc, channel.c_str(), data.data(), static_cast<int>(data.size()));
  return s == NATS_OK ? std::string() : LastError(s);
}

History ReadHistory(const std::string& nats_url, const std::string& channel) {
  History h;
  std::string error;
  StanConn reader = Connect(nats_url, "reader", &error);
  if (!reader) {
    ADD_FAILURE() << "history reader: " << error;
    return h;
  }
  if (std::string e = Publish(reader.get(), channel, "END"); !e.empty()) {
    ADD_FAILURE() << "history END: " << e;
    return h;
  }
  Collector all;
  SubscribeOptions first;
  first.start = SubscribeOptions::Start::kFirst;
  first.max_inflight = 10000;
  StanSub sub = Subscribe(reader.get(), channel, all, first, &error);
  if (!sub) {
    ADD_FAILURE() << "history subscription: " << error;
    return h;
  }
  bool ended = WaitFor(
      [&] {
        auto s = all.Snapshot();
        return !s.empty() && s.back().data == "END";
      },
      std::chrono::seconds(60));
  if (!ended) {
    ADD_FAILURE() << "END did not come back; " << all.Count() << " messages read";
    return h;
  }
  h.msgs = all.Snapshot();
  h.msgs.pop_back();
  for (size_t k = 0; k < h.msgs.size(); ++k) {
    if (h.msgs[k].seq != k + 1) {
      ADD_FAILURE() << "a gap or a reused sequence: " << h.msgs[k].seq << " at position " << k + 1;
      return h;
    }
    if (!h.stored.insert(h.msgs[k].data).second) ++h.duplicates;
  }
  sub.reset();
  reader.reset();
  h.ok = true;
  return h;
}

}  // namespace gannet::streaming::test
