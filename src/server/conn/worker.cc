// A worker thread's event loop (see worker.h).
#include "server/conn/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/logger.h"
#include "base/socket_address.h"
#include "server/conn/connection.h"
#include "server/server.h"

namespace gannet {

namespace {
// The largest read (Connection::OnReadable sizes each one below it).
constexpr size_t kReadBufferSize = size_t{1024} * 1024;
// Reads stop for the rest of an epoll round once this many payload bytes went to receivers in
// it (the connections left are still readable, so the next round takes them): a receiver's
// pending grows by at most this much before the flow control judges it again, whatever the
// number of producers feeding it (64 producers reading 1 MiB each would add 64 MiB, max_pending,
// in one round).
constexpr uint64_t kRoundDeliveryBudget = uint64_t{8} << 20;
// While a receiver fed from this worker fills up, the connections readable in an epoll round
// share 1/32 of max_pending of reading (2 MiB by default; a read each, 64 KiB to 1/64 of
// max_pending), so that what a round adds to the receiver before its producers are judged stays
// small whatever their number: 64 producers take 64 KiB each (reading 256 KiB each they pushed
// one reader past max_pending), 16 take 256 KiB (a quarter of the reads of 64 KiB ones).
constexpr int64_t kPressuredRoundShare = 32;
constexpr int64_t kPressuredReadShare = 64;
constexpr auto kTickInterval = std::chrono::milliseconds(100);
constexpr int kMaxEvents = 256;
// The eventfd's epoll tag; connection fds are tagged with their id (never 0).
constexpr uint64_t kEventFdTag = 0;
}  // namespace

Worker::Worker(Server& server, size_t index)
    : server_(server),
      index_(index),
      config_(server.config()),
      flow_(*this, config_->options().max_pending, server.pending_budget()) {
  for (const auto& account : server.accounts().all()) {
    caches_.push_back(std::make_unique<MatchCache>(account->sublist()));
  }
  read_buffer.resize(kReadBufferSize);
  // Without these the worker cannot run at all: the server refuses to start (Start()).
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventFdTag;
  if (epoll_fd_ < 0 || event_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) != 0) {
    LOG_FATAL("Worker %zu: cannot set up its event loop: %s", index_, std::strerror(errno));
    ok_ = false;
  }
}

Worker::~Worker() {
  Stop();
  Join();
  close(event_fd_);
  close(epoll_fd_);
}

bool Worker::Start() {
  if (!ok_) return false;
  thread_ = std::thread([this] { Run(); });
  return true;
}

void Worker::Stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof one);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Post(Task task) {
  bool was_empty;
  {
    std::lock_guard lock(tasks_mu_);
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  if (was_empty) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof one);
  }
}

void Worker::PostNewConnection(int fd, const sockaddr_storage& addr, ConnectionFactory make) {
  Task t;
  t.kind = TaskKind::kNewConnection;
  t.fd = fd;
  t.addr = addr;
  t.make = std::move(make);
  Post(std::move(t));
}

void Worker::PostFlush(uint64_t id) {
  Task t;
  t.kind = TaskKind::kFlush;
  t.id = id;
  Post(std::move(t));
}

void Worker::PostRemoveSub(uint64_t id, std::string sid, uint64_t seq) {
  Task t;
  t.kind = TaskKind::kRemoveSub;
  t.id = id;
  t.sid = std::move(sid);
  t.seq = seq;
  Post(std::move(t));
}

void Worker::PostSnapshot(std::shared_ptr<SnapshotRequest> request) {
  Task t;
  t.kind = TaskKind::kSnapshot;
  t.snapshot = std::move(request);
  Post(std::move(t));
}

void Worker::PostRun(std::function<void()> fn) {
  Task t;
  t.kind = TaskKind::kRun;
  t.run = std::move(fn);
  Post(std::move(t));
}

void Worker::PostToConnection(uint64_t id, std::function<void(Connection&)> fn) {
  PostRun([this, id, fn = std::move(fn)] {
    if (Connection* c = FindConnection(id); c && !c->closing()) fn(*c);
  });
}

void Worker::SetConfig(std::shared_ptr<const ServerConfig> next) {
  // The previous generation may still be referred to by this worker's connections; each
  // holds its own reference to the generation its permissions come from.
  config_ = std::move(next);
}

void Worker::ForEachConnection(const std::function<void(Connection&)>& fn) {
  // Collected first: fn may close a connection.
  std::vector<Connection*> all;
  all.reserve(connections_.size());
  for (auto& [id, c] : connections_) all.push_back(c);
  for (Connection* c : all) {
    if (!c->closing()) fn(*c);
  }
}

void Worker::CloseConnection(uint64_t id, CloseReason reason) {
  if (Connection* c = FindConnection(id); c && !c->closing()) {
    c->FlushOutbound();
    c->Close(reason);
  }
}

void Worker::AnswerSnapshot(SnapshotRequest& request) {
  // Copied here, on the owner thread, into a local list: the request's lock is held only to
  // merge, so monitoring never blocks this loop for longer than one copy of its own clients.
  auto started = Clock::now();
  std::vector<ConnSnapshot> conns;
  WorkerTotals totals;
  totals.in_msgs = in_msgs.load(std::memory_order_relaxed);
  totals.in_bytes = in_bytes.load(std::memory_order_relaxed);
  totals.out_msgs = out_msgs.load(std::memory_order_relaxed);
  totals.out_bytes = out_bytes.load(std::memory_order_relaxed);
  for (const auto& cache : caches_) {
    totals.cache_entries += cache->size();
    totals.cache_hits += cache->hits();
    totals.cache_misses += cache->misses();
    cache->FanoutStats(totals.max_fanout, totals.total_fanout);
  }
  if (request.want_conns) conns.reserve(request.only_cid != 0 ? 1 : connections_.size());
  for (auto& [id, c] : connections_) {
    if (c->closing()) continue;
    c->AddCounters(totals);
    // /connz lists clients; routes have /routez.
    if (request.want_conns && c->kind() == ConnectionKind::kClient &&
        (request.only_cid == 0 || request.only_cid == id)) {
      c->Snapshot(conns.emplace_back(), request.want_subs);
    }
  }
  // How long this worker's connections waited for monitoring: the figure to watch.
  LOG_DEBUG(
      "Worker %zu: monitoring snapshot of %zu connections (%zu copied) in %lld us", index_,
      connections_.size(), conns.size(),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count()));
  std::lock_guard lock(request.mu);
  request.totals.Add(totals);
  for (ConnSnapshot& c : conns) request.conns.push_back(std::move(c));
  if (--request.workers_left == 0) request.done.notify_all();
}

Connection* Worker::FindConnection(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

void Worker::AcceptConnection(int fd, const sockaddr_storage& addr, const ConnectionFactory& make) {
  std::string ip;
  int port = 0;
  SplitSocketAddress(addr, ip, port);
  uint64_t id = server_.NextConnectionId();
  Connection* c = make(*this, fd, id, std::move(ip), port);
  connections_.emplace(id, c);
  num_connections_.fetch_add(1, std::memory_order_relaxed);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    LOG_ERROR("%s - epoll_ctl: %s", std::string(c->log_prefix()).c_str(), std::strerror(errno));
    c->Close(CloseReason::kReadError);
    return;
  }
  c->Start();
}

void Worker::ModifyEpoll(int fd, uint64_t id, bool want_read, bool want_write) {
  epoll_event ev{};
  ev.events = (want_read ? uint32_t{EPOLLIN} : 0u) | (want_write ? uint32_t{EPOLLOUT} : 0u);
  ev.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    // Only ENOMEM can get here for a registered socket: close it rather than never serve it.
    if (Connection* c = FindConnection(id); c && !c->closing()) {
      LOG_ERROR("%s - epoll_ctl: %s", std::string(c->log_prefix()).c_str(), std::strerror(errno));
      PostRun([this, id] { CloseConnection(id, CloseReason::kReadError); });
    }
  }
}

void Worker::RemoveFromEpoll(int fd) {
  // A socket about to be closed: a failure here changes nothing, close() removes it anyway.
  (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void Worker::ForgetConnection(Connection* c) {
  connections_.erase(c->id());
  num_connections_.fetch_sub(1, std::memory_order_relaxed);
  // Bytes staged for it in this batch are dropped at hand-over (the closing() check).
  server_.reclaimer().Retire([c] { delete c; });
}

std::string& Worker::StagingFor(Connection* dst, size_t payload_bytes) {
  delivered_bytes_ += payload_bytes;
  if (dst == last_staged_dst_) {
    staged_[last_staged_slot_].msgs++;
    staged_[last_staged_slot_].payload_bytes += payload_bytes;
    return staged_[last_staged_slot_].bytes;
  }
  // Few receivers per batch is the common case: a linear scan allocates nothing. Past a
  // handful, an index (allocating once per receiver per batch, never per message).
  constexpr size_t kLinearScanMax = 16;
  size_t slot = staged_.size();
  if (staged_.size() <= kLinearScanMax) {
    for (size_t i = 0; i < staged_.size(); ++i) {
      if (staged_[i].dst == dst) {
        slot = i;
        break;
      }
    }
  } else {
    if (staged_index_.empty()) {
      for (size_t i = 0; i < staged_.size(); ++i) staged_index_.emplace(staged_[i].dst, i);
    }
    if (auto it = staged_index_.find(dst); it != staged_index_.end()) slot = it->second;
  }
  if (slot == staged_.size()) {
    Staged s{dst, {}, 0, 0};
    if (!spare_buffers_.empty()) {
      s.bytes = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
    }
    // Sized at once to what this receiver took last time: grown by doubling, a batch's buffer
    // copied what it held at each step (a buffer handed over whole leaves a small spare here),
    // 7% of a 1 KB fan-in's time.
    if (const size_t hint = dst->staging_hint(); hint > s.bytes.capacity()) {
      s.bytes.reserve(std::min(hint + hint / 8, kMaxStagingHint));
    }
    staged_.push_back(std::move(s));
    if (!staged_index_.empty()) staged_index_.emplace(dst, slot);
  }
  last_staged_dst_ = dst;
  last_staged_slot_ = slot;
  staged_[slot].msgs++;
  staged_[slot].payload_bytes += payload_bytes;
  return staged_[slot].bytes;
}

void Worker::MarkDirty(Connection* c) {
  c->CloseDirectWrites();
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c);
  }
}

void Worker::FlushStaged(Connection* producer) {
  const int64_t max_pending = flow_.max_pending();
  for (Staged& s : staged_) {
    s.dst->set_staging_hint(s.bytes.size());
    bool notify = false;
    if (!s.dst->closing() && !s.dst->TryDirectWrite(s.bytes, s.msgs, s.payload_bytes)) {
      int64_t pending = s.dst->HandOver(s.bytes, s.msgs, s.payload_bytes,
                                        s.dst->is_route() ? 0 : max_pending, notify);
      if (notify) s.dst->worker().PostFlush(s.dst->id());
      if (pending >= 0) flow_.AfterDelivery(producer, *s.dst, pending, s.dst->stalled_since_ns());
    }
    s.bytes.clear();
    if (spare_buffers_.size() < 64) spare_buffers_.push_back(std::move(s.bytes));
  }
  staged_.clear();
  staged_index_.clear();
  last_staged_dst_ = nullptr;
}

void Worker::FlushDirty() {
  // FlushOutbound may close a client; the pointer stays valid until our next quiescent point.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    Connection* c = dirty_[i];
    c->dirty = false;
    if (!c->closing()) c->FlushOutbound();
  }
  dirty_.clear();
}

void Worker::RunTasks() {
  {
    std::lock_guard lock(tasks_mu_);
    running_tasks_.swap(tasks_);
  }
  for (Task& t : running_tasks_) {
    switch (t.kind) {
      case TaskKind::kNewConnection:
        if (stopping_.load()) {
          close(t.fd);
        } else {
          AcceptConnection(t.fd, t.addr, t.make);
        }
        break;
      case TaskKind::kFlush:
        if (Connection* c = FindConnection(t.id)) {
          c->DrainInbox();
          if (!c->closing()) MarkDirty(c);
        }
        break;
      case TaskKind::kRemoveSub:
        if (Connection* c = FindConnection(t.id)) c->RemoveSubscriptionIfDone(t.sid, t.seq);
        break;
      case TaskKind::kSnapshot:
        AnswerSnapshot(*t.snapshot);
        break;
      case TaskKind::kRun:
        t.run();
        break;
    }
  }
  running_tasks_.clear();
}

void Worker::Tick() {
  // Connections may close during the scan: collect first.
  tick_scratch_.clear();
  for (auto& [id, c] : connections_) tick_scratch_.push_back(c);
  for (Connection* c : tick_scratch_) {
    if (!c->closing()) c->Tick(now_);
  }
}

void Worker::ShedOverBudget() {
  tick_scratch_.clear();
  for (auto& [id, c] : connections_) tick_scratch_.push_back(c);
  flow_.ShedOverBudget(tick_scratch_);
}

void Worker::CloseAll() {
  std::vector<Connection*> all;
  for (auto& [id, c] : connections_) all.push_back(c);
  for (Connection* c : all) {
    c->FlushOutbound();
    c->Close(CloseReason::kServerShutdown);
  }
}

void Worker::AddAccountCaches() {
  auto accounts = server_.accounts().all();
  for (size_t i = caches_.size(); i < accounts.size(); ++i) {
    caches_.push_back(std::make_unique<MatchCache>(accounts[i]->sublist()));
  }
}

void Worker::DrainCaches() {
  for (const auto& cache : caches_) cache->Drain();
}

void Worker::Run() {
  Reclaimer& reclaimer = server_.reclaimer();
  epoll_event events[kMaxEvents];
  now_ = Clock::now();
  next_tick_ = now_ + kTickInterval;
  while (!stopping_.load(std::memory_order_relaxed)) {
    reclaimer.Quiescent(index_, [this] { DrainCaches(); });
    // Block only when idle; an idle worker must not hold reclamation back.
    int timeout_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(next_tick_ - Clock::now()).count());
    if (flow_.has_paused()) timeout_ms = std::min(timeout_ms, 1);
    if (timeout_ms < 0) timeout_ms = 0;
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, 0);
    if (n == 0 && timeout_ms > 0) {
      reclaimer.GoingIdle(index_);
      n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
      reclaimer.Quiescent(index_, [this] { DrainCaches(); });
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("epoll_wait: %s", std::strerror(errno));
      break;
    }
    now_ = Clock::now();
    const uint64_t round_start = delivered_bytes_;
    size_t readable = 0;
    for (int i = 0; i < n; ++i) {
      readable += (events[i].events & EPOLLIN) != 0 ? 1 : 0;
    }
    const auto max_pending = static_cast<size_t>(std::max<int64_t>(flow_.max_pending(), 0));
    pressured_read_ =
        std::max(std::min(max_pending / kPressuredRoundShare / std::max<size_t>(readable, 1),
                          max_pending / kPressuredReadShare),
                 kPausedRead);
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kEventFdTag) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(event_fd_, &v, sizeof v);
        RunTasks();
        continue;
      }
      Connection* c = FindConnection(tag);
      if (!c || c->closing()) continue;
      if (events[i].events & (EPOLLOUT)) c->OnWritable();
      if (c->closing()) continue;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (delivered_bytes_ - round_start > kRoundDeliveryBudget) continue;  // next round
        c->OnReadable();
        // Hand this producer's messages over now, so the flow control judges its receivers
        // and back-pressure lands on it.
        FlushStaged(c);
        flow_.AfterRead(*c);
      }
    }
    FlushStaged(nullptr);
    FlushDirty();
    if (flow_.budget().over()) ShedOverBudget();
    if (flow_.has_paused()) flow_.ResumeDue(now_);
    if (now_ >= next_tick_) {
      Tick();
      FlushStaged(nullptr);
      FlushDirty();
      next_tick_ = now_ + kTickInterval;
    }
  }
  CloseAll();
  reclaimer.GoingIdle(index_);
}

}  // namespace gannet
