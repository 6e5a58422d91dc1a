// Back-pressure and slow consumers (see flow_control.h).
#include "server/conn/flow_control.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "base/go_format.h"
#include "base/logger.h"
#include "server/conn/connection.h"
#include "server/conn/worker.h"
#include "server/server.h"

namespace gannet {

int64_t DefaultPendingTotal() {
  int64_t memory = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  // A cgroup (v2) memory limit, as a container sets one, is the real bound.
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string limit;
  if (cgroup >> limit && limit != "max") {
    try {
      int64_t v = std::stoll(limit);
      if (v > 0 && v < memory) memory = v;
    } catch (...) {
    }
  }
  return std::max<int64_t>(memory / 4, int64_t{64} << 20);
}

FlowControl::FlowControl(Worker& worker, int64_t max_pending, PendingBudget& budget)
    : worker_(worker), max_pending_(max_pending), budget_(budget) {}

FlowControl::State FlowControl::Judge(int64_t max_pending, int64_t pending,
                                      int64_t stalled_since_ns, Clock::time_point now) {
  if (pending <= max_pending / 2) return State::kKeepingUp;
  if (stalled_since_ns != 0 &&
      now.time_since_epoch().count() - stalled_since_ns >
          std::chrono::duration_cast<Clock::duration>(kStallGrace).count()) {
    return State::kStalled;
  }
  return State::kBehind;
}

void FlowControl::AfterDelivery(Connection* producer, Connection& receiver, int64_t pending,
                                int64_t stalled_since_ns) {
  if (pending > max_pending_ / 4) NotePressure(worker_.now());
  if (&receiver.worker() == &worker_ && pending > max_pending_ && !receiver.is_route()) {
    CutSlowConsumer(receiver, CloseReason::kSlowConsumerPendingBytes);
    return;
  }
  if (!producer || producer == &receiver || producer->is_route()) return;
  State state = Judge(max_pending_, pending, stalled_since_ns, worker_.now());
  if (state == State::kBehind || (state == State::kStalled && receiver.is_route())) {
    producer->producer_pressured_ = true;
  }
  if (state == State::kStalled) {
    producer->fed_stalled_ = true;
  } else {
    producer->fed_moving_ = true;
  }
}

void FlowControl::AfterRead(Connection& producer) {
  // A stalled receiver is not waited for, so that its neighbours go on. A producer whose
  // batch fed stalled receivers and no other has no neighbour to spare: it is paused as for a
  // receiver behind (64 publishers into one reader starved of CPU for a moment filled it past
  // max_pending in tens of milliseconds; the reference stalls them). A receiver stalled for
  // good is then cut by the write deadline, as by the reference.
  const bool only_stalled = producer.fed_stalled_ && !producer.fed_moving_;
  producer.fed_stalled_ = false;
  producer.fed_moving_ = false;
  if (!producer.producer_pressured_ && !only_stalled) {
    producer.pauses_in_row_ = 0;
    return;
  }
  producer.producer_pressured_ = false;
  if (producer.closing()) return;
  // For a receiver that takes nothing, up to the reference's longest stall (1 s): many
  // producers each let through a read batch per pause would fill it all the same.
  Pause(producer, only_stalled ? kMaxStalledDoublings : kMaxDoublings);
}

void FlowControl::Pause(Connection& producer, int max_doublings) {
  // A receiver that stays behind read after read drains slower than this producer fills it
  // (a TLS receiver's owner encrypts everything it sends): each pause in a row doubles, as
  // the reference stalls a fast producer longer the further its receiver is behind.
  int doublings = std::min(producer.pauses_in_row_, max_doublings);
  producer.pauses_in_row_++;
  producer.paused_until_ = worker_.now() + kFirstPause * (1 << doublings);
  if (producer.read_paused_) return;
  producer.read_paused_ = true;
  producer.UpdateEpoll();
  paused_.push_back(producer.id());
}

void FlowControl::ResumeDue(Clock::time_point now) {
  size_t kept = 0;
  for (uint64_t id : paused_) {
    Connection* c = worker_.FindConnection(id);
    if (!c || c->closing()) continue;
    if (now >= c->paused_until_) {
      c->read_paused_ = false;
      c->UpdateEpoll();
    } else {
      paused_[kept++] = id;
    }
  }
  paused_.resize(kept);
}

void FlowControl::CutSlowConsumer(Connection& receiver, CloseReason reason) {
  if (receiver.closing()) return;
  worker_.server().slow_consumers.fetch_add(1, std::memory_order_relaxed);
  if (reason == CloseReason::kSlowConsumerWriteDeadline) {
    LOG_INFO(
        "%s - Slow Consumer Detected: WriteDeadline of %s exceeded with %zu chunks of %zu "
        "total bytes.",
        std::string(receiver.log_prefix()).c_str(),
        GoDuration(worker_.options().write_deadline).c_str(), receiver.out_.chunk_count(),
        receiver.pending_out());
  } else {
    LOG_INFO("%s - Slow Consumer Detected: MaxPending of %lld Exceeded",
             std::string(receiver.log_prefix()).c_str(), static_cast<long long>(max_pending_));
  }
  receiver.Close(reason);
}

bool FlowControl::CheckWriteDeadline(Connection& receiver, Clock::time_point now,
                                     std::chrono::milliseconds deadline) {
  Clock::time_point since = receiver.stalled_since();
  if (since == Clock::time_point{} || receiver.pending_out() == 0 || now - since <= deadline) {
    return false;
  }
  CutSlowConsumer(receiver, CloseReason::kSlowConsumerWriteDeadline);
  return true;
}

void FlowControl::ShedOverBudget(const std::vector<Connection*>& connections) {
  if (!budget_.over()) return;
  // The largest holders first, stalled ones before those still moving: they are the ones
  // that will not give the memory back by themselves.
  const Clock::time_point now = worker_.now();
  struct Candidate {
    Connection* c;
    bool stalled;
    int64_t pending;
  };
  std::vector<Candidate> candidates;
  for (Connection* c : connections) {
    if (c->closing() || c->is_route()) continue;
    int64_t pending = c->pending_bytes();
    if (pending == 0) continue;
    bool stalled = Judge(max_pending_, pending, c->stalled_since_ns(), now) == State::kStalled;
    candidates.push_back({c, stalled, pending});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.stalled != b.stalled ? a.stalled : a.pending > b.pending;
  });
  for (const Candidate& cand : candidates) {
    if (!budget_.over()) break;
    LOG_INFO(
        "%s - Slow Consumer Detected: server pending total of %lld exceeded (%lld bytes "
        "held for this connection)",
        std::string(cand.c->log_prefix()).c_str(), static_cast<long long>(budget_.limit()),
        static_cast<long long>(cand.pending));
    worker_.server().slow_consumers.fetch_add(1, std::memory_order_relaxed);
    cand.c->Close(CloseReason::kSlowConsumerPendingBytes);
  }
}

}  // namespace gannet
