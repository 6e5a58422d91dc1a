// The protobuf encodings of what stores persist: MsgProto message records, ServerInfo,
// ClientInfo, SubState and the subscription updates (the reference's spb records), with the
// generated classes of proto/records.proto and proto/protocol.proto behind them. The FILE
// store writes exactly these bytes; the server sends MsgProto records to subscribers as they
// are stored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "streaming/store/store.h"

namespace gannet::streaming::store {

// ---- MsgProto ----

// Appends the MsgProto encoding of a new message (sequence, subject, reply, data, timestamp;
// redelivered and redelivery_count absent) to `out`: one pass, no intermediate copy.
void AppendMsgRecord(std::string& out, uint64_t seq, std::string_view subject,
                     std::string_view reply, std::string_view data, int64_t timestamp_ns);
// The size AppendMsgRecord appends.
size_t MsgRecordSize(uint64_t seq, std::string_view subject, std::string_view reply,
                     std::string_view data, int64_t timestamp_ns);
// Appends redelivered=true and redelivery_count=`count` to a record already in `out`: a
// protobuf parser takes the later fields, so a stored record plus these bytes is the
// redelivered message.
void AppendRedeliveryFields(std::string& out, uint32_t count);

struct MsgRecord {
  uint64_t seq = 0;
  std::string subject;
  std::string reply;
  std::string data;
  int64_t timestamp = 0;
  bool redelivered = false;
  uint32_t redelivery_count = 0;
};
// False when `bytes` is not a MsgProto.
bool DecodeMsgRecord(std::string_view bytes, MsgRecord& out);

// ---- Server, clients, subscriptions ----

std::string EncodeServerInfo(const ServerInfo& info);
bool DecodeServerInfo(std::string_view bytes, ServerInfo& out);

std::string EncodeClientInfo(const ClientInfo& info);
bool DecodeClientInfo(std::string_view bytes, ClientInfo& out);
std::string EncodeClientDelete(std::string_view client_id);
bool DecodeClientDelete(std::string_view bytes, std::string& client_id);

std::string EncodeSubState(const SubState& sub);
bool DecodeSubState(std::string_view bytes, SubState& out);
// SubStateUpdate{ID, seqno}: a message sent (pending) or acknowledged.
std::string EncodeSubStateUpdate(uint64_t sub_id, uint64_t seq);
bool DecodeSubStateUpdate(std::string_view bytes, uint64_t& sub_id, uint64_t& seq);
std::string EncodeSubStateDelete(uint64_t sub_id);
bool DecodeSubStateDelete(std::string_view bytes, uint64_t& sub_id);

}  // namespace gannet::streaming::store
