// The FILE store's byte format: CRC-32 (IEEE and other polynomials), record framing and every
// way a record can be damaged, index entries, MsgProto field extraction, SubStateUpdate
// encoding (byte-identical to the protobuf library's), slice file names; and SeqSet.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "streaming/store/file_format.h"
#include "streaming/store/file_seq_set.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store::file {
namespace {

TEST(FileFormat, Crc32KnownValues) {
  Crc32 ieee;
  // The standard check values of CRC-32/ISO-HDLC (Go's crc32.ChecksumIEEE).
  EXPECT_EQ(ieee.Checksum(std::string_view("123456789")), 0xCBF43926u);
  EXPECT_EQ(ieee.Checksum(std::string_view("")), 0u);
  EXPECT_EQ(ieee.Checksum(std::string_view("a")), 0xE8B7BE43u);
  // Castagnoli (reflected 0x82f63b78): CRC-32C's check value.
  Crc32 castagnoli(0x82f63b78);
  EXPECT_EQ(castagnoli.Checksum(std::string_view("123456789")), 0xE3069283u);
  // Koopman (reflected 0xeb31d82e): Go's crc32.Koopman table.
  Crc32 koopman(0xeb31d82e);
  EXPECT_EQ(koopman.Checksum(std::string_view("123456789")), 0x2D3DD0AEu);
}

// Every length from 0 to 600 and some large ones, at every alignment: the table (slicing by 8)
// and, for the IEEE polynomial on x86-64, the carry-less multiplication path for 64 bytes and
// more, against the bit-by-bit definition.
TEST(FileFormat, Crc32FastPathsMatchBytewise) {
  std::mt19937 rng(7);
  std::string buf(70000, '\0');
  for (char& ch : buf) ch = static_cast<char>(rng());
  for (uint32_t poly : {kCrcIeee, 0x82f63b78u}) {
    Crc32 crc(poly);
    auto check = [&](size_t off, size_t len) {
      uint32_t c = ~0u;
      for (size_t i = off; i < off + len; ++i) {
        c ^= static_cast<unsigned char>(buf[i]);
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
      }
      ASSERT_EQ(crc.Checksum(buf.data() + off, len), ~c) << poly << " " << off << " " << len;
    };
    for (size_t len = 0; len <= 600; ++len) check(len % 16, len);
    for (size_t len : {1023, 1024, 1025, 4096 + 15, 65536 + 3}) {
      for (size_t off = 0; off < 4; ++off) check(off, len);
    }
  }
}

TEST(FileFormat, RecordRoundTrip) {
  Crc32 crc;
  std::string buf;
  AppendRecord(buf, 0, "hello", crc);
  ASSERT_EQ(buf.size(), 8u + 5);
  EXPECT_EQ(GetU32(buf.data()), 5u);
  EXPECT_EQ(GetU32(buf.data() + 4), crc.Checksum(std::string_view("hello")));
  RecordView r = ReadRecord(buf, false, crc, true);
  EXPECT_EQ(r.status, RecordStatus::kOk);
  EXPECT_EQ(r.payload, "hello");
  EXPECT_EQ(r.consumed(), buf.size());

  std::string typed;
  AppendRecord(typed, kSubRecAck, "xy", crc);
  EXPECT_EQ(GetU32(typed.data()), (4u << 24) | 2u);
  r = ReadRecord(typed, true, crc, true);
  EXPECT_EQ(r.status, RecordStatus::kOk);
  EXPECT_EQ(r.type, kSubRecAck);
  EXPECT_EQ(r.payload, "xy");
  // Read untyped, the type byte is part of a (huge) size: the record is cut short.
  EXPECT_EQ(ReadRecord(typed, false, crc, true).status, RecordStatus::kTruncated);
}

TEST(FileFormat, DamagedRecords) {
  Crc32 crc;
  std::string buf;
  AppendRecord(buf, 0, "payload", crc);
  EXPECT_EQ(ReadRecord("", false, crc, true).status, RecordStatus::kEnd);
  for (size_t n = 1; n < buf.size(); ++n) {
    EXPECT_EQ(ReadRecord(buf.substr(0, n), false, crc, true).status, RecordStatus::kTruncated) << n;
  }
  std::string bad = buf;
  bad.back() ^= 1;
  RecordView r = ReadRecord(bad, false, crc, true);
  EXPECT_EQ(r.status, RecordStatus::kCrcMismatch);
  EXPECT_EQ(r.stored_crc, crc.Checksum(std::string_view("payload")));
  EXPECT_NE(r.computed_crc, r.stored_crc);
  // Without file_crc the damage goes unseen, as in the reference.
  EXPECT_EQ(ReadRecord(bad, false, crc, false).status, RecordStatus::kOk);
  EXPECT_EQ(ReadRecord(std::string(8, '\0'), false, crc, true).status, RecordStatus::kZeroHeader);
  EXPECT_EQ(ReadRecord(std::string(20, '\0'), true, crc, true).status, RecordStatus::kZeroHeader);
}

TEST(FileFormat, IndexEntry) {
  Crc32 crc;
  char buf[kIndexEntrySize];
  IndexEntry e{42, 4096, 1700000000123456789, 77};
  EncodeIndexEntry(buf, e, crc);
  EXPECT_EQ(GetU64(buf), 42u);
  EXPECT_EQ(GetU64(buf + 8), 4096u);
  EXPECT_EQ(GetU64(buf + 16), 1700000000123456789u);
  EXPECT_EQ(GetU32(buf + 24), 77u);
  EXPECT_EQ(GetU32(buf + 28), crc.Checksum(buf, 28));
  IndexEntry d;
  EXPECT_EQ(DecodeIndexEntry(buf, d, crc, true), IndexStatus::kOk);
  EXPECT_EQ(d, e);
  buf[3] ^= 1;
  EXPECT_EQ(DecodeIndexEntry(buf, d, crc, true), IndexStatus::kCrcMismatch);
  EXPECT_EQ(DecodeIndexEntry(buf, d, crc, false), IndexStatus::kOk);
  char zero[kIndexEntrySize] = {};
  EXPECT_EQ(DecodeIndexEntry(zero, d, crc, true), IndexStatus::kZero);
}

TEST(FileFormat, MsgSeqAndTimestamp) {
  std::string r;
  AppendMsgRecord(r, 123456789, "foo.bar", "reply", std::string(300, 'x'), 1700000000000000001);
  uint64_t seq;
  int64_t ts;
  ASSERT_TRUE(ParseMsgSeqAndTimestamp(r, seq, ts));
  EXPECT_EQ(seq, 123456789u);
  EXPECT_EQ(ts, 1700000000000000001);
  // Cut anywhere inside, it is refused.
  for (size_t n = 1; n < r.size(); ++n) {
    uint64_t s2;
    int64_t t2;
    if (ParseMsgSeqAndTimestamp(r.substr(0, n), s2, t2)) {
      // A cut between fields is a valid (shorter) message: it must then be a field boundary.
      EXPECT_TRUE(n == 5 || n == 14 || n == 21 || n == 324) << n;
    }
  }
  EXPECT_FALSE(ParseMsgSeqAndTimestamp("\x0a\x05", seq, ts));                   // seq as bytes
  EXPECT_FALSE(ParseMsgSeqAndTimestamp(std::string_view("\x00", 1), seq, ts));  // field 0
  EXPECT_FALSE(ParseMsgSeqAndTimestamp("\x0b", seq, ts));                       // a group
}

TEST(FileFormat, SubStateUpdateMatchesProtobuf) {
  for (auto [id, seq] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 0}, {1, 0}, {0, 1}, {1, 1}, {300, 1u << 31}, {UINT64_MAX, UINT64_MAX}}) {
    char buf[24];
    const size_t n = EncodeSubStateUpdateInto(buf, id, seq);
    EXPECT_EQ(std::string(buf, n), EncodeSubStateUpdate(id, seq)) << id << " " << seq;
  }
}

TEST(FileFormat, SliceNames) {
  EXPECT_EQ(DatFileName(1), "msgs.1.dat");
  EXPECT_EQ(IdxFileName(12), "msgs.12.idx");
  EXPECT_EQ(ParseDatFileName("msgs.1.dat"), 1);
  EXPECT_EQ(ParseDatFileName("msgs.1234.dat"), 1234);
  EXPECT_EQ(ParseDatFileName("msgs.1.idx"), -1);
  EXPECT_EQ(ParseDatFileName("subs.dat"), -1);
  EXPECT_EQ(ParseDatFileName("msgs.1.dat.bak"), -1);
  EXPECT_EQ(ParseDatFileName("msgs.x.dat"), -2);
  EXPECT_EQ(ParseDatFileName("msgs..dat"), -2);
  EXPECT_EQ(ParseDatFileName("msgs.0.dat"), -2);
}

TEST(FileSeqSet, MatchesStdSet) {
  SeqSet s;
  std::set<uint64_t> ref;
  std::mt19937_64 rng(11);
  uint64_t base = 1000;
  for (int i = 0; i < 20000; ++i) {
    uint64_t seq = base + rng() % 3000;
    if (i % 1000 == 0) seq = rng();  // far away: the overflow set
    if (rng() % 3 == 0) {
      EXPECT_EQ(s.Remove(seq), ref.erase(seq) == 1);
    } else {
      EXPECT_EQ(s.Add(seq), ref.insert(seq).second);
    }
    base += rng() % 2;
    ASSERT_EQ(s.size(), ref.size());
  }
  EXPECT_EQ(s.Sorted(), std::vector<uint64_t>(ref.begin(), ref.end()));
  for (uint64_t v : ref) EXPECT_TRUE(s.Contains(v));
  for (uint64_t v : std::vector<uint64_t>(ref.begin(), ref.end())) EXPECT_TRUE(s.Remove(v));
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.Sorted().empty());
}

TEST(FileSeqSet, HugeGapsStayBounded) {
  SeqSet s;
  EXPECT_TRUE(s.Add(1));
  EXPECT_TRUE(s.Add(UINT64_MAX));
  EXPECT_TRUE(s.Add(UINT64_MAX / 2));
  EXPECT_FALSE(s.Add(UINT64_MAX));
  EXPECT_EQ(s.Sorted(), (std::vector<uint64_t>{1, UINT64_MAX / 2, UINT64_MAX}));
  EXPECT_TRUE(s.Remove(1));
  // The window now starts elsewhere; a sequence in the overflow set is not added twice.
  EXPECT_TRUE(s.Add(UINT64_MAX - 1));
  EXPECT_FALSE(s.Add(UINT64_MAX));
  EXPECT_EQ(s.size(), 3u);
}

}  // namespace
}  // namespace gannet::streaming::store::file
