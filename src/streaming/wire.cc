// Zero-copy reads of PubMsg and Ack (see wire.h).
#include "streaming/wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

namespace gannet::streaming {

namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Reads a length-delimited field's bytes as a view into `base`.
bool ReadView(CodedInputStream& in, const char* base, std::string_view& out) {
  uint32_t len = 0;
  if (!in.ReadVarint32(&len)) return false;
  const int at = in.CurrentPosition();
  if (!in.Skip(static_cast<int>(len))) return false;
  out = std::string_view(base + at, len);
  return true;
}

// Walks the fields: `field(number, wire_type)` returns 1 when it consumed the field, 0 when it
// does not know it (skipped here), -1 on an error.
template <typename Field>
bool Walk(std::string_view bytes, Field&& field) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return false;
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  for (;;) {
    if (in.CurrentPosition() == static_cast<int>(bytes.size())) return true;
    // Tags of one or two bytes only (field numbers below 2048: every real one): longer ones
    // are read differently by the generated parsers' fast tables, so they go there.
    uint8_t b0 = 0, b1 = 0;
    if (!in.ReadRaw(&b0, 1)) return false;
    uint32_t tag = b0;
    if (b0 >= 0x80) {
      if (!in.ReadRaw(&b1, 1) || b1 >= 0x80) return false;
      tag = (b0 & 0x7fu) | (uint32_t{b1} << 7);
    }
    if (tag == 0) return false;
    const int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    const auto type = WireFormatLite::GetTagWireType(tag);
    // Groups (legacy) are left to the generated parser.
    if (number == 0 || type == WireFormatLite::WIRETYPE_END_GROUP ||
        type == WireFormatLite::WIRETYPE_START_GROUP) {
      return false;
    }
    int r = field(in, number, type);
    if (r < 0) return false;
    if (r == 0 && !WireFormatLite::SkipField(&in, tag)) return false;
  }
}

}  // namespace

bool ReadPubMsg(std::string_view bytes, PubMsgView& out) {
  out = PubMsgView{};
  const char* base = bytes.data();
  return Walk(bytes, [&](CodedInputStream& in, int number, WireFormatLite::WireType type) {
    if (type != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) return 0;
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
    return ReadView(in, base, *target) ? 1 : -1;
  });
}

bool ReadAck(std::string_view bytes, AckView& out) {
  out = AckView{};
  const char* base = bytes.data();
  return Walk(bytes, [&](CodedInputStream& in, int number, WireFormatLite::WireType type) {
    if (number == 1 && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      return ReadView(in, base, out.subject) ? 1 : -1;
    }
    if (number == 2 && type == WireFormatLite::WIRETYPE_VARINT) {
      return in.ReadVarint64(&out.sequence) ? 1 : -1;
    }
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
