// libFuzzer target: the protobuf payloads gannet-streaming parses from clients (PubMsg, Ack,
// ConnectRequest, SubscriptionRequest, UnsubscribeRequest, CloseRequest, Ping) and the store
// records (MsgProto, SubState, ServerInfo, ClientInfo, updates). The first byte picks the
// message; the rest is its bytes. A message that parses must re-encode to bytes that parse to
// the same message, and a MsgProto rebuilt with the server's one-pass encoder must equal the
// generated serializer's bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "streaming/proto/protocol.pb.h"
#include "streaming/proto/records.pb.h"
#include "streaming/store/records.h"
#include "streaming/wire.h"

using namespace gannet::streaming;

namespace {

template <typename M>
void RoundTrip(std::string_view bytes) {
  M m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  std::string again = m.SerializeAsString();
  M back;
  if (!back.ParseFromString(again)) std::abort();
  if (back.SerializeAsString() != again) std::abort();
}

// The zero-copy readers of the message path never take what the generated parsers refuse, and
// read the same fields; with their fallback (Parse*) the verdict is the generated parser's.
void CheckPubMsgReader(std::string_view bytes) {
  pb::PubMsg m, scratch;
  gannet::streaming::PubMsgView fast, full;
  const bool generated = m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  const bool mine = ReadPubMsg(bytes, fast);
  if (mine && !generated) std::abort();
  if (ParsePubMsg(bytes, full, scratch) != generated) std::abort();
  if (!generated) return;
  for (const auto* v : {&full, mine ? &fast : &full}) {
    if (v->client_id != m.client_id() || v->guid != m.guid() || v->subject != m.subject() ||
        v->reply != m.reply() || v->data != m.data() || v->conn_id != m.conn_id()) {
      std::abort();
    }
  }
}

void CheckAckReader(std::string_view bytes) {
  pb::Ack m, scratch;
  gannet::streaming::AckView fast, full;
  const bool generated = m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  const bool mine = ReadAck(bytes, fast);
  if (mine && !generated) std::abort();
  if (ParseAck(bytes, full, scratch) != generated) std::abort();
  if (!generated) return;
  for (const auto* v : {&full, mine ? &fast : &full}) {
    if (v->subject != m.subject() || v->sequence != m.sequence()) std::abort();
  }
}

void MsgRecord(std::string_view bytes) {
  pb::MsgProto m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  // What the server stores for such a message (redelivery fields are never stored).
  pb::MsgProto plain;
  plain.set_sequence(m.sequence());
  plain.set_subject(m.subject());
  plain.set_reply(m.reply());
  plain.set_data(m.data());
  plain.set_timestamp(m.timestamp());
  std::string mine;
  store::AppendMsgRecord(mine, m.sequence(), m.subject(), m.reply(), m.data(), m.timestamp());
  if (mine != plain.SerializeAsString()) std::abort();
  if (mine.size() !=
      store::MsgRecordSize(m.sequence(), m.subject(), m.reply(), m.data(), m.timestamp())) {
    std::abort();
  }
  store::AppendRedeliveryFields(mine, m.redelivery_count());
  store::MsgRecord rec;
  if (!store::DecodeMsgRecord(mine, rec)) std::abort();
  if (!rec.redelivered || rec.seq != m.sequence() || rec.data != m.data()) std::abort();
}

void SubState(std::string_view bytes) {
  store::SubState s;
  if (!store::DecodeSubState(bytes, s)) return;
  store::SubState back;
  if (!store::DecodeSubState(store::EncodeSubState(s), back)) std::abort();
  if (back.id != s.id || back.client_id != s.client_id || back.last_sent != s.last_sent ||
      back.q_group != s.q_group || back.is_durable != s.is_durable) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 14) {
    case 0:
      RoundTrip<pb::PubMsg>(bytes);
      CheckPubMsgReader(bytes);
      break;
    case 1:
      RoundTrip<pb::Ack>(bytes);
      CheckAckReader(bytes);
      break;
    case 2:
      RoundTrip<pb::ConnectRequest>(bytes);
      break;
    case 3:
      RoundTrip<pb::SubscriptionRequest>(bytes);
      break;
    case 4:
      RoundTrip<pb::UnsubscribeRequest>(bytes);
      break;
    case 5:
      RoundTrip<pb::CloseRequest>(bytes);
      break;
    case 6:
      RoundTrip<pb::Ping>(bytes);
      break;
    case 7:
      MsgRecord(bytes);
      break;
    case 8:
      SubState(bytes);
      break;
    case 9:
      RoundTrip<spb::ServerInfo>(bytes);
      break;
    case 10:
      RoundTrip<spb::ClientInfo>(bytes);
      break;
    case 11:
      RoundTrip<spb::SubStateUpdate>(bytes);
      break;
    case 12:
      RoundTrip<spb::CtrlMsg>(bytes);
      break;
    case 13:
      RoundTrip<pb::ConnectResponse>(bytes);
      break;
  }
  return 0;
}
