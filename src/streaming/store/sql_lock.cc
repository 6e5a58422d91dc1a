// The SQL store's fault-tolerance lock (see exclusive_lock.h): the StoreLock row holds the
// owner's id and a tick. The owner advances the tick every kTick on a connection and a thread
// of its own, and holds a session lock on that connection (PostgreSQL's pg_try_advisory_lock,
// MariaDB's GET_LOCK), which the database frees the moment the connection ends: kill -9 of the
// owner closes it at once. While it holds that lock, the owner marks its id in the row.
//
// A standby takes the row when it is empty or its own, and steals it in two cases:
// - fast: while the row named the marked owner, the standby found the session lock held by
//   another connection (the owner's), and now gets it: the owner's connection has ended since.
//   A database restart ends the standby's connection too, which disarms this until it finds the
//   lock held again; a standby that gets the session lock without taking the row gives it back
//   at once.
// - slow: the tick has not moved for kStale, as seen from successive reads (an attempt that
//   could not reach the database starts the count again: after an outage the owner gets the
//   time to tick), and no heartbeat of an active server was seen (peer_silent): an owner that
//   hangs while its connection stays up.
// Neither case needs the old owner to be dead: an owner that finds the row taken has lost the
// lock and exits at once, as the reference panics; an owner that cannot reach the database
// keeps trying, and commits nothing meanwhile (its writes check the row: fence_owner).
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string_view>
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
// A standby reads the row this often; it tries the session lock at every TryLock (ft.cc calls it
// every 10 ms) while the row names a marked owner.
constexpr std::chrono::milliseconds kRowPoll{100};
using sql::kSessionMark;  // appended to the owner's id while it holds the session lock

bool HasMark(std::string_view owner) { return owner.ends_with(kSessionMark); }

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
    for (Stmt s : {Stmt::kLockSelect, Stmt::kLockPeek, Stmt::kLockInsert, Stmt::kLockUpdate,
                   Stmt::kLockSessionTry, Stmt::kLockSessionRelease}) {
      if (Status st = conn_->Prepare(sql::StatementName(s), sql::StatementText(driver_, s)); !st) {
        return st;
      }
    }
    return Status::Ok();
  }

  std::string OwnerId() const override { return id_; }

  Result<bool> TryLock(bool peer_silent) override {
    if (owned_) return true;
    Result<bool> r = false;
    bool fast = false;
    if (HasMark(seen_owner_)) {
      // Once the session lock was seen held by another connection while this one was up (the
      // owner's: no one else keeps it), getting it means the owner's connection has ended.
      r = TrySession();
      if (r.ok() && !*r) contended_ = true;
      if (r.ok() && *r && !contended_) {
        ReleaseSession();  // free since before this connection: not evidence of anything
        r = false;
      }
      if (r.ok()) fast = *r;
    }
    if (r.ok()) {
      const auto now = Clock::now();
      if (!fast && now < next_row_read_) return false;
      next_row_read_ = now + kRowPoll;
      r = Attempt(peer_silent, fast);
    }
    if (!r.ok()) {
      // What the row says after the failure counts as new.
      seen_owner_.clear();
      contended_ = false;
      if (conn_->Broken()) {
        has_session_lock_ = false;
        conn_->Reconnect();
      } else if (has_session_lock_) {
        ReleaseSession();
      }
      return r;
    }
    if (*r) {
      owned_ = true;
      if (!has_session_lock_) (void)TrySession();  // else the ticker tries again
      STAN_INFO("SQL store: lock taken (id %s)", id_.c_str());
      ticker_ = std::thread([this] { Tick(); });
    } else if (has_session_lock_) {
      ReleaseSession();  // not ours to keep: the active takes it after a database restart
    }
    return r;
  }

 private:
  Result<sql::ExecResult> Exec(Stmt s, std::span<const Param> p) {
    return conn_->Exec(sql::StatementName(s), p);
  }

  bool OwnedBy(std::string_view owner) const { return sql::RowNamesOwner(owner, id_); }
  // What this server writes in the row: its id, marked while it holds the session lock.
  std::string RowId() const { return has_session_lock_ ? id_ + std::string(kSessionMark) : id_; }

  Result<bool> TrySession() {
    auto r = Exec(Stmt::kLockSessionTry, {});
    if (!r.ok()) return r.status();
    has_session_lock_ = !r->rows.empty() && !r->rows.IsNull(0, 0) && r->rows.Int(0, 0) == 1;
    return has_session_lock_;
  }

  void ReleaseSession() {
    auto r = Exec(Stmt::kLockSessionRelease, {});
    (void)r;
    has_session_lock_ = false;
  }

  // Takes the row if it is free, ours, stale with the peer silent, or (`fast`: this connection
  // holds the session lock) left by an owner whose connection ended. The row is first read
  // without a lock (a standby polls: it must not hold up the owner's ticks and fenced writes),
  // then, to take it, locked and read again in a transaction.
  Result<bool> Attempt(bool peer_silent, bool fast) {
    auto peek = Exec(Stmt::kLockPeek, {});
    if (!peek.ok()) return peek.status();
    std::optional<std::pair<std::string, int64_t>> seen;
    if (!peek->rows.empty()) {
      seen.emplace(std::string(peek->rows.Bytes(0, 0)), peek->rows.Int(0, 1));
      if (!Decide(seen->first, seen->second, peer_silent, fast)) {
        return false;
      }
    }
    // Taking it: with the session lock if it can be had, so the row is marked from the start.
    if (!has_session_lock_) {
      if (auto got = TrySession(); !got.ok()) return got.status();
    }
    if (Status s = conn_->Run("BEGIN"); !s) return s;
    Result<bool> out = TakeLocked(seen);
    if (out.ok()) {
      if (Status s = conn_->Run("COMMIT"); !s) return s;
    } else if (!conn_->Broken()) {
      conn_->Run("ROLLBACK");
    }
    return out;
  }

  // In the transaction: the row locked, it must still be what Attempt decided on (`seen`: the
  // owner and tick read, none for an empty table).
  Result<bool> TakeLocked(const std::optional<std::pair<std::string, int64_t>>& seen) {
    auto row = Exec(Stmt::kLockSelect, {});
    if (!row.ok()) return row.status();
    if (row->rows.empty()) {
      if (seen) return false;  // emptied meanwhile: the next attempt sees it
      // The table has no key (the reference's schema): on an empty table SELECT ... FOR UPDATE
      // locks no row, and two servers starting at once would both insert one and both own the
      // lock. PostgreSQL: a table lock that conflicts with itself serializes the inserts (taken
      // only here: an existing row's FOR UPDATE is enough, and the table lock would deadlock
      // with the owner's tick). MariaDB's next-key locks make the second insert a deadlock,
      // rolled back and retried.
      if (driver_ == sql::Driver::kPostgres) {
        if (Status s = conn_->Run("LOCK TABLE StoreLock IN SHARE ROW EXCLUSIVE MODE"); !s) return s;
        row = Exec(Stmt::kLockSelect, {});
        if (!row.ok()) return row.status();
        if (!row->rows.empty()) return false;
      }
      const std::string row_id = RowId();  // outlives the parameters' views
      const Param p[] = {Param::Text(row_id), Param::Int(1)};
      auto r = Exec(Stmt::kLockInsert, p);
      if (!r.ok()) return r.status();
      return true;
    }
    const std::string owner(row->rows.Bytes(0, 0));
    const int64_t tick = row->rows.Int(0, 1);
    if (!seen || owner != seen->first || tick != seen->second) return false;  // it moved
    const std::string row_id = RowId();
    const Param p[] = {Param::Text(row_id), Param::Int(OwnedBy(owner) ? tick + 1 : 1)};
    auto r = Exec(Stmt::kLockUpdate, p);
    if (!r.ok()) return r.status();
    return true;
  }

  // Whether to take the row as read (owner, tick), and what this read teaches about its
  // owner's liveness.
  bool Decide(const std::string& owner, int64_t tick, bool peer_silent, bool fast) {
    if (owner.empty() || OwnedBy(owner)) return true;
    const auto now = Clock::now();
    if (owner != seen_owner_) {
      seen_owner_ = owner;
      seen_tick_ = tick;
      seen_at_ = now;
      contended_ = false;
    } else if (tick != seen_tick_) {
      seen_tick_ = tick;
      seen_at_ = now;
    } else if (peer_silent && now - seen_at_ >= kStale) {
      STAN_INFO("SQL store: the lock of %s has not moved for %lld ms, taking it over",
                owner.c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - seen_at_).count()));
      return true;
    }
    if (fast && contended_ && HasMark(owner)) {
      // The session lock is a lease the database ends with the owner's connection (kill -9
      // closes it at once): the owner cannot tick any more, and if it still runs, its writes
      // are fenced by the row and its ticker exits when it reads the row.
      STAN_INFO("SQL store: the connection of lock owner %s has ended, taking it over",
                owner.c_str());
      return true;
    }
    return false;
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
      if (conn_->Broken()) {
        has_session_lock_ = false;
        conn_->Reconnect();
      }
    }
  }

  Result<bool> Advance() {
    // (Re)taken after a new connection; a standby holds it only for an instant unless the row
    // is already its own, which the read below finds.
    if (!has_session_lock_) {
      if (auto s = TrySession(); !s.ok()) return s.status();
    }
    if (Status s = conn_->Run("BEGIN"); !s) return s;
    auto row = Exec(Stmt::kLockSelect, {});
    Result<bool> out = false;
    if (!row.ok()) {
      out = row.status();
    } else if (!row->rows.empty() && OwnedBy(row->rows.Bytes(0, 0))) {
      const std::string row_id = RowId();
      const Param p[] = {Param::Text(row_id), Param::Int(row->rows.Int(0, 1) + 1)};
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
  std::string id_;  // StoreLock.id is VARCHAR(30): 22 characters, and the mark
  bool owned_ = false;
  bool has_session_lock_ = false;  // this connection holds the session lock
  std::string seen_owner_;
  int64_t seen_tick_ = -1;
  Clock::time_point seen_at_;
  // While seen_owner_ (marked) was in the row, the session lock was held by another connection
  // and this one was up.
  bool contended_ = false;
  Clock::time_point next_row_read_;
  std::thread ticker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace

Result<std::unique_ptr<ExclusiveLock>> CreateSqlLock(const SqlStoreOptions& options) {
  auto driver = sql::ParseDriver(options.driver);
  if (!driver) return Status(Code::kInvalid, "unsupported SQL driver \"" + options.driver + "\"");
  if (options.max_open_conns == 1) {
    STAN_INFO(
        "SQL store: sql_max_open_conns is 1, but the store lock needs a connection of its own "
        "beside the store's: 2 connections will be open");
  }
  auto conn = sql::Connection::Open(*driver, options.source);
  if (!conn.ok()) return conn.status();
  auto lock = std::make_unique<SqlLock>(std::move(conn).value(), *driver);
  if (Status s = lock->Prepare(); !s) return s;
  return std::unique_ptr<ExclusiveLock>(std::move(lock));
}

}  // namespace gannet::streaming::store
