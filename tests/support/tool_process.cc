// A command-line tool run as a child process (tool_process.h).
#include "tool_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "sanitizer_report.h"
#include "server_process.h"

namespace gannet::test {

using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ToolProcess::ToolProcess(std::string binary, std::vector<std::string> args, int stdin_fd) {
  command_ = binary.substr(binary.rfind('/') + 1);
  for (const auto& a : args) command_ += " " + a;
  static int seq = 0;
  std::string base = "/tmp/gannet-tool-" + std::to_string(getpid()) + "-" + std::to_string(++seq);
  out_ = base + ".out";
  err_ = base + ".err";
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    DieWithParent(parent);
    int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    dup2(o, 1);
    dup2(e, 2);
    dup2(in, 0);
    std::vector<char*> argv;
    argv.push_back(binary.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
}

ToolProcess::~ToolProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  ExpectNoSanitizerReport(command_, err());
  unlink(out_.c_str());
  unlink(err_.c_str());
}

int ToolProcess::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(5ms);  // polling the child's state, not timing the test
  }
}

bool ToolProcess::WaitForText(const std::string& path, const std::string& text,
                              std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ReadFile(path).find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling the output file for a condition
  }
  return true;
}

bool ToolProcess::WaitForStderr(const std::string& text, std::chrono::milliseconds timeout) {
  return WaitForText(err_, text, timeout);
}

bool ToolProcess::WaitForStdout(const std::string& text, std::chrono::milliseconds timeout) {
  return WaitForText(out_, text, timeout);
}

void ToolProcess::Signal(int sig) { kill(pid_, sig); }

}  // namespace gannet::test
