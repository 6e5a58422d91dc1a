// Store record encodings (see records.h).
#include "streaming/store/records.h"

#include <google/protobuf/io/coded_stream.h>

#include <cstring>

#include "streaming/proto/protocol.pb.h"
#include "streaming/proto/records.pb.h"

namespace gannet::streaming::store {

namespace {

using google::protobuf::io::CodedOutputStream;

// Tags of the MsgProto fields (field number << 3 | wire type).
constexpr uint8_t kSeqTag = (1 << 3) | 0;
constexpr uint8_t kSubjectTag = (2 << 3) | 2;
constexpr uint8_t kReplyTag = (3 << 3) | 2;
constexpr uint8_t kDataTag = (4 << 3) | 2;
constexpr uint8_t kTimestampTag = (5 << 3) | 0;
constexpr uint8_t kRedeliveredTag = (6 << 3) | 0;
constexpr uint8_t kRedeliveryCountTag = (7 << 3) | 0;

size_t StringField(std::string_view s) {
  return s.empty()
             ? 0
             : 1 + CodedOutputStream::VarintSize32(static_cast<uint32_t>(s.size())) + s.size();
}

uint8_t* WriteString(uint8_t tag, std::string_view s, uint8_t* p) {
  if (s.empty()) return p;  // proto3: a default value is not written
  *p++ = tag;
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(s.size()), p);
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

}  // namespace

size_t MsgRecordSize(uint64_t seq, std::string_view subject, std::string_view reply,
                     std::string_view data, int64_t timestamp_ns) {
  size_t n = 0;
  if (seq != 0) n += 1 + CodedOutputStream::VarintSize64(seq);
  n += StringField(subject) + StringField(reply) + StringField(data);
  if (timestamp_ns != 0)
    n += 1 + CodedOutputStream::VarintSize64(static_cast<uint64_t>(timestamp_ns));
  return n;
}

void AppendMsgRecord(std::string& out, uint64_t seq, std::string_view subject,
                     std::string_view reply, std::string_view data, int64_t timestamp_ns) {
  const size_t n = MsgRecordSize(seq, subject, reply, data, timestamp_ns);
  const size_t at = out.size();
  out.resize(at + n);
  uint8_t* p = reinterpret_cast<uint8_t*>(out.data() + at);
  // Field order as the generated serializer writes it (ascending numbers).
  if (seq != 0) {
    *p++ = kSeqTag;
    p = CodedOutputStream::WriteVarint64ToArray(seq, p);
  }
  p = WriteString(kSubjectTag, subject, p);
  p = WriteString(kReplyTag, reply, p);
  p = WriteString(kDataTag, data, p);
  if (timestamp_ns != 0) {
    *p++ = kTimestampTag;
    p = CodedOutputStream::WriteVarint64ToArray(static_cast<uint64_t>(timestamp_ns), p);
  }
}

void AppendRedeliveryFields(std::string& out, uint32_t count) {
  uint8_t buf[16];
  uint8_t* p = buf;
  *p++ = kRedeliveredTag;
  *p++ = 1;
  if (count != 0) {
    *p++ = kRedeliveryCountTag;
    p = CodedOutputStream::WriteVarint32ToArray(count, p);
  }
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(p - buf));
}

bool DecodeMsgRecord(std::string_view bytes, MsgRecord& out) {
  pb::MsgProto m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  out.seq = m.sequence();
  out.subject = m.subject();
  out.reply = m.reply();
  out.data = m.data();
  out.timestamp = m.timestamp();
  out.redelivered = m.redelivered();
  out.redelivery_count = m.redelivery_count();
  return true;
}

std::string EncodeServerInfo(const ServerInfo& info) {
  spb::ServerInfo m;
  m.set_cluster_id(info.cluster_id);
  m.set_discovery(info.discovery);
  m.set_publish(info.publish);
  m.set_subscribe(info.subscribe);
  m.set_unsubscribe(info.unsubscribe);
  m.set_close(info.close);
  m.set_sub_close(info.sub_close);
  m.set_acks_subs(info.acks_subs);
  m.set_node_id(info.node_id);
  return m.SerializeAsString();
}

bool DecodeServerInfo(std::string_view bytes, ServerInfo& out) {
  spb::ServerInfo m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  out.cluster_id = m.cluster_id();
  out.discovery = m.discovery();
  out.publish = m.publish();
  out.subscribe = m.subscribe();
  out.unsubscribe = m.unsubscribe();
  out.close = m.close();
  out.sub_close = m.sub_close();
  out.acks_subs = m.acks_subs();
  out.node_id = m.node_id();
  return true;
}

std::string EncodeClientInfo(const ClientInfo& info) {
  spb::ClientInfo m;
  m.set_id(info.id);
  m.set_hb_inbox(info.hb_inbox);
  m.set_conn_id(info.conn_id);
  m.set_protocol(info.protocol);
  m.set_ping_interval(info.ping_interval);
  m.set_ping_max_out(info.ping_max_out);
  return m.SerializeAsString();
}

bool DecodeClientInfo(std::string_view bytes, ClientInfo& out) {
  spb::ClientInfo m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  out.id = m.id();
  out.hb_inbox = m.hb_inbox();
  out.conn_id = m.conn_id();
  out.protocol = m.protocol();
  out.ping_interval = m.ping_interval();
  out.ping_max_out = m.ping_max_out();
  return true;
}

std::string EncodeClientDelete(std::string_view client_id) {
  spb::ClientDelete m;
  m.set_id(std::string(client_id));
  return m.SerializeAsString();
}

bool DecodeClientDelete(std::string_view bytes, std::string& client_id) {
  spb::ClientDelete m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  client_id = m.id();
  return true;
}

std::string EncodeSubState(const SubState& sub) {
  spb::SubState m;
  m.set_id(sub.id);
  m.set_client_id(sub.client_id);
  m.set_q_group(sub.q_group);
  m.set_inbox(sub.inbox);
  m.set_ack_inbox(sub.ack_inbox);
  m.set_max_in_flight(sub.max_in_flight);
  m.set_ack_wait_in_secs(sub.ack_wait_in_secs);
  m.set_durable_name(sub.durable_name);
  m.set_last_sent(sub.last_sent);
  m.set_is_durable(sub.is_durable);
  m.set_is_closed(sub.is_closed);
  return m.SerializeAsString();
}

bool DecodeSubState(std::string_view bytes, SubState& out) {
  spb::SubState m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  out.id = m.id();
  out.client_id = m.client_id();
  out.q_group = m.q_group();
  out.inbox = m.inbox();
  out.ack_inbox = m.ack_inbox();
  out.max_in_flight = m.max_in_flight();
  out.ack_wait_in_secs = m.ack_wait_in_secs();
  out.durable_name = m.durable_name();
  out.last_sent = m.last_sent();
  out.is_durable = m.is_durable();
  out.is_closed = m.is_closed();
  return true;
}

std::string EncodeSubStateUpdate(uint64_t sub_id, uint64_t seq) {
  spb::SubStateUpdate m;
  m.set_id(sub_id);
  m.set_seqno(seq);
  return m.SerializeAsString();
}

bool DecodeSubStateUpdate(std::string_view bytes, uint64_t& sub_id, uint64_t& seq) {
  spb::SubStateUpdate m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  sub_id = m.id();
  seq = m.seqno();
  return true;
}

std::string EncodeSubStateDelete(uint64_t sub_id) {
  spb::SubStateDelete m;
  m.set_id(sub_id);
  return m.SerializeAsString();
}

bool DecodeSubStateDelete(std::string_view bytes, uint64_t& sub_id) {
  spb::SubStateDelete m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  sub_id = m.id();
  return true;
}

}  // namespace gannet::streaming::store
