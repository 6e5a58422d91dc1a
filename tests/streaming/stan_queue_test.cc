// Interop with libnats' Streaming API: queue groups (one member per message, a leaving member's
// unacknowledged messages go to the others) and durable queue groups (the shadow keeps the
// group's position when the last member closes; unsubscribing the last member ends it).
#include <gtest/gtest.h>

#include <set>

#include "stan_harness.h"

namespace gannet::streaming::test {
namespace {

using Start = SubscribeOptions::Start;

class StanQueue : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Output();
    std::string err;
    pub_ = Connect(server_.url(), "publisher", &err);
    ASSERT_TRUE(pub_) << err;
  }
  void TearDown() override {
    pub_.reset();
    server_.Stop();
    EXPECT_EQ(server_.SanitizerReport(), "");
  }
  void PublishN(const std::string& channel, int from, int to) {
    for (int i = from; i <= to; ++i) {
      ASSERT_EQ(Publish(pub_.get(), channel, std::to_string(i)), "");
    }
  }
  StanServer server_;
  StanConn pub_;
};

TEST_F(StanQueue, EachMessageToOneMember) {
  std::string err;
  StanConn a = Connect(server_.url(), "member-a", &err);
  ASSERT_TRUE(a) << err;
  StanConn b = Connect(server_.url(), "member-b", &err);
  ASSERT_TRUE(b) << err;
  Collector ca, cb;
  SubscribeOptions o;
  o.queue = "workers";
  StanSub sa = Subscribe(a.get(), "jobs", ca, o, &err);
  ASSERT_TRUE(sa) << err;
  StanSub sb = Subscribe(b.get(), "jobs", cb, o, &err);
  ASSERT_TRUE(sb) << err;
  PublishN("jobs", 1, 100);
  ASSERT_TRUE(WaitFor([&] { return ca.Count() + cb.Count() >= 100; }));
  EXPECT_FALSE(WaitFor([&] { return ca.Count() + cb.Count() > 100; }, 200ms));
  std::set<uint64_t> seen;
  for (auto* c : {&ca, &cb}) {
    for (const auto& r : c->Snapshot()) EXPECT_TRUE(seen.insert(r.seq).second) << r.seq;
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_GT(ca.Count(), 0u);
  EXPECT_GT(cb.Count(), 0u);
}

TEST_F(StanQueue, NewMemberJoinsAtTheGroupsPosition) {
  std::string err;
  Collector c1, c2;
  SubscribeOptions o;
  o.queue = "g";
  o.start = Start::kFirst;
  PublishN("q", 1, 3);
  StanSub s1 = Subscribe(pub_.get(), "q", c1, o, &err);
  ASSERT_TRUE(s1) << err;
  ASSERT_TRUE(c1.WaitCount(3));
  // The second member's start position is ignored: the group already sent 1..3.
  StanConn other = Connect(server_.url(), "other", &err);
  ASSERT_TRUE(other) << err;
  StanSub s2 = Subscribe(other.get(), "q", c2, o, &err);
  ASSERT_TRUE(s2) << err;
  EXPECT_FALSE(c2.WaitCount(1, 200ms));
}

TEST_F(StanQueue, LeavingMembersUnackedGoToTheOthers) {
  std::string err;
  StanConn a = Connect(server_.url(), "leaver", &err);
  ASSERT_TRUE(a) << err;
  StanConn b = Connect(server_.url(), "stayer", &err);
  ASSERT_TRUE(b) << err;
  Collector ca, cb;
  ca.SetAck(false);
  SubscribeOptions o;
  o.queue = "g";
  o.manual_ack = true;
  o.ack_wait_ms = 1000;
  StanSub sa = Subscribe(a.get(), "tasks", ca, o, &err);
  ASSERT_TRUE(sa) << err;
  PublishN("tasks", 1, 3);
  ASSERT_TRUE(ca.WaitCount(3));
  StanSub sb = Subscribe(b.get(), "tasks", cb, o, &err);
  ASSERT_TRUE(sb) << err;
  // The leaver never acks and leaves: its three messages reach the stayer.
  ASSERT_EQ(stanSubscription_Unsubscribe(sa.get()), NATS_OK);
  ASSERT_TRUE(cb.WaitCount(3, 5s));
  std::set<uint64_t> got;
  for (const auto& r : cb.Snapshot()) got.insert(r.seq);
  EXPECT_EQ(got, (std::set<uint64_t>{1, 2, 3}));
}

TEST_F(StanQueue, DurableGroupShadowKeepsPosition) {
  std::string err;
  SubscribeOptions o;
  o.queue = "g";
  o.durable = "dur";
  o.manual_ack = true;
  o.start = Start::kFirst;
  PublishN("dq", 1, 3);
  {
    StanConn m = Connect(server_.url(), "member1", &err);
    ASSERT_TRUE(m) << err;
    Collector c;
    StanSub s = Subscribe(m.get(), "dq", c, o, &err);
    ASSERT_TRUE(s) << err;
    ASSERT_TRUE(c.WaitCount(3));
    // Last member closes (not unsubscribes): the group is kept.
    ASSERT_EQ(stanSubscription_Close(s.get()), NATS_OK);
  }
  PublishN("dq", 4, 5);
  StanConn m2 = Connect(server_.url(), "member2", &err);
  ASSERT_TRUE(m2) << err;
  Collector c2;
  StanSub s2 = Subscribe(m2.get(), "dq", c2, o, &err);
  ASSERT_TRUE(s2) << err;
  ASSERT_TRUE(c2.WaitCount(2));
  std::vector<uint64_t> seqs;
  for (const auto& r : c2.Snapshot()) seqs.push_back(r.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{4, 5}));
  // The last member unsubscribes: the group is gone, a new one starts over.
  ASSERT_EQ(stanSubscription_Unsubscribe(s2.get()), NATS_OK);
  Collector c3;
  StanSub s3 = Subscribe(m2.get(), "dq", c3, o, &err);
  ASSERT_TRUE(s3) << err;
  ASSERT_TRUE(c3.WaitCount(5));
  EXPECT_EQ(c3.Snapshot().front().seq, 1u);
}

TEST_F(StanQueue, DurableGroupSurvivesClientClose) {
  std::string err;
  SubscribeOptions o;
  o.queue = "g";
  o.durable = "dur";
  o.manual_ack = true;
  o.start = Start::kFirst;
  PublishN("dqc", 1, 2);
  {
    StanConn m = Connect(server_.url(), "closer", &err);
    ASSERT_TRUE(m) << err;
    Collector c;
    StanSub s = Subscribe(m.get(), "dqc", c, o, &err);
    ASSERT_TRUE(s) << err;
    ASSERT_TRUE(c.WaitCount(2));
    // The connection closes with the subscription open: the close takes it down.
    ASSERT_EQ(stanConnection_Close(m.get()), NATS_OK);
  }
  PublishN("dqc", 3, 3);
  StanConn m2 = Connect(server_.url(), "closer", &err);
  ASSERT_TRUE(m2) << err;
  Collector c2;
  StanSub s2 = Subscribe(m2.get(), "dqc", c2, o, &err);
  ASSERT_TRUE(s2) << err;
  ASSERT_TRUE(c2.WaitCount(1));
  EXPECT_EQ(c2.Snapshot().front().seq, 3u);
}

}  // namespace
}  // namespace gannet::streaming::test
