// A command-line tool (e.g. `gannet`) run as a child process the way a user runs it: its
// stdout and stderr go to files the test reads while it runs and after it exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace gannet::test {

// Everything in a file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

class ToolProcess {
 public:
  // Starts `binary ARGS...`. `stdin_fd`: what the tool reads as standard input (default
  // /dev/null). The destructor kills it if still running, and fails the running test if its
  // stderr holds a sanitizer report.
  ToolProcess(std::string binary, std::vector<std::string> args, int stdin_fd = -1);
  ~ToolProcess();
  ToolProcess(const ToolProcess&) = delete;
  ToolProcess& operator=(const ToolProcess&) = delete;

  // Exit status, or -1 if it has not exited within the timeout (it is then left running).
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits until the tool's stderr (or stdout) contains `text`.
  bool WaitForStderr(const std::string& text,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool WaitForStdout(const std::string& text,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Signal(int sig);
  std::string out() const { return ReadFile(out_); }
  std::string err() const { return ReadFile(err_); }

 private:
  bool WaitForText(const std::string& path, const std::string& text,
                   std::chrono::milliseconds timeout);
  std::string command_;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string out_, err_;
};

}  // namespace gannet::test
