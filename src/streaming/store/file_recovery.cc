// Damaged records at recovery (see file_recovery.h).
#include "streaming/store/file_recovery.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "streaming/log.h"

namespace gannet::streaming::store::file {

namespace {

// At most this much of a damaged payload is dumped to the log.
constexpr size_t kMaxDump = 1024;

// The reference's dump: 20 bytes a line in hex, with their text when `text`.
void DumpBytes(std::string_view bytes, bool text) {
  for (size_t start = 0; start < bytes.size(); start += 20) {
    const size_t n = std::min<size_t>(20, bytes.size() - start);
    std::string hex;
    std::string chars;
    for (size_t i = 0; i < n; ++i) {
      char b[4];
      std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(bytes[start + i]));
      if (i > 0) hex += ' ';
      hex += b;
      const auto c = static_cast<unsigned char>(bytes[start + i]);
      chars += (c < 32 || c > 128) ? '.' : static_cast<char>(c);
    }
    if (text) {
      hex.append(3 * (20 - n), ' ');
      STAN_ERROR("%s - %s", hex.c_str(), chars.c_str());
    } else {
      STAN_ERROR("%s", hex.c_str());
    }
  }
}

}  // namespace

Status TruncateZeroTail(File& f, int64_t offset) {
  auto size = f.Size();
  if (!size) return size.status();
  STAN_INFO("File \"%s\": %lld bytes of zeros at its end truncated (offset %lld)", f.path().c_str(),
            static_cast<long long>(*size - offset), static_cast<long long>(offset));
  return f.Truncate(offset);
}

Status HandleBadRecord(const FileContext& ctx, File& f, int64_t offset, bool typed,
                       const RecordView& r) {
  const bool eof = r.status == RecordStatus::kTruncated;
  if (eof) {
    STAN_ERROR("Unexpected EOF for file \"%s\"", f.path().c_str());
    if (!ctx.opts.truncate_unexpected_eof) {
      STAN_ERROR("It is recommended that you make a copy of the whole datastore \"%s\".",
                 ctx.root.c_str());
      STAN_ERROR("Restart with --file_truncate_bad_eof to truncate this file to this offset: %lld.",
                 static_cast<long long>(offset));
      STAN_ERROR("Dataloss may occur. Details about the first corrupted record follows...");
    }
  } else {
    STAN_ERROR(
        "Corrupted record in file \"%s\": corrupted data, expected crc to be 0x%08x, got "
        "0x%08x",
        f.path().c_str(), r.stored_crc, r.computed_crc);
  }
  // The record's bytes as they are on disk.
  auto size = f.Size();
  const int64_t file_size = size ? *size : offset;
  std::string header(
      static_cast<size_t>(std::clamp<int64_t>(file_size - offset, 0, kRecordHeaderSize)), '\0');
  auto got = f.ReadAt(header.data(), header.size(), offset);
  header.resize(got ? *got : 0);
  STAN_ERROR("Record header:");
  STAN_ERROR(" Bytes:");
  DumpBytes(header, false);
  std::string part = "record header";
  size_t expected = kRecordHeaderSize;
  size_t read = header.size();
  if (header.size() == kRecordHeaderSize) {
    const uint32_t first = GetU32(header.data());
    const uint32_t rec_size = typed ? first & kMaxTypedRecordSize : first;
    if (typed) STAN_ERROR(" Type: %u", first >> 24);
    STAN_ERROR(" Size: %u", rec_size);
    STAN_ERROR(" CRC : 0x%08x", GetU32(header.data() + 4));
    STAN_ERROR("Record payload:");
    const int64_t avail = std::max<int64_t>(0, file_size - offset - kRecordHeaderSize);
    std::string payload(static_cast<size_t>(std::min<int64_t>(
                            {avail, static_cast<int64_t>(rec_size), int64_t{kMaxDump}})),
                        '\0');
    auto p = f.ReadAt(payload.data(), payload.size(), offset + kRecordHeaderSize);
    payload.resize(p ? *p : 0);
    DumpBytes(payload, true);
    part = "record payload";
    expected = rec_size;
    read = static_cast<size_t>(std::min<int64_t>(avail, rec_size));
  }
  if (eof) {
    if (ctx.opts.truncate_unexpected_eof) {
      if (Status s = f.Truncate(offset); !s) {
        return Status(Code::kIo, "unable to repair file \"" + f.path() +
                                     "\" by truncating at offset " + std::to_string(offset) + ": " +
                                     s.message());
      }
      STAN_INFO("File \"%s\" has been truncated to offset: %lld", f.path().c_str(),
                static_cast<long long>(offset));
      STAN_INFO("Recovery resumes...");
      return Status::Ok();
    }
    STAN_ERROR("%s expected to be %zu bytes, only read %zu", part.c_str(), expected, read);
    return Status(Code::kCorrupt, "unexpected EOF");
  }
  char text[96];
  std::snprintf(text, sizeof text, "corrupted data, expected crc to be 0x%08x, got 0x%08x",
                r.stored_crc, r.computed_crc);
  return Status(Code::kCorrupt, text);
}

Status ReplayRecords(const FileContext& ctx, File& f,
                     const std::function<Status(uint8_t type, std::string_view payload)>& apply,
                     int64_t& bytes_read) {
  RecordReader reader(f, kVersionSize, static_cast<size_t>(ctx.opts.read_buffer_size), true,
                      ctx.crc, ctx.opts.do_crc);
  bytes_read = 0;
  for (;;) {
    const int64_t at = reader.offset();
    auto r = reader.Next();
    if (!r) return r.status();
    switch (r->status) {
      case RecordStatus::kOk:
        if (Status s = apply(r->type, r->payload); !s) return s;
        bytes_read += static_cast<int64_t>(r->consumed());
        continue;
      case RecordStatus::kEnd:
        return Status::Ok();
      case RecordStatus::kZeroHeader:
        return TruncateZeroTail(f, at);
      case RecordStatus::kTruncated:
      case RecordStatus::kCrcMismatch:
        // Truncated at `at` (file_truncate_bad_eof): nothing follows.
        return HandleBadRecord(ctx, f, at, true, *r);
    }
  }
}

}  // namespace gannet::streaming::store::file
