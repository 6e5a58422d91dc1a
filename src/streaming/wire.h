// Zero-copy reads of the two payloads on the message path, PubMsg (every publish) and Ack
// (every acknowledgment): their fields as views into the received bytes (a small reader of the
// protobuf wire format), so a publish costs no string copies or allocations.
// Every other payload goes through the classes generated from proto/protocol.proto; the fuzz
// target checks these readers against them (fuzz/streaming_fuzz.cc).
#pragma once

#include <cstdint>
#include <string_view>

#include "streaming/proto/protocol.pb.h"

namespace gannet::streaming {

struct PubMsgView {
  std::string_view client_id, guid, subject, reply, data, conn_id;
};

struct AckView {
  std::string_view subject;
  uint64_t sequence = 0;
};

// The fast readers: true with the fields when `bytes` is a plain well-formed message (unknown
// fields skipped, a repeated field keeps its last value); false for anything they do not read
// the way the generated parser does (malformed input, but also legacy groups and overlong
// tags), which Parse* below then hands to the generated parser.
bool ReadPubMsg(std::string_view bytes, PubMsgView& out);
bool ReadAck(std::string_view bytes, AckView& out);

// The fast reader, else the generated parser into `scratch` (the views then point into it):
// the generated parser's verdict and fields on every input.
bool ParsePubMsg(std::string_view bytes, PubMsgView& out, pb::PubMsg& scratch);
bool ParseAck(std::string_view bytes, AckView& out, pb::Ack& scratch);

}  // namespace gannet::streaming
