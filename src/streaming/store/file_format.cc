// The FILE store's on-disk format (see file_format.h).
#include "streaming/store/file_format.h"

#include <bit>
#include <charconv>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gannet::streaming::store::file {

// ---- CRC-32 ----

Crc32::Crc32(uint32_t reflected_polynomial) : polynomial_(reflected_polynomial) {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int j = 0; j < 8; ++j) c = (c & 1) ? (c >> 1) ^ reflected_polynomial : c >> 1;
    table_[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t prev = table_[k - 1][i];
      table_[k][i] = (prev >> 8) ^ table_[0][prev & 0xFF];
    }
  }
}

#if defined(__x86_64__)
namespace {

// CRC-32 (IEEE) of whole 16-byte blocks with carry-less multiplication, as Go's hash/crc32 does
// on amd64 for the reference: the blocks are folded 64 bytes at a time, then 16, then reduced
// to 32 bits (Barrett). `crc` is the running state (inverted), `size` >= 16 and a multiple of
// 16. The constants are powers of x modulo the IEEE polynomial, bit-reflected.
#define GANNET_CLMUL __attribute__((target("pclmul,sse4.1")))

GANNET_CLMUL inline __m128i Load16(const unsigned char* at) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
}

// x * k (its two halves by the constants' two halves), plus the next block.
GANNET_CLMUL inline __m128i Fold(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

GANNET_CLMUL uint32_t ClmulIeee(uint32_t crc, const unsigned char* p, size_t size) {
  const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
  const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
  __m128i x1 = _mm_xor_si128(Load16(p), _mm_cvtsi32_si128(static_cast<int>(crc)));
  if (size >= 64) {
    __m128i x2 = Load16(p + 16);
    __m128i x3 = Load16(p + 32);
    __m128i x4 = Load16(p + 48);
    p += 64;
    size -= 64;
    while (size >= 64) {
      x1 = Fold(x1, k1k2, Load16(p));
      x2 = Fold(x2, k1k2, Load16(p + 16));
      x3 = Fold(x3, k1k2, Load16(p + 32));
      x4 = Fold(x4, k1k2, Load16(p + 48));
      p += 64;
      size -= 64;
    }
    x1 = Fold(x1, k3k4, x2);
    x1 = Fold(x1, k3k4, x3);
    x1 = Fold(x1, k3k4, x4);
  } else {
    p += 16;
    size -= 16;
  }
  while (size >= 16) {
    x1 = Fold(x1, k3k4, Load16(p));
    p += 16;
    size -= 16;
  }
  // 128 bits to 64, to 32, then the Barrett reduction.
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(x1, k3k4, 0x10));
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 4),
                     _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00));
  __m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10), mask32);
  x1 = _mm_xor_si128(x1, _mm_clmulepi64_si128(t, poly, 0x00));
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

const bool kHaveClmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");

}  // namespace
#endif

uint32_t Crc32::Checksum(const void* data, size_t size) const {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t crc = ~0u;
#if defined(__x86_64__)
  if (size >= 16 && polynomial_ == kCrcIeee && kHaveClmul) {
    const size_t bulk = size & ~size_t{15};
    crc = ClmulIeee(crc, p, bulk);
    p += bulk;
    size -= bulk;
  }
#endif
  while (size >= 8) {
    uint32_t one;
    uint32_t two;
    std::memcpy(&one, p, 4);
    std::memcpy(&two, p + 4, 4);
    if constexpr (std::endian::native == std::endian::big) {
      one = __builtin_bswap32(one);
      two = __builtin_bswap32(two);
    }
    one ^= crc;
    crc = table_[7][one & 0xFF] ^ table_[6][(one >> 8) & 0xFF] ^ table_[5][(one >> 16) & 0xFF] ^
          table_[4][one >> 24] ^ table_[3][two & 0xFF] ^ table_[2][(two >> 8) & 0xFF] ^
          table_[1][(two >> 16) & 0xFF] ^ table_[0][two >> 24];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) crc = table_[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// ---- records ----

void EncodeRecordHeader(char* out, uint8_t type, uint32_t size, uint32_t crc) {
  PutU32(out, type != 0 ? (static_cast<uint32_t>(type) << 24) | size : size);
  PutU32(out + 4, crc);
}

void AppendRecord(std::string& out, uint8_t type, std::string_view payload, const Crc32& crc) {
  char header[kRecordHeaderSize];
  EncodeRecordHeader(header, type, static_cast<uint32_t>(payload.size()), crc.Checksum(payload));
  out.append(header, kRecordHeaderSize);
  out.append(payload);
}

RecordView ReadRecord(std::string_view bytes, bool typed, const Crc32& crc, bool check_crc) {
  RecordView r;
  if (bytes.empty()) {
    r.status = RecordStatus::kEnd;
    return r;
  }
  if (bytes.size() < kRecordHeaderSize) {
    r.status = RecordStatus::kTruncated;
    return r;
  }
  r.header_complete = true;
  const uint32_t first = GetU32(bytes.data());
  if (typed) {
    r.type = static_cast<uint8_t>(first >> 24);
    r.size = first & kMaxTypedRecordSize;
  } else {
    r.size = first;
  }
  r.stored_crc = GetU32(bytes.data() + 4);
  if (r.size == 0 && r.type == 0 && r.stored_crc == 0) {
    r.status = RecordStatus::kZeroHeader;
    return r;
  }
  if (bytes.size() - kRecordHeaderSize < r.size) {
    r.status = RecordStatus::kTruncated;
    return r;
  }
  r.payload = bytes.substr(kRecordHeaderSize, r.size);
  if (check_crc) {
    r.computed_crc = crc.Checksum(r.payload);
    if (r.computed_crc != r.stored_crc) {
      r.status = RecordStatus::kCrcMismatch;
      return r;
    }
  }
  r.status = RecordStatus::kOk;
  return r;
}

// ---- message index ----

void EncodeIndexEntry(char* out, const IndexEntry& e, const Crc32& crc) {
  PutU64(out, e.seq);
  PutU64(out + 8, static_cast<uint64_t>(e.offset));
  PutU64(out + 16, static_cast<uint64_t>(e.timestamp));
  PutU32(out + 24, e.size);
  PutU32(out + 28, crc.Checksum(out, 28));
  // The reference's entry is 32 bytes: seq, offset, timestamp (8 each), size and CRC (4 each).
}

IndexStatus DecodeIndexEntry(const char* in, IndexEntry& out, const Crc32& crc, bool check_crc) {
  out.seq = GetU64(in);
  out.offset = static_cast<int64_t>(GetU64(in + 8));
  out.timestamp = static_cast<int64_t>(GetU64(in + 16));
  out.size = GetU32(in + 24);
  const uint32_t stored = GetU32(in + 28);
  if (out.seq == 0 && out.offset == 0 && out.timestamp == 0 && out.size == 0 && stored == 0) {
    return IndexStatus::kZero;
  }
  if (check_crc && crc.Checksum(in, 28) != stored) return IndexStatus::kCrcMismatch;
  return IndexStatus::kOk;
}

// ---- protobuf ----

namespace {

bool ReadVarint(const unsigned char*& p, const unsigned char* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p >= end) return false;
    const unsigned char b = *p++;
    if (shift == 63 && b > 1) return false;
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

bool ParseMsgSeqAndTimestamp(std::string_view payload, uint64_t& seq, int64_t& timestamp) {
  seq = 0;
  timestamp = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
  const auto* end = p + payload.size();
  while (p < end) {
    uint64_t key;
    if (!ReadVarint(p, end, key)) return false;
    const uint64_t field = key >> 3;
    const unsigned wire = static_cast<unsigned>(key & 7);
    if (field == 0 || field > 0x1FFFFFFF) return false;
    uint64_t v = 0;
    switch (wire) {
      case 0:
        if (!ReadVarint(p, end, v)) return false;
        if (field == 1) seq = v;
        if (field == 5) timestamp = static_cast<int64_t>(v);
        break;
      case 1:
        if (end - p < 8 || field == 1 || field == 5) return false;
        p += 8;
        break;
      case 2:
        if (!ReadVarint(p, end, v) || v > static_cast<uint64_t>(end - p) || field == 1 ||
            field == 5) {
          return false;
        }
        p += v;
        break;
      case 5:
        if (end - p < 4 || field == 1 || field == 5) return false;
        p += 4;
        break;
      default:  // groups (3, 4) and invalid wire types: not in MsgProto
        return false;
    }
  }
  return true;
}

size_t EncodeSubStateUpdateInto(char* out, uint64_t sub_id, uint64_t seq) {
  auto* p = reinterpret_cast<unsigned char*>(out);
  auto varint = [&p](uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<unsigned char>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<unsigned char>(v);
  };
  if (sub_id != 0) {
    *p++ = (1 << 3) | 0;
    varint(sub_id);
  }
  if (seq != 0) {
    *p++ = (2 << 3) | 0;
    varint(seq);
  }
  return static_cast<size_t>(p - reinterpret_cast<unsigned char*>(out));
}

// ---- names ----

std::string DatFileName(int64_t slice) {
  return std::string(kMsgFilesPrefix) + std::to_string(slice) + kDatSuffix;
}

std::string IdxFileName(int64_t slice) {
  return std::string(kMsgFilesPrefix) + std::to_string(slice) + kIdxSuffix;
}

int64_t ParseDatFileName(std::string_view name) {
  const std::string_view prefix = kMsgFilesPrefix;
  const std::string_view suffix = kDatSuffix;
  if (name.size() < prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return -1;
  }
  std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || n <= 0) {
    return -2;
  }
  return n;
}

}  // namespace gannet::streaming::store::file
