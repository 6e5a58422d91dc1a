// The replicated commands of a clustered server (streaming/cluster/commands.h): what a leader's
// ReplicatingStore records, applied to another store, gives that store the same state; a replay
// stores no message twice; an entry with every op gives a store and the snapshot state
// (ClusterState) the same clients, channels and subscriptions; a truncated entry and an unknown
// op are refused by both.
#include <gtest/gtest.h>

#include "file_test_util.h"
#include "streaming/cluster/commands.h"
#include "streaming/cluster/replicating_store.h"
#include "streaming/store/memory_store.h"

namespace gannet::streaming::cluster {
namespace {

std::unique_ptr<store::Store> Memory() {
  auto m = store::MemoryStore::Create(store::StoreLimits{});
  EXPECT_TRUE(m.ok());
  return std::move(m).value();
}

TEST(ClusterCommands, AFollowerStoreGetsTheLeadersState) {
  std::vector<std::string> entries;
  ReplicatingStore leader(Memory(), [&](const std::string& ops) {
    std::string e;
    AppendEntryHeader(e, 7, 9);
    e += ops;
    PadEntry(e);
    entries.push_back(e);
    return store::Status::Ok();
  });
  store::ServerInfo info;
  info.cluster_id = "c";
  info.publish = "_STAN.pub.x";
  ASSERT_TRUE(leader.Init(info));
  store::ClientInfo client;
  client.id = "me";
  client.hb_inbox = "_INBOX.hb";
  ASSERT_TRUE(leader.AddClient(client));
  auto ch = leader.CreateChannel("foo");
  ASSERT_TRUE(ch.ok());
  store::ChannelStore* cs = *ch;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(cs->msgs->Store(seq, 100 + static_cast<int64_t>(seq), "rec" + std::to_string(seq)));
  }
  store::ChannelStore* batch[] = {cs};
  ASSERT_TRUE(leader.FlushBatch(batch));
  store::SubState sub;
  sub.client_id = "me";
  sub.inbox = "_INBOX.sub";
  sub.ack_inbox = "_STAN.ack.x.1";
  sub.durable_name = "dur";
  sub.is_durable = true;
  sub.max_in_flight = 10;
  ASSERT_TRUE(cs->subs->CreateSub(sub));
  ASSERT_NE(sub.id, 0u);
  ASSERT_TRUE(cs->subs->AddSeqPending(sub.id, 1));
  ASSERT_TRUE(cs->subs->AddSeqPending(sub.id, 2));
  ASSERT_TRUE(cs->subs->AckSeqPending(sub.id, 1));
  ASSERT_TRUE(cs->subs->Flush());
  ASSERT_GE(entries.size(), 5u);
  for (const std::string& e : entries) {
    EXPECT_EQ(e.size() % 8, 0u);
    uint64_t origin = 0, incarnation = 0;
    ASSERT_TRUE(ReadEntryHeader(e, origin, incarnation));
    EXPECT_EQ(origin, 7u);
    EXPECT_EQ(incarnation, 9u);
  }

  auto follower = Memory();
  for (const std::string& e : entries) ASSERT_TRUE(ApplyEntry(e, *follower));
  // A replay (the log applied again) stores no message twice.
  for (const std::string& e : entries) ASSERT_TRUE(ApplyEntry(e, *follower));
  store::ChannelStore* fcs = follower->LookupChannel("foo");
  ASSERT_NE(fcs, nullptr);
  EXPECT_EQ(fcs->msgs->FirstSequence(), 1u);
  EXPECT_EQ(fcs->msgs->LastSequence(), 3u);
  EXPECT_EQ(fcs->msgs->State().msgs, 3u);
  auto m2 = fcs->msgs->Lookup(2);
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(m2->record, "rec2");
  EXPECT_EQ(m2->timestamp, 102);
}

// An entry cut anywhere inside an op (or inside its header) is refused, and the cut op is not
// applied.
TEST(ClusterCommands, ATruncatedEntryIsRefused) {
  std::string header;
  AppendEntryHeader(header, 1, 2);
  std::string ops;
  OpWriter(ops).Msg("foo", 1, 5, "record");
  auto st = Memory();
  for (size_t cut = 1; cut < ops.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string e = header + ops.substr(0, cut);
    store::Status s = ApplyEntry(e, *st);
    EXPECT_EQ(s.code(), store::Code::kCorrupt);
    EXPECT_EQ(s.message(), "truncated replicated entry");
    EXPECT_EQ(st->LookupChannel("foo"), nullptr);
    ClusterState state;
    EXPECT_FALSE(state.Apply(e));
    EXPECT_TRUE(state.channels.empty());
  }
  // Shorter than a header: the callers check it first (ReadEntryHeader), but it is an error here
  // too, not an exception.
  const std::string short_entry = header.substr(0, kEntryHeaderSize - 1);
  EXPECT_EQ(ApplyEntry(short_entry, *st).code(), store::Code::kCorrupt);
  ClusterState state;
  EXPECT_FALSE(state.Apply(short_entry));
  uint64_t origin, incarnation;
  EXPECT_FALSE(ReadEntryHeader("short", origin, incarnation));
}

TEST(ClusterCommands, AnUnknownOpIsRefused) {
  std::string e;
  AppendEntryHeader(e, 1, 2);
  OpWriter(e).Channel(OpType::kCreateChannel, "foo");
  e += static_cast<char>(99);
  e += "whatever follows";
  auto st = Memory();
  store::Status s = ApplyEntry(e, *st);
  EXPECT_EQ(s.code(), store::Code::kCorrupt);
  EXPECT_EQ(s.message(), "unknown replicated op 99");
  ClusterState state;
  EXPECT_FALSE(state.Apply(e));
}

// Every op type in one (padded) entry: a FILE store that applied it, read back by its recovery,
// holds what ClusterState::Apply keeps of the same entry. The store applies its limits itself
// (max_msgs 3 drops message 1), while the state takes the first sequence from kFirstSeq.
TEST(ClusterCommands, AStoreAndTheSnapshotStateAgree) {
  // The leader's subscription ids, not the ones the follower's store would pick.
  store::SubState s1{.id = 5,
                     .client_id = "me",
                     .q_group = "",
                     .inbox = "_INBOX.s1",
                     .ack_inbox = "_STAN.ack.x.5",
                     .max_in_flight = 10,
                     .ack_wait_in_secs = 30,
                     .durable_name = "dur",
                     .last_sent = 0,
                     .is_durable = true,
                     .is_closed = false};
  store::SubState s2 = s1;  // a queue subscriber, not durable
  s2.id = 6;
  s2.q_group = "q";
  s2.inbox = "_INBOX.s2";
  s2.ack_inbox = "_STAN.ack.x.6";
  s2.durable_name.clear();
  s2.is_durable = false;

  std::string e;
  AppendEntryHeader(e, 1, 2);
  OpWriter w(e);
  w.Init({.cluster_id = "c",
          .discovery = "_STAN.discover.c",
          .publish = "_STAN.pub.x",
          .subscribe = "_STAN.sub.x",
          .unsubscribe = "_STAN.unsub.x",
          .close = "_STAN.close.x",
          .sub_close = "_STAN.subclose.x",
          .acks_subs = "_STAN.ack.x",
          .node_id = "a"});
  const store::ClientInfo me{.id = "me",
                             .hb_inbox = "_INBOX.hb",
                             .conn_id = "conn",
                             .protocol = 1,
                             .ping_interval = 5,
                             .ping_max_out = 3};
  w.AddClient(me);
  store::ClientInfo other = me;
  other.id = "other";
  w.AddClient(other);
  w.DeleteClient("other");
  w.Channel(OpType::kCreateChannel, "foo");
  w.Channel(OpType::kCreateChannel, "gone");
  w.Channel(OpType::kDeleteChannel, "gone");
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    const auto ts = 1000 + static_cast<int64_t>(seq);
    w.Msg("foo", seq, ts, store::test::Msg(seq, store::test::Data(seq), ts));
  }
  w.FirstSeq("foo", 2);
  w.Expire("expired", 5000);  // no max_age: only creates the channel
  w.Channel(OpType::kEmpty, "emptied");
  w.Sub(OpType::kCreateSub, "foo", s1);
  w.Sub(OpType::kCreateSub, "foo", s2);
  w.DeleteSub("foo", s2.id);
  s1.is_closed = true;
  w.Sub(OpType::kUpdateSub, "foo", s1);
  for (uint64_t seq = 2; seq <= 4; ++seq) w.SubSeq(OpType::kAddPending, "foo", s1.id, seq);
  w.SubSeq(OpType::kAck, "foo", s1.id, 3);
  PadEntry(e);

  ClusterState state;
  ASSERT_TRUE(state.Apply(e));

  store::test::TempDir dir;
  store::StoreOptions o = store::test::FileOptions(dir.path());
  o.limits.global.max_msgs = 3;
  {
    auto st = store::test::OpenStore(o);
    ASSERT_NE(st, nullptr);
    ASSERT_TRUE(st->Recover().ok());
    store::Status s = ApplyEntry(e, *st);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(st->Close().ok());
  }
  auto st = store::test::OpenStore(o);
  ASSERT_NE(st, nullptr);
  auto rec = st->Recover();
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  ASSERT_TRUE(rec->has_value());
  const store::RecoveredState& r = **rec;

  ASSERT_TRUE(state.has_info);
  for (auto field :
       {&store::ServerInfo::cluster_id, &store::ServerInfo::discovery, &store::ServerInfo::publish,
        &store::ServerInfo::subscribe, &store::ServerInfo::unsubscribe, &store::ServerInfo::close,
        &store::ServerInfo::sub_close, &store::ServerInfo::acks_subs,
        &store::ServerInfo::node_id}) {
    EXPECT_EQ(r.info.*field, state.info.*field);
  }
  ASSERT_EQ(r.clients.size(), state.clients.size());
  for (const store::ClientInfo& c : r.clients) {
    auto it = state.clients.find(c.id);
    ASSERT_NE(it, state.clients.end()) << c.id;
    EXPECT_EQ(c.hb_inbox, it->second.hb_inbox);
    EXPECT_EQ(c.conn_id, it->second.conn_id);
    EXPECT_EQ(c.protocol, it->second.protocol);
    EXPECT_EQ(c.ping_interval, it->second.ping_interval);
    EXPECT_EQ(c.ping_max_out, it->second.ping_max_out);
  }
  ASSERT_EQ(r.channels.size(), state.channels.size());
  for (const auto& [name, rc] : r.channels) {
    SCOPED_TRACE(name);
    auto it = state.channels.find(name);
    ASSERT_NE(it, state.channels.end());
    const StateChannel& sc = it->second;
    if (sc.last == 0) {
      EXPECT_EQ(rc.channel->msgs->LastSequence(), 0u);
    } else {
      EXPECT_EQ(rc.channel->msgs->FirstSequence(), sc.first);
      EXPECT_EQ(rc.channel->msgs->LastSequence(), sc.last);
    }
    ASSERT_EQ(rc.subscriptions.size(), sc.subs.size());
    for (const store::RecoveredSubscription& sub : rc.subscriptions) {
      auto sit = sc.subs.find(sub.state.id);
      ASSERT_NE(sit, sc.subs.end()) << sub.state.id;
      const store::SubState& want = sit->second.state;
      EXPECT_EQ(sub.state.client_id, want.client_id);
      EXPECT_EQ(sub.state.q_group, want.q_group);
      EXPECT_EQ(sub.state.inbox, want.inbox);
      EXPECT_EQ(sub.state.ack_inbox, want.ack_inbox);
      EXPECT_EQ(sub.state.durable_name, want.durable_name);
      EXPECT_EQ(sub.state.max_in_flight, want.max_in_flight);
      EXPECT_EQ(sub.state.ack_wait_in_secs, want.ack_wait_in_secs);
      EXPECT_EQ(sub.state.is_durable, want.is_durable);
      EXPECT_EQ(sub.state.is_closed, want.is_closed);
      EXPECT_EQ(sub.state.last_sent, want.last_sent);
      EXPECT_EQ(std::set<uint64_t>(sub.pending.begin(), sub.pending.end()), sit->second.pending);
    }
  }
  // And what that state is, so that agreeing on nothing cannot pass.
  EXPECT_EQ(state.clients.size(), 1u);
  EXPECT_EQ(state.channels.size(), 3u);
  for (const char* name : {"emptied", "expired", "foo"}) {
    EXPECT_TRUE(state.channels.contains(name)) << name;
  }
  const StateChannel& foo = state.channels.at("foo");
  EXPECT_EQ(foo.first, 2u);
  EXPECT_EQ(foo.last, 4u);
  ASSERT_EQ(foo.subs.size(), 1u);
  EXPECT_TRUE(foo.subs.at(5).state.is_closed);
  EXPECT_EQ(foo.subs.at(5).state.last_sent, 4u);
  EXPECT_EQ(foo.subs.at(5).pending, (std::set<uint64_t>{2, 4}));
}

}  // namespace
}  // namespace gannet::streaming::cluster
