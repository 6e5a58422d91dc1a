// One channel's messages in the FILE store: writing, reading, limits (see file_msg_store.h;
// recovery is in file_msg_recovery.cc).
#include "streaming/store/file_msg_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "streaming/log.h"
#include "streaming/store/limits.h"

namespace gannet::streaming::store::file {

namespace {

constexpr size_t kBlockSize = size_t{1} << 20;
constexpr size_t kIndexReadAhead = 1024;  // entries read at once when reads are sequential
constexpr size_t kMinRandomRead = 4096;

std::string Seq(uint64_t v) { return std::to_string(v); }

}  // namespace

void FileMsgStore::CacheRing::push_back(const Cached& c) {
  if (size_ == buf_.size()) {
    std::vector<Cached> bigger(std::max<size_t>(1024, buf_.size() * 2));
    for (size_t i = 0; i < size_; ++i) bigger[i] = (*this)[i];
    buf_.swap(bigger);
    head_ = 0;
  }
  buf_[(head_ + size_) & (buf_.size() - 1)] = c;
  ++size_;
}

FileMsgStore::FileMsgStore(const FileContext& ctx, std::string channel, std::string dir,
                           const ChannelLimits& limits)
    : ctx_(ctx),
      channel_(std::move(channel)),
      dir_(std::move(dir)),
      limits_(limits),
      cache_limit_(std::max<size_t>(
          kBlockSize, static_cast<size_t>(std::max<int64_t>(0, ctx.opts.buffer_size)))) {
  SetSliceLimits();
}

FileMsgStore::~FileMsgStore() { Close(); }

void FileMsgStore::SetSliceLimits() {
  // The slice options first; when none is set, a quarter of the channel's limits (so that
  // dropping old messages frees whole slices), as the reference.
  slice_max_msgs_ = ctx_.opts.slice_max_msgs;
  slice_max_bytes_ = static_cast<uint64_t>(std::max<int64_t>(0, ctx_.opts.slice_max_bytes));
  slice_max_age_ = ctx_.opts.slice_max_age.count();
  if (slice_max_msgs_ > 0 || slice_max_bytes_ > 0 || slice_max_age_ > 0) return;
  if (limits_.max_msgs > 0) slice_max_msgs_ = std::max<int64_t>(1, limits_.max_msgs / 4);
  if (limits_.max_bytes > 0) {
    slice_max_bytes_ = std::max<uint64_t>(1, static_cast<uint64_t>(limits_.max_bytes) / 4);
  }
  if (limits_.max_age.count() > 0) {
    slice_max_age_ = std::max<int64_t>(limits_.max_age.count() / 4, 1000000000);
  }
}

std::string FileMsgStore::SlicePath(int64_t fseq, bool index) const {
  return JoinPath(dir_, index ? IdxFileName(fseq) : DatFileName(fseq));
}

size_t FileMsgStore::SliceCount() const {
  std::lock_guard lk(mu_);
  return slices_.size();
}

uint64_t FileMsgStore::FirstSequence() const {
  std::lock_guard lk(mu_);
  return first_;
}

uint64_t FileMsgStore::LastSequence() const {
  std::lock_guard lk(mu_);
  return last_;
}

MsgStoreState FileMsgStore::State() const {
  std::lock_guard lk(mu_);
  return {total_count_, total_bytes_};
}

// ---- writing ----

bool FileMsgStore::SliceFull(const Slice& s, int64_t now_ns) const {
  return (slice_max_bytes_ > 0 && s.msgs_size >= slice_max_bytes_) ||
         (slice_max_msgs_ > 0 && s.msgs_count >= slice_max_msgs_) ||
         (slice_max_age_ > 0 && s.first_write != 0 && now_ns - s.first_write >= slice_max_age_);
}

char* FileMsgStore::AppendToBlocks(size_t size) {
  if (blocks_.empty() || blocks_.back().capacity - blocks_.back().used < size) {
    Block b;
    b.capacity = std::max(kBlockSize, size);
    b.data.reset(new char[b.capacity]);
    blocks_.push_back(std::move(b));
  }
  Block& b = blocks_.back();
  char* at = b.data.get() + b.used;
  b.used += size;
  ++b.entries;
  blocks_bytes_ += size;
  unwritten_ += size;
  return at;
}

void FileMsgStore::EvictCache() {
  while (blocks_bytes_ > cache_limit_ && blocks_.size() > 1 &&
         blocks_.front().written == blocks_.front().used) {
    Block& b = blocks_.front();
    for (uint32_t i = 0; i < b.entries && !cache_.empty(); ++i) {
      cache_.pop_front();
      ++cache_first_;
    }
    blocks_bytes_ -= b.used;
    blocks_.pop_front();
  }
}

void FileMsgStore::AddSyncFile(const std::shared_ptr<File>& f) {
  for (const auto& g : sync_files_) {
    if (g == f) return;
  }
  sync_files_.push_back(f);
}

// What Store changed, for an unbuffered write that fails.
struct FileMsgStore::Undo {
  uint64_t first, last, count, bytes;
  int64_t slice_count, slice_first_write;
  uint64_t slice_size, slice_first, slice_last, slice_idx_first;
};

Status FileMsgStore::Store(uint64_t seq, int64_t timestamp_ns, std::string_view record) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  if (last_ != 0 && seq <= last_) return Status::Ok();  // already stored (a replay)
  if (last_ != 0 && seq != last_ + 1) {
    return Status(Code::kInvalid, "sequence " + Seq(seq) + " after " + Seq(last_) +
                                      ": sequences must be contiguous");
  }
  if (record.size() > UINT32_MAX - kRecordHeaderSize) {
    return Status(Code::kInvalid, "message too large");
  }
  EvictCache();
  const size_t rec_size = kRecordHeaderSize + record.size();
  // A buffered store writes what it holds before the buffer would overflow, so that a failed
  // write leaves this message out (the server reports the error and reuses the sequence).
  const bool buffered = ctx_.opts.buffer_size > 0;
  if (buffered && unwritten_ > 0 &&
      unwritten_ + rec_size > static_cast<size_t>(ctx_.opts.buffer_size)) {
    if (Status s = WritePendingLocked(); !s) return s;
  }
  if (slices_.empty() || SliceFull(slices_.back(), timestamp_ns)) {
    if (Status s = StartSlice(); !s) return s;
  }
  Slice& s = slices_.back();
  const Undo undo{first_,        last_,       total_count_, total_bytes_, s.msgs_count,
                  s.first_write, s.msgs_size, s.first_seq,  s.last_seq,   s.idx_first_seq};

  const auto size = static_cast<uint32_t>(record.size());
  const int64_t offset = s.dat_size + static_cast<int64_t>(unwritten_);
  char* at = AppendToBlocks(rec_size);
  EncodeRecordHeader(at, 0, size, ctx_.crc.Checksum(record));
  if (size > 0) std::memcpy(at + kRecordHeaderSize, record.data(), size);
  char entry[kIndexEntrySize];
  EncodeIndexEntry(entry, {seq, offset, timestamp_ns, size}, ctx_.crc);
  idx_pending_.append(entry, kIndexEntrySize);
  if (cache_.empty()) cache_first_ = seq;
  cache_.push_back({at + kRecordHeaderSize, size, timestamp_ns});

  const uint64_t counted = size + kMsgRecordOverhead;
  if (total_count_ == 0) first_ = seq;
  last_ = seq;
  ++total_count_;
  total_bytes_ += counted;
  if (s.msgs_count == 0) s.idx_first_seq = seq;
  ++s.msgs_count;
  s.msgs_size += counted;
  if (s.first_write == 0) s.first_write = timestamp_ns;
  if (s.msgs_count - s.rm_count == 1) s.first_seq = seq;
  s.last_seq = seq;

  if (!buffered) {
    if (Status st = WritePendingLocked(); !st) {
      // Take the message back out: the server reports the error and reuses the sequence.
      Block& b = blocks_.back();
      b.used -= rec_size;
      --b.entries;
      blocks_bytes_ -= rec_size;
      unwritten_ -= rec_size;
      idx_pending_.resize(idx_pending_.size() - kIndexEntrySize);
      cache_.pop_back();
      first_ = undo.first;
      last_ = undo.last;
      total_count_ = undo.count;
      total_bytes_ = undo.bytes;
      s.msgs_count = undo.slice_count;
      s.first_write = undo.slice_first_write;
      s.msgs_size = undo.slice_size;
      s.first_seq = undo.slice_first;
      s.last_seq = undo.slice_last;
      s.idx_first_seq = undo.slice_idx_first;
      return st;
    }
  }
  if (limits_.max_msgs > 0 || limits_.max_bytes > 0) EnforceLimits(true);
  return Status::Ok();
}

Status FileMsgStore::StartSlice() {
  if (!slices_.empty()) {
    // The closing slice's messages go to its files now; the next sync covers them (its
    // handles stay in sync_files_ until then).
    if (Status s = WritePendingLocked(); !s) return s;
  }
  const int64_t fseq = (slices_.empty() ? last_fseq_ : slices_.back().fseq) + 1;
  bool dat_created = false;
  auto dat = File::OpenVersioned(SlicePath(fseq, false), true, &dat_created);
  if (!dat) return dat.status();
  auto idx = File::OpenVersioned(SlicePath(fseq, true), true);
  if (!idx) {
    if (dat_created) ::unlink(SlicePath(fseq, false).c_str());
    return idx.status();
  }
  Slice s;
  s.fseq = fseq;
  s.dat = std::move(dat).value();
  s.idx = std::move(idx).value();
  auto dsize = s.dat->Size();
  if (!dsize) return dsize.status();
  auto isize = s.idx->Size();
  if (!isize) return isize.status();
  s.dat_size = *dsize;
  s.idx_size = *isize;
  // New directory entries: the next sync includes the directory.
  if (!dir_handle_) {
    auto d = File::OpenDir(dir_);
    if (!d) return d.status();
    dir_handle_ = std::move(d).value();
  }
  AddSyncFile(dir_handle_);
  AddSyncFile(s.dat);
  AddSyncFile(s.idx);
  ++write_gen_;
  if (!slices_.empty()) {
    Slice& prev = slices_.back();
    // The previous write slice is now read-only: closed until a read needs it.
    if (read_slice_ != prev.fseq) {
      prev.dat.reset();
      prev.idx.reset();
    }
  }
  last_fseq_ = fseq;
  slices_.push_back(std::move(s));
  // A first slice kept only because it was the last one goes now.
  if (slices_.size() == 2 && !slices_.front().live()) RemoveFirstSlice();
  return Status::Ok();
}

Status FileMsgStore::WritePending() {
  std::lock_guard lk(mu_);
  return WritePendingLocked();
}

Status FileMsgStore::WritePendingLocked() {
  if (unwritten_ == 0 && idx_pending_.empty()) return Status::Ok();
  Slice& s = slices_.back();
  if (Status st = OpenSlice(s); !st) return st;
  if (unwritten_ > 0) {
    // The unwritten bytes are the tails of the last blocks.
    size_t first = blocks_.size();
    while (first > 0 && blocks_[first - 1].written < blocks_[first - 1].used) --first;
    std::vector<struct iovec> iov;
    iov.reserve(blocks_.size() - first);
    for (size_t i = first; i < blocks_.size(); ++i) {
      Block& b = blocks_[i];
      iov.push_back({b.data.get() + b.written, b.used - b.written});
    }
    Status st = s.dat->WriteVAt(iov.data(), static_cast<int>(iov.size()), s.dat_size);
    if (!st) {
      (void)s.dat->Truncate(s.dat_size);  // best effort: no partial record left behind
      return st;
    }
  }
  if (Status st = s.idx->WriteAt(idx_pending_.data(), idx_pending_.size(), s.idx_size); !st) {
    (void)s.idx->Truncate(s.idx_size);
    (void)s.dat->Truncate(s.dat_size);
    return st;
  }
  for (size_t i = blocks_.size(); i > 0 && blocks_[i - 1].written < blocks_[i - 1].used; --i) {
    blocks_[i - 1].written = blocks_[i - 1].used;
  }
  s.dat_size += static_cast<int64_t>(unwritten_);
  s.idx_size += static_cast<int64_t>(idx_pending_.size());
  unwritten_ = 0;
  idx_pending_.clear();
  ++write_gen_;
  AddSyncFile(s.dat);
  AddSyncFile(s.idx);
  return Status::Ok();
}

void FileMsgStore::CollectSync(SyncTargets& out) {
  std::lock_guard lk(mu_);
  if (synced_gen_ == write_gen_) return;
  out.files.insert(out.files.end(), sync_files_.begin(), sync_files_.end());
  out.generation = write_gen_;
}

void FileMsgStore::SyncDone(uint64_t generation) {
  std::lock_guard lk(mu_);
  synced_gen_ = std::max(synced_gen_, generation);
  if (synced_gen_ == write_gen_) {
    sync_files_.clear();
    // Keep the write slice's handles listed: cheap, and the next write adds them anyway.
  }
}

Status FileMsgStore::SyncNow() {
  // Caller holds mu_; used by Flush and Close on this store alone.
  if (synced_gen_ == write_gen_) return Status::Ok();
  for (const auto& f : sync_files_) {
    if (Status s = f->SyncData(); !s) return s;
  }
  synced_gen_ = write_gen_;
  sync_files_.clear();
  return Status::Ok();
}

Status FileMsgStore::Flush() {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  if (Status s = WritePendingLocked(); !s) return s;
  if (!ctx_.opts.do_sync) return Status::Ok();
  return SyncNow();
}

// ---- limits ----

void FileMsgStore::EnforceLimits(bool warn) {
  const int64_t max_msgs = limits_.max_msgs;
  const int64_t max_bytes = limits_.max_bytes;
  while (total_count_ > 1 && ((max_msgs > 0 && total_count_ > static_cast<uint64_t>(max_msgs)) ||
                              (max_bytes > 0 && total_bytes_ > static_cast<uint64_t>(max_bytes)))) {
    RemoveFirst();
    if (warn && !hit_limit_) {
      hit_limit_ = true;
      STAN_INFO(
          "WARNING: Reached limits for store \"%s\" (msgs=%llu/%lld bytes=%s/%s), dropping old "
          "messages to make room for new ones",
          channel_.c_str(), static_cast<unsigned long long>(total_count_),
          static_cast<long long>(max_msgs),
          FriendlyBytes(static_cast<int64_t>(total_bytes_)).c_str(),
          FriendlyBytes(max_bytes).c_str());
    }
  }
}

void FileMsgStore::RemoveFirst() {
  Slice* s = &slices_.front();
  // A gap between slices (a slice truncated at recovery): continue at the next message kept.
  while (!s->live() && slices_.size() > 1) {
    RemoveFirstSlice();
    s = &slices_.front();
  }
  if (first_ < s->first_seq) first_ = s->first_seq;
  uint64_t size = 0;
  if (const Cached* c = FromCache(first_)) {
    size = c->size;
  } else {
    auto e = ReadIndexEntry(*s, first_, front_idx_);
    if (e) {
      size = e->size;
    } else if (!warned_index_error_) {
      warned_index_error_ = true;
      STAN_ERROR("Unable to read the index of message %llu of channel \"%s\": %s",
                 static_cast<unsigned long long>(first_), channel_.c_str(),
                 e.status().message().c_str());
    }
  }
  const uint64_t counted = size + kMsgRecordOverhead;
  ++s->rm_count;
  --total_count_;
  total_bytes_ -= std::min(total_bytes_, counted);
  ++first_;
  if (!s->live() && slices_.size() > 1) {
    RemoveFirstSlice();
  } else {
    s->first_seq = first_;
  }
}

void FileMsgStore::RemoveFirstSlice() {
  Slice s = std::move(slices_.front());
  slices_.pop_front();
  if (lookup_idx_.fseq == s.fseq) lookup_idx_.fseq = 0;
  if (front_idx_.fseq == s.fseq) front_idx_.fseq = 0;
  if (dat_rb_fseq_ == s.fseq) dat_rb_fseq_ = 0;
  if (read_slice_ == s.fseq) read_slice_ = 0;
  s.dat.reset();
  s.idx.reset();
  const std::string dat = SlicePath(s.fseq, false);
  const std::string idx = SlicePath(s.fseq, true);
  if (ctx_.archive.enabled()) {
    const std::string dat_bak = dat + kBakSuffix;
    const std::string idx_bak = idx + kBakSuffix;
    if (::rename(dat.c_str(), dat_bak.c_str()) == 0) {
      if (::rename(idx.c_str(), idx_bak.c_str()) == 0) {
        ctx_.archive.Run(channel_, dat_bak, idx_bak);
        return;
      }
      ::unlink(dat_bak.c_str());
    }
  }
  ::unlink(dat.c_str());
  ::unlink(idx.c_str());
}

Result<int64_t> FileMsgStore::ExpireMessages(int64_t now_ns) {
  std::lock_guard lk(mu_);
  const int64_t max_age = limits_.max_age.count();
  if (max_age <= 0 || closed_) return int64_t{0};
  while (total_count_ > 0) {
    if (first_ < slices_.front().first_seq) first_ = slices_.front().first_seq;
    auto ts = TimestampOf(first_);
    if (!ts) return ts.status();
    if (now_ns - *ts < max_age) return *ts + max_age;
    RemoveFirst();
  }
  return int64_t{0};
}

Status FileMsgStore::Empty() {
  std::lock_guard lk(mu_);
  Status result;
  for (Slice& s : slices_) {
    s.dat.reset();
    s.idx.reset();
    for (bool index : {false, true}) {
      const std::string p = SlicePath(s.fseq, index);
      if (::unlink(p.c_str()) != 0 && errno != ENOENT && result.ok()) {
        result = IoError("remove", p, errno);
      }
    }
  }
  slices_.clear();
  blocks_.clear();
  blocks_bytes_ = 0;
  unwritten_ = 0;
  idx_pending_.clear();
  cache_.clear();
  sync_files_.clear();
  synced_gen_ = write_gen_;
  ResetReadBuffers();
  total_count_ = 0;
  total_bytes_ = 0;
  first_ = last_ + 1;
  last_fseq_ = 0;
  hit_limit_ = false;
  return result;
}

Status FileMsgStore::UncountEntries(Slice& s, uint64_t from, uint64_t to) {
  // The slice's first rm_count entries were removed by limits: uncounted already.
  const uint64_t live_from = s.idx_first_seq + static_cast<uint64_t>(s.rm_count);
  IndexReader r;
  r.last_read = from - 1;  // in order: read ahead
  for (uint64_t seq = from; seq <= to; ++seq) {
    auto e = ReadIndexEntry(s, seq, r);
    if (!e) return e.status();
    const uint64_t counted = e->size + kMsgRecordOverhead;
    s.msgs_size -= std::min(s.msgs_size, counted);
    if (seq >= live_from) {
      --total_count_;
      total_bytes_ -= std::min(total_bytes_, counted);
    }
  }
  return Status::Ok();
}

Status FileMsgStore::TruncateAfter(uint64_t seq) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  if (seq >= last_) return Status::Ok();
  // Everything on disk first: the cut then works on the files alone (no cached record, no
  // pending write, no read-ahead buffer of a cut part is kept).
  if (!slices_.empty()) {
    if (Status st = WritePendingLocked(); !st) return st;
  }
  blocks_.clear();
  blocks_bytes_ = 0;
  cache_.clear();
  ResetReadBuffers();
  std::vector<std::shared_ptr<File>> to_sync;
  bool removed_files = false;
  // Whole slices with no message kept at or below `seq`, newest first: a crash part-way leaves
  // a shorter prefix. Those whose first messages were removed by limits go too (recovery does
  // not know what limits removed, and would find them again). The index goes first: a data
  // file left without one is indexed again at recovery, while an index left without its data
  // file would be taken up by a new slice of that number.
  while (!slices_.empty() &&
         (slices_.back().msgs_count == 0 ||
          seq < slices_.back().idx_first_seq + static_cast<uint64_t>(slices_.back().rm_count))) {
    Slice& s = slices_.back();
    if (s.msgs_count > 0) {
      if (Status st = UncountEntries(s, s.idx_first_seq, s.last_seq); !st) return st;
    }
    s.dat.reset();
    s.idx.reset();
    for (bool index : {true, false}) {
      const std::string p = SlicePath(s.fseq, index);
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) return IoError("remove", p, errno);
    }
    removed_files = true;
    slices_.pop_back();
  }
  if (!slices_.empty() && slices_.back().last_seq > seq) {
    // The cut runs through this slice: the data file ends where message seq + 1 started, the
    // index after the entry of `seq`. The data first: an index longer than its data file is
    // rebuilt from the data at recovery, while records past the index would be indexed again.
    Slice& s = slices_.back();
    if (Status st = OpenSlice(s); !st) return st;
    IndexReader r;
    auto next = ReadIndexEntry(s, seq + 1, r);
    if (!next) return next.status();
    if (Status st = UncountEntries(s, seq + 1, s.last_seq); !st) return st;
    const auto kept = static_cast<int64_t>(seq + 1 - s.idx_first_seq);
    const int64_t idx_size = static_cast<int64_t>(kVersionSize + kept * kIndexEntrySize);
    if (Status st = s.dat->Truncate(next->offset); !st) return st;
    if (Status st = s.idx->Truncate(idx_size); !st) return st;
    s.dat_size = next->offset;
    s.idx_size = idx_size;
    s.msgs_count = kept;  // more than rm_count: the slice keeps a message
    s.last_seq = seq;
    to_sync = {s.dat, s.idx};
  }
  // Only the write slice stays open (OpenSlice opened the others for reads).
  for (size_t i = 0; i + 1 < slices_.size(); ++i) CloseReadSlice(slices_[i]);
  ResetReadBuffers();
  last_ = seq;
  if (total_count_ == 0) first_ = seq == 0 ? 0 : seq + 1;
  // Made durable now whatever file_sync says: the cut is rare, and the node that asks for it
  // (a cluster's deposed leader) must not find the cut tail again after an OS crash.
  if (removed_files) {
    if (Status st = SyncDir(dir_); !st) return st;
  }
  for (const auto& f : to_sync) {
    if (Status st = f->SyncData(); !st) return st;
  }
  return Status::Ok();
}

Status FileMsgStore::Close() {
  std::lock_guard lk(mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  Status s = slices_.empty() ? Status::Ok() : WritePendingLocked();
  if (s.ok() && ctx_.opts.do_sync) s = SyncNow();
  slices_.clear();
  blocks_.clear();
  cache_.clear();
  sync_files_.clear();
  dir_handle_.reset();
  ResetReadBuffers();
  return s;
}

// ---- reading ----

void FileMsgStore::ResetReadBuffers() {
  lookup_idx_ = IndexReader{};
  front_idx_ = IndexReader{};
  dat_rb_.reset();
  dat_rb_fseq_ = 0;
  read_slice_ = 0;
}

const FileMsgStore::Cached* FileMsgStore::FromCache(uint64_t seq) {
  if (cache_.empty() || seq < cache_first_ || seq - cache_first_ >= cache_.size()) return nullptr;
  return &cache_[static_cast<size_t>(seq - cache_first_)];
}

FileMsgStore::Slice* FileMsgStore::FindSlice(uint64_t seq) {
  // From the newest slice: most reads are of recent messages.
  for (auto it = slices_.rbegin(); it != slices_.rend(); ++it) {
    if (!it->live()) continue;
    if (seq > it->last_seq) return nullptr;
    if (seq >= it->first_seq) return &*it;
  }
  return nullptr;
}

Status FileMsgStore::OpenSlice(Slice& s) {
  if (s.dat && s.idx) return Status::Ok();
  const bool is_write = &s == &slices_.back();
  if (!is_write && read_slice_ != 0 && read_slice_ != s.fseq) {
    // One read-only slice open at a time per channel.
    for (Slice& o : slices_) {
      if (o.fseq == read_slice_ && &o != &slices_.back()) CloseReadSlice(o);
    }
  }
  auto dat = File::OpenVersioned(SlicePath(s.fseq, false), false);
  if (!dat) return dat.status();
  auto idx = File::OpenVersioned(SlicePath(s.fseq, true), false);
  if (!idx) return idx.status();
  s.dat = std::move(dat).value();
  s.idx = std::move(idx).value();
  if (!is_write) read_slice_ = s.fseq;
  return Status::Ok();
}

void FileMsgStore::CloseReadSlice(Slice& s) {
  s.dat.reset();
  s.idx.reset();
  if (read_slice_ == s.fseq) read_slice_ = 0;
}

Result<IndexEntry> FileMsgStore::ReadIndexEntry(Slice& s, uint64_t seq, IndexReader& r) {
  const std::string where = " of channel \"" + channel_ + "\"";
  if (seq < s.idx_first_seq) {
    return Status(Code::kCorrupt, "no index entry for message " + Seq(seq) + where);
  }
  const uint64_t pos = seq - s.idx_first_seq;
  const bool buffered =
      r.fseq == s.fseq && seq >= r.first && (seq - r.first + 1) * kIndexEntrySize <= r.bytes.size();
  if (!buffered) {
    const int64_t off = static_cast<int64_t>(kVersionSize + pos * kIndexEntrySize);
    if (off + static_cast<int64_t>(kIndexEntrySize) > s.idx_size) {
      return Status(Code::kCorrupt, "no index entry for message " + Seq(seq) + where);
    }
    const bool sequential = seq == r.last_read + 1 || &r == &front_idx_;
    const auto avail = static_cast<uint64_t>(s.idx_size - off) / kIndexEntrySize;
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(sequential ? kIndexReadAhead : 1, avail));
    if (Status st = OpenSlice(s); !st) return st;
    r.bytes.resize(n * kIndexEntrySize);
    auto got = s.idx->ReadAt(r.bytes.data(), r.bytes.size(), off);
    if (!got) {
      r.fseq = 0;
      return got.status();
    }
    r.bytes.resize(*got - *got % kIndexEntrySize);
    r.fseq = s.fseq;
    r.first = seq;
    if (r.bytes.empty()) {
      return Status(Code::kCorrupt, "unexpected EOF reading the index of message " + Seq(seq) +
                                        " in " + s.idx->path());
    }
  }
  IndexEntry e;
  const char* at = r.bytes.data() + (seq - r.first) * kIndexEntrySize;
  IndexStatus st = DecodeIndexEntry(at, e, ctx_.crc, ctx_.opts.do_crc);
  if (st != IndexStatus::kOk || e.seq != seq) {
    return Status(Code::kCorrupt, "corrupted index entry for message " + Seq(seq) + " in " +
                                      SlicePath(s.fseq, true));
  }
  r.last_read = seq;
  return e;
}

Result<MsgRef> FileMsgStore::ReadMessage(Slice& s, const IndexEntry& e) {
  const int64_t rec_len = static_cast<int64_t>(kRecordHeaderSize) + e.size;
  const bool buffered = dat_rb_ && dat_rb_fseq_ == s.fseq && e.offset >= dat_rb_off_ &&
                        e.offset + rec_len <= dat_rb_off_ + static_cast<int64_t>(dat_rb_->size());
  if (!buffered) {
    if (e.offset < static_cast<int64_t>(kVersionSize) || e.offset + rec_len > s.dat_size) {
      return Status(Code::kCorrupt,
                    "message " + Seq(e.seq) + " lies outside " + SlicePath(s.fseq, false));
    }
    const bool sequential = e.seq == last_msg_read_ + 1;
    int64_t len = std::max<int64_t>(
        rec_len, sequential ? ctx_.opts.read_buffer_size : static_cast<int64_t>(kMinRandomRead));
    len = std::min(len, s.dat_size - e.offset);
    if (Status st = OpenSlice(s); !st) return st;
    // A buffer some MsgRef still holds is left to it.
    if (!dat_rb_ || dat_rb_.use_count() > 1) dat_rb_ = std::make_shared<std::string>();
    dat_rb_->resize(static_cast<size_t>(len));
    auto got = s.dat->ReadAt(dat_rb_->data(), dat_rb_->size(), e.offset);
    if (!got) {
      dat_rb_fseq_ = 0;
      return got.status();
    }
    dat_rb_->resize(*got);
    dat_rb_fseq_ = s.fseq;
    dat_rb_off_ = e.offset;
    if (static_cast<int64_t>(*got) < rec_len) {
      dat_rb_fseq_ = 0;
      return Status(Code::kCorrupt,
                    "unexpected EOF reading message " + Seq(e.seq) + " in " + s.dat->path());
    }
  }
  std::string_view bytes(dat_rb_->data() + (e.offset - dat_rb_off_), static_cast<size_t>(rec_len));
  RecordView r = ReadRecord(bytes, false, ctx_.crc, ctx_.opts.do_crc);
  if (r.status != RecordStatus::kOk || r.size != e.size) {
    char text[128];
    if (r.status == RecordStatus::kCrcMismatch) {
      std::snprintf(text, sizeof text, "corrupted data, expected crc to be 0x%08x, got 0x%08x",
                    r.stored_crc, r.computed_crc);
    } else {
      std::snprintf(text, sizeof text, "record size %u does not match the index's %u", r.size,
                    e.size);
    }
    return Status(Code::kCorrupt, "unable to read message " + Seq(e.seq) + " from " +
                                      SlicePath(s.fseq, false) + ": " + text);
  }
  last_msg_read_ = e.seq;
  MsgRef ref;
  ref.seq = e.seq;
  ref.timestamp = e.timestamp;
  ref.record = r.payload;
  ref.keep = dat_rb_;
  return ref;
}

Result<MsgRef> FileMsgStore::Lookup(uint64_t seq) {
  std::lock_guard lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  if (total_count_ == 0 || seq < first_ || seq > last_) return MsgRef{};
  if (const Cached* c = FromCache(seq)) {
    MsgRef ref;
    ref.seq = seq;
    ref.timestamp = c->timestamp;
    ref.record = std::string_view(c->payload, c->size);
    return ref;
  }
  Slice* s = FindSlice(seq);
  if (!s) return MsgRef{};
  auto e = ReadIndexEntry(*s, seq, lookup_idx_);
  if (!e) return e.status();
  auto ref = ReadMessage(*s, *e);
  if (ctx_.opts.file_descriptors_limit > 0 &&
      File::OpenCount() > ctx_.opts.file_descriptors_limit && s != &slices_.back()) {
    CloseReadSlice(*s);  // over the soft limit: do not keep read-only slices open
  }
  return ref;
}

Result<int64_t> FileMsgStore::TimestampOf(uint64_t seq) {
  if (const Cached* c = FromCache(seq)) return c->timestamp;
  Slice* s = FindSlice(seq);
  if (!s) {
    return Status(Code::kCorrupt,
                  "message " + Seq(seq) + " of channel \"" + channel_ + "\" is in no slice");
  }
  auto e = ReadIndexEntry(*s, seq, seq == first_ ? front_idx_ : lookup_idx_);
  if (!e) return e.status();
  return e->timestamp;
}

Result<uint64_t> FileMsgStore::GetSequenceFromTimestamp(int64_t timestamp_ns) {
  std::lock_guard lk(mu_);
  if (last_ == 0) return uint64_t{0};
  if (total_count_ == 0) return last_ + 1;
  // Timestamps never decrease within a channel: the first message at or after the time.
  uint64_t lo = std::max(first_, slices_.front().first_seq);
  uint64_t hi = last_ + 1;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    uint64_t probe = mid;
    if (!FromCache(probe) && !FindSlice(probe)) {
      // A gap left by a truncated slice: probe the next message kept.
      auto it = std::find_if(slices_.begin(), slices_.end(),
                             [&](const Slice& s) { return s.live() && s.first_seq > mid; });
      if (it == slices_.end()) {
        hi = mid;
        continue;
      }
      probe = it->first_seq;
    }
    auto ts = TimestampOf(probe);
    if (!ts) return ts.status();
    if (*ts < timestamp_ns) {
      lo = probe + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace gannet::streaming::store::file
