// What the FILE store's recovery does with damaged bytes, the same for every file: a header of
// zeros ends the file there (the tail is truncated); a record cut short (unexpected EOF) or
// failing its CRC is logged with its bytes, as the reference does, and stops the recovery with
// an error, except that file_truncate_bad_eof truncates a file at its cut-short record and goes
// on. ReplayRecords walks a typed file (subs.dat, clients.dat) this way.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "streaming/store/file_context.h"
#include "streaming/store/file_io.h"

namespace gannet::streaming::store::file {

// Logs the damaged record at `offset` (header, type, size, CRC, bytes). For kTruncated with
// file_truncate_bad_eof the file is truncated at `offset` and the result is Ok; otherwise the
// error that stops recovery ("unexpected EOF", "corrupted data, expected crc to be 0x%08x, got
// 0x%08x").
Status HandleBadRecord(const FileContext& ctx, File& f, int64_t offset, bool typed,
                       const RecordView& r);

// Truncates `f` at `offset` where a header of zeros starts, logging it.
Status TruncateZeroTail(File& f, int64_t offset);

// Calls `apply` for each record of a typed file from its version header on, handling damage as
// above. `apply` returns an error to stop (a record that does not decode). The bytes of
// records read (the file's useful size) go to `bytes_read`.
Status ReplayRecords(const FileContext& ctx, File& f,
                     const std::function<Status(uint8_t type, std::string_view payload)>& apply,
                     int64_t& bytes_read);

}  // namespace gannet::streaming::store::file
