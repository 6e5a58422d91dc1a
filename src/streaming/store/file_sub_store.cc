// One channel's subscriptions in the FILE store (see file_sub_store.h).
#include "streaming/store/file_sub_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "streaming/log.h"
#include "streaming/store/file_recovery.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store::file {

FileSubStore::FileSubStore(const FileContext& ctx, std::string channel, const std::string& dir,
                           const ChannelLimits& limits)
    : ctx_(ctx),
      channel_(std::move(channel)),
      path_(JoinPath(dir, kSubsFileName)),
      max_subs_(limits.max_subscriptions) {}

FileSubStore::~FileSubStore() { Close(); }

int64_t FileSubStore::FileSize() const {
  std::lock_guard lk(mu_);
  return file_size_;
}

int FileSubStore::Compactions() const {
  std::lock_guard lk(mu_);
  return compactions_;
}

Status FileSubStore::Apply(uint8_t type, std::string_view payload) {
  auto bad = [&](const char* what) {
    return Status(Code::kCorrupt, std::string("unable to decode ") + what + " record");
  };
  switch (type) {
    case kSubRecNew:
    case kSubRecUpdate: {
      SubState st;
      if (!DecodeSubState(payload, st)) return bad("subscription");
      auto it = subs_.find(st.id);
      if (it == subs_.end()) {
        subs_[st.id].state = std::move(st);
      } else {
        // A new version of the subscription: the previous record is dead.
        if (type == kSubRecUpdate) ++del_recs_;
        it->second.state = std::move(st);
      }
      max_sub_id_ = std::max(max_sub_id_, subs_.rbegin()->first);
      ++num_recs_;
      return Status::Ok();
    }
    case kSubRecDel: {
      uint64_t id;
      if (!DecodeSubStateDelete(payload, id)) return bad("subscription delete");
      if (auto it = subs_.find(id); it != subs_.end()) {
        del_recs_ += 1 + static_cast<int64_t>(it->second.pending.size());
        subs_.erase(it);
      }
      max_sub_id_ = std::max(max_sub_id_, id);
      return Status::Ok();
    }
    case kSubRecMsg: {
      uint64_t id;
      uint64_t seq;
      if (!DecodeSubStateUpdate(payload, id, seq)) return bad("pending message");
      if (auto it = subs_.find(id); it != subs_.end()) {
        // The same sequence can be sent more than once (queue redeliveries).
        it->second.state.last_sent = std::max(it->second.state.last_sent, seq);
        it->second.pending.Add(seq);
        ++num_recs_;
      }
      return Status::Ok();
    }
    case kSubRecAck: {
      uint64_t id;
      uint64_t seq;
      if (!DecodeSubStateUpdate(payload, id, seq)) return bad("acknowledgment");
      if (auto it = subs_.find(id); it != subs_.end()) {
        it->second.pending.Remove(seq);
        ++del_recs_;
      }
      return Status::Ok();
    }
    default:
      return Status(Code::kCorrupt, "unexpected record type: " + std::to_string(type));
  }
}

Status FileSubStore::Open() {
  std::lock_guard lk(mu_);
  auto f = File::OpenVersioned(path_, true);
  if (!f) return f.status();
  file_ = std::move(f).value();
  int64_t read = 0;
  Status s = ReplayRecords(
      ctx_, *file_, [this](uint8_t type, std::string_view payload) { return Apply(type, payload); },
      read);
  if (!s) return s;
  file_size_ = read;
  auto size = file_->Size();
  if (!size) return size.status();
  written_size_ = *size;
  return Status::Ok();
}

std::vector<RecoveredSubscription> FileSubStore::Recovered() const {
  std::lock_guard lk(mu_);
  std::vector<RecoveredSubscription> out;
  out.reserve(subs_.size());
  for (const auto& [id, sub] : subs_) out.push_back({sub.state, sub.pending.Sorted()});
  return out;
}

void FileSubStore::Append(uint8_t type, std::string_view payload) {
  AppendRecord(buf_, type, payload, ctx_.crc);
  file_size_ += static_cast<int64_t>(kRecordHeaderSize + payload.size());
}

Status FileSubStore::WritePending() {
  std::lock_guard lk(mu_);
  return WritePendingLocked();
}

Status FileSubStore::WritePendingLocked() {
  if (buf_.empty()) return Status::Ok();
  if (!file_) return Status(Code::kClosed, "store closed");
  if (Status s = file_->WriteAt(buf_.data(), buf_.size(), written_size_); !s) {
    (void)file_->Truncate(written_size_);  // no partial record left behind
    return s;
  }
  written_size_ += static_cast<int64_t>(buf_.size());
  buf_.clear();
  ++write_gen_;
  return Status::Ok();
}

Status FileSubStore::SyncLocked() {
  if (synced_gen_ == write_gen_ || !file_) return Status::Ok();
  if (Status s = file_->SyncData(); !s) return s;
  synced_gen_ = write_gen_;
  return Status::Ok();
}

Status FileSubStore::FlushAndSyncLocked() {
  if (Status s = WritePendingLocked(); !s) return s;
  return ctx_.opts.do_sync ? SyncLocked() : Status::Ok();
}

void FileSubStore::CollectSync(SyncTargets& out) {
  std::lock_guard lk(mu_);
  if (synced_gen_ == write_gen_ || !file_) return;
  out.files.push_back(file_);
  out.generation = write_gen_;
}

void FileSubStore::SyncDone(uint64_t generation) {
  std::lock_guard lk(mu_);
  synced_gen_ = std::max(synced_gen_, generation);
}

Status FileSubStore::CreateSub(SubState& sub) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  if (max_subs_ > 0 && subs_.size() >= static_cast<size_t>(max_subs_)) {
    return Status::TooManySubs();
  }
  const size_t mark = buf_.size();
  const int64_t size_mark = file_size_;
  sub.id = max_sub_id_ + 1;
  Append(kSubRecNew, EncodeSubState(sub));
  if (Status s = WritePendingLocked(); !s) {
    // Not written: the subscription does not exist.
    buf_.resize(mark);
    file_size_ = size_mark;
    sub.id = 0;
    return s;
  }
  max_sub_id_ = sub.id;
  subs_[sub.id].state = sub;
  ++num_recs_;
  return ctx_.opts.do_sync ? SyncLocked() : Status::Ok();
}

Status FileSubStore::UpdateSub(const SubState& sub) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  Append(kSubRecUpdate, EncodeSubState(sub));
  ++num_recs_;
  ++del_recs_;
  auto it = subs_.find(sub.id);
  if (it == subs_.end()) {
    subs_[sub.id].state = sub;
    max_sub_id_ = std::max(max_sub_id_, sub.id);
  } else {
    it->second.state = sub;
  }
  return FlushAndSyncLocked();
}

Status FileSubStore::DeleteSub(uint64_t sub_id) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  Append(kSubRecDel, EncodeSubStateDelete(sub_id));
  ++del_recs_;
  if (auto it = subs_.find(sub_id); it != subs_.end()) {
    del_recs_ += static_cast<int64_t>(it->second.pending.size());
    subs_.erase(it);
    if (ShouldCompact()) {
      if (Status s = Compact(); s.ok()) return s;
      // A failed compaction leaves the file as it was: the records are written below.
    }
  }
  return FlushAndSyncLocked();
}

Status FileSubStore::AddSeqPending(uint64_t sub_id, uint64_t seq) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  char payload[24];
  Append(kSubRecMsg, std::string_view(payload, EncodeSubStateUpdateInto(payload, sub_id, seq)));
  ++num_recs_;
  if (auto it = subs_.find(sub_id); it != subs_.end()) {
    it->second.state.last_sent = std::max(it->second.state.last_sent, seq);
    it->second.pending.Add(seq);
  }
  if (ctx_.opts.buffer_size <= 0 || buf_.size() >= static_cast<size_t>(ctx_.opts.buffer_size)) {
    return WritePendingLocked();
  }
  return Status::Ok();
}

Status FileSubStore::AckSeqPending(uint64_t sub_id, uint64_t seq) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  char payload[24];
  Append(kSubRecAck, std::string_view(payload, EncodeSubStateUpdateInto(payload, sub_id, seq)));
  ++del_recs_;
  if (auto it = subs_.find(sub_id); it != subs_.end()) {
    it->second.pending.Remove(seq);
    if (ShouldCompact()) {
      if (Status s = Compact(); s.ok()) return s;
    }
  }
  if (ctx_.opts.buffer_size <= 0 || buf_.size() >= static_cast<size_t>(ctx_.opts.buffer_size)) {
    return WritePendingLocked();
  }
  return Status::Ok();
}

Status FileSubStore::Flush() {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  return FlushAndSyncLocked();
}

bool FileSubStore::ShouldCompact() const {
  const FileStoreOptions& o = ctx_.opts;
  if (!o.compact_enabled) return false;
  if (o.compact_min_file_size > 0 && file_size_ < o.compact_min_file_size) return false;
  const int64_t frag = num_recs_ == 0 ? 100 : del_recs_ * 100 / num_recs_;
  if (frag < o.compact_fragmentation) return false;
  return compact_ts_ == std::chrono::steady_clock::time_point{} ||
         std::chrono::steady_clock::now() - compact_ts_ >= std::chrono::seconds(o.compact_interval);
}

Status FileSubStore::Compact() {
  // Everything the file says is in memory: write that to a new file, then swap them.
  auto tmp = CreateTempFile(ctx_.root, "subs");
  if (!tmp) return tmp.status();
  File& t = **tmp;
  std::string out;
  int64_t num_recs = 0;
  for (const auto& [id, sub] : subs_) {
    AppendRecord(out, kSubRecNew, EncodeSubState(sub.state), ctx_.crc);
    ++num_recs;
    for (uint64_t seq : sub.pending.Sorted()) {
      char payload[24];
      AppendRecord(out, kSubRecMsg,
                   std::string_view(payload, EncodeSubStateUpdateInto(payload, id, seq)), ctx_.crc);
      ++num_recs;
    }
  }
  const std::string tmp_path = t.path();
  Status s = t.WriteAt(out.data(), out.size(), kVersionSize);
  if (s) s = t.SyncData();
  if (s && ::rename(tmp_path.c_str(), path_.c_str()) != 0) s = IoError("rename", tmp_path, errno);
  if (!s) {
    ::unlink(tmp_path.c_str());
    STAN_ERROR("Unable to compact the subscriptions file of channel \"%s\": %s", channel_.c_str(),
               s.message().c_str());
    return s;
  }
  // The renamed file is the subscriptions file from now on (reopened under its name; the
  // temporary handle still reaches the same file if that fails).
  auto reopened = File::OpenVersioned(path_, false);
  file_ = reopened ? std::move(reopened).value() : std::move(tmp).value();
  const std::string dir = path_.substr(0, path_.find_last_of('/'));
  if (Status d = SyncDir(dir); !d) STAN_ERROR("%s", d.message().c_str());
  buf_.clear();
  written_size_ = static_cast<int64_t>(kVersionSize + out.size());
  file_size_ = static_cast<int64_t>(out.size());
  num_recs_ = num_recs;
  del_recs_ = 0;
  compact_ts_ = std::chrono::steady_clock::now();
  ++compactions_;
  ++write_gen_;
  synced_gen_ = write_gen_;
  return Status::Ok();
}

Status FileSubStore::Close() {
  std::lock_guard lk(mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  Status s = WritePendingLocked();
  if (s.ok() && ctx_.opts.do_sync) s = SyncLocked();
  file_.reset();
  return s;
}

}  // namespace gannet::streaming::store::file
