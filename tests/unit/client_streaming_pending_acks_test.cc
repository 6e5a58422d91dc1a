// The Streaming client's window of publishes waiting for their PubAck (PendingAcks): numbering,
// acks in and out of order, expiry order, closing.
#include <gtest/gtest.h>

#include "client/streaming_impl.h"

namespace gannet::client::streaming::detail {
namespace {

using namespace std::chrono_literals;

// A handler that records the guid it was called with.
AckHandler Tag(std::vector<int>* calls, int tag) {
  return [calls, tag](const std::string&, const Outcome&) { calls->push_back(tag); };
}

TEST(PendingAcks, AcksInAndOutOfOrder) {
  PendingAcks p;
  std::vector<int> calls;
  auto t0 = Clock::now();
  EXPECT_EQ(p.Add(Tag(&calls, 1), t0), 1u);
  EXPECT_EQ(p.Add(Tag(&calls, 2), t0), 2u);
  EXPECT_EQ(p.Add(Tag(&calls, 3), t0), 3u);
  EXPECT_EQ(p.outstanding(), 3u);
  AckHandler h;
  ASSERT_TRUE(p.Take(2, &h));  // out of order: 1 is still the oldest
  h("", Outcome(std::monostate{}));
  EXPECT_FALSE(p.Take(2, &h));  // only once
  EXPECT_FALSE(p.Take(7, &h));  // never published
  EXPECT_EQ(p.outstanding(), 2u);
  ASSERT_TRUE(p.Take(1, &h));
  h("", Outcome(std::monostate{}));
  EXPECT_FALSE(p.Take(1, &h));
  ASSERT_TRUE(p.Take(3, &h));
  h("", Outcome(std::monostate{}));
  EXPECT_EQ(p.outstanding(), 0u);
  EXPECT_EQ(calls, (std::vector<int>{2, 1, 3}));
  Clock::time_point e;
  EXPECT_FALSE(p.Earliest(&e));
  EXPECT_EQ(p.Add(nullptr, t0), 4u);  // numbering goes on
}

TEST(PendingAcks, ExpireOldestFirstSkippingAckedOnes) {
  PendingAcks p;
  std::vector<int> calls;
  auto t0 = Clock::now();
  p.Add(Tag(&calls, 1), t0 + 1s);
  p.Add(Tag(&calls, 2), t0 + 2s);
  p.Add(Tag(&calls, 3), t0 + 3s);
  AckHandler h;
  ASSERT_TRUE(p.Take(1, &h));
  Clock::time_point e;
  ASSERT_TRUE(p.Earliest(&e));
  EXPECT_EQ(e, t0 + 2s);
  uint64_t seq = 0;
  EXPECT_FALSE(p.TakeExpired(t0 + 1500ms, &seq, &h));
  ASSERT_TRUE(p.TakeExpired(t0 + 2500ms, &seq, &h));
  EXPECT_EQ(seq, 2u);
  EXPECT_FALSE(p.TakeExpired(t0 + 2500ms, &seq, &h));
  EXPECT_EQ(p.outstanding(), 1u);
  auto rest = p.TakeAll();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].first, 3u);
  EXPECT_EQ(p.outstanding(), 0u);
  EXPECT_FALSE(p.Take(3, &h));
}

}  // namespace
}  // namespace gannet::client::streaming::detail
