// The subscription bookkeeping without the network: pending acks (order, tombstones, expiry
// order, redelivery counts) and the choice of a queue group's member.
#include <gtest/gtest.h>

#include "streaming/pending.h"
#include "streaming/state.h"

namespace gannet::streaming {
namespace {

TEST(PendingSet, AddRemoveInAndOutOfOrder) {
  PendingSet p;
  for (uint64_t s = 1; s <= 10; ++s) p.Add(s, static_cast<int64_t>(s * 100));
  EXPECT_EQ(p.size(), 10u);
  EXPECT_TRUE(p.Remove(1));
  EXPECT_FALSE(p.Remove(1));
  EXPECT_TRUE(p.Remove(5));  // a tombstone in the middle
  EXPECT_FALSE(p.Contains(5));
  EXPECT_TRUE(p.Contains(6));
  EXPECT_EQ(p.size(), 8u);
  EXPECT_FALSE(p.Remove(42));
  // Adding again revives it.
  p.Add(5, 999);
  ASSERT_NE(p.Find(5), nullptr);
  EXPECT_EQ(p.Find(5)->expire, 999);
  EXPECT_EQ(p.size(), 9u);
  std::vector<uint64_t> seqs;
  for (const auto& e : p.Sorted()) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // Out-of-order insert (a message handed over from a leaving queue member).
  p.Add(0, 1);
  EXPECT_EQ(p.Sorted().front().seq, 0u);
  p.Clear();
  EXPECT_TRUE(p.empty());
}

TEST(PendingSet, ManyAcksCompact) {
  PendingSet p;
  for (uint64_t s = 1; s <= 1000; ++s) p.Add(s, 1);
  // Ack every other one, then the rest: the structure stays consistent throughout.
  for (uint64_t s = 2; s <= 1000; s += 2) ASSERT_TRUE(p.Remove(s));
  EXPECT_EQ(p.size(), 500u);
  for (uint64_t s = 1; s <= 1000; s += 2) ASSERT_TRUE(p.Contains(s)) << s;
  for (uint64_t s = 999; s >= 1 && s <= 999; s -= 2) ASSERT_TRUE(p.Remove(s)) << s;
  EXPECT_TRUE(p.empty());
  p.Add(7, 1);
  EXPECT_EQ(p.size(), 1u);
}

TEST(PendingSet, ExpiryOrderUnknownFirst) {
  PendingSet p;
  p.Add(1, 300);
  p.Add(2, 100);
  p.Add(3, 0);  // recovered: expiry unknown
  p.Add(4, 200);
  p.Add(5, 0);
  std::vector<uint64_t> order;
  for (const auto& e : p.SortedByExpiry()) order.push_back(e.seq);
  EXPECT_EQ(order, (std::vector<uint64_t>{3, 5, 2, 4, 1}));
}

TEST(PendingSet, RedeliveryCountsKeptPerMessage) {
  PendingSet p;
  p.Add(1, 10);
  p.Find(1)->redeliveries = 2;
  p.Add(1, 20);  // a new expiry keeps the count
  EXPECT_EQ(p.Find(1)->redeliveries, 2u);
  p.Remove(1);
  p.Add(1, 30);  // acknowledged then pending again: counted anew
  EXPECT_EQ(p.Find(1)->redeliveries, 0u);
}

TEST(QueueGroup, PicksTheLeastLoadedRotating) {
  Subscription a, b, c;
  std::vector<Subscription*> members{&a, &b, &c};
  // Equal loads: members take turns.
  EXPECT_EQ(PickQueueMember(members), &a);
  EXPECT_EQ(PickQueueMember(members), &b);
  EXPECT_EQ(PickQueueMember(members), &c);
  EXPECT_EQ(PickQueueMember(members), &a);
  // The least loaded wins.
  a.pending.Add(1, 1);
  b.pending.Add(2, 1);
  EXPECT_EQ(PickQueueMember(members), &c);
  // Stalled members and members whose client misses heartbeats are passed over.
  c.pending.Add(3, 1);
  c.pending.Add(4, 1);
  a.stalled = true;
  b.has_failed_hb = true;
  EXPECT_EQ(PickQueueMember(members), &c);
  // Nobody eligible: the first member, rotated.
  c.stalled = true;
  Subscription* first = members.front();
  EXPECT_EQ(PickQueueMember(members), first);
  std::vector<Subscription*> none;
  EXPECT_EQ(PickQueueMember(none), nullptr);
}

}  // namespace
}  // namespace gannet::streaming
