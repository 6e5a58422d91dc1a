// Golden tests of the FILE store against the reference's layout (nats-streaming-server 0.25's
// stores/filestore.go), with every byte built by hand here (file_test_util.h: a bitwise CRC-32,
// explicit little-endian, protobuf bytes spelled out):
// - a directory as the reference writes it (server.dat, clients.dat with a deleted client, a
//   channel with two slices and subs.dat, a channel whose index is missing) is recovered whole;
// - what the store writes (server.dat, clients.dat, msgs.N.dat/idx, subs.dat, the index it
//   rebuilds, a message appended to a recovered slice) is those bytes exactly.
#include <gtest/gtest.h>

#include "file_test_util.h"
#include "streaming/store/file_msg_store.h"
#include "streaming/store/file_sub_store.h"

namespace gannet::streaming::store {
namespace {

using namespace test;

std::string Str(int field, std::string_view s) {
  return std::string(1, static_cast<char>((field << 3) | 2)) + Varint(s.size()) + std::string(s);
}
std::string Int(int field, uint64_t v) {
  return std::string(1, static_cast<char>((field << 3) | 0)) + Varint(v);
}

ServerInfo Info() {
  ServerInfo i;
  i.cluster_id = "test-cluster";
  i.discovery = "_STAN.discover.test-cluster";
  i.publish = "_STAN.pub.ABC";
  i.subscribe = "_STAN.sub.ABC";
  i.unsubscribe = "_STAN.unsub.ABC";
  i.close = "_STAN.close.ABC";
  i.sub_close = "_STAN.subclose.ABC";
  i.acks_subs = "_STAN.ack.ABC";
  return i;
}

std::string InfoBytes() {
  return Str(1, "test-cluster") + Str(2, "_STAN.discover.test-cluster") + Str(3, "_STAN.pub.ABC") +
         Str(4, "_STAN.sub.ABC") + Str(5, "_STAN.unsub.ABC") + Str(6, "_STAN.close.ABC") +
         Str(7, "_STAN.subclose.ABC") + Str(8, "_STAN.ack.ABC");
}

ClientInfo Client(const std::string& id) {
  ClientInfo c;
  c.id = id;
  c.hb_inbox = "_INBOX." + id;
  c.conn_id = "conn-" + id;
  c.protocol = 1;
  c.ping_interval = 5;
  c.ping_max_out = 88;
  return c;
}

std::string ClientBytes(const std::string& id) {
  return Str(1, id) + Str(2, "_INBOX." + id) + Str(3, "conn-" + id) + Int(4, 1) + Int(5, 5) +
         Int(6, 88);
}

SubState Durable() {
  SubState s;
  s.client_id = "c1";
  s.inbox = "_INBOX.deliver";
  s.ack_inbox = "_STAN.ack.ABC.foo.1";
  s.max_in_flight = 10;
  s.ack_wait_in_secs = 30;
  s.durable_name = "dur";
  s.is_durable = true;
  return s;
}

// SubState as proto3 marshals it (zeros and empty strings left out).
std::string SubBytes(uint64_t id, uint64_t last_sent, bool closed) {
  std::string b = Int(1, id) + Str(2, "c1") + Str(4, "_INBOX.deliver") +
                  Str(5, "_STAN.ack.ABC.foo.1") + Int(6, 10) + Int(7, 30) + Str(8, "dur");
  if (last_sent) b += Int(9, last_sent);
  b += Int(10, 1);
  if (closed) b += Int(11, 1);
  return b;
}

struct Slice {
  std::string dat = Version();
  std::string idx = Version();
  void Add(uint64_t seq, std::string_view subject, std::string_view data, int64_t ts) {
    std::string m = MsgBytes(seq, subject, data, ts);
    idx += Idx(seq, static_cast<int64_t>(dat.size()), ts, static_cast<uint32_t>(m.size()));
    dat += Rec(m);
  }
};

TEST(FileGolden, RecoversWhatTheReferenceWrites) {
  TempDir dir;
  WriteFile(dir / "server.dat", Version() + Rec(InfoBytes()));
  WriteFile(dir / "clients.dat", Version() + Rec(ClientBytes("c1"), 1) + Rec(ClientBytes("c2"), 1) +
                                     Rec(Str(1, "c2"), 2));
  Slice s1, s2, bar;
  for (uint64_t i = 1; i <= 3; ++i) s1.Add(i, "foo", "msg" + std::to_string(i), kT0 + i);
  for (uint64_t i = 4; i <= 5; ++i) s2.Add(i, "foo", "msg" + std::to_string(i), kT0 + i);
  WriteFile(dir / "foo/msgs.1.dat", s1.dat);
  WriteFile(dir / "foo/msgs.1.idx", s1.idx);
  WriteFile(dir / "foo/msgs.2.dat", s2.dat);
  WriteFile(dir / "foo/msgs.2.idx", s2.idx);
  // Durable 1 sent 1 and 2, acknowledged 1, then closed; subscription 2 created and deleted.
  WriteFile(dir / "foo/subs.dat", Version() + Rec(SubBytes(1, 0, false), 1) +
                                      Rec(UpdateBytes(1, 1), 5) + Rec(UpdateBytes(1, 2), 5) +
                                      Rec(UpdateBytes(1, 1), 4) + Rec(Int(1, 2) + Str(2, "c1"), 1) +
                                      Rec(Int(1, 2), 3) + Rec(SubBytes(1, 2, true), 2));
  // A channel whose index file is missing, and no subs.dat yet.
  for (uint64_t i = 1; i <= 4; ++i) bar.Add(i, "bar", std::string(i * 10, 'b'), kT0 + 10 * i);
  WriteFile(dir / "bar/msgs.1.dat", bar.dat);

  auto store = OpenStore(FileOptions(dir.path()));
  ASSERT_TRUE(store);
  auto rec = store->Recover();
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  ASSERT_TRUE(rec->has_value());
  const RecoveredState& st = **rec;
  EXPECT_EQ(st.info.cluster_id, "test-cluster");
  EXPECT_EQ(st.info.publish, "_STAN.pub.ABC");
  EXPECT_EQ(st.info.acks_subs, "_STAN.ack.ABC");
  ASSERT_EQ(st.clients.size(), 1u);
  EXPECT_EQ(st.clients[0].id, "c1");
  EXPECT_EQ(st.clients[0].conn_id, "conn-c1");
  EXPECT_EQ(st.clients[0].ping_max_out, 88);
  ASSERT_EQ(st.channels.size(), 2u);

  const RecoveredChannel& foo = st.channels.at("foo");
  MsgStore& fm = *foo.channel->msgs;
  EXPECT_EQ(fm.FirstSequence(), 1u);
  EXPECT_EQ(fm.LastSequence(), 5u);
  uint64_t bytes = 0;
  for (uint64_t i = 1; i <= 5; ++i) {
    auto m = fm.Lookup(i);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_TRUE(m->found());
    EXPECT_EQ(m->record, MsgBytes(i, "foo", "msg" + std::to_string(i), kT0 + i));
    EXPECT_EQ(m->timestamp, static_cast<int64_t>(kT0 + i));
    bytes += m->record.size() + 40;  // the reference counts header and index entry
  }
  EXPECT_EQ(fm.State().msgs, 5u);
  EXPECT_EQ(fm.State().bytes, bytes);
  ASSERT_EQ(foo.subscriptions.size(), 1u);
  const RecoveredSubscription& sub = foo.subscriptions[0];
  EXPECT_EQ(sub.state.id, 1u);
  EXPECT_EQ(sub.state.durable_name, "dur");
  EXPECT_TRUE(sub.state.is_durable);
  EXPECT_TRUE(sub.state.is_closed);
  EXPECT_EQ(sub.state.last_sent, 2u);
  EXPECT_EQ(sub.pending, std::vector<uint64_t>{2});

  const RecoveredChannel& b = st.channels.at("bar");
  EXPECT_EQ(b.channel->msgs->FirstSequence(), 1u);
  EXPECT_EQ(b.channel->msgs->LastSequence(), 4u);
  EXPECT_TRUE(b.subscriptions.empty());
  // The rebuilt index and the new subs.dat are the reference's bytes.
  EXPECT_EQ(ReadFile(dir / "bar/msgs.1.idx"), bar.idx);
  EXPECT_EQ(ReadFile(dir / "bar/subs.dat"), Version());

  // A new message goes to the end of the last slice, with its index entry.
  std::string m6 = MsgBytes(6, "foo", "six", kT0 + 6);
  ASSERT_TRUE(fm.Store(6, kT0 + 6, m6).ok());
  ASSERT_TRUE(fm.Flush().ok());
  s2.Add(6, "foo", "six", kT0 + 6);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.2.dat"), s2.dat);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.2.idx"), s2.idx);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.dat"), s1.dat);
  ASSERT_TRUE(store->Close().ok());
}

TEST(FileGolden, WritesTheReferenceLayout) {
  TempDir dir;
  auto store = OpenStore(FileOptions(dir.path()));
  ASSERT_TRUE(store);
  auto rec = store->Recover();
  ASSERT_TRUE(rec.ok());
  EXPECT_FALSE(rec->has_value());
  ASSERT_TRUE(store->Init(Info()).ok());
  ASSERT_TRUE(store->AddClient(Client("c1")).ok());
  ASSERT_TRUE(store->AddClient(Client("c2")).ok());
  ASSERT_TRUE(store->DeleteClient("c2").ok());
  auto c = store->CreateChannel("foo");
  ASSERT_TRUE(c.ok());
  Slice expect;
  for (uint64_t i = 1; i <= 3; ++i) {
    std::string data = "hello " + std::to_string(i);
    std::string r;
    AppendMsgRecord(r, i, "foo", "", data, kT0 + i);
    ASSERT_EQ(r, MsgBytes(i, "foo", data, kT0 + i));
    ASSERT_TRUE((*c)->msgs->Store(i, kT0 + i, r).ok());
    expect.Add(i, "foo", data, kT0 + i);
  }
  ChannelStore* ch = *c;
  ASSERT_TRUE(store->FlushBatch(std::span<ChannelStore* const>(&ch, 1)).ok());
  SubState sub = Durable();
  ASSERT_TRUE((*c)->subs->CreateSub(sub).ok());
  EXPECT_EQ(sub.id, 1u);
  ASSERT_TRUE((*c)->subs->AddSeqPending(1, 1).ok());
  ASSERT_TRUE((*c)->subs->AddSeqPending(1, 2).ok());
  ASSERT_TRUE((*c)->subs->AckSeqPending(1, 1).ok());
  sub.last_sent = 2;
  sub.is_closed = true;
  ASSERT_TRUE((*c)->subs->UpdateSub(sub).ok());
  ASSERT_TRUE((*c)->subs->DeleteSub(1).ok());
  ASSERT_TRUE(store->Close().ok());

  EXPECT_EQ(ReadFile(dir / "server.dat"), Version() + Rec(InfoBytes()));
  EXPECT_EQ(ReadFile(dir / "clients.dat"), Version() + Rec(ClientBytes("c1"), 1) +
                                               Rec(ClientBytes("c2"), 1) + Rec(Str(1, "c2"), 2));
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.dat"), expect.dat);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.idx"), expect.idx);
  EXPECT_EQ(ReadFile(dir / "foo/subs.dat"),
            Version() + Rec(SubBytes(1, 0, false), 1) + Rec(UpdateBytes(1, 1), 5) +
                Rec(UpdateBytes(1, 2), 5) + Rec(UpdateBytes(1, 1), 4) +
                Rec(SubBytes(1, 2, true), 2) + Rec(Int(1, 1), 3));
  // Nothing else at the root but the lock-free layout (no lock file unless FT asks for it).
  EXPECT_FALSE(Exists(dir / ".rootdir.lck"));
  EXPECT_FALSE(Exists(dir / ".truncate.lck"));
}

TEST(FileGolden, ServerFileRewrittenInPlace) {
  TempDir dir;
  {
    auto store = OpenStore(FileOptions(dir.path()));
    ASSERT_TRUE(store->Init(Info()).ok());
    ServerInfo other = Info();
    other.publish = "_STAN.pub.XYZ";
    ASSERT_TRUE(store->Init(other).ok());
    store->Close();
  }
  std::string expect = InfoBytes();
  expect.replace(expect.find("ABC"), 3, "XYZ");
  EXPECT_EQ(ReadFile(dir / "server.dat"), Version() + Rec(expect));
  // A server.dat with bytes after its record is refused, as the reference does.
  AppendFile(dir / "server.dat", "x");
  auto store = OpenStore(FileOptions(dir.path()));
  auto rec = store->Recover();
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.status().message().find("incorrect file size"), std::string::npos)
      << rec.status().message();
}

TEST(FileGolden, VersionChecked) {
  TempDir dir;
  WriteFile(dir / "clients.dat", Le32(2));
  auto s = CreateFileStore(FileOptions(dir.path()));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("unsupported file version: 2 (supports [1..1])"),
            std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace gannet::streaming::store
