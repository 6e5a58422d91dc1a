// The replicated commands: encoding and applying them to a node's store (see commands.h).
#include "streaming/cluster/commands.h"

#include <cstring>
#include <set>
#include <vector>

namespace gannet::streaming::cluster {

void OpWriter::U32(uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out_.append(b, 4);
}
void OpWriter::U64(uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out_.append(b, 8);
}
void OpWriter::Str(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

void OpWriter::Init(const store::ServerInfo& i) {
  U8(static_cast<uint8_t>(OpType::kInit));
  for (const std::string* s : {&i.cluster_id, &i.discovery, &i.publish, &i.subscribe,
                               &i.unsubscribe, &i.close, &i.sub_close, &i.acks_subs, &i.node_id}) {
    Str(*s);
  }
}
void OpWriter::AddClient(const store::ClientInfo& c) {
  U8(static_cast<uint8_t>(OpType::kAddClient));
  Str(c.id);
  Str(c.hb_inbox);
  Str(c.conn_id);
  U32(static_cast<uint32_t>(c.protocol));
  U32(static_cast<uint32_t>(c.ping_interval));
  U32(static_cast<uint32_t>(c.ping_max_out));
}
void OpWriter::DeleteClient(std::string_view id) {
  U8(static_cast<uint8_t>(OpType::kDeleteClient));
  Str(id);
}
void OpWriter::Channel(OpType type, std::string_view name) {
  U8(static_cast<uint8_t>(type));
  Str(name);
}
void OpWriter::Msg(std::string_view channel, uint64_t seq, int64_t ts, std::string_view record) {
  U8(static_cast<uint8_t>(OpType::kMsg));
  Str(channel);
  U64(seq);
  U64(static_cast<uint64_t>(ts));
  Str(record);
}
void OpWriter::Expire(std::string_view channel, int64_t now_ns) {
  U8(static_cast<uint8_t>(OpType::kExpire));
  Str(channel);
  U64(static_cast<uint64_t>(now_ns));
}
void OpWriter::Sub(OpType type, std::string_view channel, const store::SubState& s) {
  U8(static_cast<uint8_t>(type));
  Str(channel);
  U64(s.id);
  Str(s.client_id);
  Str(s.q_group);
  Str(s.inbox);
  Str(s.ack_inbox);
  U32(static_cast<uint32_t>(s.max_in_flight));
  U32(static_cast<uint32_t>(s.ack_wait_in_secs));
  Str(s.durable_name);
  U64(s.last_sent);
  U8(s.is_durable ? 1 : 0);
  U8(s.is_closed ? 1 : 0);
}
void OpWriter::DeleteSub(std::string_view channel, uint64_t id) {
  U8(static_cast<uint8_t>(OpType::kDeleteSub));
  Str(channel);
  U64(id);
}
void OpWriter::SubSeq(OpType type, std::string_view channel, uint64_t id, uint64_t seq) {
  U8(static_cast<uint8_t>(type));
  Str(channel);
  U64(id);
  U64(seq);
}

void AppendEntryHeader(std::string& out, uint64_t origin, uint64_t incarnation) {
  out.push_back(static_cast<char>(kEntryVersion));
  char b[8];
  for (uint64_t v : {origin, incarnation}) {
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out.append(b, 8);
  }
}

void PadEntry(std::string& entry) { entry.append((8 - entry.size() % 8) % 8, '\0'); }

namespace {

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  bool ok() const { return ok_; }
  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string_view Str() {
    uint32_t n = U32();
    if (!Need(n)) return {};
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

store::SubState ReadSub(Reader& r) {
  store::SubState s;
  s.id = r.U64();
  s.client_id = r.Str();
  s.q_group = r.Str();
  s.inbox = r.Str();
  s.ack_inbox = r.Str();
  s.max_in_flight = static_cast<int32_t>(r.U32());
  s.ack_wait_in_secs = static_cast<int32_t>(r.U32());
  s.durable_name = r.Str();
  s.last_sent = r.U64();
  s.is_durable = r.U8() != 0;
  s.is_closed = r.U8() != 0;
  return s;
}

}  // namespace

bool ReadEntryHeader(std::string_view entry, uint64_t& origin, uint64_t& incarnation) {
  if (entry.size() < kEntryHeaderSize || static_cast<uint8_t>(entry[0]) != kEntryVersion) {
    return false;
  }
  Reader r(entry.substr(1));
  origin = r.U64();
  incarnation = r.U64();
  return r.ok();
}

store::Status ApplyEntry(std::string_view entry, store::Store& st) {
  using store::Status;
  Reader r(entry.substr(kEntryHeaderSize));
  std::vector<store::ChannelStore*> touched;
  std::set<store::ChannelStore*> seen;
  auto channel = [&](std::string_view name) -> store::ChannelStore* {
    store::ChannelStore* cs = st.LookupChannel(name);
    if (!cs) {
      auto created = st.CreateChannel(name);
      if (!created) return nullptr;
      cs = *created;
    }
    if (seen.insert(cs).second) touched.push_back(cs);
    return cs;
  };
  auto fail = [](const char* what, const Status& s) {
    return Status(s.code(), std::string(what) + ": " + s.message());
  };
  while (!r.done()) {
    auto type = static_cast<OpType>(r.U8());
    if (static_cast<uint8_t>(type) == 0) break;  // the padding to 8 bytes (PadEntry)
    Status s;
    switch (type) {
      case OpType::kInit: {
        store::ServerInfo i;
        for (std::string* f : {&i.cluster_id, &i.discovery, &i.publish, &i.subscribe,
                               &i.unsubscribe, &i.close, &i.sub_close, &i.acks_subs, &i.node_id}) {
          *f = r.Str();
        }
        if (r.ok()) s = st.Init(i);
        break;
      }
      case OpType::kAddClient: {
        store::ClientInfo c;
        c.id = r.Str();
        c.hb_inbox = r.Str();
        c.conn_id = r.Str();
        c.protocol = static_cast<int32_t>(r.U32());
        c.ping_interval = static_cast<int32_t>(r.U32());
        c.ping_max_out = static_cast<int32_t>(r.U32());
        if (r.ok()) s = st.AddClient(c);
        break;
      }
      case OpType::kDeleteClient: {
        std::string_view id = r.Str();
        if (r.ok()) {
          s = st.DeleteClient(id);
          if (s.code() == store::Code::kNotFound) s = Status::Ok();
        }
        break;
      }
      case OpType::kCreateChannel: {
        std::string_view name = r.Str();
        if (r.ok() && !channel(name)) s = Status(store::Code::kIo, "cannot create channel");
        break;
      }
      case OpType::kDeleteChannel: {
        std::string_view name = r.Str();
        if (!r.ok()) break;
        if (store::ChannelStore* cs = st.LookupChannel(name)) {
          if (seen.erase(cs)) std::erase(touched, cs);
          s = st.DeleteChannel(name);
        }
        break;
      }
      case OpType::kMsg: {
        std::string_view name = r.Str();
        uint64_t seq = r.U64();
        auto ts = static_cast<int64_t>(r.U64());
        std::string_view record = r.Str();
        if (!r.ok()) break;
        store::ChannelStore* cs = channel(name);
        if (!cs) {
          s = Status(store::Code::kIo, "cannot create channel");
        } else if (seq > cs->msgs->LastSequence()) {  // a replay never stores twice
          s = cs->msgs->Store(seq, ts, record);
        }
        break;
      }
      case OpType::kExpire: {
        std::string_view name = r.Str();
        auto now = static_cast<int64_t>(r.U64());
        if (!r.ok()) break;
        if (store::ChannelStore* cs = channel(name)) {
          auto next = cs->msgs->ExpireMessages(now);
          if (!next) s = next.status();
        }
        break;
      }
      case OpType::kEmpty: {
        std::string_view name = r.Str();
        if (!r.ok()) break;
        if (store::ChannelStore* cs = channel(name)) s = cs->msgs->Empty();
        break;
      }
      case OpType::kCreateSub:
      case OpType::kUpdateSub: {
        std::string_view name = r.Str();
        store::SubState sub = ReadSub(r);
        if (!r.ok()) break;
        store::ChannelStore* cs = channel(name);
        if (!cs) {
          s = Status(store::Code::kIo, "cannot create channel");
          break;
        }
        if (type == OpType::kUpdateSub) {
          s = cs->subs->UpdateSub(sub);
          break;
        }
        // The id is the leader's: a store that would pick another gets the leader's through an
        // update (which records an unknown id as new), so later ops find it.
        const uint64_t want = sub.id;
        store::SubState local = sub;
        s = cs->subs->CreateSub(local);
        if (s.ok() && local.id != want) {
          s = cs->subs->DeleteSub(local.id);
          if (s.ok()) s = cs->subs->UpdateSub(sub);
        }
        break;
      }
      case OpType::kDeleteSub: {
        std::string_view name = r.Str();
        uint64_t id = r.U64();
        if (!r.ok()) break;
        if (store::ChannelStore* cs = channel(name)) {
          s = cs->subs->DeleteSub(id);
          if (s.code() == store::Code::kNotFound) s = Status::Ok();
        }
        break;
      }
      case OpType::kAddPending:
      case OpType::kAck: {
        std::string_view name = r.Str();
        uint64_t id = r.U64();
        uint64_t seq = r.U64();
        if (!r.ok()) break;
        if (store::ChannelStore* cs = channel(name)) {
          s = type == OpType::kAddPending ? cs->subs->AddSeqPending(id, seq)
                                          : cs->subs->AckSeqPending(id, seq);
          if (s.code() == store::Code::kNotFound) s = Status::Ok();
        }
        break;
      }
      default:
        return Status(store::Code::kCorrupt,
                      "unknown replicated op " + std::to_string(static_cast<int>(type)));
    }
    if (!r.ok()) return Status(store::Code::kCorrupt, "truncated replicated entry");
    if (!s.ok()) return fail("applying a replicated op", s);
  }
  if (Status s = st.FlushBatch(touched); !s) return fail("flushing", s);
  for (store::ChannelStore* cs : touched) {
    if (Status s = cs->subs->Flush(); !s) return fail("flushing subscriptions", s);
  }
  return Status::Ok();
}

}  // namespace gannet::streaming::cluster
