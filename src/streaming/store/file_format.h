// The FILE store's on-disk format, as nats-streaming-server 0.25 writes it (stores/filestore.go):
// names, the 4-byte file version, record framing with CRC-32, the 32-byte message index entry,
// the record types of subs.dat and clients.dat. Pure functions over bytes, no I/O: the store's
// files, its recovery and the fuzz target share them.
//
// Every integer is little-endian. A file starts with its version (uint32 1). A record is
//   uint32 size (typed files: type << 24 | size, size < 2^24)
//   uint32 CRC-32 of the payload (Go's crc32.Checksum: reflected polynomial, ~0 in and out)
//   payload (a protobuf message)
// An index entry (msgs.N.idx) is seq u64, offset i64 (of the record in msgs.N.dat), timestamp
// i64, payload size u32, CRC-32 u32 of the 28 bytes before it: 32 bytes (the reference's
// msgIndexRecSize = 8 + 8 + 8 + 4 + crc32.Size; our notes that said 36 added wrong).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace gannet::streaming::store::file {

inline constexpr uint32_t kFileVersion = 1;
inline constexpr size_t kVersionSize = 4;
inline constexpr size_t kRecordHeaderSize = 8;
inline constexpr size_t kIndexEntrySize = 32;
// What the reference counts per message on top of its payload for channel and slice sizes: the
// record header and the index entry.
inline constexpr uint64_t kMsgRecordOverhead = kRecordHeaderSize + kIndexEntrySize;
inline constexpr uint32_t kMaxTypedRecordSize = 0xFFFFFF;
inline constexpr uint32_t kCrcIeee = 0xedb88320;

inline constexpr const char* kServerFileName = "server.dat";
inline constexpr const char* kClientsFileName = "clients.dat";
inline constexpr const char* kSubsFileName = "subs.dat";
inline constexpr const char* kMsgFilesPrefix = "msgs.";
inline constexpr const char* kDatSuffix = ".dat";
inline constexpr const char* kIdxSuffix = ".idx";
inline constexpr const char* kBakSuffix = ".bak";
inline constexpr const char* kLockFileName = ".rootdir.lck";
inline constexpr const char* kTruncateWitnessName = ".truncate.lck";

// Record types of subs.dat.
enum SubRecordType : uint8_t {
  kSubRecNew = 1,     // SubState
  kSubRecUpdate = 2,  // SubState
  kSubRecDel = 3,     // SubStateDelete
  kSubRecAck = 4,     // SubStateUpdate: acknowledged
  kSubRecMsg = 5,     // SubStateUpdate: sent, pending
};
// Record types of clients.dat.
enum ClientRecordType : uint8_t {
  kAddClient = 1,  // ClientInfo
  kDelClient = 2,  // ClientDelete
};

// ---- integers ----

inline void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// ---- CRC-32 ----

// CRC-32 with any reflected polynomial (file_crc_poly; IEEE by default): slicing by 8, and for
// IEEE on x86-64 with PCLMULQDQ, carry-less multiplication over 16-byte blocks (as Go's
// hash/crc32 does for the reference) from 16 bytes up: ~10-14 GB/s on 1 KB instead of ~1.7.
class Crc32 {
 public:
  explicit Crc32(uint32_t reflected_polynomial = kCrcIeee);
  uint32_t Checksum(const void* data, size_t size) const;
  uint32_t Checksum(std::string_view s) const { return Checksum(s.data(), s.size()); }
  uint32_t polynomial() const { return polynomial_; }

 private:
  uint32_t polynomial_;
  std::array<std::array<uint32_t, 256>, 8> table_;
};

// ---- records ----

// The record header for `payload` of `type` (0: untyped).
void EncodeRecordHeader(char* out, uint8_t type, uint32_t size, uint32_t crc);
// Appends header and payload to `out`.
void AppendRecord(std::string& out, uint8_t type, std::string_view payload, const Crc32& crc);

// One record read from bytes that start at a record boundary.
enum class RecordStatus {
  kOk,
  kEnd,          // no byte left: a clean end of file
  kZeroHeader,   // a header of eight zero bytes: the file was padded with zeros from here
  kTruncated,    // the header or the payload ends early (the reference's "unexpected EOF")
  kCrcMismatch,  // the payload's CRC is not the header's
};
struct RecordView {
  RecordStatus status = RecordStatus::kEnd;
  uint8_t type = 0;
  uint32_t size = 0;  // payload size from the header (also for kTruncated, when known)
  uint32_t stored_crc = 0;
  uint32_t computed_crc = 0;
  bool header_complete = false;
  std::string_view payload;  // kOk (and kCrcMismatch)
  size_t consumed() const { return kRecordHeaderSize + size; }
};
// Reads the record at the start of `bytes`, which must hold everything up to the end of the
// file (or at least the whole record). `typed`: the first word is type << 24 | size.
RecordView ReadRecord(std::string_view bytes, bool typed, const Crc32& crc, bool check_crc);

// ---- message index ----

struct IndexEntry {
  uint64_t seq = 0;
  int64_t offset = 0;
  int64_t timestamp = 0;
  uint32_t size = 0;
  bool operator==(const IndexEntry&) const = default;
};
void EncodeIndexEntry(char* out, const IndexEntry& e, const Crc32& crc);
enum class IndexStatus { kOk, kZero, kCrcMismatch };
// Decodes 32 bytes. kZero: every field and the CRC are zero (padding).
IndexStatus DecodeIndexEntry(const char* in, IndexEntry& out, const Crc32& crc, bool check_crc);

// ---- MsgProto ----

// The sequence (field 1) and timestamp (field 5) of a MsgProto record, walking every field so a
// malformed record is refused. False when `payload` is not a well-formed protobuf message.
bool ParseMsgSeqAndTimestamp(std::string_view payload, uint64_t& seq, int64_t& timestamp);

// SubStateUpdate{id, seqno} encoded as the reference's marshaller does (proto3, zeros omitted),
// into `out` (at least 22 bytes); returns the size.
size_t EncodeSubStateUpdateInto(char* out, uint64_t sub_id, uint64_t seq);

// The slice file names: "msgs.<n>.dat", "msgs.<n>.idx".
std::string DatFileName(int64_t slice);
std::string IdxFileName(int64_t slice);
// The slice number of "msgs.<n>.dat": -1 when `name` is another kind of file, -2 when it has
// the prefix and suffix but no valid number (the reference refuses such a directory).
int64_t ParseDatFileName(std::string_view name);

}  // namespace gannet::streaming::store::file
