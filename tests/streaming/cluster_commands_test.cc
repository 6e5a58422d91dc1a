// The replicated commands of a clustered server (streaming/cluster/commands.h): what a leader's
// ReplicatingStore records, applied to another store, gives that store the same state; a replay
// stores no message twice; a truncated entry is refused.
#include <gtest/gtest.h>

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

TEST(ClusterCommands, ATruncatedEntryIsRefused) {
  std::string e;
  AppendEntryHeader(e, 1, 2);
  std::string ops;
  OpWriter(ops).Msg("foo", 1, 5, "record");
  e += ops.substr(0, ops.size() - 3);
  auto st = Memory();
  store::Status s = ApplyEntry(e, *st);
  EXPECT_FALSE(s.ok());
  uint64_t origin, incarnation;
  EXPECT_FALSE(ReadEntryHeader("short", origin, incarnation));
}

}  // namespace
}  // namespace gannet::streaming::cluster
