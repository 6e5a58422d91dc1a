// Back-pressure and slow consumers: the one place that decides whether a producer waits for a
// receiver that is behind, and when a receiver is cut.
//
// A receiver (any connection others deliver to) is, at any moment, in one of these states,
// derived from its pending bytes (its output queue and its inbox) and from how long its socket
// has taken nothing while output waited ("stalled since", kept by the connection's writes):
//
//   keeping up  pending at most max_pending / 2. Nothing to do.
//   behind      over half its limit, and its socket took bytes within the last kStallGrace: a
//               reader that is slow, or paused a moment, but moving. A client producing into it
//               pauses reading (1 ms, doubling while the receiver stays behind, up to 64 ms),
//               so the receiver gets a fair share of the producer's rate and loses nothing.
//   stalled     over half its limit, and its socket took nothing for kStallGrace: a hung or
//               suspended reader. Producers go on at full speed, so its neighbours (the other
//               subscribers of the subject, the other subjects of the producer) are not held
//               up; its queue fills. A producer that fed only stalled receivers in a read
//               batch has no neighbour to spare and is paused as for one behind (a fan-in
//               into a reader starved of CPU for a moment); a reader stalled for good is then
//               cut by the write deadline.
//   cut         pending past max_pending, no byte taken for write_deadline, or the server's
//               pending total past its limit (the largest holders first): closed as a slow
//               consumer, with the reference's log line and counters (CutSlowConsumer).
//
// Routes as producers are never paused (one slow client must not stall a peer's whole
// stream: that client is isolated instead); a route as a receiver holds its producers back
// whenever it is over half its limit, stalled or not, and is never cut for pending bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace gannet {

class Connection;
class Worker;
enum class CloseReason;

// The server's budget for bytes held for receivers: every connection's output queue and inbox
// together. Past `limit` (Gannet's own `max_pending_total`; 0: none), the workers cut their
// largest holders. Any thread.
class PendingBudget {
 public:
  explicit PendingBudget(int64_t limit) : limit_(limit) {}
  void Add(int64_t delta) { total_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t total() const { return total_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }
  bool over() const { return limit_ > 0 && total() > limit_; }

 private:
  std::atomic<int64_t> total_{0};
  const int64_t limit_;
};

// The default for max_pending_total: a quarter of the memory this process may use (the
// machine's, or the cgroup's limit when one is set).
int64_t DefaultPendingTotal();

// One per worker: judges the receivers its producers deliver to, pauses and resumes those
// producers, cuts slow consumers. Owner (worker) thread only, except Judge.
class FlowControl {
 public:
  using Clock = std::chrono::steady_clock;
  // How long a receiver over half its limit may take nothing before it counts as stalled.
  static constexpr std::chrono::milliseconds kStallGrace{20};
  static constexpr std::chrono::milliseconds kFirstPause{1};
  static constexpr int kMaxDoublings = 6;          // 1 ms .. 64 ms
  static constexpr int kMaxStalledDoublings = 10;  // 1 ms .. 1024 ms: fed only stalled ones

  enum class State { kKeepingUp, kBehind, kStalled };

  FlowControl(Worker& worker, int64_t max_pending, PendingBudget& budget);

  int64_t max_pending() const { return max_pending_; }
  // A receiver fed from this worker is over a quarter of its limit: for kPressureHold, every
  // read on this worker takes its share of the round (Worker::pressured_read; a paused
  // producer 64 KiB), so that many producers, each allowed one more read before the flow
  // control pauses it, add little to that receiver.
  static constexpr std::chrono::milliseconds kPressureHold{100};
  void NotePressure(Clock::time_point now) { pressure_until_ = now + kPressureHold; }
  bool pressured(Clock::time_point now) const { return now < pressure_until_; }
  PendingBudget& budget() { return budget_; }

  // A receiver's state from its pending bytes and stalled-since time (steady-clock ns, 0: not
  // stalled), for a max_pending limit. Any thread: producers on other workers judge with what
  // the receiver published.
  static State Judge(int64_t max_pending, int64_t pending, int64_t stalled_since_ns,
                     Clock::time_point now);

  // Delivery path: `producer` (null when no connection produced, e.g. a timer) queued bytes for
  // `receiver`, which now holds `pending` bytes (cross-worker: the hand-over's result, with the
  // receiver's published stalled-since). Same-worker receivers past max_pending are cut here;
  // producers of behind receivers are marked for a pause.
  void AfterDelivery(Connection* producer, Connection& receiver, int64_t pending,
                     int64_t stalled_since_ns);
  // After a producer's input was processed and its messages handed over: pauses its reading
  // if a receiver was behind, else resets its pause doubling.
  void AfterRead(Connection& producer);
  // Resumes the producers whose pause is over.
  void ResumeDue(Clock::time_point now);
  bool has_paused() const { return !paused_.empty(); }
  // When the server's pending total is over its limit: cuts this worker's largest holders
  // (stalled before behind) until it is back under, or nothing is left to cut.
  void ShedOverBudget(const std::vector<Connection*>& connections);

  // Closes `receiver` as a slow consumer: the reference's counters and log line, then the
  // close. `reason` is kSlowConsumerPendingBytes or kSlowConsumerWriteDeadline.
  void CutSlowConsumer(Connection& receiver, CloseReason reason);
  // The write deadline: a receiver whose socket took nothing for `deadline` is cut (clients
  // always; routes too, as the reference, since nothing at all was written). Returns true if
  // it was cut.
  bool CheckWriteDeadline(Connection& receiver, Clock::time_point now,
                          std::chrono::milliseconds deadline);

 private:
  void Pause(Connection& producer, int max_doublings);

  Worker& worker_;
  const int64_t max_pending_;
  PendingBudget& budget_;
  std::vector<uint64_t> paused_;  // ids of producers whose reading is paused
  Clock::time_point pressure_until_{};
};

}  // namespace gannet
