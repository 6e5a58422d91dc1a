// libFuzzer target for the FILE store's record parsing and recovery (src/streaming/store/file_*).
// The first input byte picks what the rest is:
//   0  a stream of untyped records (ReadRecord to the end; each payload through the MsgProto
//      field walker, compared with the protobuf library's decoding when both accept it), and
//      the CRC-32 of the whole input against its bit-by-bit definition;
//   1  a stream of typed records, and 32-byte index entries over the same bytes;
//   2  msgs.1.dat of channel "foo" (no index: the index is rebuilt from it);
//   3  msgs.1.dat and msgs.1.idx (the next two bytes give the data file's length);
//   4  foo/subs.dat;  5  clients.dat;  6  server.dat.
// For 2-6 the bytes are written into a store directory (on tmpfs when there is one) next to
// valid files, and the real recovery runs (with file_truncate_bad_eof from the second byte's
// low bit): it must end with a recovered state or an error with a message. A recovered channel
// is then read in full (lookups, lookups by time, max_age expiry), and written to (a message,
// a subscription update), which must give statuses, never a crash or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "base/logger.h"
#include "streaming/store/file_format.h"
#include "streaming/store/file_store.h"
#include "streaming/store/records.h"

namespace {

using namespace gannet::streaming::store;
using namespace gannet::streaming::store::file;

const std::string& Root() {
  static const std::string root = [] {
    std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = base + "/gannet-file-fuzz-XXXXXX";
    const char* made = ::mkdtemp(tmpl.data());
    if (!made) std::abort();
    // The store logs what it finds wrong with each input: not to the terminal.
    gannet::Logger::Get().Configure("/dev/null", false, false, false);
    return std::string(made);
  }();
  return root;
}

void Write(const std::string& path, std::string_view bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Valid(std::string_view payload, uint8_t type = 0) {
  Crc32 crc;
  std::string out;
  char v[4];
  PutU32(v, kFileVersion);
  out.append(v, 4);
  AppendRecord(out, type, payload, crc);
  return out;
}

// The CRC's fast paths (slicing by 8; carry-less multiplication for IEEE on x86-64) against
// the bit-by-bit definition.
void CheckCrc(std::string_view bytes) {
  static const Crc32 crc;
  uint32_t c = ~0u;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCrcIeee : c >> 1;
  }
  if (crc.Checksum(bytes) != ~c) std::abort();
}

void Records(std::string_view bytes, bool typed) {
  CheckCrc(bytes);
  Crc32 crc;
  while (true) {
    RecordView r = ReadRecord(bytes, typed, crc, true);
    if (r.status == RecordStatus::kOk || r.status == RecordStatus::kCrcMismatch) {
      if (r.payload.size() != r.size || r.consumed() > bytes.size()) std::abort();
    }
    if (r.status != RecordStatus::kOk) break;
    uint64_t seq;
    int64_t ts;
    MsgRecord m;
    const bool mine = ParseMsgSeqAndTimestamp(r.payload, seq, ts);
    if (mine && DecodeMsgRecord(r.payload, m)) {
      if (m.seq != seq || m.timestamp != ts) std::abort();
    }
    bytes.remove_prefix(r.consumed());
  }
}

void Index(std::string_view bytes) {
  Crc32 crc;
  for (size_t i = 0; i + kIndexEntrySize <= bytes.size(); i += kIndexEntrySize) {
    IndexEntry e;
    if (DecodeIndexEntry(bytes.data() + i, e, crc, true) == IndexStatus::kOk) {
      char again[kIndexEntrySize];
      EncodeIndexEntry(again, e, crc);
      if (std::string_view(again, kIndexEntrySize) != bytes.substr(i, kIndexEntrySize)) {
        std::abort();
      }
    }
  }
}

void Recover(uint8_t mode, bool truncate, std::string_view bytes) {
  const std::string& root = Root();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  std::filesystem::create_directories(root + "/foo", ec);
  // Valid files around the one under test.
  ServerInfo info;
  info.cluster_id = "fuzz";
  Write(root + "/server.dat", Valid(EncodeServerInfo(info)));
  Write(root + "/clients.dat", Valid(""));
  Write(root + "/foo/subs.dat", Valid(""));
  switch (mode) {
    case 2:
      Write(root + "/foo/msgs.1.dat", bytes);
      break;
    case 3: {
      const size_t n = bytes.size() < 2 ? 0
                                        : std::min<size_t>(bytes.size() - 2,
                                                           static_cast<uint8_t>(bytes[0]) |
                                                               static_cast<uint8_t>(bytes[1]) << 8);
      bytes.remove_prefix(std::min<size_t>(2, bytes.size()));
      Write(root + "/foo/msgs.1.dat", bytes.substr(0, n));
      Write(root + "/foo/msgs.1.idx", bytes.substr(n));
      break;
    }
    case 4:
      Write(root + "/foo/subs.dat", bytes);
      break;
    case 5:
      Write(root + "/clients.dat", bytes);
      break;
    default:
      Write(root + "/server.dat", bytes);
      break;
  }
  StoreOptions o;
  o.type = "FILE";
  o.dir = root;
  o.file.do_sync = false;
  o.file.auto_sync = std::chrono::nanoseconds(0);
  o.file.truncate_unexpected_eof = truncate;
  o.file.read_buffer_size = 4096;
  o.limits.global.max_age = std::chrono::hours(1);
  std::filesystem::remove(root + "/.truncate.lck", ec);
  auto store = CreateFileStore(o);
  if (!store.ok()) {
    if (store.status().message().empty()) std::abort();
    return;
  }
  auto rec = (*store)->Recover();
  if (!rec.ok()) {
    if (rec.status().message().empty()) std::abort();
    return;
  }
  ChannelStore* c = (*store)->LookupChannel("foo");
  if (!c) return;
  MsgStore& m = *c->msgs;
  const uint64_t first = m.FirstSequence();
  const uint64_t last = m.LastSequence();
  if (last != 0 && first > last + 1) std::abort();
  for (uint64_t s = first; s <= last && s - first < 4096; ++s) {
    auto r = m.Lookup(s);
    if (r.ok() && r->found() && r->seq != s) std::abort();
  }
  (void)m.GetSequenceFromTimestamp(0);
  (void)m.GetSequenceFromTimestamp(INT64_MAX);
  (void)m.ExpireMessages(INT64_MAX / 2);
  std::string msg;
  AppendMsgRecord(msg, last + 1, "foo", "", "x", 1);
  (void)m.Store(last + 1, 1, msg);
  (void)m.Flush();
  if (rec->has_value() && (*rec)->channels.count("foo")) {
    for (const RecoveredSubscription& rs : (*rec)->channels.at("foo").subscriptions) {
      (void)c->subs->AckSeqPending(rs.state.id, rs.pending.empty() ? 1 : rs.pending[0]);
    }
  }
  (void)c->subs->Flush();
  (void)(*store)->Close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0] % 7;
  const bool truncate = data[1] & 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (mode) {
    case 0:
      Records(bytes, false);
      break;
    case 1:
      Records(bytes, true);
      Index(bytes);
      break;
    default:
      Recover(mode, truncate, bytes);
      break;
  }
  return 0;
}
