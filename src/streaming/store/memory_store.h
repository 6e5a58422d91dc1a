// The MEMORY store: messages, subscriptions and clients kept in this process only (nothing is
// recovered after a restart), as the reference's stores/memstore.go.
//
// Messages are appended to 1 MB blocks (a larger message gets a block of its own) indexed by
// a ring of entries, so storing allocates nothing per message and removing the oldest (limits,
// max_age) frees whole blocks. Lookup hands out views into the blocks (MsgRef::keep is null):
// valid until the channel's store changes next.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "streaming/store/store.h"

namespace gannet::streaming::store {

class MemoryMsgStore final : public MsgStore {
 public:
  MemoryMsgStore(std::string channel, const ChannelLimits& limits);

  Status Store(uint64_t seq, int64_t timestamp_ns, std::string_view record) override;
  Status Flush() override { return Status::Ok(); }
  Result<MsgRef> Lookup(uint64_t seq) override;
  uint64_t FirstSequence() const override { return first_; }
  uint64_t LastSequence() const override { return last_; }
  Result<uint64_t> GetSequenceFromTimestamp(int64_t timestamp_ns) override;
  MsgStoreState State() const override { return {entries_.size(), bytes_}; }
  Result<int64_t> ExpireMessages(int64_t now_ns) override;
  Status Empty() override;
  Status TruncateAfter(uint64_t seq) override;
  Status Close() override;

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t capacity = 0;
    size_t used = 0;
    size_t live = 0;  // entries still pointing into it
  };
  struct Entry {
    int64_t timestamp;
    const char* data;
    uint32_t size;
  };
  void RemoveFirst();

  std::string channel_;
  ChannelLimits limits_;
  std::deque<Entry> entries_;  // entries_[i] has sequence first_ + i
  std::deque<Block> blocks_;   // oldest first; the last one takes new records
  uint64_t first_ = 0;
  uint64_t last_ = 0;
  uint64_t bytes_ = 0;
  bool hit_limit_ = false;  // the "dropping old messages" warning was logged
  bool closed_ = false;
};

class MemorySubStore final : public SubStore {
 public:
  explicit MemorySubStore(const ChannelLimits& limits) : max_subs_(limits.max_subscriptions) {}

  Status CreateSub(SubState& sub) override;
  Status UpdateSub(const SubState&) override { return Status::Ok(); }
  Status DeleteSub(uint64_t sub_id) override;
  Status AddSeqPending(uint64_t, uint64_t) override { return Status::Ok(); }
  Status AckSeqPending(uint64_t, uint64_t) override { return Status::Ok(); }
  Status Flush() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }

 private:
  int64_t max_subs_;
  uint64_t max_sub_id_ = 0;
  std::vector<uint64_t> subs_;  // ids of the live subscriptions
};

class MemoryStore final : public Store {
 public:
  // Fails when the limits do not validate.
  static Result<std::unique_ptr<Store>> Create(const StoreLimits& limits);

  std::string_view Name() const override { return "MEMORY"; }
  Result<bool> GetExclusiveLock() override;
  Status Init(const ServerInfo&) override { return Status::Ok(); }
  Result<std::optional<RecoveredState>> Recover() override {
    return std::optional<RecoveredState>();
  }
  Status SetLimits(const StoreLimits& limits) override;
  ChannelLimits GetChannelLimits(std::string_view channel) const override;
  Result<ChannelStore*> CreateChannel(std::string_view name) override;
  ChannelStore* LookupChannel(std::string_view name) override;
  Status DeleteChannel(std::string_view name) override;
  Status AddClient(const ClientInfo&) override { return Status::Ok(); }
  Status DeleteClient(std::string_view) override { return Status::Ok(); }
  Status Close() override;

 private:
  MemoryStore() = default;
  StoreLimits limits_;  // built
  std::map<std::string, std::unique_ptr<ChannelStore>, std::less<>> channels_;
  bool closed_ = false;
};

}  // namespace gannet::streaming::store
