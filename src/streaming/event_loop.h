// The Streaming server's I/O loop: one thread that owns every piece of streaming state
// (clients, channels, subscriptions, the store). Protocol messages from NATS are queued to it
// from the connection's callback thread and handed to the server in batches, so a burst of
// publishes becomes one store batch (one flush, then the acks); timers (heartbeats, ack waits,
// message ages, channel inactivity, request timeouts) and tasks from other threads (monitoring
// snapshots, shutdown) run on the same thread, between batches. Nothing in the server's state
// needs a lock.
//
// Threads: Post, PostTask and Stop from any thread; everything else on the loop thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gannet/client/message.h"

namespace gannet::streaming {

// What a NATS message received by the server is for.
enum class InboundKind : uint8_t {
  kConnect,      // discover subject: ConnectRequest
  kPing,         // <discover>.pings: Ping
  kPublish,      // <pub prefix>.<channel>: PubMsg
  kSubscribe,    // SubscriptionRequest
  kUnsubscribe,  // UnsubscribeRequest (unsubscribe)
  kSubClose,     // UnsubscribeRequest (close)
  kClose,        // CloseRequest
  kAck,          // a subscription's ack inbox: Ack
  kReply,        // an answer to one of the server's own requests (heartbeats, duplicate check)
};

struct Inbound {
  InboundKind kind;
  client::Message msg;
};

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using TimerId = uint64_t;
  // Handles one batch of inbound messages (in arrival order); may add timers and tasks.
  using BatchHandler = std::function<void(std::vector<Inbound>& batch)>;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // --io_sleep_time: when a batch is smaller than `max_batch`, wait this long for more before
  // handling it (bigger store batches at the price of latency). Before Start.
  void SetBatchWait(size_t max_batch, std::chrono::microseconds wait) {
    max_batch_ = max_batch;
    batch_wait_ = wait;
  }

  // Starts the thread. `on_batch` runs for each batch of inbound messages; `after_batch`
  // after every loop iteration that handled anything (the server pushes its output then).
  void Start(BatchHandler on_batch, std::function<void()> after_batch);
  // Runs the remaining tasks, then stops and joins the thread. Idempotent.
  void Stop();

  // Any thread.
  void Post(Inbound item);
  void PostTask(std::function<void()> task);
  // Runs `task` on the loop thread and waits for it. False when the loop is stopped or the
  // timeout passed: the task may then still run later, so it must own what it touches
  // (capture shared_ptrs, not the caller's locals).
  bool RunAndWait(std::function<void()> task, std::chrono::milliseconds timeout);
  bool OnLoopThread() const { return std::this_thread::get_id() == thread_id_; }

  // Loop thread only.
  TimerId AddTimer(Clock::time_point when, std::function<void()> fn);
  TimerId AddTimer(std::chrono::nanoseconds after, std::function<void()> fn) {
    return AddTimer(Clock::now() + after, std::move(fn));
  }
  void CancelTimer(TimerId id);
  // Inbound messages queued behind the batch being handled.
  size_t queued() const;

 private:
  void Run();
  void RunDueTimers();

  BatchHandler on_batch_;
  std::function<void()> after_batch_;

  mutable std::mutex mu_;  // a leaf: guards the queues and the flags
  std::condition_variable cv_;
  std::vector<Inbound> queue_;
  std::vector<std::function<void()>> tasks_;
  bool sleeping_ = false;
  bool stop_ = false;
  size_t max_batch_ = 0;
  std::chrono::microseconds batch_wait_{0};

  // Loop thread only.
  struct TimerEntry {
    Clock::time_point when;
    TimerId id;
    bool operator>(const TimerEntry& o) const { return when > o.when; }
  };
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timer_heap_;
  std::unordered_map<TimerId, std::function<void()>> timers_;
  TimerId next_timer_ = 1;

  std::thread thread_;
  std::thread::id thread_id_;
};

}  // namespace gannet::streaming
