// One channel's subscriptions in the FILE store: subs.dat, typed records as the reference writes
// them (1 new SubState, 2 updated SubState, 3 SubStateDelete, 4 ack and 5 sent SubStateUpdate).
//
// A new, updated or deleted subscription is written and synced at once (it answers a client's
// request); a message sent or acknowledged is buffered (file_buffer_size) until Flush, which
// the server calls once per I/O batch, or the auto-sync. When at least file_compact_frag % of
// the records are dead (deleted subscriptions, replaced states, acknowledged messages), the
// file holds at least file_compact_min_size bytes and file_compact_interval seconds passed
// since the last compaction, the file is rewritten from memory (one record per subscription and
// per pending message) into a temporary file that replaces it.
//
// Threads: as FileMsgStore (the server's thread, and the auto-sync thread for WritePending,
// CollectSync and SyncDone), serialized by one mutex (a leaf).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "streaming/store/file_context.h"
#include "streaming/store/file_io.h"
#include "streaming/store/file_msg_store.h"
#include "streaming/store/file_seq_set.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store::file {

class FileSubStore final : public SubStore {
 public:
  FileSubStore(const FileContext& ctx, std::string channel, const std::string& dir,
               const ChannelLimits& limits);
  ~FileSubStore() override;

  // Opens subs.dat (creating it) and replays its records.
  Status Open();
  // The subscriptions Open found, by id, with their pending messages ascending.
  std::vector<RecoveredSubscription> Recovered() const;

  Status CreateSub(SubState& sub) override;
  Status UpdateSub(const SubState& sub) override;
  Status DeleteSub(uint64_t sub_id) override;
  Status AddSeqPending(uint64_t sub_id, uint64_t seq) override;
  Status AckSeqPending(uint64_t sub_id, uint64_t seq) override;
  Status Flush() override;
  Status Close() override;

  Status WritePending();
  void CollectSync(SyncTargets& out);
  void SyncDone(uint64_t generation);

  // Tests: the file's size (written and buffered records) and how many compactions ran.
  int64_t FileSize() const;
  int Compactions() const;

 private:
  struct Sub {
    SubState state;
    SeqSet pending;
  };

  void Append(uint8_t type, std::string_view payload);
  Status WritePendingLocked();
  Status SyncLocked();
  Status FlushAndSyncLocked();
  bool ShouldCompact() const;
  Status Compact();
  Status Apply(uint8_t type, std::string_view payload);

  const FileContext& ctx_;
  const std::string channel_;
  const std::string path_;
  const int64_t max_subs_;

  mutable std::mutex mu_;
  std::shared_ptr<File> file_;
  std::map<uint64_t, Sub> subs_;
  uint64_t max_sub_id_ = 0;
  std::string buf_;           // records not yet written
  int64_t written_size_ = 0;  // bytes in the file
  // Compaction: records written, dead records, the file's size (as the reference counts them).
  int64_t num_recs_ = 0;
  int64_t del_recs_ = 0;
  int64_t file_size_ = 0;
  std::chrono::steady_clock::time_point compact_ts_{};
  int compactions_ = 0;
  uint64_t write_gen_ = 0;
  uint64_t synced_gen_ = 0;
  bool closed_ = false;
};

}  // namespace gannet::streaming::store::file
