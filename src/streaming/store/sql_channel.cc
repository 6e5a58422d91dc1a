// The SQL store's per-channel stores: messages (SqlMsgStore) and subscriptions (SqlSubStore),
// see sql_store.h.
#include <algorithm>

#include "streaming/log.h"
#include "streaming/store/limits.h"
#include "streaming/store/records.h"
#include "streaming/store/sql_store.h"

namespace gannet::streaming::store {

using sql::Param;
using sql::Stmt;

namespace {

// Recently flushed messages kept in memory for deliveries, per channel.
constexpr size_t kRecentMaxMsgs = 4096;
constexpr size_t kRecentMaxBytes = size_t{2} << 20;
// Messages read ahead by a Lookup that missed: one SELECT serves the next ones too.
constexpr uint64_t kReadAheadMsgs = 256;
constexpr size_t kReadAheadBytes = size_t{512} << 10;

}  // namespace

// ---- SqlMsgStore ----

SqlMsgStore::SqlMsgStore(SqlDb& db, const SqlStoreOptions& opts, std::string channel,
                         int64_t channel_id, const ChannelLimits& limits)
    : db_(db),
      opts_(opts),
      channel_(std::move(channel)),
      channel_id_(channel_id),
      limits_(limits) {}

void SqlMsgStore::Recovered(uint64_t first, uint64_t max_seq,
                            const std::vector<std::pair<int64_t, uint32_t>>& index) {
  index_.clear();
  bytes_ = 0;
  for (const auto& [ts, size] : index) {
    index_.push_back({ts, size});
    bytes_ += size;
  }
  if (index_.empty()) {
    // Every message was removed: Channels.maxseq remembers the last sequence.
    first_ = max_seq == 0 ? 0 : max_seq + 1;
    last_ = max_seq;
  } else {
    first_ = first;
    last_ = first + index_.size() - 1;
  }
  deleted_up_to_ = first_ == 0 ? 0 : first_ - 1;
}

Status SqlMsgStore::ApplyLimits(int64_t now_ns) {
  const int64_t max_msgs = limits_.max_msgs;
  const int64_t max_bytes = limits_.max_bytes;
  while (index_.size() > 1 && ((max_msgs > 0 && index_.size() > static_cast<uint64_t>(max_msgs)) ||
                               (max_bytes > 0 && bytes_ > static_cast<uint64_t>(max_bytes)))) {
    DropFirst();
  }
  if (Status s = DeleteRemoved(); !s) return s;
  return ExpireMessages(now_ns).status();
}

void SqlMsgStore::DropFirst() {
  bytes_ -= index_.front().size;
  index_.pop_front();
  ++first_;
  while (!unflushed_.empty() && unflushed_.front().seq < first_) unflushed_.pop_front();
  while (!recent_.empty() && recent_.front().seq < first_) {
    recent_bytes_ -= recent_.front().record->size();
    recent_.pop_front();
  }
}

Status SqlMsgStore::Store(uint64_t seq, int64_t timestamp_ns, std::string_view record) {
  if (closed_) return Status(Code::kClosed, "store closed");
  if (seq <= last_) return Status::Ok();  // already stored (a replay)
  if (last_ != 0 && seq != last_ + 1) {
    return Status(Code::kInvalid, Format("sequence %llu after %llu: sequences must be contiguous",
                                         static_cast<unsigned long long>(seq),
                                         static_cast<unsigned long long>(last_)));
  }
  if (record.size() > UINT32_MAX) return Status(Code::kInvalid, "message too large");
  Kept k{seq, timestamp_ns, std::make_shared<const std::string>(record)};
  if (opts_.no_caching) {
    auto r = db_.Exec(Stmt::kStoreMsg,
                      {Param::Int(channel_id_), Param::Uint(seq), Param::Int(timestamp_ns),
                       Param::Int(static_cast<int64_t>(record.size())), Param::Blob(record)});
    if (!r.ok()) return r.status();
    KeepRecent(std::move(k));
  } else {
    unflushed_.push_back(std::move(k));
  }
  if (index_.empty()) first_ = seq;
  index_.push_back({timestamp_ns, static_cast<uint32_t>(record.size())});
  last_ = seq;
  bytes_ += record.size();

  // Limits: drop the oldest, always keeping the message just stored.
  const int64_t max_msgs = limits_.max_msgs;
  const int64_t max_bytes = limits_.max_bytes;
  bool dropped = false;
  while (index_.size() > 1 && ((max_msgs > 0 && index_.size() > static_cast<uint64_t>(max_msgs)) ||
                               (max_bytes > 0 && bytes_ > static_cast<uint64_t>(max_bytes)))) {
    DropFirst();
    dropped = true;
    if (!hit_limit_) {
      hit_limit_ = true;
      STAN_INFO(
          "WARNING: Reached limits for store \"%s\" (msgs=%zu/%lld bytes=%s/%s), dropping old "
          "messages to make room for new ones",
          channel_.c_str(), index_.size(), static_cast<long long>(max_msgs),
          FriendlyBytes(static_cast<int64_t>(bytes_)).c_str(), FriendlyBytes(max_bytes).c_str());
    }
  }
  if (dropped && opts_.no_caching) return DeleteRemoved();
  return Status::Ok();
}

void SqlMsgStore::KeepRecent(Kept k) {
  recent_bytes_ += k.record->size();
  recent_.push_back(std::move(k));
  while (recent_.size() > kRecentMaxMsgs ||
         (recent_bytes_ > kRecentMaxBytes && recent_.size() > 1)) {
    recent_bytes_ -= recent_.front().record->size();
    recent_.pop_front();
  }
}

Status SqlMsgStore::DeleteRemoved() {
  if (first_ == 0 || first_ - 1 <= deleted_up_to_) return Status::Ok();
  auto r = db_.Exec(Stmt::kDeleteMsgsUpTo, {Param::Int(channel_id_), Param::Uint(first_ - 1)});
  if (!r.ok()) return r.status();
  deleted_up_to_ = first_ - 1;
  return Status::Ok();
}

Status SqlMsgStore::InsertUnflushed(SqlDb& db, bool retrying) {
  // A retry after a lost connection: the COMMIT may have happened before the loss.
  uint64_t committed = 0;
  if (retrying) {
    const Param id[] = {Param::Int(channel_id_)};
    auto r = db.ExecOnce(Stmt::kMaxSeq, id);
    if (!r.ok()) return r.status();
    committed = r->rows.Uint(0, 0);
  }
  std::vector<const Kept*> todo;
  todo.reserve(unflushed_.size());
  for (const Kept& k : unflushed_) {
    if (k.seq > committed) todo.push_back(&k);
  }
  size_t i = 0;
  auto params_of = [&](const Kept& k, std::vector<Param>& out) {
    out.push_back(Param::Int(channel_id_));
    out.push_back(Param::Uint(k.seq));
    out.push_back(Param::Int(k.timestamp));
    out.push_back(Param::Int(static_cast<int64_t>(k.record->size())));
    out.push_back(Param::Blob(*k.record));
  };
  std::vector<Param> params;
  // Multi-row INSERTs in power-of-two sizes up to the limit, so that few statements are
  // prepared whatever the batch's size.
  if (opts_.bulk_insert_limit > 1) {
    while (todo.size() - i > 1) {
      int rows = 1;
      while (rows * 2 <= opts_.bulk_insert_limit &&
             2 * static_cast<size_t>(rows) <= todo.size() - i) {
        rows *= 2;
      }
      if (rows == 1) break;
      if (Status s = db.PrepareBulk(rows); !s) return s;
      params.clear();
      for (int r = 0; r < rows; ++r) params_of(*todo[i + static_cast<size_t>(r)], params);
      auto res = db.conn().Exec(sql::BulkInsertName(rows), params);
      if (!res.ok()) {
        return Status(res.status().code(), "sql: error executing bulk insert of " +
                                               std::to_string(rows) +
                                               " messages: " + res.status().message());
      }
      i += static_cast<size_t>(rows);
    }
  }
  for (; i < todo.size(); ++i) {
    params.clear();
    params_of(*todo[i], params);
    if (auto r = db.ExecOnce(Stmt::kStoreMsg, params); !r.ok()) return r.status();
  }
  // Messages removed by limits since the last flush.
  if (first_ > 0 && first_ - 1 > deleted_up_to_) {
    const Param del[] = {Param::Int(channel_id_), Param::Uint(first_ - 1)};
    if (auto r = db.ExecOnce(Stmt::kDeleteMsgsUpTo, del); !r.ok()) return r.status();
  }
  return Status::Ok();
}

Status SqlMsgStore::FlushOn(SqlDb& db) {
  if (closed_) return Status::Ok();
  if (unflushed_.empty()) return &db == &db_ ? DeleteRemoved() : Status::Ok();
  // After a failed flush (this one's earlier attempt, or an earlier flush that gave up), a
  // COMMIT cut off by the connection's loss may have happened: the insert checks first.
  int attempt = 0;
  Status s = db.Retry("flush", [&] {
    const bool retrying = attempt++ > 0 || flush_failed_;
    return db.Transaction([&] { return InsertUnflushed(db, retrying); });
  });
  flush_failed_ = !s.ok();
  if (!s) return s;
  if (first_ > 0) deleted_up_to_ = std::max(deleted_up_to_, first_ - 1);
  while (!unflushed_.empty()) {
    KeepRecent(std::move(unflushed_.front()));
    unflushed_.pop_front();
  }
  return Status::Ok();
}

Result<MsgRef> SqlMsgStore::Lookup(uint64_t seq) {
  if (index_.empty() || seq < first_ || seq > last_) return MsgRef{};
  auto from = [&](const std::deque<Kept>& d) -> const Kept* {
    if (d.empty() || seq < d.front().seq || seq > d.back().seq) return nullptr;
    const Kept& k = d[seq - d.front().seq];
    return k.seq == seq ? &k : nullptr;
  };
  const Kept* k = from(unflushed_);
  if (!k) k = from(recent_);
  if (!k) k = from(ahead_);
  if (!k) {
    if (Status s = ReadAhead(seq); !s) return s;
    k = from(ahead_);
  }
  MsgRef ref;
  if (k) {
    ref.seq = seq;
    ref.timestamp = k->timestamp;
    ref.record = *k->record;
    ref.keep = k->record;
    return ref;
  }
  auto r = db_.Exec(Stmt::kLookupMsg, {Param::Int(channel_id_), Param::Uint(seq)});
  if (!r.ok()) return r.status();
  if (r->rows.empty()) return MsgRef{};
  auto bytes = std::make_shared<const std::string>(r->rows.Bytes(0, 1));
  ref.seq = seq;
  ref.timestamp = r->rows.Int(0, 0);
  ref.record = *bytes;
  ref.keep = bytes;
  return ref;
}

Result<uint64_t> SqlMsgStore::GetSequenceFromTimestamp(int64_t timestamp_ns) {
  if (last_ == 0) return uint64_t{0};
  if (index_.empty()) return last_ + 1;
  if (index_.front().timestamp >= timestamp_ns) return first_;
  if (timestamp_ns > index_.back().timestamp) return last_ + 1;
  auto it = std::lower_bound(index_.begin(), index_.end(), timestamp_ns,
                             [](const Entry& e, int64_t ts) { return e.timestamp < ts; });
  return first_ + static_cast<uint64_t>(it - index_.begin());
}

Result<int64_t> SqlMsgStore::ExpireMessages(int64_t now_ns) {
  const int64_t max_age = limits_.max_age.count();
  if (max_age <= 0) return int64_t{0};
  bool removed = false;
  while (!index_.empty() && now_ns - index_.front().timestamp >= max_age) {
    DropFirst();
    removed = true;
  }
  if (removed) {
    if (index_.empty()) {
      // The sequence must survive a restart with no message left.
      auto r = db_.Exec(Stmt::kUpdateChannelMaxSeq, {Param::Uint(last_), Param::Int(channel_id_)});
      if (!r.ok()) return r.status();
    }
    if (Status s = DeleteRemoved(); !s) return s;
  }
  if (index_.empty()) return int64_t{0};
  return index_.front().timestamp + max_age;
}

Status SqlMsgStore::ReadAhead(uint64_t seq) {
  ahead_.clear();
  // Not past what was inserted: the unflushed messages are served from memory.
  uint64_t to = std::min(last_, seq + kReadAheadMsgs - 1);
  if (!unflushed_.empty()) to = std::min(to, unflushed_.front().seq - 1);
  if (to < seq) return Status::Ok();
  auto r =
      db_.Exec(Stmt::kLookupMsgs, {Param::Int(channel_id_), Param::Uint(seq), Param::Uint(to)});
  if (!r.ok()) return r.status();
  size_t bytes = 0;
  for (size_t i = 0; i < r->rows.size(); ++i) {
    const uint64_t s = r->rows.Uint(i, 0);
    // Contiguous only (Lookup indexes ahead_ by offset); a hole ends the run.
    if (!ahead_.empty() && s != ahead_.back().seq + 1) break;
    if (ahead_.empty() && s != seq) break;
    auto data = std::make_shared<const std::string>(r->rows.Bytes(i, 2));
    bytes += data->size();
    ahead_.push_back(Kept{s, r->rows.Int(i, 1), std::move(data)});
    if (bytes >= kReadAheadBytes) break;
  }
  return Status::Ok();
}

Status SqlMsgStore::Empty() {
  auto r = db_.Exec(Stmt::kUpdateChannelMaxSeq, {Param::Uint(last_), Param::Int(channel_id_)});
  if (!r.ok()) return r.status();
  index_.clear();
  unflushed_.clear();
  recent_.clear();
  ahead_.clear();
  recent_bytes_ = 0;
  bytes_ = 0;
  first_ = last_ + 1;
  hit_limit_ = false;
  return DeleteRemoved();
}

Status SqlMsgStore::TruncateAfter(uint64_t seq) {
  if (closed_) return Status(Code::kClosed, "store closed");
  if (seq >= last_) return Status::Ok();
  // The rows after `seq` go (those of an earlier flush that failed included) and Channels.maxseq
  // becomes `seq`, in one transaction: with no message left, recovery takes the last sequence
  // from maxseq, which an earlier Empty or expiry may have set past `seq`.
  Status s = db_.Retry("truncate", [&] {
    return db_.Transaction([&] {
      const Param del[] = {Param::Int(channel_id_), Param::Uint(seq)};
      if (auto r = db_.ExecOnce(Stmt::kDeleteMsgsAfter, del); !r.ok()) return r.status();
      const Param max[] = {Param::Uint(seq), Param::Int(channel_id_)};
      if (auto r = db_.ExecOnce(Stmt::kUpdateChannelMaxSeq, max); !r.ok()) return r.status();
      return Status::Ok();
    });
  });
  if (!s) return s;
  auto cut = [seq](std::deque<Kept>& d) {
    while (!d.empty() && d.back().seq > seq) d.pop_back();
  };
  cut(unflushed_);
  cut(ahead_);
  while (!recent_.empty() && recent_.back().seq > seq) {
    recent_bytes_ -= recent_.back().record->size();
    recent_.pop_back();
  }
  while (!index_.empty() && first_ + index_.size() - 1 > seq) {
    bytes_ -= index_.back().size;
    index_.pop_back();
  }
  last_ = seq;
  if (index_.empty()) first_ = seq == 0 ? 0 : seq + 1;
  // The database holds nothing past `seq` now: removals by limits below it are still owed.
  deleted_up_to_ = std::min(deleted_up_to_, seq);
  return Status::Ok();
}

Status SqlMsgStore::Close() {
  if (closed_) return Status::Ok();
  Status s = Flush();
  closed_ = true;
  index_.clear();
  unflushed_.clear();
  recent_.clear();
  ahead_.clear();
  return s;
}

// ---- SqlSubStore ----

SqlSubStore::SqlSubStore(SqlDb& db, const SqlStoreOptions& opts, int64_t channel_id,
                         const ChannelLimits& limits, uint64_t* max_sub_id, uint64_t* next_row)
    : db_(db),
      opts_(opts),
      channel_id_(channel_id),
      max_subs_(limits.max_subscriptions),
      max_sub_id_(max_sub_id),
      next_row_(next_row) {}

void SqlSubStore::Recovered(uint64_t sub_id, uint64_t last_sent,
                            const std::vector<uint64_t>& pending) {
  Pending& p = subs_[sub_id];
  p.seqs.insert(pending.begin(), pending.end());
  p.last_sent = p.stored_last_sent = last_sent;
}

Status SqlSubStore::CreateSub(SubState& sub) {
  if (closed_) return Status(Code::kClosed, "store closed");
  if (max_subs_ > 0 && subs_.size() >= static_cast<size_t>(max_subs_)) {
    return Status::TooManySubs();
  }
  sub.id = *max_sub_id_ + 1;
  const std::string proto = EncodeSubState(sub);
  auto r = db_.Exec(Stmt::kCreateSub,
                    {Param::Int(channel_id_), Param::Uint(sub.id), Param::Blob(proto)});
  if (!r.ok()) {
    sub.id = 0;
    return r.status();
  }
  *max_sub_id_ = sub.id;
  subs_[sub.id].last_sent = sub.last_sent;
  if (has_marked_deleted_) {
    auto d = db_.Exec(Stmt::kDeleteSubsMarkedDeleted, {Param::Int(channel_id_)});
    if (!d.ok()) return d.status();
    has_marked_deleted_ = false;
  }
  return Status::Ok();
}

Status SqlSubStore::UpdateSub(const SubState& sub) {
  if (closed_) return Status(Code::kClosed, "store closed");
  const std::string proto = EncodeSubState(sub);
  auto r = db_.Exec(Stmt::kUpdateSub,
                    {Param::Blob(proto), Param::Int(channel_id_), Param::Uint(sub.id)});
  if (!r.ok()) return r.status();
  if (r->affected == 0) {
    auto c = db_.Exec(Stmt::kCreateSub,
                      {Param::Int(channel_id_), Param::Uint(sub.id), Param::Blob(proto)});
    if (!c.ok()) return c.status();
    // A subscription recorded with an id given (a clustered follower applies the leader's
    // ids): ids handed out later start past it.
    *max_sub_id_ = std::max(*max_sub_id_, sub.id);
  }
  subs_[sub.id];
  return Status::Ok();
}

Status SqlSubStore::DeleteSub(uint64_t sub_id) {
  if (closed_) return Status(Code::kClosed, "store closed");
  // The row of the highest id stays (marked) until the next CreateSub, so that a restart does
  // not hand that id out again.
  const bool mark = sub_id == *max_sub_id_;
  auto r = db_.Exec(mark ? Stmt::kMarkSubDeleted : Stmt::kDeleteSub,
                    {Param::Int(channel_id_), Param::Uint(sub_id)});
  if (!r.ok()) return r.status();
  if (mark) has_marked_deleted_ = true;
  subs_.erase(sub_id);
  auto p = db_.Exec(Stmt::kDeleteSubPending, {Param::Uint(sub_id)});
  return p.ok() ? Status::Ok() : p.status();
}

Status SqlSubStore::AddSeqPending(uint64_t sub_id, uint64_t seq) {
  if (closed_) return Status::Ok();
  Pending& p = subs_[sub_id];
  p.seqs.insert(seq);
  p.last_sent = std::max(p.last_sent, seq);
  if (!opts_.no_caching) {
    p.dirty = true;
    return Status::Ok();
  }
  auto r = db_.Exec(Stmt::kSubAddPendingSeq,
                    {Param::Uint(sub_id), Param::Uint((*next_row_)++), Param::Uint(seq)});
  return r.ok() ? Status::Ok() : r.status();
}

Status SqlSubStore::AckSeqPending(uint64_t sub_id, uint64_t seq) {
  if (closed_) return Status::Ok();
  auto it = subs_.find(sub_id);
  if (it == subs_.end()) return Status::Ok();
  Pending& p = it->second;
  p.seqs.erase(seq);
  if (!opts_.no_caching) {
    p.dirty = true;
    return Status::Ok();
  }
  if (p.last_sent != p.stored_last_sent) {
    // Its pending row goes: the subscription's row keeps the last sequence sent.
    auto u = db_.Exec(Stmt::kSubUpdateLastSent,
                      {Param::Uint(p.last_sent), Param::Int(channel_id_), Param::Uint(sub_id)});
    if (!u.ok()) return u.status();
    p.stored_last_sent = p.last_sent;
  }
  auto r = db_.Exec(Stmt::kSubDeletePendingSeq, {Param::Uint(sub_id), Param::Uint(seq)});
  return r.ok() ? Status::Ok() : r.status();
}

Status SqlSubStore::Flush() {
  if (closed_ || opts_.no_caching) return Status::Ok();
  std::vector<uint64_t> dirty;
  for (const auto& [id, p] : subs_) {
    if (p.dirty) dirty.push_back(id);
  }
  if (dirty.empty()) return Status::Ok();
  // Each dirty subscription's pending set is written again as one row: rerunning after a lost
  // connection writes the same state.
  Status s = db_.Retry("subscriptions flush", [&] {
    return db_.Transaction([&]() -> Status {
      for (uint64_t id : dirty) {
        const Pending& p = subs_[id];
        const Param del[] = {Param::Uint(id)};
        if (auto r = db_.ExecOnce(Stmt::kDeleteSubPending, del); !r.ok()) return r.status();
        if (!p.seqs.empty()) {
          const std::string seqs = sql::FormatSeqArray(p.seqs);
          const Param add[] = {Param::Uint(id), Param::Uint((*next_row_)++),
                               Param::Uint(p.last_sent), Param::Blob(seqs), Param::Null()};
          if (auto r = db_.ExecOnce(Stmt::kSubAddPendingRow, add); !r.ok()) return r.status();
        }
        if (p.last_sent != p.stored_last_sent) {
          const Param upd[] = {Param::Uint(p.last_sent), Param::Int(channel_id_), Param::Uint(id)};
          if (auto r = db_.ExecOnce(Stmt::kSubUpdateLastSent, upd); !r.ok()) return r.status();
        }
      }
      return Status::Ok();
    });
  });
  if (!s) return s;
  for (uint64_t id : dirty) {
    Pending& p = subs_[id];
    p.dirty = false;
    p.stored_last_sent = p.last_sent;
  }
  return Status::Ok();
}

Status SqlSubStore::Close() {
  if (closed_) return Status::Ok();
  Status s = Flush();
  closed_ = true;
  return s;
}

}  // namespace gannet::streaming::store
