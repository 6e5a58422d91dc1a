// One channel's messages in the FILE store: slices msgs.N.dat (records) and msgs.N.idx (32-byte
// index entries) in the channel's directory, as the reference lays them out.
//
// Writing. Store appends the record and its index entry to memory (1 MB blocks and one index
// buffer: no allocation or system call per message); WritePending writes them with one pwritev
// on the data file and one pwrite on the index file; the store (FileStore::FlushBatch) then
// syncs both, in parallel, once per I/O batch. A slice is closed and the next one started when
// it reaches file_slice_max_msgs / _bytes (record, header and index entry, as the reference
// counts) / _age; a slice whose messages were all removed by limits is deleted, or renamed and
// handed to file_slice_archive_script, unless it is the last one.
//
// Reading. The blocks stay in memory after they are written, up to max(file_buffer_size, 1 MB)
// of recent records, so subscribers that keep up read from memory (MsgRef::keep is null: the
// view is valid until the next Store, ExpireMessages, Empty or Close). Older messages are read
// from the slices: their index entry, then the record, with read-ahead when the reads are
// sequential (file_read_buffer_size; MsgRef::keep owns the buffer). CRCs are checked on read
// when file_crc is on.
//
// Counting. State().bytes is, as in the reference's file store, the sum of each message's
// record size plus 40 (its 8-byte record header and 32-byte index entry); max_bytes applies to that
// sum.
//
// Threads: the server's thread calls every MsgStore method; FileStore's auto-sync thread calls
// WritePending, CollectSync and SyncDone. One mutex (a leaf) serializes them.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "streaming/store/file_context.h"
#include "streaming/store/file_io.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store::file {

// Files written since their last sync, and the write generation they reach.
struct SyncTargets {
  std::vector<std::shared_ptr<File>> files;
  uint64_t generation = 0;
};

class FileMsgStore final : public MsgStore {
 public:
  FileMsgStore(const FileContext& ctx, std::string channel, std::string dir,
               const ChannelLimits& limits);
  ~FileMsgStore() override;

  // Reads the slices in the channel's directory (file_msg_recovery.cc), then applies max_msgs
  // and max_bytes. Errors as the reference's ("unexpected EOF", "corrupted data, expected crc to
  // be 0x..., got 0x..."), with the offending record dumped to the log.
  Status Recover();

  Status Store(uint64_t seq, int64_t timestamp_ns, std::string_view record) override;
  Status Flush() override;
  Result<MsgRef> Lookup(uint64_t seq) override;
  uint64_t FirstSequence() const override;
  uint64_t LastSequence() const override;
  Result<uint64_t> GetSequenceFromTimestamp(int64_t timestamp_ns) override;
  MsgStoreState State() const override;
  Result<int64_t> ExpireMessages(int64_t now_ns) override;
  Status Empty() override;
  Status TruncateAfter(uint64_t seq) override;
  Status Close() override;

  // Group commit, in steps so that FileStore::FlushBatch issues every write before any sync.
  Status WritePending();
  // Adds the files that need a sync to `out` (nothing when everything written is synced).
  void CollectSync(SyncTargets& out);
  // The files collected with `generation` were synced.
  void SyncDone(uint64_t generation);

  const std::string& channel() const { return channel_; }
  // Slices currently kept (tests).
  size_t SliceCount() const;

 private:
  struct Slice {
    int64_t fseq = 0;
    std::shared_ptr<File> dat;  // null while closed
    std::shared_ptr<File> idx;
    uint64_t first_seq = 0;  // first message not removed by limits
    uint64_t last_seq = 0;
    uint64_t idx_first_seq = 0;  // the message of the index file's first entry
    int64_t msgs_count = 0;      // messages in the files
    int64_t rm_count = 0;        // of which removed by limits
    uint64_t msgs_size = 0;      // payloads + 40 each
    int64_t first_write = 0;     // timestamp of its first message (file_slice_max_age)
    int64_t dat_size = 0;        // bytes in the files (written)
    int64_t idx_size = 0;
    bool live() const { return msgs_count > rm_count; }
  };
  struct Block {
    std::unique_ptr<char[]> data;
    size_t capacity = 0;
    size_t used = 0;
    size_t written = 0;  // data[0, written) is in the slice's data file
    uint32_t entries = 0;
  };
  struct Cached {
    const char* payload;
    uint32_t size;
    int64_t timestamp;
  };
  // A ring of cached entries (power-of-two capacity): no allocation per message.
  class CacheRing {
   public:
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    Cached& operator[](size_t i) { return buf_[(head_ + i) & (buf_.size() - 1)]; }
    void push_back(const Cached& c);
    void pop_front() { head_ = (head_ + 1) & (buf_.size() - 1), --size_; }
    void pop_back() { --size_; }
    void clear() { head_ = size_ = 0; }

   private:
    std::vector<Cached> buf_;
    size_t head_ = 0;
    size_t size_ = 0;
  };
  struct Undo;  // what Store restores when an unbuffered write fails

  // file_msg_recovery.cc
  Status RecoverSlice(int64_t fseq, bool is_last);
  Status RebuildIndex(Slice& s, std::vector<char>& entries);

  Status WritePendingLocked();
  Status StartSlice();
  bool SliceFull(const Slice& s, int64_t now_ns) const;
  void RemoveFirst();
  void RemoveFirstSlice();
  // Takes the entries [from, to] of slice `s` out of the counts (TruncateAfter).
  Status UncountEntries(Slice& s, uint64_t from, uint64_t to);
  void EnforceLimits(bool warn);
  void EvictCache();
  char* AppendToBlocks(size_t size);
  void AddSyncFile(const std::shared_ptr<File>& f);
  Slice* FindSlice(uint64_t seq);
  Status OpenSlice(Slice& s);
  void CloseReadSlice(Slice& s);
  const Cached* FromCache(uint64_t seq);
  // Index entries read from a slice's index file, ahead of the one asked for when the reads
  // go in order. Lookups have one, and the removals from the front (limits, max_age) another,
  // so that each keeps reading ahead while the other reads elsewhere.
  struct IndexReader {
    std::string bytes;  // entries of slice `fseq` from message `first`
    int64_t fseq = 0;
    uint64_t first = 0;
    uint64_t last_read = 0;
  };
  Result<IndexEntry> ReadIndexEntry(Slice& s, uint64_t seq, IndexReader& r);
  Result<MsgRef> ReadMessage(Slice& s, const IndexEntry& e);
  Result<int64_t> TimestampOf(uint64_t seq);
  Status SyncNow();
  void ResetReadBuffers();
  std::string SlicePath(int64_t fseq, bool index) const;
  void SetSliceLimits();

  const FileContext& ctx_;
  const std::string channel_;
  const std::string dir_;
  const ChannelLimits limits_;
  int64_t slice_max_msgs_ = 0;
  uint64_t slice_max_bytes_ = 0;
  int64_t slice_max_age_ = 0;
  size_t cache_limit_;

  mutable std::mutex mu_;
  std::deque<Slice> slices_;  // by file number; back() takes new messages
  int64_t last_fseq_ = 0;
  uint64_t first_ = 0;
  uint64_t last_ = 0;
  uint64_t total_count_ = 0;
  uint64_t total_bytes_ = 0;
  bool hit_limit_ = false;
  bool closed_ = false;

  std::deque<Block> blocks_;
  size_t blocks_bytes_ = 0;
  size_t unwritten_ = 0;     // bytes of the blocks not yet in the data file
  std::string idx_pending_;  // index entries not yet in the index file
  CacheRing cache_;          // cache_[i] is message cache_first_ + i
  uint64_t cache_first_ = 0;

  // Syncs: generations of writes, and the files written since the last sync.
  uint64_t write_gen_ = 0;
  uint64_t synced_gen_ = 0;
  std::vector<std::shared_ptr<File>> sync_files_;
  std::shared_ptr<File> dir_handle_;  // the channel's directory, synced after a slice is created

  // Reads from the slices.
  int64_t read_slice_ = 0;  // the non-write slice kept open for reads
  IndexReader lookup_idx_;
  IndexReader front_idx_;
  std::shared_ptr<std::string> dat_rb_;  // data of slice dat_rb_fseq_ from dat_rb_off_
  int64_t dat_rb_fseq_ = 0;
  int64_t dat_rb_off_ = 0;
  uint64_t last_msg_read_ = 0;
  bool warned_index_error_ = false;
};

}  // namespace gannet::streaming::store::file
