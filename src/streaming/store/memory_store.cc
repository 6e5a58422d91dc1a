// The MEMORY store (see memory_store.h).
#include "streaming/store/memory_store.h"

#include <algorithm>
#include <cstring>

#include "streaming/log.h"
#include "streaming/store/limits.h"

namespace gannet::streaming::store {

namespace {
constexpr size_t kBlockSize = size_t{1} << 20;
}  // namespace

// ---- MemoryMsgStore ----

MemoryMsgStore::MemoryMsgStore(std::string channel, const ChannelLimits& limits)
    : channel_(std::move(channel)), limits_(limits) {}

Status MemoryMsgStore::Store(uint64_t seq, int64_t timestamp_ns, std::string_view record) {
  if (closed_) return Status(Code::kClosed, "store closed");
  if (seq <= last_) return Status::Ok();  // already stored (a replay)
  if (last_ != 0 && seq != last_ + 1) {
    return Status(Code::kInvalid, Format("sequence %llu after %llu: sequences must be contiguous",
                                         static_cast<unsigned long long>(seq),
                                         static_cast<unsigned long long>(last_)));
  }
  if (record.size() > UINT32_MAX) return Status(Code::kInvalid, "message too large");
  if (blocks_.empty() || blocks_.back().capacity - blocks_.back().used < record.size()) {
    Block b;
    b.capacity = std::max(kBlockSize, record.size());
    b.data.reset(new char[b.capacity]);
    blocks_.push_back(std::move(b));
  }
  Block& b = blocks_.back();
  char* at = b.data.get() + b.used;
  if (!record.empty()) std::memcpy(at, record.data(), record.size());
  b.used += record.size();
  ++b.live;
  if (entries_.empty()) first_ = seq;
  entries_.push_back({timestamp_ns, at, static_cast<uint32_t>(record.size())});
  last_ = seq;
  bytes_ += record.size();

  // Limits: drop the oldest, always keeping the message just stored.
  const int64_t max_msgs = limits_.max_msgs;
  const int64_t max_bytes = limits_.max_bytes;
  if (max_msgs > 0 || max_bytes > 0) {
    while (entries_.size() > 1 &&
           ((max_msgs > 0 && entries_.size() > static_cast<uint64_t>(max_msgs)) ||
            (max_bytes > 0 && bytes_ > static_cast<uint64_t>(max_bytes)))) {
      RemoveFirst();
      if (!hit_limit_) {
        hit_limit_ = true;
        STAN_INFO(
            "WARNING: Reached limits for store \"%s\" (msgs=%zu/%lld bytes=%s/%s), dropping old "
            "messages to make room for new ones",
            channel_.c_str(), entries_.size(), static_cast<long long>(max_msgs),
            FriendlyBytes(static_cast<int64_t>(bytes_)).c_str(), FriendlyBytes(max_bytes).c_str());
      }
    }
  }
  return Status::Ok();
}

void MemoryMsgStore::RemoveFirst() {
  const Entry& e = entries_.front();
  bytes_ -= e.size;
  entries_.pop_front();
  ++first_;
  // Blocks empty out in order: the front block is done once no entry points into it.
  Block& b = blocks_.front();
  --b.live;
  if (b.live == 0) {
    if (blocks_.size() > 1) {
      blocks_.pop_front();
    } else {
      b.used = 0;  // the only block: reuse it from the start
    }
  }
}

Result<MsgRef> MemoryMsgStore::Lookup(uint64_t seq) {
  if (entries_.empty() || seq < first_ || seq > last_) return MsgRef{};
  const Entry& e = entries_[seq - first_];
  MsgRef ref;
  ref.seq = seq;
  ref.timestamp = e.timestamp;
  ref.record = std::string_view(e.data, e.size);
  return ref;
}

Result<uint64_t> MemoryMsgStore::GetSequenceFromTimestamp(int64_t timestamp_ns) {
  if (last_ == 0) return uint64_t{0};
  if (entries_.empty()) return last_ + 1;
  if (entries_.front().timestamp >= timestamp_ns) return first_;
  if (timestamp_ns > entries_.back().timestamp) return last_ + 1;
  // Timestamps never decrease within a channel.
  auto it = std::lower_bound(entries_.begin(), entries_.end(), timestamp_ns,
                             [](const Entry& e, int64_t ts) { return e.timestamp < ts; });
  return first_ + static_cast<uint64_t>(it - entries_.begin());
}

Result<int64_t> MemoryMsgStore::ExpireMessages(int64_t now_ns) {
  const int64_t max_age = limits_.max_age.count();
  if (max_age <= 0) return int64_t{0};
  while (!entries_.empty() && now_ns - entries_.front().timestamp >= max_age) RemoveFirst();
  if (entries_.empty()) return int64_t{0};
  return entries_.front().timestamp + max_age;
}

Status MemoryMsgStore::TruncateAfter(uint64_t seq) {
  if (closed_) return Status(Code::kClosed, "store closed");
  if (seq >= last_) return Status::Ok();
  while (!entries_.empty() && first_ + entries_.size() - 1 > seq) {
    const Entry e = entries_.back();
    entries_.pop_back();
    bytes_ -= e.size;
    // The last entry is the last record of the last block: the block takes records from there.
    Block& b = blocks_.back();
    b.used = static_cast<size_t>(e.data - b.data.get());
    if (--b.live == 0) {
      if (blocks_.size() > 1) {
        blocks_.pop_back();
      } else {
        b.used = 0;
      }
    }
  }
  last_ = seq;
  if (entries_.empty()) first_ = seq == 0 ? 0 : seq + 1;
  return Status::Ok();
}

Status MemoryMsgStore::Empty() {
  entries_.clear();
  blocks_.clear();
  bytes_ = 0;
  first_ = last_ + 1;
  hit_limit_ = false;
  return Status::Ok();
}

Status MemoryMsgStore::Close() {
  closed_ = true;
  entries_.clear();
  blocks_.clear();
  bytes_ = 0;
  return Status::Ok();
}

// ---- MemorySubStore ----

Status MemorySubStore::CreateSub(SubState& sub) {
  if (max_subs_ > 0 && subs_.size() >= static_cast<size_t>(max_subs_)) {
    return Status::TooManySubs();
  }
  sub.id = ++max_sub_id_;
  subs_.push_back(sub.id);
  return Status::Ok();
}

Status MemorySubStore::DeleteSub(uint64_t sub_id) {
  auto it = std::find(subs_.begin(), subs_.end(), sub_id);
  if (it != subs_.end()) {
    *it = subs_.back();
    subs_.pop_back();
  }
  return Status::Ok();
}

// ---- MemoryStore ----

Result<std::unique_ptr<Store>> MemoryStore::Create(const StoreLimits& limits) {
  std::unique_ptr<MemoryStore> s(new MemoryStore());
  if (Status st = s->SetLimits(limits); !st) return st;
  return std::unique_ptr<Store>(std::move(s));
}

Result<bool> MemoryStore::GetExclusiveLock() {
  return Status(Code::kNotSupported, "not supported");
}

Status MemoryStore::SetLimits(const StoreLimits& limits) {
  StoreLimits built = limits;
  if (Status s = BuildLimits(built); !s) return s;
  limits_ = std::move(built);
  return Status::Ok();
}

ChannelLimits MemoryStore::GetChannelLimits(std::string_view channel) const {
  return LimitsForChannel(limits_, channel);
}

Result<ChannelStore*> MemoryStore::CreateChannel(std::string_view name) {
  if (closed_) return Status(Code::kClosed, "store closed");
  if (channels_.find(name) != channels_.end())
    return Status(Code::kAlreadyExists, "already exists");
  if (limits_.max_channels > 0 && channels_.size() >= static_cast<size_t>(limits_.max_channels)) {
    return Status::TooManyChannels();
  }
  ChannelLimits cl = LimitsForChannel(limits_, name);
  auto c = std::make_unique<ChannelStore>();
  c->name = std::string(name);
  c->msgs = std::make_unique<MemoryMsgStore>(c->name, cl);
  c->subs = std::make_unique<MemorySubStore>(cl);
  ChannelStore* raw = c.get();
  channels_.emplace(c->name, std::move(c));
  return raw;
}

ChannelStore* MemoryStore::LookupChannel(std::string_view name) {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second.get();
}

Status MemoryStore::DeleteChannel(std::string_view name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return Status(Code::kNotFound, "not found");
  it->second->msgs->Close();
  it->second->subs->Close();
  channels_.erase(it);
  return Status::Ok();
}

Status MemoryStore::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  for (auto& [name, c] : channels_) {
    c->msgs->Close();
    c->subs->Close();
  }
  return Status::Ok();
}

}  // namespace gannet::streaming::store
