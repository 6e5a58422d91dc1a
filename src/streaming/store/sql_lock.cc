// The SQL store's fault-tolerance lock (see exclusive_lock.h): the StoreLock row holds the
// owner's id and a tick. The owner advances the tick every kTick on a connection and a thread
// of its own; a standby takes the row when it is empty or its own, or, when the tick has not
// moved for kStale, as seen from successive reads (an attempt that could not reach the database
// starts the count again: after an outage the owner gets the time to tick), and no heartbeat of
// an active server was seen (peer_silent), steals it. An owner that finds the row taken has lost
// the lock and exits at once, as the reference panics; an owner that cannot reach the database
// keeps trying, and commits nothing meanwhile (its flushes check the row: fence_owner).
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "streaming/log.h"
#include "streaming/nuid.h"
#include "streaming/store/exclusive_lock.h"
#include "streaming/store/sql_conn.h"
#include "streaming/store/sql_statements.h"

namespace gannet::streaming::store {

namespace {

using sql::Param;
using sql::Stmt;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTick{250};
constexpr std::chrono::milliseconds kStale{1000};

class SqlLock final : public ExclusiveLock {
 public:
  SqlLock(std::unique_ptr<sql::Connection> conn, sql::Driver driver)
      : conn_(std::move(conn)), driver_(driver), id_(NextNuid().substr(0, 22)) {}

  ~SqlLock() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (ticker_.joinable()) ticker_.join();
    if (owned_) {
      // A clean stop frees the row at once: a standby need not wait for the tick to go stale.
      const Param p[] = {Param::Text(""), Param::Int(0)};
      auto r = Exec(Stmt::kLockUpdate, p);
      (void)r;
    }
  }

  Status Prepare() {
    for (Stmt s : {Stmt::kLockSelect, Stmt::kLockInsert, Stmt::kLockUpdate}) {
      if (Status st = conn_->Prepare(sql::StatementName(s), sql::StatementText(driver_, s)); !st) {
        return st;
      }
    }
    return Status::Ok();
  }

  std::string OwnerId() const override { return id_; }

  Result<bool> TryLock(bool peer_silent) override {
    if (owned_) return true;
    auto r = Attempt(peer_silent);
    if (!r.ok()) {
      seen_owner_.clear();  // what the row says after the failure counts as new
      if (conn_->Broken()) conn_->Reconnect();
    }
    if (r.ok() && *r) {
      owned_ = true;
      STAN_INFO("SQL store: lock taken (id %s)", id_.c_str());
      ticker_ = std::thread([this] { Tick(); });
    }
    return r;
  }

 private:
  Result<sql::ExecResult> Exec(Stmt s, std::span<const Param> p) {
    return conn_->Exec(sql::StatementName(s), p);
  }

  // One transaction on the row: take it if free, ours, or stale with the peer silent.
  Result<bool> Attempt(bool peer_silent) {
    if (Status s = conn_->Run("BEGIN"); !s) return s;
    // The table has no key (the reference's schema): on an empty table SELECT ... FOR UPDATE
    // locks no row, and two servers starting at once would both insert one and both own the
    // lock. PostgreSQL: a table lock that conflicts with itself serializes the attempts.
    // (MariaDB's next-key locks make the second insert a deadlock, rolled back and retried.)
    if (driver_ == sql::Driver::kPostgres) {
      if (Status s = conn_->Run("LOCK TABLE StoreLock IN SHARE ROW EXCLUSIVE MODE"); !s) {
        if (!conn_->Broken()) conn_->Run("ROLLBACK");
        return s;
      }
    }
    Result<bool> out = Once(peer_silent);
    if (out.ok()) {
      if (Status s = conn_->Run("COMMIT"); !s) return s;
    } else if (!conn_->Broken()) {
      conn_->Run("ROLLBACK");
    }
    return out;
  }

  Result<bool> Once(bool peer_silent) {
    auto row = Exec(Stmt::kLockSelect, {});
    if (!row.ok()) return row.status();
    if (row->rows.empty()) {
      const Param p[] = {Param::Text(id_), Param::Int(1)};
      auto r = Exec(Stmt::kLockInsert, p);
      if (!r.ok()) return r.status();
      return true;
    }
    const std::string owner(row->rows.Bytes(0, 0));
    const int64_t tick = row->rows.Int(0, 1);
    const auto now = Clock::now();
    bool take = owner.empty() || owner == id_;
    if (!take) {
      if (owner != seen_owner_ || tick != seen_tick_) {
        seen_owner_ = owner;
        seen_tick_ = tick;
        seen_at_ = now;
      } else if (peer_silent && now - seen_at_ >= kStale) {
        STAN_INFO(
            "SQL store: the lock of %s has not moved for %lld ms, taking it over", owner.c_str(),
            static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(now - seen_at_).count()));
        take = true;
      }
    }
    if (!take) return false;
    const Param p[] = {Param::Text(id_), Param::Int(owner == id_ ? tick + 1 : 1)};
    auto r = Exec(Stmt::kLockUpdate, p);
    if (!r.ok()) return r.status();
    return true;
  }

  // The owner's ticker: advances the tick, or ends the process when the lock is lost.
  void Tick() {
    bool failing = false;
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, kTick, [this] { return stop_; })) {
      lk.unlock();
      Result<bool> r = Advance();
      lk.lock();
      if (r.ok() && *r) {
        if (failing) STAN_INFO("SQL store: the store lock is updated again");
        failing = false;
        continue;
      }
      if (r.ok()) {
        STAN_FATAL("SQL store: lost the store lock (another server took it), aborting");
        ::_exit(1);
      }
      if (!failing) {
        STAN_ERROR("SQL store: unable to update the store lock: %s", r.status().message().c_str());
      }
      failing = true;
      if (conn_->Broken()) conn_->Reconnect();
    }
  }

  Result<bool> Advance() {
    if (Status s = conn_->Run("BEGIN"); !s) return s;
    auto row = Exec(Stmt::kLockSelect, {});
    Result<bool> out = false;
    if (!row.ok()) {
      out = row.status();
    } else if (!row->rows.empty() && row->rows.Bytes(0, 0) == id_) {
      const Param p[] = {Param::Text(id_), Param::Int(row->rows.Int(0, 1) + 1)};
      auto r = Exec(Stmt::kLockUpdate, p);
      out = r.ok() ? Result<bool>(true) : Result<bool>(r.status());
    }
    if (out.ok()) {
      if (Status s = conn_->Run("COMMIT"); !s) return s;
    } else if (!conn_->Broken()) {
      conn_->Run("ROLLBACK");
    }
    return out;
  }

  std::unique_ptr<sql::Connection> conn_;
  sql::Driver driver_;
  std::string id_;  // StoreLock.id is VARCHAR(30)
  bool owned_ = false;
  std::string seen_owner_;
  int64_t seen_tick_ = -1;
  Clock::time_point seen_at_;
  std::thread ticker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace

Result<std::unique_ptr<ExclusiveLock>> CreateSqlLock(const SqlStoreOptions& options) {
  auto driver = sql::ParseDriver(options.driver);
  if (!driver) return Status(Code::kInvalid, "unsupported SQL driver \"" + options.driver + "\"");
  auto conn = sql::Connection::Open(*driver, options.source);
  if (!conn.ok()) return conn.status();
  auto lock = std::make_unique<SqlLock>(std::move(conn).value(), *driver);
  if (Status s = lock->Prepare(); !s) return s;
  return std::unique_ptr<ExclusiveLock>(std::move(lock));
}

}  // namespace gannet::streaming::store
