// The Streaming server's I/O loop (see event_loop.h).
#include "streaming/event_loop.h"

#include <pthread.h>

#include <memory>

namespace gannet::streaming {

EventLoop::~EventLoop() { Stop(); }

void EventLoop::Start(BatchHandler on_batch, std::function<void()> after_batch) {
  on_batch_ = std::move(on_batch);
  after_batch_ = std::move(after_batch);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stan-loop");
    Run();
  });
  thread_id_ = thread_.get_id();
}

void EventLoop::Stop() {
  {
    std::lock_guard lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable() && !OnLoopThread()) thread_.join();
}

void EventLoop::Post(Inbound item) {
  bool wake;
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(item));
    wake = sleeping_;
    sleeping_ = false;
  }
  if (wake) cv_.notify_one();
}

void EventLoop::PostTask(std::function<void()> task) {
  bool wake;
  {
    std::lock_guard lk(mu_);
    tasks_.push_back(std::move(task));
    wake = sleeping_;
    sleeping_ = false;
  }
  if (wake) cv_.notify_one();
}

bool EventLoop::RunAndWait(std::function<void()> task, std::chrono::milliseconds timeout) {
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  {
    std::lock_guard lk(mu_);
    if (stop_) return false;
  }
  PostTask([done, task = std::move(task)] {
    task();
    std::lock_guard lk(done->mu);
    done->done = true;
    done->cv.notify_all();
  });
  std::unique_lock lk(done->mu);
  return done->cv.wait_for(lk, timeout, [&] { return done->done; });
}

size_t EventLoop::queued() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

EventLoop::TimerId EventLoop::AddTimer(Clock::time_point when, std::function<void()> fn) {
  TimerId id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  timer_heap_.push({when, id});
  return id;
}

void EventLoop::CancelTimer(TimerId id) { timers_.erase(id); }

void EventLoop::RunDueTimers() {
  auto now = Clock::now();
  while (!timer_heap_.empty() && timer_heap_.top().when <= now) {
    TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    std::function<void()> fn = std::move(it->second);
    timers_.erase(it);
    fn();
  }
  // Cancelled entries at the top would make the loop wake for nothing.
  while (!timer_heap_.empty() && !timers_.count(timer_heap_.top().id)) timer_heap_.pop();
}

void EventLoop::Run() {
  std::vector<Inbound> batch;
  std::vector<std::function<void()>> tasks;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      while (queue_.empty() && tasks_.empty() && !stop_) {
        bool timer_due = !timer_heap_.empty() && timer_heap_.top().when <= Clock::now();
        if (timer_due) break;
        sleeping_ = true;
        if (timer_heap_.empty()) {
          cv_.wait(lk);
        } else {
          cv_.wait_until(lk, timer_heap_.top().when);
        }
        sleeping_ = false;
      }
      if (stop_ && queue_.empty() && tasks_.empty()) break;
      batch.swap(queue_);
      tasks.swap(tasks_);
    }
    if (batch_wait_.count() > 0 && !batch.empty() && batch.size() < max_batch_) {
      std::this_thread::sleep_for(batch_wait_);
      std::lock_guard lk(mu_);
      for (Inbound& in : queue_) batch.push_back(std::move(in));
      queue_.clear();
    }
    RunDueTimers();
    for (auto& t : tasks) t();
    tasks.clear();
    if (!batch.empty()) on_batch_(batch);
    batch.clear();
    if (after_batch_) after_batch_();
  }
}

}  // namespace gannet::streaming
