// The SQL store (`-st SQL`): PostgreSQL or MySQL/MariaDB on the reference's schema (version 1,
// tools/sql/postgres.db.sql and mysql.db.sql), so that a database written by
// nats-streaming-server 0.25 is read by gannet-streaming and back.
//
// Writes. With caching (the default), MsgStore::Store keeps messages in memory and Flush (once
// per I/O batch, before any PubAck) inserts them in one transaction: one prepared INSERT per
// message, or multi-row INSERTs of at most --sql_bulk_insert_limit rows. SubStore updates are
// kept the same way and written at SubStore::Flush: the subscription's pending sequences as one
// SubsPending row (JSON arrays, the reference's format). With --sql_no_caching each call runs
// its statement at once.
//
// Reads. The store keeps, per channel, the timestamp and size of every stored message (16 bytes
// each): limits, max_age and lookups by time need no query. Lookup serves the messages not yet
// flushed and the most recently flushed ones from memory (deliveries right after a publish),
// older ones with a SELECT that reads the next ones ahead too (a subscriber replaying, another
// node's catch-up).
//
// Connections. --sql_max_open_conns N bounds the store's connections (the FT lock has one more,
// exclusive_lock.h): the store's own, on which every statement runs, and with N > 1 up to N-1
// more that a flush opens when a batch wrote to more channels than one, so that the channels
// commit in parallel (sql_flush_pool.h). Unbounded (N <= 0, the default) keeps one: the
// parallel commits pay off without bulk inserts, not with them (docs/PERFORMANCE.md).
//
// Faults. A statement that fails because the connection was lost is retried after
// reconnecting, for up to kReconnectWindow, and each loss and reconnection is logged; a flush
// that still fails returns an error, so the server sends no PubAck for its messages. A flush
// whose COMMIT was cut off is retried without inserting twice (the channel's MAX(seq) tells
// what was committed).
//
// Threading: as every store, called from one thread (store.h).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "streaming/store/exclusive_lock.h"
#include "streaming/store/sql_conn.h"
#include "streaming/store/sql_flush_pool.h"
#include "streaming/store/sql_statements.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store {

class SqlStore;

// The connection with its retry policy, shared by the store and its channels.
class SqlDb {
 public:
  static constexpr std::chrono::seconds kReconnectWindow{10};

  SqlDb(std::unique_ptr<sql::Connection> conn, sql::Driver driver, std::string fence_owner)
      : conn_(std::move(conn)), driver_(driver), fence_owner_(std::move(fence_owner)) {}

  sql::Driver driver() const { return driver_; }
  // Prepares every statement of sql_statements.h.
  Status PrepareAll();
  // One statement, retried after a reconnection if the connection was lost. Under fencing
  // (fence_owner), a statement that writes runs in a transaction behind CheckFence.
  Result<sql::ExecResult> Exec(sql::Stmt stmt, std::initializer_list<sql::Param> params);
  // Runs `op` (statements on conn(), a transaction at most) and, if the connection was lost,
  // reconnects and runs it again; `op` must be safe to rerun after a partial run.
  Status Retry(const char* what, const std::function<Status()>& op);
  sql::Connection& conn() { return *conn_; }
  // Statements of `op` in Retry, without retry of their own.
  Result<sql::ExecResult> ExecOnce(sql::Stmt stmt, std::span<const sql::Param> params);
  Status PrepareBulk(int rows);
  // BEGIN, `body` (with CheckFence first when fencing), COMMIT; ROLLBACK when anything failed.
  Status Transaction(const std::function<Status()>& body);
  bool fenced() const { return !fence_owner_.empty(); }

 private:
  // In a transaction: reads the StoreLock row with a shared lock (held until the COMMIT, so a
  // takeover waits for this transaction) and fails if it no longer names this server.
  Status CheckFence();

  std::unique_ptr<sql::Connection> conn_;
  sql::Driver driver_;
  std::string fence_owner_;  // SqlStoreOptions::fence_owner
};

class SqlMsgStore final : public MsgStore {
 public:
  SqlMsgStore(SqlDb& db, const SqlStoreOptions& opts, std::string channel, int64_t channel_id,
              const ChannelLimits& limits);

  Status Store(uint64_t seq, int64_t timestamp_ns, std::string_view record) override;
  Status Flush() override { return FlushOn(db_); }
  // Flush on `db`: the store's connection, or one of SqlFlushPool's (its thread then is the only
  // one using this store until it returns).
  Status FlushOn(SqlDb& db);
  bool has_unflushed() const { return !unflushed_.empty(); }
  Result<MsgRef> Lookup(uint64_t seq) override;
  uint64_t FirstSequence() const override { return first_; }
  uint64_t LastSequence() const override { return last_; }
  Result<uint64_t> GetSequenceFromTimestamp(int64_t timestamp_ns) override;
  MsgStoreState State() const override { return {index_.size(), bytes_}; }
  Result<int64_t> ExpireMessages(int64_t now_ns) override;
  Status Empty() override;
  Status TruncateAfter(uint64_t seq) override;
  Status Close() override;

  int64_t channel_id() const { return channel_id_; }
  // Recovery: the stored messages' (seq, timestamp, size) in order, and Channels.maxseq.
  void Recovered(uint64_t first, uint64_t max_seq,
                 const std::vector<std::pair<int64_t, uint32_t>>& index);
  // Removes what the current limits do not allow (recovery), in the database too.
  Status ApplyLimits(int64_t now_ns);

 private:
  struct Entry {
    int64_t timestamp;
    uint32_t size;
  };
  struct Kept {
    uint64_t seq;
    int64_t timestamp;
    std::shared_ptr<const std::string> record;  // handed out as MsgRef::keep
  };
  void DropFirst();
  Status InsertUnflushed(SqlDb& db, bool retrying);
  Status DeleteRemoved();
  void KeepRecent(Kept k);
  // Reads the stored messages from `seq` on (up to kReadAheadMsgs / kReadAheadBytes) into ahead_.
  Status ReadAhead(uint64_t seq);

  SqlDb& db_;
  const SqlStoreOptions& opts_;
  std::string channel_;
  int64_t channel_id_;
  ChannelLimits limits_;
  std::deque<Entry> index_;  // index_[i] is sequence first_ + i
  uint64_t first_ = 0;
  uint64_t last_ = 0;
  uint64_t bytes_ = 0;
  uint64_t deleted_up_to_ = 0;  // the database holds nothing at or below this
  std::deque<Kept> unflushed_;  // stored, not yet inserted (caching)
  std::deque<Kept> recent_;     // inserted, kept for the deliveries that follow a publish
  std::deque<Kept> ahead_;      // read ahead by the last Lookup that missed (ascending)
  size_t recent_bytes_ = 0;
  bool hit_limit_ = false;
  bool flush_failed_ = false;  // the last Flush gave up: its messages are still unflushed_
  bool closed_ = false;
};

class SqlSubStore final : public SubStore {
 public:
  SqlSubStore(SqlDb& db, const SqlStoreOptions& opts, int64_t channel_id,
              const ChannelLimits& limits, uint64_t* max_sub_id, uint64_t* next_row);

  Status CreateSub(SubState& sub) override;
  Status UpdateSub(const SubState& sub) override;
  Status DeleteSub(uint64_t sub_id) override;
  Status AddSeqPending(uint64_t sub_id, uint64_t seq) override;
  Status AckSeqPending(uint64_t sub_id, uint64_t seq) override;
  Status Flush() override;
  Status Close() override;

  // Recovery: a live subscription, its pending sequences and last sent.
  void Recovered(uint64_t sub_id, uint64_t last_sent, const std::vector<uint64_t>& pending);

 private:
  struct Pending {
    std::set<uint64_t> seqs;
    uint64_t last_sent = 0;
    uint64_t stored_last_sent = 0;
    bool dirty = false;
  };

  SqlDb& db_;
  const SqlStoreOptions& opts_;
  int64_t channel_id_;
  int64_t max_subs_;
  uint64_t* max_sub_id_;  // the store's, shared by its channels
  uint64_t* next_row_;    // the store's SubsPending row counter
  std::map<uint64_t, Pending> subs_;
  bool has_marked_deleted_ = false;
  bool closed_ = false;
};

class SqlStore final : public Store {
 public:
  // Connects (options.sql.driver, options.sql.source), prepares the statements and validates
  // the limits. Errors: unknown driver, connection, missing tables.
  static Result<std::unique_ptr<Store>> Create(const StoreOptions& options);
  // Deletes every row of the store's tables but StoreLock's, in one transaction: the SQL
  // equivalent of removing a FILE store's directory (a clustered node whose store is dropped,
  // each node having a database of its own). Errors: connection, statements.
  static Status Drop(const SqlStoreOptions& options);
  ~SqlStore() override;

  std::string_view Name() const override { return "SQL"; }
  Result<bool> GetExclusiveLock() override;
  Status Init(const ServerInfo& info) override;
  Result<std::optional<RecoveredState>> Recover() override;
  Status SetLimits(const StoreLimits& limits) override;
  ChannelLimits GetChannelLimits(std::string_view channel) const override;
  Result<ChannelStore*> CreateChannel(std::string_view name) override;
  ChannelStore* LookupChannel(std::string_view name) override;
  // The channels with messages to insert commit in parallel over SqlFlushPool's connections.
  Status FlushBatch(std::span<ChannelStore* const> channels) override;
  Status DeleteChannel(std::string_view name) override;
  Status AddClient(const ClientInfo& info) override;
  Status DeleteClient(std::string_view client_id) override;
  Status Close() override;
  // Every second, as the reference's SQL store flushes its subscription stores.
  std::chrono::milliseconds SubFlushInterval() const override {
    return std::chrono::milliseconds(1000);
  }

 private:
  SqlStore(std::unique_ptr<SqlDb> db, SqlStoreOptions opts)
      : db_(std::move(db)), opts_(std::move(opts)) {}
  std::unique_ptr<ChannelStore> MakeChannel(std::string name, int64_t id,
                                            const ChannelLimits& limits);
  Status RecoverChannel(const sql::Rows& rows, size_t i, RecoveredState& state);

  std::unique_ptr<SqlDb> db_;
  SqlStoreOptions opts_;
  std::unique_ptr<SqlFlushPool> pool_;  // none when sql_max_open_conns is 1, or without caching
  StoreLimits limits_;                  // built
  std::map<std::string, std::unique_ptr<ChannelStore>, std::less<>> channels_;
  int64_t max_channel_id_ = 0;
  uint64_t max_sub_id_ = 0;
  uint64_t next_row_ = 1;
  std::unique_ptr<ExclusiveLock> lock_;  // GetExclusiveLock's (exclusive_lock.h)
  bool closed_ = false;
};

}  // namespace gannet::streaming::store
