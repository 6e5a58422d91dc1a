// Zero-copy reads of PubMsg and Ack (see wire.h).
#include "streaming/wire.h"

namespace gannet::streaming {

namespace {

// The protobuf wire format over a flat buffer: varints, tags, length-delimited fields.
class WireReader {
 public:
  explicit WireReader(std::string_view b)
      : p_(reinterpret_cast<const uint8_t*>(b.data())), end_(p_ + b.size()) {}

  bool done() const { return p_ == end_; }

  // A varint of at most ten bytes, as protobuf reads one.
  bool Varint(uint64_t& out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t b = *p_++;
      v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) {
        out = v;
        return true;
      }
    }
    return false;
  }

  // Tags of one or two bytes only (field numbers below 2048: every real one). Longer ones are
  // read differently by the generated parsers' fast tables, so those inputs go there.
  bool Tag(uint32_t& tag) {
    if (p_ == end_) return false;
    const uint8_t b0 = *p_++;
    if (b0 < 0x80) {
      tag = b0;
      return tag != 0;
    }
    if (p_ == end_ || *p_ >= 0x80) return false;
    tag = (b0 & 0x7fu) | (uint32_t{*p_++} << 7);
    return true;
  }

  bool Bytes(std::string_view& out) {
    uint64_t len = 0;
    if (!Varint(len) || len > static_cast<uint64_t>(end_ - p_)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(len));
    p_ += len;
    return true;
  }

  bool Skip(size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) return false;
    p_ += n;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

// Walks the fields: `field(reader, number, type)` returns 1 when it consumed the field, 0 when
// it does not know it (skipped here), -1 on an error. Groups (legacy) are left to the generated
// parser.
template <typename Field>
bool Walk(std::string_view bytes, Field&& field) {
  WireReader r(bytes);
  while (!r.done()) {
    uint32_t tag = 0;
    if (!r.Tag(tag)) return false;
    const uint32_t number = tag >> 3;
    const uint32_t type = tag & 7;
    if (number == 0) return false;
    const int used = field(r, number, type);
    if (used < 0) return false;
    if (used > 0) continue;
    std::string_view ignored;
    uint64_t v = 0;
    bool ok = false;
    switch (type) {
      case kVarint:
        ok = r.Varint(v);
        break;
      case kFixed64:
        ok = r.Skip(8);
        break;
      case kBytes:
        ok = r.Bytes(ignored);
        break;
      case kFixed32:
        ok = r.Skip(4);
        break;
      default:
        ok = false;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool ReadPubMsg(std::string_view bytes, PubMsgView& out) {
  out = PubMsgView{};
  return Walk(bytes, [&](WireReader& r, uint32_t number, uint32_t type) {
    if (type != kBytes) return 0;
    std::string_view* target = nullptr;
    switch (number) {
      case 1:
        target = &out.client_id;
        break;
      case 2:
        target = &out.guid;
        break;
      case 3:
        target = &out.subject;
        break;
      case 4:
        target = &out.reply;
        break;
      case 5:
        target = &out.data;
        break;
      case 6:
        target = &out.conn_id;
        break;
      default:
        return 0;  // sha256 (10) and unknown fields
    }
    return r.Bytes(*target) ? 1 : -1;
  });
}

bool ReadAck(std::string_view bytes, AckView& out) {
  out = AckView{};
  return Walk(bytes, [&](WireReader& r, uint32_t number, uint32_t type) {
    if (number == 1 && type == kBytes) return r.Bytes(out.subject) ? 1 : -1;
    if (number == 2 && type == kVarint) return r.Varint(out.sequence) ? 1 : -1;
    return 0;
  });
}

bool ParsePubMsg(std::string_view bytes, PubMsgView& out, pb::PubMsg& scratch) {
  if (ReadPubMsg(bytes, out)) return true;
  if (!scratch.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  out.client_id = scratch.client_id();
  out.guid = scratch.guid();
  out.subject = scratch.subject();
  out.reply = scratch.reply();
  out.data = scratch.data();
  out.conn_id = scratch.conn_id();
  return true;
}

bool ParseAck(std::string_view bytes, AckView& out, pb::Ack& scratch) {
  if (ReadAck(bytes, out)) return true;
  if (!scratch.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  out.subject = scratch.subject();
  out.sequence = scratch.sequence();
  return true;
}

}  // namespace gannet::streaming
