// Slice archive scripts (see file_archive.h).
#include "streaming/store/file_archive.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "streaming/log.h"

extern char** environ;

namespace gannet::streaming::store::file {

namespace {

// Runs `argv` with stdout and stderr into one pipe; the combined output, and an error text
// when it could not start or did not exit with 0.
std::string RunCombined(std::vector<std::string> argv, std::string& output) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return std::string("fork/exec ") + argv[0] + ": " + std::strerror(rc);
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal: ") + strsignal(WTERMSIG(status));
  return "abnormal exit";
}

}  // namespace

void ArchiveRunner::Run(const std::string& channel, const std::string& dat_bak,
                        const std::string& idx_bak) {
  {
    std::lock_guard lk(mu_);
    ++running_;
  }
  std::thread([this, channel, dat_bak, idx_bak] {
    std::string output;
    std::string err = RunCombined({script_, channel, dat_bak, idx_bak}, output);
    if (!err.empty()) {
      STAN_INFO("Error invoking archive script \"%s\": %s (output=%s)", script_.c_str(),
                err.c_str(), output.c_str());
    } else {
      STAN_INFO("Output of archive script for %s (%s and %s): %s", channel.c_str(), dat_bak.c_str(),
                idx_bak.c_str(), output.c_str());
    }
    std::lock_guard lk(mu_);
    if (--running_ == 0) cv_.notify_all();
  }).detach();
}

void ArchiveRunner::Wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return running_ == 0; });
}

}  // namespace gannet::streaming::store::file
