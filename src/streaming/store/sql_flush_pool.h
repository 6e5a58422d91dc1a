// The SQL store's extra connections (--sql_max_open_conns): a batch that wrote to several
// channels commits them in parallel, one transaction per channel on a connection of its own, so
// that their round trips and log flushes overlap (PostgreSQL and InnoDB group their commits).
// The store's own connection takes the caller's share; the pool's threads, one per extra
// connection (opened when a batch first needs it), take the rest.
//
// Threading: Flush is called from the store's thread only, and returns once every share is
// done; while it runs, each channel's message store is used by exactly one thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "streaming/store/sql_conn.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store {

class SqlDb;
class SqlMsgStore;

class SqlFlushPool {
 public:
  // `extra`: how many connections beside the store's own it may open.
  SqlFlushPool(sql::Driver driver, std::string source, std::string fence_owner, int extra);
  ~SqlFlushPool();
  SqlFlushPool(const SqlFlushPool&) = delete;
  SqlFlushPool& operator=(const SqlFlushPool&) = delete;

  // Flushes every one of `msgs` (each with messages to insert): shares on `own` (this thread)
  // and on the pool's connections. Returns the first failure; each share stops at its own.
  Status Flush(SqlDb& own, std::span<SqlMsgStore* const> msgs);

 private:
  struct Worker {
    std::unique_ptr<SqlDb> db;
    std::thread thread;
    std::vector<SqlMsgStore*> todo;  // under mu_
    Status result;                   // under mu_
  };
  void Grow(size_t wanted);
  void Run(Worker* w);

  sql::Driver driver_;
  std::string source_;
  std::string fence_owner_;
  size_t extra_;
  bool open_failed_ = false;  // reported once; the pool then stays as it is
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;
  size_t remaining_ = 0;
  bool stop_ = false;
};

}  // namespace gannet::streaming::store
