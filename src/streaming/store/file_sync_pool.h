// Syncs several files at once: one I/O batch writes a data and an index file per channel (and
// subs.dat files), and their fdatasyncs wait on the device in parallel instead of one after the
// other, so a batch waits for about one sync whatever it touched. A few helper threads, started
// on first use; the caller syncs too.
//
// Threads: SyncAll from any thread (calls are serialized).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "streaming/store/file_io.h"

namespace gannet::streaming::store::file {

class SyncPool {
 public:
  explicit SyncPool(size_t helpers = 3) : helpers_(helpers) {}
  ~SyncPool();
  SyncPool(const SyncPool&) = delete;
  SyncPool& operator=(const SyncPool&) = delete;

  // Syncs every file; the first error.
  Status SyncAll(const std::vector<std::shared_ptr<File>>& files);

 private:
  void Helper();
  // Takes the next file of the current job; false when none is left.
  bool RunOne(std::unique_lock<std::mutex>& lk);

  const size_t helpers_;
  std::mutex call_mu_;  // one SyncAll at a time; taken before mu_
  std::mutex mu_;       // a leaf
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::vector<std::shared_ptr<File>>* job_ = nullptr;
  size_t next_ = 0;
  size_t done_ = 0;
  Status error_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace gannet::streaming::store::file
