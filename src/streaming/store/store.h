// The Streaming store interface: what the server keeps about itself, its clients, channels,
// messages and subscriptions, behind one API that the MEMORY, FILE and SQL stores implement
// (and Raft replication later; modeled on the reference's
// stores/store.go: Store, ChannelStore = Channel{Msgs, Subs}, MsgStore, SubStore,
// RecoveredState).
//
// Threading. A store is not thread-safe: the server calls it from one thread at a time (its I/O
// loop), so an implementation needs no lock of its own unless it runs background work
// (periodic fsync, slice archiving, ...), which it then synchronizes itself.
//
// Group commit. Writes are buffered and made durable in batches: the server calls
// MsgStore::Store for every message of an I/O batch (many publishers, many channels), then
// Store::FlushBatch once for the channels it wrote to (one write and, for the FILE store with
// file_sync, one fsync per channel file), and only then sends the PubAcks. Subscription
// updates (AddSeqPending, AckSeqPending, ...) are flushed the same way with SubStore::Flush.
// Nothing written before a successful flush may be lost by a crash; nothing acknowledged is
// written after it.
//
// Errors are values (Status, Result<T>); a store never throws. Message texts that clients see
// are the reference's ("too many channels", "too many subscriptions per channel").
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gannet::streaming::store {

// ---------------------------------------------------------------------------------------------
// Results

enum class Code {
  kOk,
  kTooManyChannels,  // "too many channels"
  kTooManySubs,      // "too many subscriptions per channel"
  kNotFound,
  kAlreadyExists,
  kNotSupported,
  kInvalid,  // bad limits, bad options, bad arguments
  kIo,       // a read, write, flush or fsync failed
  kCorrupt,  // recovery found data it cannot use (CRC mismatch, unexpected EOF, ...)
  kClosed,
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }
  static Status TooManyChannels() { return {Code::kTooManyChannels, "too many channels"}; }
  static Status TooManySubs() { return {Code::kTooManySubs, "too many subscriptions per channel"}; }

  bool ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }
  T& value() & { return value_; }
  const T& value() const& { return value_; }
  T&& value() && { return std::move(value_); }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }
  T& operator*() & { return value_; }
  const T& operator*() const& { return value_; }
  T&& operator*() && { return std::move(value_); }

 private:
  Status status_;
  T value_{};
};

// ---------------------------------------------------------------------------------------------
// Limits (the reference's StoreLimits / ChannelLimits)

struct ChannelLimits {
  // Global limits: 0 means unlimited. Per-channel entries as configured: 0 means "inherit from
  // the closest wildcard entry, else the global limit", < 0 means unlimited; StoreLimits::Build
  // resolves them so that, once built, 0 means unlimited everywhere.
  int64_t max_msgs = 0;
  int64_t max_bytes = 0;
  std::chrono::nanoseconds max_age{0};
  int64_t max_subscriptions = 0;
  std::chrono::nanoseconds max_inactivity{0};

  bool operator==(const ChannelLimits&) const = default;
};

struct StoreLimits {
  int64_t max_channels = 100;
  ChannelLimits global{.max_msgs = 1000000,
                       .max_bytes = int64_t{1000000} * 1024,
                       .max_age = std::chrono::nanoseconds(0),
                       .max_subscriptions = 1000,
                       .max_inactivity = std::chrono::nanoseconds(0)};
  // Per-channel limits, keyed by channel name or wildcard ("foo.*", "foo.>").
  std::map<std::string, ChannelLimits> per_channel;
};

// ---------------------------------------------------------------------------------------------
// Records (the reference's spb messages; store/records.h encodes them as protobuf)

struct ServerInfo {
  std::string cluster_id;
  std::string discovery;
  std::string publish;
  std::string subscribe;
  std::string unsubscribe;
  std::string close;
  std::string sub_close;
  std::string acks_subs;
  std::string node_id;
};

struct ClientInfo {
  std::string id;
  std::string hb_inbox;
  std::string conn_id;  // bytes
  int32_t protocol = 0;
  int32_t ping_interval = 0;  // seconds
  int32_t ping_max_out = 0;
};

struct SubState {
  uint64_t id = 0;  // assigned by SubStore::CreateSub
  std::string client_id;
  std::string q_group;
  std::string inbox;
  std::string ack_inbox;
  int32_t max_in_flight = 0;
  int32_t ack_wait_in_secs = 0;
  std::string durable_name;
  uint64_t last_sent = 0;
  bool is_durable = false;
  bool is_closed = false;
};

// A stored message as a store hands it out. `record` is the message's MsgProto encoding
// (sequence, subject, reply, data, timestamp): exactly what subscribers receive and what the
// FILE store writes to msgs.N.dat.
struct MsgRef {
  uint64_t seq = 0;  // 0: no such message
  int64_t timestamp = 0;
  std::string_view record;
  // What keeps `record` alive. When null, the bytes are valid until the next call that
  // changes this MsgStore (Store, Expire, Empty, Close); a store that reads from disk returns
  // an owning pointer instead.
  std::shared_ptr<const void> keep;

  bool found() const { return seq != 0; }
};

struct MsgStoreState {
  uint64_t msgs = 0;
  uint64_t bytes = 0;  // sum of the records' sizes (FILE: plus 40 each, header and index entry)
};

// ---------------------------------------------------------------------------------------------
// Per-channel stores

class MsgStore {
 public:
  virtual ~MsgStore() = default;

  // Appends the message with sequence `seq` (the channel's last + 1: the server assigns
  // sequences) and timestamp `timestamp_ns`, whose MsgProto encoding is `record` (copied).
  // Buffered until Flush. Applies max_msgs and max_bytes by removing the oldest messages,
  // always keeping the new one, and logs the reference's warning the first time it does.
  virtual Status Store(uint64_t seq, int64_t timestamp_ns, std::string_view record) = 0;
  // Makes every Store since the last Flush durable (written, and fsync'd if so configured).
  virtual Status Flush() = 0;

  // The message with sequence `seq`: found() is false when it is not stored (never was, or
  // removed by a limit).
  virtual Result<MsgRef> Lookup(uint64_t seq) = 0;
  // First and last stored sequences; both 0 when no message was ever stored. After every
  // message was removed by limits, first == last + 1.
  virtual uint64_t FirstSequence() const = 0;
  virtual uint64_t LastSequence() const = 0;
  // The sequence of the first message whose timestamp is >= `timestamp_ns`; last + 1 when
  // every message is older; 0 when no message was ever stored.
  virtual Result<uint64_t> GetSequenceFromTimestamp(int64_t timestamp_ns) = 0;
  virtual MsgStoreState State() const = 0;

  // max_age: removes the messages older than the limit at `now_ns` and returns when the next
  // one expires (ns since the epoch), or 0 when none will. The server calls it from its timer
  // when the previous answer is due (and after storing into a channel that had none due).
  virtual Result<int64_t> ExpireMessages(int64_t now_ns) = 0;

  // Removes every message (sequences are not reused: first/last stay as they were).
  virtual Status Empty() = 0;
  // Removes the messages after `seq`, so that the next Store is of seq + 1: a clustered node
  // that led cuts its store back to what the cluster committed (its tail may hold messages the
  // next leader stored under the same sequences). Nothing to do when seq >= LastSequence().
  // Afterwards LastSequence() is `seq` (0 and 0 when `seq` is 0); when no message is left,
  // FirstSequence() is seq + 1. Durable when it returns: a store that recovers afterwards
  // recovers the cut (one whose every message went may recover as never written).
  virtual Status TruncateAfter(uint64_t seq) = 0;
  virtual Status Close() = 0;
};

class SubStore {
 public:
  virtual ~SubStore() = default;

  // Records a new subscription and assigns sub.id. TooManySubs() past max_subscriptions.
  virtual Status CreateSub(SubState& sub) = 0;
  // Replaces the stored state of sub.id (last_sent, is_closed, a resumed durable's inboxes).
  virtual Status UpdateSub(const SubState& sub) = 0;
  virtual Status DeleteSub(uint64_t sub_id) = 0;
  // Message `seq` was sent to the subscription and awaits its ack.
  virtual Status AddSeqPending(uint64_t sub_id, uint64_t seq) = 0;
  // The subscription acknowledged `seq` (or it was acknowledged implicitly).
  virtual Status AckSeqPending(uint64_t sub_id, uint64_t seq) = 0;
  // Makes the updates since the last Flush durable.
  virtual Status Flush() = 0;
  virtual Status Close() = 0;
};

// A channel's two stores (the reference's stores.Channel).
struct ChannelStore {
  std::string name;
  std::unique_ptr<MsgStore> msgs;
  std::unique_ptr<SubStore> subs;
};

// ---------------------------------------------------------------------------------------------
// Recovery

struct RecoveredSubscription {
  SubState state;
  std::vector<uint64_t> pending;  // sent, not acknowledged (ascending)
};

struct RecoveredChannel {
  ChannelStore* channel = nullptr;  // owned by the store
  std::vector<RecoveredSubscription> subscriptions;
};

struct RecoveredState {
  ServerInfo info;
  std::vector<ClientInfo> clients;
  std::map<std::string, RecoveredChannel> channels;
};

// ---------------------------------------------------------------------------------------------
// The store

class Store {
 public:
  virtual ~Store() = default;

  // "MEMORY", "FILE", "SQL": the name the startup log and /streaming/storez show.
  virtual std::string_view Name() const = 0;

  // An advisory lock for fault-tolerant groups: true when this instance holds it (taking it
  // never blocks), false when another does. MEMORY: NotSupported.
  virtual Result<bool> GetExclusiveLock() = 0;

  // Saves the server's identity and subjects (server.dat). Called on the first start (nothing
  // recovered) and when the recovered info had to be completed.
  virtual Status Init(const ServerInfo& info) = 0;

  // What a previous run left: nullopt when there is nothing (always, for MEMORY); an error
  // when there is state that cannot be read. Recovered channels exist in the store afterwards
  // (LookupChannel), with their limits applied as configured now.
  virtual Result<std::optional<RecoveredState>> Recover() = 0;

  // Validates `limits` (StoreLimits rules, see store/limits.h), resolves inheritance and keeps
  // a copy; used for channels created afterwards.
  virtual Status SetLimits(const StoreLimits& limits) = 0;
  // The resolved limits for a channel name (whether or not the channel exists).
  virtual ChannelLimits GetChannelLimits(std::string_view channel) const = 0;

  // Creates a channel's stores. AlreadyExists if it exists, TooManyChannels() at the limit.
  // The pointer stays valid until DeleteChannel or Close.
  virtual Result<ChannelStore*> CreateChannel(std::string_view name) = 0;
  virtual ChannelStore* LookupChannel(std::string_view name) = 0;
  // Removes a channel and everything in it (max_inactivity); NotFound if there is none.
  virtual Status DeleteChannel(std::string_view name) = 0;

  // Group commit of one I/O batch: flushes the message stores of `channels` (each written to
  // since the last flush). The default flushes them one by one; a store may do better (issue
  // every write, then every fsync).
  virtual Status FlushBatch(std::span<ChannelStore* const> channels) {
    for (ChannelStore* c : channels) {
      if (Status s = c->msgs->Flush(); !s) return s;
    }
    return Status::Ok();
  }

  // How often the server flushes the subscription stores (SubStore::Flush on every channel)
  // besides after each publish batch, so that acks and deliveries with no publish after them
  // are stored too; 0: not needed (the FILE store's auto-sync thread writes them).
  virtual std::chrono::milliseconds SubFlushInterval() const {
    return std::chrono::milliseconds(0);
  }

  // Client records (clients.dat): added at connect, deleted at close or replacement.
  virtual Status AddClient(const ClientInfo& info) = 0;
  virtual Status DeleteClient(std::string_view client_id) = 0;

  // Closes every channel store and releases the exclusive lock. Idempotent.
  virtual Status Close() = 0;
};

// ---------------------------------------------------------------------------------------------
// Construction (store/factory.h picks one by type)

// The FILE store's options (the reference's FileStoreOptions, --file_* flags, file_options {}).
struct FileStoreOptions {
  int64_t buffer_size = int64_t{2} << 20;
  bool compact_enabled = true;
  int compact_fragmentation = 50;  // percent
  int compact_interval = 300;      // seconds
  int64_t compact_min_file_size = int64_t{1} << 20;
  bool do_crc = true;
  int64_t crc_polynomial = 0xedb88320;  // IEEE
  bool do_sync = true;
  int64_t slice_max_msgs = 0;
  int64_t slice_max_bytes = int64_t{64} << 20;
  std::chrono::nanoseconds slice_max_age{0};
  std::string slice_archive_script;
  int64_t file_descriptors_limit = 100;
  int parallel_recovery = 1;
  int64_t read_buffer_size = int64_t{2} << 20;
  std::chrono::nanoseconds auto_sync{std::chrono::minutes(1)};
  bool truncate_unexpected_eof = false;
};

// The SQL store's options (the reference's SQLStoreOptions, --sql_* flags, sql_options {}).
struct SqlStoreOptions {
  std::string driver;  // "postgres" | "mysql"
  std::string source;  // the driver's connection string
  // Every Store/AddSeqPending/AckSeqPending runs its statement at once instead of at Flush.
  bool no_caching = false;
  // The reference's bound on its database/sql pool (<= 0: unlimited). Gannet's store runs every
  // statement on one connection from the I/O loop's thread; with N > 1 it opens up to N-1 more
  // only to commit the channels of one batch in parallel (sql_flush_pool.h). Unlimited and 1
  // keep the store on its one connection: the parallel commits pay off only when round trips
  // dominate (one INSERT per message: about twice the 4-channel rate with N = 4; with bulk
  // inserts no gain on 2 cores, docs/PERFORMANCE.md). The FT lock holds one more connection of
  // its own (its ticker runs beside the loop, and its session lock must live on a connection no
  // store statement ends), which CreateSqlLock reports when this is 1.
  int max_open_conns = 0;
  // > 0: a flush inserts messages with multi-row INSERTs of at most this many rows; 0: one
  // prepared INSERT per message, all in one transaction.
  int bulk_insert_limit = 0;
  // Fault tolerance: the StoreLock owner this server took the lock as. When set, every flush
  // transaction first reads the row with a shared lock (a standby's takeover waits for it) and
  // fails if another server owns it now, so a server that lost the lock commits nothing more.
  // Every other write runs in a transaction of its own behind the same check (no_caching's
  // inserts and pending updates included).
  std::string fence_owner;
};

struct StoreOptions {
  std::string type = "MEMORY";  // MEMORY | FILE | SQL (upper case)
  std::string dir;              // FILE: the root directory
  StoreLimits limits;
  FileStoreOptions file;
  SqlStoreOptions sql;
};

}  // namespace gannet::streaming::store
