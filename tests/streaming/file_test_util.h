// Helpers of the FILE store's tests: a temporary directory per test, options for small files,
// opening a store, reading and writing files byte for byte, and the reference's record bytes
// built independently of the store's own encoder (a bitwise CRC-32, explicit little-endian).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "streaming/store/file_msg_store.h"
#include "streaming/store/file_store.h"
#include "streaming/store/file_sub_store.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gannet-fs-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline StoreOptions FileOptions(const std::string& dir) {
  StoreOptions o;
  o.type = "FILE";
  o.dir = dir;
  o.file.auto_sync = std::chrono::nanoseconds(0);  // tests flush themselves
  return o;
}

inline std::unique_ptr<Store> OpenStore(const StoreOptions& o) {
  auto s = CreateFileStore(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline void AppendFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

inline bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// ---- the reference's bytes, built by hand ----

inline uint32_t RefCrc(std::string_view data) {
  uint32_t c = ~0u;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
  }
  return ~c;
}

inline std::string Le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

inline std::string Le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

inline std::string Version() { return Le32(1); }

// A record: size (type << 24 | size when typed), CRC-32 of the payload, payload.
inline std::string Rec(std::string_view payload, uint8_t type = 0) {
  const auto size = static_cast<uint32_t>(payload.size());
  return Le32(type ? (uint32_t{type} << 24) | size : size) + Le32(RefCrc(payload)) +
         std::string(payload);
}

// A 32-byte index entry: seq, offset, timestamp (8 bytes each), size, CRC-32 of the 28 before.
inline std::string Idx(uint64_t seq, int64_t offset, int64_t ts, uint32_t size) {
  std::string e = Le64(seq) + Le64(static_cast<uint64_t>(offset)) +
                  Le64(static_cast<uint64_t>(ts)) + Le32(size);
  return e + Le32(RefCrc(e));
}

inline std::string Varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  s += static_cast<char>(v);
  return s;
}

// MsgProto{sequence=1, subject=2, data=4, timestamp=5} as proto3 marshals it.
inline std::string MsgBytes(uint64_t seq, std::string_view subject, std::string_view data,
                            int64_t ts) {
  std::string m = "\x08" + Varint(seq);
  m += "\x12" + Varint(subject.size()) + std::string(subject);
  if (!data.empty()) m += "\x22" + Varint(data.size()) + std::string(data);
  m += "\x28" + Varint(static_cast<uint64_t>(ts));
  return m;
}

// SubStateUpdate{id=1, seqno=2}.
inline std::string UpdateBytes(uint64_t id, uint64_t seq) {
  return "\x08" + Varint(id) + "\x10" + Varint(seq);
}

inline ServerInfo ClusterInfo(const std::string& id = "test") {
  ServerInfo i;
  i.cluster_id = id;
  return i;
}

// ---- a store with channel "foo" ----

inline constexpr int64_t kT0 = 1700000000000000000;

inline std::string Msg(uint64_t seq, std::string_view data, int64_t ts) {
  std::string r;
  AppendMsgRecord(r, seq, "foo", "", data, ts);
  return r;
}

inline std::string Data(uint64_t seq, size_t size = 16) {
  std::string d = "m" + std::to_string(seq) + ":";
  d.resize(std::max(size, d.size()), 'x');
  return d;
}

// Stores messages first..last (timestamps kT0 + seq * step).
inline void StoreRange(MsgStore& m, uint64_t first, uint64_t last, size_t size = 16,
                       int64_t step = 1000) {
  for (uint64_t i = first; i <= last; ++i) {
    const int64_t ts = kT0 + static_cast<int64_t>(i) * step;
    Status s = m.Store(i, ts, Msg(i, Data(i, size), ts));
    ASSERT_TRUE(s.ok()) << s.message();
  }
}

inline void ExpectMsg(MsgStore& m, uint64_t seq, size_t size = 16, int64_t step = 1000) {
  auto r = m.Lookup(seq);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->found()) << seq;
  EXPECT_EQ(r->seq, seq);
  const int64_t ts = kT0 + static_cast<int64_t>(seq) * step;
  EXPECT_EQ(r->timestamp, ts);
  EXPECT_EQ(r->record, Msg(seq, Data(seq, size), ts)) << seq;
}

struct Opened {
  std::unique_ptr<Store> store;
  ChannelStore* channel = nullptr;
  MsgStore& msgs() { return *channel->msgs; }
  file::FileMsgStore& file_msgs() { return static_cast<file::FileMsgStore&>(*channel->msgs); }
};

// Opens the store in `dir`, recovering or creating channel "foo".
inline Opened Open(const StoreOptions& o) {
  Opened r;
  r.store = OpenStore(o);
  if (!r.store) return r;
  auto rec = r.store->Recover();
  EXPECT_TRUE(rec.ok()) << rec.status().message();
  if (rec.ok() && rec->has_value() && (*rec)->channels.count("foo")) {
    r.channel = (*rec)->channels.at("foo").channel;
    return r;
  }
  if (!rec.ok() || !rec->has_value()) {
    EXPECT_TRUE(r.store->Init(ClusterInfo()).ok());
  }
  auto c = r.store->CreateChannel("foo");
  EXPECT_TRUE(c.ok()) << c.status().message();
  r.channel = c.ok() ? *c : nullptr;
  return r;
}

}  // namespace gannet::streaming::store::test
