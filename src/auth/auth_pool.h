// Helper threads for the slow part of authentication: a bcrypt password check costs tens of
// milliseconds of CPU (cost 10-11), which on a worker thread would hold up every other
// connection of that worker. A worker hands the check over (Client::CheckCredentials) and goes
// on; the job posts its verdict back to the client's worker (Worker::PostRun).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gannet {

class AuthPool {
 public:
  AuthPool() = default;
  ~AuthPool();
  AuthPool(const AuthPool&) = delete;
  AuthPool& operator=(const AuthPool&) = delete;

  // Starts `threads` helpers, at a lower scheduling priority than the workers (nice +5): on a
  // busy machine the message path comes first.
  void Start(size_t threads);
  // Joins the helpers; jobs not started yet are dropped (their clients are closing anyway).
  // Idempotent.
  void Stop();
  // Runs `job` on a helper. Any thread. Dropped once stopped.
  void Submit(std::function<void()> job);

 private:
  void Run();

  std::mutex mu_;  // a leaf
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace gannet
