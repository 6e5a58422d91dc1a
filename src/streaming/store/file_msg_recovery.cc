// Recovery of a channel's message slices (FileMsgStore::Recover, see file_msg_store.h).
//
// For each msgs.N.dat, in file order:
// - With its index: the entries are read (zeros end the index, which is truncated there); any
//   other damage (a CRC mismatch, a cut-short entry, entries out of sequence) means the index
//   is rebuilt. The last entry must match the record at its offset (size, CRC, sequence), else
//   the index is rebuilt. Records after the last indexed one were never acknowledged (a batch's
//   index entries are written after its records, and both are synced before any PubAck): the
//   complete, valid ones that continue the sequence are indexed; from the first that is not (a
//   torn tail, zeros, a bad CRC), the data file is truncated.
// - Without one (or when it is rebuilt): every record of the data file is read and indexed;
//   zeros end the file (truncated); a record cut short is the reference's "unexpected EOF",
//   fatal unless file_truncate_bad_eof; a CRC mismatch is fatal. A failed rebuild removes the
//   index file, so that the next start rebuilds it again (as the reference).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "streaming/log.h"
#include "streaming/store/file_msg_store.h"
#include "streaming/store/file_recovery.h"

namespace gannet::streaming::store::file {

namespace {

constexpr size_t kIndexChunk = 4096;  // entries read at once

struct SliceStats {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  int64_t count = 0;
  uint64_t size = 0;
  int64_t first_write = 0;
  IndexEntry last;

  void Add(const IndexEntry& e) {
    if (count == 0) {
      first_seq = e.seq;
      first_write = e.timestamp;
    }
    last_seq = e.seq;
    ++count;
    size += e.size + kMsgRecordOverhead;
    last = e;
  }
};

void AppendEntry(std::vector<char>& out, const IndexEntry& e, const Crc32& crc) {
  const size_t at = out.size();
  out.resize(at + kIndexEntrySize);
  EncodeIndexEntry(out.data() + at, e, crc);
}

// Reads the index; "" when it can be used (up to `stats.last`), else why it cannot.
std::string ScanIndex(const FileContext& ctx, File& idx, SliceStats& stats, int64_t& idx_size) {
  std::vector<char> buf(kIndexChunk * kIndexEntrySize);
  int64_t off = kVersionSize;
  while (off + static_cast<int64_t>(kIndexEntrySize) <= idx_size) {
    const auto want =
        static_cast<size_t>(std::min<int64_t>(idx_size - off, static_cast<int64_t>(buf.size())));
    auto got = idx.ReadAt(buf.data(), want - want % kIndexEntrySize, off);
    if (!got) return got.status().message();
    if (*got < kIndexEntrySize) return "unexpected EOF";
    for (size_t i = 0; i + kIndexEntrySize <= *got; i += kIndexEntrySize, off += kIndexEntrySize) {
      IndexEntry e;
      const IndexStatus st = DecodeIndexEntry(buf.data() + i, e, ctx.crc, ctx.opts.do_crc);
      if (st == IndexStatus::kZero) {
        // Zeros from here: the index ends at this entry.
        if (Status s = TruncateZeroTail(idx, off); !s) return s.message();
        idx_size = off;
        return {};
      }
      if (st == IndexStatus::kCrcMismatch) {
        char text[96];
        std::snprintf(text, sizeof text, "corrupted data, expected crc to be 0x%08x, got 0x%08x",
                      GetU32(buf.data() + i + 28), ctx.crc.Checksum(buf.data() + i, 28));
        return text;
      }
      if (stats.count > 0 &&
          (e.seq != stats.last.seq + 1 || e.offset < stats.last.offset +
                                                         static_cast<int64_t>(kRecordHeaderSize) +
                                                         stats.last.size)) {
        return "entry for message " + std::to_string(e.seq) + " does not follow message " +
               std::to_string(stats.last.seq);
      }
      if (e.offset < static_cast<int64_t>(kVersionSize) || e.seq == 0) {
        return "invalid entry for message " + std::to_string(e.seq);
      }
      stats.Add(e);
    }
  }
  if (off != idx_size) return "unexpected EOF";
  return {};
}

// The record the index's last entry points to must be that message.
std::string VerifyLast(File& dat, int64_t dat_size, const IndexEntry& last, const Crc32& crc) {
  const int64_t rec_len = static_cast<int64_t>(kRecordHeaderSize) + last.size;
  if (last.offset + rec_len > dat_size) {
    return "unable to read last record: unexpected EOF";
  }
  std::string bytes(static_cast<size_t>(rec_len), '\0');
  auto got = dat.ReadAt(bytes.data(), bytes.size(), last.offset);
  if (!got) return "unable to read last record: " + got.status().message();
  RecordView r = ReadRecord(std::string_view(bytes.data(), *got), false, crc, true);
  if (r.status == RecordStatus::kCrcMismatch) {
    char text[112];
    std::snprintf(text, sizeof text,
                  "unable to read last record: corrupted data, expected crc to be 0x%08x, got "
                  "0x%08x",
                  r.stored_crc, r.computed_crc);
    return text;
  }
  if (r.status != RecordStatus::kOk) return "unable to read last record: unexpected EOF";
  if (r.size != last.size) {
    return "last message size in index is " + std::to_string(last.size) + ", data file is " +
           std::to_string(r.size);
  }
  uint64_t seq;
  int64_t ts;
  if (!ParseMsgSeqAndTimestamp(r.payload, seq, ts)) return "error decoding message";
  if (seq != last.seq) {
    return "last message sequence in index is " + std::to_string(last.seq) + ", data file is " +
           std::to_string(seq);
  }
  return {};
}

}  // namespace

Status FileMsgStore::Recover() {
  std::lock_guard lk(mu_);
  std::vector<int64_t> fseqs;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return IoError("open", dir_, errno);
  while (struct dirent* de = ::readdir(d)) {
    const int64_t n = ParseDatFileName(de->d_name);
    if (n == -1) continue;
    if (n == -2) {
      std::string name = de->d_name;  // before closedir frees the entry
      ::closedir(d);
      return Status(Code::kCorrupt, "message log has an invalid name: " + name);
    }
    fseqs.push_back(n);
  }
  ::closedir(d);
  std::sort(fseqs.begin(), fseqs.end());
  for (size_t i = 0; i < fseqs.size(); ++i) {
    if (Status s = RecoverSlice(fseqs[i], i + 1 == fseqs.size()); !s) return s;
    last_fseq_ = fseqs[i];
  }
  for (const Slice& s : slices_) {
    if (!s.live()) continue;
    if (first_ == 0 || s.first_seq < first_) first_ = s.first_seq;
    last_ = std::max(last_, s.last_seq);
    total_count_ += static_cast<uint64_t>(s.msgs_count);
    total_bytes_ += s.msgs_size;
  }
  cache_first_ = last_ + 1;
  // Only the write slice stays open; the others open when read.
  for (size_t i = 0; i + 1 < slices_.size(); ++i) {
    slices_[i].dat.reset();
    slices_[i].idx.reset();
  }
  EnforceLimits(false);
  return Status::Ok();
}

Status FileMsgStore::RecoverSlice(int64_t fseq, bool is_last) {
  const std::string dat_path = SlicePath(fseq, false);
  const std::string idx_path = SlicePath(fseq, true);
  auto dat = File::OpenVersioned(dat_path, false);
  if (!dat) return dat.status();
  struct stat st;
  bool had_index = ::stat(idx_path.c_str(), &st) == 0 && st.st_size > 0;
  auto idx = File::OpenVersioned(idx_path, true);
  if (!idx && idx.status().code() == Code::kCorrupt) {
    // An index is only a cache of the data file: one this store cannot read is made again.
    STAN_ERROR("Error with index file \"%s\": %s. Recovering from data file", idx_path.c_str(),
               idx.status().message().c_str());
    ::unlink(idx_path.c_str());
    had_index = false;
    idx = File::OpenVersioned(idx_path, true);
  }
  if (!idx) return idx.status();
  Slice s;
  s.fseq = fseq;
  s.dat = std::move(dat).value();
  s.idx = std::move(idx).value();
  auto dsize = s.dat->Size();
  if (!dsize) return dsize.status();
  auto isize = s.idx->Size();
  if (!isize) return isize.status();
  int64_t dat_size = *dsize;
  int64_t idx_size = *isize;

  SliceStats stats;
  std::vector<char> added;  // index entries to append
  std::string index_error = had_index ? ScanIndex(ctx_, *s.idx, stats, idx_size) : "missing";
  if (had_index && index_error.empty() && stats.count > 0) {
    std::string why = VerifyLast(*s.dat, dat_size, stats.last, ctx_.crc);
    if (!why.empty()) {
      STAN_ERROR("Verification of last message for file \"%s\" failed: %s", dat_path.c_str(),
                 why.c_str());
      index_error = why;
    }
  }
  bool rebuilt = false;
  bool truncated_data = false;
  if (had_index && index_error.empty()) {
    // Records after the last indexed one: index those that continue the sequence.
    const int64_t tail =
        stats.count > 0
            ? stats.last.offset + static_cast<int64_t>(kRecordHeaderSize) + stats.last.size
            : static_cast<int64_t>(kVersionSize);
    RecordReader reader(*s.dat, tail, static_cast<size_t>(ctx_.opts.read_buffer_size), false,
                        ctx_.crc, true);
    int64_t found = 0;
    for (;;) {
      const int64_t at = reader.offset();
      auto r = reader.Next();
      if (!r) return r.status();
      if (r->status == RecordStatus::kEnd) break;
      uint64_t seq = 0;
      int64_t ts = 0;
      if (r->status != RecordStatus::kOk || !ParseMsgSeqAndTimestamp(r->payload, seq, ts) ||
          seq == 0 || (stats.count > 0 && seq != stats.last.seq + 1)) {
        if (r->status == RecordStatus::kZeroHeader) {
          if (Status t = TruncateZeroTail(*s.dat, at); !t) return t;
          dat_size = at;
          truncated_data = true;
          break;
        }
        STAN_INFO(
            "File \"%s\": %lld bytes after its last indexed message truncated (a write that was "
            "never acknowledged)",
            dat_path.c_str(), static_cast<long long>(dat_size - at));
        if (Status t = s.dat->Truncate(at); !t) return t;
        dat_size = at;
        truncated_data = true;
        break;
      }
      IndexEntry e{seq, at, ts, r->size};
      AppendEntry(added, e, ctx_.crc);
      stats.Add(e);
      ++found;
    }
    if (found > 0) {
      STAN_INFO("File \"%s\": %lld message(s) after its last indexed one added to the index",
                dat_path.c_str(), static_cast<long long>(found));
    }
  } else {
    if (had_index) {
      STAN_ERROR("Error with index file \"%s\": %s. Truncating and recovering from data file",
                 idx_path.c_str(), index_error.c_str());
    }
    stats = SliceStats{};
    idx_size = kVersionSize;
    if (Status t = s.idx->Truncate(idx_size); !t) return t;
    s.dat_size = dat_size;
    Status rs = RebuildIndex(s, added);
    if (!rs) {
      s.idx.reset();
      ::unlink(idx_path.c_str());  // the next start rebuilds it again
      return rs;
    }
    dat_size = s.dat_size;
    for (size_t i = 0; i < added.size(); i += kIndexEntrySize) {
      IndexEntry e;
      DecodeIndexEntry(added.data() + i, e, ctx_.crc, false);
      stats.Add(e);
    }
    rebuilt = true;
  }
  if (!added.empty()) {
    if (Status w = s.idx->WriteAt(added.data(), added.size(), idx_size); !w) return w;
    idx_size += static_cast<int64_t>(added.size());
  }
  if (rebuilt || !added.empty()) {
    if (Status y = s.idx->SyncData(); !y) return y;
  }
  if (truncated_data) {
    if (Status y = s.dat->SyncData(); !y) return y;
  }
  s.dat_size = dat_size;
  s.idx_size = idx_size;
  s.first_seq = stats.first_seq;
  s.last_seq = stats.last_seq;
  s.idx_first_seq = stats.first_seq;
  s.msgs_count = stats.count;
  s.msgs_size = stats.size;
  s.first_write = stats.first_write;
  if (s.msgs_count == 0 && !is_last) {
    // An empty slice that is not the last: left on disk and not used, as the reference does.
    return Status::Ok();
  }
  if (!slices_.empty() && s.msgs_count > 0 && slices_.back().live() &&
      s.first_seq <= slices_.back().last_seq) {
    return Status(Code::kCorrupt, "message slice \"" + dat_path + "\" starts at message " +
                                      std::to_string(s.first_seq) + ", not after message " +
                                      std::to_string(slices_.back().last_seq) +
                                      " of the slice before it");
  }
  slices_.push_back(std::move(s));
  return Status::Ok();
}

Status FileMsgStore::RebuildIndex(Slice& s, std::vector<char>& entries) {
  RecordReader reader(*s.dat, kVersionSize, static_cast<size_t>(ctx_.opts.read_buffer_size), false,
                      ctx_.crc, ctx_.opts.do_crc);
  uint64_t prev = 0;
  for (;;) {
    const int64_t at = reader.offset();
    auto r = reader.Next();
    if (!r) return r.status();
    switch (r->status) {
      case RecordStatus::kEnd:
        return Status::Ok();
      case RecordStatus::kZeroHeader:
        s.dat_size = at;
        return TruncateZeroTail(*s.dat, at);
      case RecordStatus::kTruncated:
      case RecordStatus::kCrcMismatch: {
        Status h = HandleBadRecord(ctx_, *s.dat, at, false, *r);
        if (h.ok()) s.dat_size = at;  // truncated there (file_truncate_bad_eof)
        return h;
      }
      case RecordStatus::kOk:
        break;
    }
    uint64_t seq = 0;
    int64_t ts = 0;
    if (!ParseMsgSeqAndTimestamp(r->payload, seq, ts) || seq == 0) {
      return Status(Code::kCorrupt, "unable to decode the message record at offset " +
                                        std::to_string(at) + " of \"" + s.dat->path() + "\"");
    }
    if (prev != 0 && seq != prev + 1) {
      return Status(Code::kCorrupt, "message " + std::to_string(seq) + " follows message " +
                                        std::to_string(prev) + " in \"" + s.dat->path() + "\"");
    }
    prev = seq;
    AppendEntry(entries, {seq, at, ts, r->size}, ctx_.crc);
  }
}

}  // namespace gannet::streaming::store::file
