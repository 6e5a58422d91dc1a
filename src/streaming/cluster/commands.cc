// The replicated commands: encoding and applying them to a node's store (see commands.h).
#include "streaming/cluster/commands.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

namespace gannet::streaming::cluster {

namespace {

// The encoding's field writers (little-endian integers, length-prefixed strings), shared by
// the replicated ops (OpWriter) and the snapshot's state (ClusterState::Encode).
void PutU8(std::string& o, uint8_t v) { o.push_back(static_cast<char>(v)); }
void PutU32(std::string& o, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  o.append(b, 4);  // one append, not four: a replicated message writes three of these
}
void PutU64(std::string& o, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  o.append(b, 8);
}
void PutStr(std::string& o, std::string_view s) {
  PutU32(o, static_cast<uint32_t>(s.size()));
  o.append(s);
}

void PutInfo(std::string& o, const store::ServerInfo& i) {
  for (const std::string* s : {&i.cluster_id, &i.discovery, &i.publish, &i.subscribe,
                               &i.unsubscribe, &i.close, &i.sub_close, &i.acks_subs, &i.node_id}) {
    PutStr(o, *s);
  }
}
void PutClient(std::string& o, const store::ClientInfo& c) {
  PutStr(o, c.id);
  PutStr(o, c.hb_inbox);
  PutStr(o, c.conn_id);
  PutU32(o, static_cast<uint32_t>(c.protocol));
  PutU32(o, static_cast<uint32_t>(c.ping_interval));
  PutU32(o, static_cast<uint32_t>(c.ping_max_out));
}
void PutSub(std::string& o, const store::SubState& s) {
  PutU64(o, s.id);
  PutStr(o, s.client_id);
  PutStr(o, s.q_group);
  PutStr(o, s.inbox);
  PutStr(o, s.ack_inbox);
  PutU32(o, static_cast<uint32_t>(s.max_in_flight));
  PutU32(o, static_cast<uint32_t>(s.ack_wait_in_secs));
  PutStr(o, s.durable_name);
  PutU64(o, s.last_sent);
  PutU8(o, s.is_durable ? 1 : 0);
  PutU8(o, s.is_closed ? 1 : 0);
}

}  // namespace

void OpWriter::U32(uint32_t v) { PutU32(out_, v); }
void OpWriter::U64(uint64_t v) { PutU64(out_, v); }
void OpWriter::Str(std::string_view s) { PutStr(out_, s); }

void OpWriter::Init(const store::ServerInfo& i) {
  U8(static_cast<uint8_t>(OpType::kInit));
  PutInfo(out_, i);
}
void OpWriter::AddClient(const store::ClientInfo& c) {
  U8(static_cast<uint8_t>(OpType::kAddClient));
  PutClient(out_, c);
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
  PutSub(out_, s);
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

void OpWriter::FirstSeq(std::string_view channel, uint64_t first) {
  U8(static_cast<uint8_t>(OpType::kFirstSeq));
  Str(channel);
  U64(first);
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

void GetInfo(Reader& r, store::ServerInfo& i) {
  for (std::string* f : {&i.cluster_id, &i.discovery, &i.publish, &i.subscribe, &i.unsubscribe,
                         &i.close, &i.sub_close, &i.acks_subs, &i.node_id}) {
    *f = r.Str();
  }
}
store::ClientInfo GetClient(Reader& r) {
  store::ClientInfo c;
  c.id = r.Str();
  c.hb_inbox = r.Str();
  c.conn_id = r.Str();
  c.protocol = static_cast<int32_t>(r.U32());
  c.ping_interval = static_cast<int32_t>(r.U32());
  c.ping_max_out = static_cast<int32_t>(r.U32());
  return c;
}

// One op of an entry as OpReader decoded it: a field is set only for the op types named beside
// it. The views point into the entry, so a message's record is never copied.
struct Op {
  OpType type{};
  std::string_view name;     // the channel; for kDeleteClient the client's id
  uint64_t id = 0;           // the subscription: kDeleteSub, kAddPending, kAck
  uint64_t seq = 0;          // kMsg, kAddPending, kAck; for kFirstSeq the first sequence
  int64_t time = 0;          // kMsg: its timestamp; kExpire: the leader's now
  std::string_view record;   // kMsg
  store::ServerInfo info;    // kInit
  store::ClientInfo client;  // kAddClient
  store::SubState sub;       // kCreateSub, kUpdateSub
};

// The one decoder of an entry's ops, for both of their appliers (ApplyEntry: a node's store;
// ClusterState::Apply: the snapshot's state), so that the two cannot read the stream apart.
class OpReader {
 public:
  enum Result { kOp, kEnd, kTruncated, kUnknown };

  // `entry` with its header, skipped here: ReadEntryHeader reads it. A shorter entry reads as
  // truncated.
  explicit OpReader(std::string_view entry) : r_(entry) {
    r_.U8();
    r_.U64();
    r_.U64();
  }

  // The next op into `op`: the fields of its type are all set, the others keep what an earlier
  // op left. kEnd at the end of the entry or at its padding (PadEntry's zero bytes); kTruncated
  // when the entry (or its header) stops inside an op; kUnknown with the unknown byte in
  // op.type. After kTruncated or kUnknown the rest of the entry cannot be read.
  Result Next(Op& op) {
    if (!r_.ok()) return kTruncated;
    if (r_.done()) return kEnd;
    op.type = static_cast<OpType>(r_.U8());
    if (static_cast<uint8_t>(op.type) == 0) return kEnd;  // the padding to 8 bytes (PadEntry)
    switch (op.type) {
      case OpType::kInit:
        GetInfo(r_, op.info);
        break;
      case OpType::kAddClient:
        op.client = GetClient(r_);
        break;
      case OpType::kDeleteClient:
      case OpType::kCreateChannel:
      case OpType::kDeleteChannel:
      case OpType::kEmpty:
        op.name = r_.Str();
        break;
      case OpType::kMsg:
        op.name = r_.Str();
        op.seq = r_.U64();
        op.time = static_cast<int64_t>(r_.U64());
        op.record = r_.Str();
        break;
      case OpType::kExpire:
        op.name = r_.Str();
        op.time = static_cast<int64_t>(r_.U64());
        break;
      case OpType::kCreateSub:
      case OpType::kUpdateSub:
        op.name = r_.Str();
        op.sub = ReadSub(r_);
        break;
      case OpType::kDeleteSub:
        op.name = r_.Str();
        op.id = r_.U64();
        break;
      case OpType::kAddPending:
      case OpType::kAck:
        op.name = r_.Str();
        op.id = r_.U64();
        op.seq = r_.U64();
        break;
      case OpType::kFirstSeq:
        op.name = r_.Str();
        op.seq = r_.U64();
        break;
      default:
        return kUnknown;
    }
    return r_.ok() ? kOp : kTruncated;
  }

 private:
  Reader r_;
};

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

// The id is the leader's: a store that would pick another gets the leader's through an update
// (which records an unknown id as new), so later ops find it.
store::Status CreateSubWithId(store::SubStore& subs, const store::SubState& sub) {
  store::SubState local = sub;
  store::Status s = subs.CreateSub(local);
  if (s.ok() && local.id != sub.id) {
    s = subs.DeleteSub(local.id);
    if (s.ok()) s = subs.UpdateSub(sub);
  }
  return s;
}

store::Status ApplyEntry(std::string_view entry, store::Store& st) {
  using store::Status;
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
  OpReader ops(entry);
  Op op;
  OpReader::Result got;
  while ((got = ops.Next(op)) == OpReader::kOp) {
    Status s;
    switch (op.type) {
      case OpType::kInit:
        s = st.Init(op.info);
        break;
      case OpType::kAddClient:
        s = st.AddClient(op.client);
        break;
      case OpType::kDeleteClient:
        s = st.DeleteClient(op.name);
        if (s.code() == store::Code::kNotFound) s = Status::Ok();
        break;
      case OpType::kCreateChannel:
        if (!channel(op.name)) s = Status(store::Code::kIo, "cannot create channel");
        break;
      case OpType::kDeleteChannel:
        if (store::ChannelStore* cs = st.LookupChannel(op.name)) {
          if (seen.erase(cs)) std::erase(touched, cs);
          s = st.DeleteChannel(op.name);
        }
        break;
      case OpType::kMsg: {
        store::ChannelStore* cs = channel(op.name);
        if (!cs) {
          s = Status(store::Code::kIo, "cannot create channel");
        } else if (op.seq > cs->msgs->LastSequence()) {  // a replay never stores twice
          s = cs->msgs->Store(op.seq, op.time, op.record);
        }
        break;
      }
      case OpType::kExpire:
        if (store::ChannelStore* cs = channel(op.name)) {
          auto next = cs->msgs->ExpireMessages(op.time);
          if (!next) s = next.status();
        }
        break;
      case OpType::kEmpty:
        if (store::ChannelStore* cs = channel(op.name)) s = cs->msgs->Empty();
        break;
      case OpType::kCreateSub:
      case OpType::kUpdateSub: {
        store::ChannelStore* cs = channel(op.name);
        if (!cs) {
          s = Status(store::Code::kIo, "cannot create channel");
        } else if (op.type == OpType::kUpdateSub) {
          s = cs->subs->UpdateSub(op.sub);
        } else {
          s = CreateSubWithId(*cs->subs, op.sub);
        }
        break;
      }
      case OpType::kDeleteSub:
        if (store::ChannelStore* cs = channel(op.name)) {
          s = cs->subs->DeleteSub(op.id);
          if (s.code() == store::Code::kNotFound) s = Status::Ok();
        }
        break;
      case OpType::kAddPending:
      case OpType::kAck:
        if (store::ChannelStore* cs = channel(op.name)) {
          s = op.type == OpType::kAddPending ? cs->subs->AddSeqPending(op.id, op.seq)
                                             : cs->subs->AckSeqPending(op.id, op.seq);
          if (s.code() == store::Code::kNotFound) s = Status::Ok();
        }
        break;
      case OpType::kFirstSeq:
        // The follower's store applies the same limits itself; the snapshot keeps the value.
        break;
    }
    if (!s.ok()) return fail("applying a replicated op", s);
  }
  if (got == OpReader::kTruncated) {
    return Status(store::Code::kCorrupt, "truncated replicated entry");
  }
  if (got == OpReader::kUnknown) {
    return Status(store::Code::kCorrupt,
                  "unknown replicated op " + std::to_string(static_cast<int>(op.type)));
  }
  if (Status s = st.FlushBatch(touched); !s) return fail("flushing", s);
  for (store::ChannelStore* cs : touched) {
    if (Status s = cs->subs->Flush(); !s) return fail("flushing subscriptions", s);
  }
  return Status::Ok();
}

namespace {

constexpr std::string_view kSnapMagic = "GSNP";
constexpr uint8_t kSnapVersion = 1;
constexpr std::string_view kFetchReqMagic = "GCUR";
constexpr std::string_view kFetchReplyMagic = "GCUP";

}  // namespace

bool ClusterState::Apply(std::string_view entry) {
  OpReader ops(entry);
  Op op;
  OpReader::Result got;
  while ((got = ops.Next(op)) == OpReader::kOp) {
    switch (op.type) {
      case OpType::kInit:
        info = std::move(op.info);
        has_info = true;
        break;
      case OpType::kAddClient:
        clients[op.client.id] = std::move(op.client);
        break;
      case OpType::kDeleteClient:
        if (auto it = clients.find(op.name); it != clients.end()) clients.erase(it);
        break;
      case OpType::kCreateChannel:
      case OpType::kEmpty:
      case OpType::kExpire:
        channels.try_emplace(std::string(op.name));
        break;
      case OpType::kDeleteChannel:
        if (auto it = channels.find(op.name); it != channels.end()) channels.erase(it);
        break;
      case OpType::kMsg: {
        StateChannel& c = channels[std::string(op.name)];
        if (c.first == 0) c.first = op.seq;
        c.last = std::max(c.last, op.seq);
        break;
      }
      case OpType::kFirstSeq:
        channels[std::string(op.name)].first = op.seq;
        break;
      case OpType::kCreateSub:
      case OpType::kUpdateSub: {
        StateChannel& c = channels[std::string(op.name)];
        if (op.type == OpType::kCreateSub) {
          const uint64_t id = op.sub.id;
          c.subs[id] = StateSub{std::move(op.sub), {}};
        } else {
          c.subs[op.sub.id].state = std::move(op.sub);
        }
        break;
      }
      case OpType::kDeleteSub:
        if (auto it = channels.find(op.name); it != channels.end()) it->second.subs.erase(op.id);
        break;
      case OpType::kAddPending:
      case OpType::kAck: {
        auto it = channels.find(op.name);
        if (it == channels.end()) break;
        auto sit = it->second.subs.find(op.id);
        if (sit == it->second.subs.end()) break;
        if (op.type == OpType::kAddPending) {
          sit->second.pending.insert(op.seq);
          sit->second.state.last_sent = std::max(sit->second.state.last_sent, op.seq);
        } else {
          sit->second.pending.erase(op.seq);
        }
        break;
      }
    }
  }
  return got == OpReader::kEnd;
}

std::string ClusterState::Encode() const {
  std::string o;
  o.append(kSnapMagic);
  PutU8(o, kSnapVersion);
  PutU8(o, has_info ? 1 : 0);
  PutInfo(o, info);
  PutU32(o, static_cast<uint32_t>(clients.size()));
  for (const auto& [id, c] : clients) PutClient(o, c);
  PutU32(o, static_cast<uint32_t>(channels.size()));
  for (const auto& [name, c] : channels) {
    PutStr(o, name);
    PutU64(o, c.first);
    PutU64(o, c.last);
    PutU32(o, static_cast<uint32_t>(c.subs.size()));
    for (const auto& [id, s] : c.subs) {
      PutSub(o, s.state);
      PutU32(o, static_cast<uint32_t>(s.pending.size()));
      for (uint64_t p : s.pending) PutU64(o, p);
    }
  }
  return o;
}

std::string ClusterState::Decode(std::string_view in, ClusterState& out) {
  out = ClusterState{};
  if (in.size() < kSnapMagic.size() + 1 || in.substr(0, kSnapMagic.size()) != kSnapMagic) {
    return "not a Gannet snapshot (bad magic)";
  }
  if (static_cast<uint8_t>(in[kSnapMagic.size()]) != kSnapVersion) {
    return "unknown snapshot version " +
           std::to_string(static_cast<uint8_t>(in[kSnapMagic.size()]));
  }
  Reader r(in.substr(kSnapMagic.size() + 1));
  out.has_info = r.U8() != 0;
  GetInfo(r, out.info);
  uint32_t n = r.U32();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    store::ClientInfo c = GetClient(r);
    out.clients[c.id] = std::move(c);
  }
  n = r.U32();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string name(r.Str());
    StateChannel c;
    c.first = r.U64();
    c.last = r.U64();
    uint32_t ns = r.U32();
    for (uint32_t j = 0; j < ns && r.ok(); ++j) {
      StateSub s;
      s.state = ReadSub(r);
      uint32_t np = r.U32();
      for (uint32_t k = 0; k < np && r.ok(); ++k) s.pending.insert(r.U64());
      c.subs[s.state.id] = std::move(s);
    }
    if (c.first > c.last + 1) return "snapshot: channel \"" + name + "\" has first > last + 1";
    out.channels[std::move(name)] = std::move(c);
  }
  if (!r.ok()) return "snapshot truncated";
  if (!r.done()) return "snapshot has trailing bytes";
  return {};
}

std::string EncodeFetchRequest(uint64_t from, uint64_t to) {
  std::string o(kFetchReqMagic);
  PutU64(o, from);
  PutU64(o, to);
  return o;
}

bool DecodeFetchRequest(std::string_view in, uint64_t& from, uint64_t& to) {
  if (in.size() != kFetchReqMagic.size() + 16 || in.substr(0, 4) != kFetchReqMagic) return false;
  Reader r(in.substr(4));
  from = r.U64();
  to = r.U64();
  return r.ok() && from > 0 && from <= to;
}

FetchReplyWriter::FetchReplyWriter(uint64_t first) : out_(kFetchReplyMagic) {
  PutU64(out_, first);
  PutU32(out_, 0);  // the count, set by Finish
}

void FetchReplyWriter::Add(uint64_t seq, int64_t ts, std::string_view record) {
  PutU64(out_, seq);
  PutU64(out_, static_cast<uint64_t>(ts));
  PutStr(out_, record);
  ++count_;
}

std::string FetchReplyWriter::Finish() {
  for (int i = 0; i < 4; ++i) out_[12 + i] = static_cast<char>(count_ >> (8 * i));
  return std::move(out_);
}

std::string DecodeFetchReply(std::string_view in, FetchReply& out) {
  out = FetchReply{};
  if (in.size() < 16 || in.substr(0, 4) != kFetchReplyMagic) return "not a catch-up reply";
  Reader r(in.substr(4));
  out.first = r.U64();
  uint32_t n = r.U32();
  if (!r.ok() || n > in.size() / 20) return "catch-up reply: bad message count";
  out.msgs.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    FetchedMsg m;
    m.seq = r.U64();
    m.timestamp = static_cast<int64_t>(r.U64());
    m.record = r.Str();
    if (i > 0 && m.seq != out.msgs.back().seq + 1)
      return "catch-up reply: sequences not contiguous";
    out.msgs.push_back(m);
  }
  if (!r.ok()) return "catch-up reply truncated";
  if (!r.done()) return "catch-up reply has trailing bytes";
  return {};
}

}  // namespace gannet::streaming::cluster
