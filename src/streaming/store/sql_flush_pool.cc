// The SQL store's parallel flush over extra connections (see sql_flush_pool.h).
#include "streaming/store/sql_flush_pool.h"

#include "streaming/log.h"
#include "streaming/store/sql_store.h"

namespace gannet::streaming::store {

namespace {

// One share: its channels one after another, stopping at the first failure.
Status FlushShare(SqlDb& db, std::span<SqlMsgStore* const> msgs) {
  for (SqlMsgStore* m : msgs) {
    if (Status s = m->FlushOn(db); !s) return s;
  }
  return Status::Ok();
}

}  // namespace

SqlFlushPool::SqlFlushPool(sql::Driver driver, std::string source, std::string fence_owner,
                           int extra)
    : driver_(driver),
      source_(std::move(source)),
      fence_owner_(std::move(fence_owner)),
      extra_(extra > 0 ? static_cast<size_t>(extra) : 0) {}

SqlFlushPool::~SqlFlushPool() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w->thread.join();
}

void SqlFlushPool::Grow(size_t wanted) {
  while (workers_.size() < std::min(wanted, extra_) && !open_failed_) {
    auto conn = sql::Connection::Open(driver_, source_);
    Status st = conn.ok() ? Status::Ok() : conn.status();
    std::unique_ptr<SqlDb> db;
    if (st) {
      db = std::make_unique<SqlDb>(std::move(conn).value(), driver_, fence_owner_);
      st = db->PrepareAll();
    }
    if (!st) {
      STAN_ERROR("SQL store: unable to open another connection (%zu open), flushing on those: %s",
                 workers_.size() + 1, st.message().c_str());
      open_failed_ = true;
      return;
    }
    auto w = std::make_unique<Worker>();
    w->db = std::move(db);
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] { Run(raw); });
    workers_.push_back(std::move(w));
  }
}

Status SqlFlushPool::Flush(SqlDb& own, std::span<SqlMsgStore* const> msgs) {
  if (msgs.size() > 1) Grow(msgs.size() - 1);
  const size_t shares = std::min(msgs.size(), workers_.size() + 1);
  if (shares <= 1) return FlushShare(own, msgs);
  // Channel i goes to share i % shares; share 0 is this thread's.
  std::vector<SqlMsgStore*> mine;
  {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < msgs.size(); ++i) {
      const size_t share = i % shares;
      if (share == 0) {
        mine.push_back(msgs[i]);
      } else {
        workers_[share - 1]->todo.push_back(msgs[i]);
      }
    }
    remaining_ = shares - 1;
    ++generation_;
  }
  work_cv_.notify_all();
  Status first = FlushShare(own, mine);
  std::unique_lock lk(mu_);
  done_cv_.wait(lk, [this] { return remaining_ == 0; });
  for (size_t w = 0; w + 1 < shares; ++w) {
    if (!workers_[w]->result && first) first = workers_[w]->result;
    workers_[w]->result = Status::Ok();
  }
  return first;
}

void SqlFlushPool::Run(Worker* w) {
  uint64_t seen = 0;
  std::unique_lock lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    if (w->todo.empty()) continue;
    std::vector<SqlMsgStore*> todo = std::move(w->todo);
    w->todo.clear();
    lk.unlock();
    Status s = FlushShare(*w->db, todo);
    lk.lock();
    w->result = s;
    if (--remaining_ == 0) done_cv_.notify_one();
  }
}

}  // namespace gannet::streaming::store
