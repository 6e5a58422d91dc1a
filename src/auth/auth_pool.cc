// Helper threads for bcrypt checks (see auth_pool.h).
#include "auth/auth_pool.h"

#include <sys/resource.h>
#include <unistd.h>

namespace gannet {

AuthPool::~AuthPool() { Stop(); }

void AuthPool::Start(size_t threads) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

void AuthPool::Stop() {
  std::deque<std::function<void()>> dropped;  // freed outside the lock
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(jobs_);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void AuthPool::Submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void AuthPool::Run() {
  // Linux: the nice value is per thread. Failing to lower it is harmless.
  [[maybe_unused]] int rc = setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace gannet
