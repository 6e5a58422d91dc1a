// file_slice_archive_script: a removed message slice's two files, renamed *.bak, handed to the
// operator's script (`script <channel> <dat.bak> <idx.bak>`) on a thread of its own so the
// store does not wait for it; its output or failure is logged as the reference does.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

namespace gannet::streaming::store::file {

class ArchiveRunner {
 public:
  explicit ArchiveRunner(std::string script) : script_(std::move(script)) {}
  ~ArchiveRunner() { Wait(); }
  ArchiveRunner(const ArchiveRunner&) = delete;
  ArchiveRunner& operator=(const ArchiveRunner&) = delete;

  bool enabled() const { return !script_.empty(); }
  // Starts the script for one slice. Any thread.
  void Run(const std::string& channel, const std::string& dat_bak, const std::string& idx_bak);
  // Waits for every script started so far to finish.
  void Wait();

 private:
  std::string script_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
};

}  // namespace gannet::streaming::store::file
