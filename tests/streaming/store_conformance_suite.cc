// The store conformance suite (see store_conformance.h): the tests every store runs, compiled
// into each test program that instantiates them (MEMORY and FILE in the unit tests, the SQL
// drivers in gannet_sql_tests).
#include <gtest/gtest.h>

#include "store_conformance.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store {
namespace {

std::string Record(uint64_t seq, std::string_view data, int64_t ts) {
  std::string r;
  AppendMsgRecord(r, seq, "foo", "", data, ts);
  return r;
}

// What a FILE store needs before its channels are recovered.
ServerInfo TestInfo() {
  ServerInfo info;
  info.cluster_id = "test";
  return info;
}

TEST_P(StoreConformance, CreateLookupDeleteChannels) {
  StoreLimits limits;
  limits.max_channels = 2;
  auto s = NewStore(limits);
  auto a = s->CreateChannel("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->name, "a");
  EXPECT_EQ(s->CreateChannel("a").status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(s->CreateChannel("b").ok());
  auto c = s->CreateChannel("c");
  EXPECT_EQ(c.status().code(), Code::kTooManyChannels);
  EXPECT_EQ(c.status().message(), "too many channels");
  EXPECT_EQ(s->LookupChannel("a"), *a);
  EXPECT_EQ(s->LookupChannel("zzz"), nullptr);
  EXPECT_TRUE(s->DeleteChannel("a").ok());
  EXPECT_EQ(s->DeleteChannel("a").code(), Code::kNotFound);
  EXPECT_TRUE(s->CreateChannel("c").ok());
}

TEST_P(StoreConformance, StoreAndLookup) {
  auto s = NewStore();
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  EXPECT_EQ(m.FirstSequence(), 0u);
  EXPECT_EQ(m.LastSequence(), 0u);
  uint64_t total = 0;
  for (uint64_t i = 1; i <= 5; ++i) {
    std::string r = Record(i, "msg" + std::to_string(i), static_cast<int64_t>(i * 100));
    total += Counted(r.size());
    ASSERT_TRUE(m.Store(i, static_cast<int64_t>(i * 100), r).ok());
  }
  EXPECT_TRUE(m.Flush().ok());
  EXPECT_EQ(m.FirstSequence(), 1u);
  EXPECT_EQ(m.LastSequence(), 5u);
  auto ref = m.Lookup(3);
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(ref->found());
  EXPECT_EQ(ref->timestamp, 300);
  MsgRecord rec;
  ASSERT_TRUE(DecodeMsgRecord(ref->record, rec));
  EXPECT_EQ(rec.seq, 3u);
  EXPECT_EQ(rec.data, "msg3");
  EXPECT_EQ(rec.subject, "foo");
  EXPECT_FALSE(m.Lookup(0)->found());
  EXPECT_FALSE(m.Lookup(6)->found());
  MsgStoreState st = m.State();
  EXPECT_EQ(st.msgs, 5u);
  EXPECT_EQ(st.bytes, total);
  // A replayed sequence is ignored.
  EXPECT_TRUE(m.Store(5, 500, Record(5, "x", 500)).ok());
  EXPECT_EQ(m.State().msgs, 5u);
}

TEST_P(StoreConformance, MaxMsgsDropsOldestKeepsLast) {
  StoreLimits limits;
  limits.global.max_msgs = 3;
  auto s = NewStore(limits);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(m.Store(i, 1, Record(i, "x", 1)).ok());
  EXPECT_EQ(m.FirstSequence(), 8u);
  EXPECT_EQ(m.LastSequence(), 10u);
  EXPECT_EQ(m.State().msgs, 3u);
  EXPECT_FALSE(m.Lookup(7)->found());
  EXPECT_TRUE(m.Lookup(8)->found());
}

TEST_P(StoreConformance, MaxBytesKeepsAtLeastTheNewMessage) {
  StoreLimits limits;
  const size_t one = Record(1, std::string(100, 'x'), 1).size();
  limits.global.max_bytes = static_cast<int64_t>(2 * Counted(one));
  auto s = NewStore(limits);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  for (uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(m.Store(i, 1, Record(i, std::string(100, 'x'), 1)).ok());
  }
  EXPECT_EQ(m.State().msgs, 2u);
  EXPECT_EQ(m.FirstSequence(), 3u);
  // Bigger than the limit on its own: stored anyway, everything else dropped.
  std::string big = Record(5, std::string(1000, 'y'), 1);
  ASSERT_TRUE(m.Store(5, 1, big).ok());
  EXPECT_EQ(m.State().msgs, 1u);
  EXPECT_EQ(m.FirstSequence(), 5u);
  EXPECT_EQ(m.Lookup(5)->record, big);
}

TEST_P(StoreConformance, ManyMessagesAcrossBlocks) {
  StoreLimits limits;
  limits.global.max_msgs = 5000;
  limits.global.max_bytes = 0;
  auto s = NewStore(limits);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  const std::string payload(1000, 'p');
  for (uint64_t i = 1; i <= 20000; ++i) {
    ASSERT_TRUE(
        m.Store(i, static_cast<int64_t>(i), Record(i, payload, static_cast<int64_t>(i))).ok());
  }
  EXPECT_EQ(m.FirstSequence(), 15001u);
  for (uint64_t i = 15001; i <= 20000; i += 997) {
    MsgRecord rec;
    ASSERT_TRUE(DecodeMsgRecord(m.Lookup(i)->record, rec));
    EXPECT_EQ(rec.seq, i);
    EXPECT_EQ(rec.data, payload);
  }
}

TEST_P(StoreConformance, SequenceFromTimestamp) {
  auto s = NewStore();
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  EXPECT_EQ(*m.GetSequenceFromTimestamp(5), 0u);
  for (uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(
        m.Store(i, static_cast<int64_t>(i * 10), Record(i, "x", static_cast<int64_t>(i * 10)))
            .ok());
  }
  EXPECT_EQ(*m.GetSequenceFromTimestamp(0), 1u);
  EXPECT_EQ(*m.GetSequenceFromTimestamp(10), 1u);
  EXPECT_EQ(*m.GetSequenceFromTimestamp(11), 2u);
  EXPECT_EQ(*m.GetSequenceFromTimestamp(30), 3u);
  EXPECT_EQ(*m.GetSequenceFromTimestamp(50), 5u);
  EXPECT_EQ(*m.GetSequenceFromTimestamp(51), 6u);
}

TEST_P(StoreConformance, MaxAgeExpiry) {
  StoreLimits limits;
  limits.global.max_age = std::chrono::seconds(1);
  auto s = NewStore(limits);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  const int64_t sec = 1000000000;
  for (uint64_t i = 1; i <= 4; ++i) {
    int64_t ts = static_cast<int64_t>(i) * sec;
    ASSERT_TRUE(m.Store(i, ts, Record(i, "x", ts)).ok());
  }
  // At t=3.5s, messages of t=1s and t=2s are older than 1s.
  auto next = m.ExpireMessages(3 * sec + sec / 2);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 4 * sec);  // the message of t=3s expires at t=4s
  EXPECT_EQ(m.FirstSequence(), 3u);
  EXPECT_EQ(*m.ExpireMessages(10 * sec), 0);
  EXPECT_EQ(m.State().msgs, 0u);
  // Every message gone: first = last + 1, and time lookups answer "new only".
  EXPECT_EQ(m.FirstSequence(), 5u);
  EXPECT_EQ(m.LastSequence(), 4u);
  EXPECT_EQ(*m.GetSequenceFromTimestamp(0), 5u);
  // Sequences go on from there.
  ASSERT_TRUE(m.Store(5, 11 * sec, Record(5, "x", 11 * sec)).ok());
  EXPECT_EQ(m.FirstSequence(), 5u);
}

TEST_P(StoreConformance, EmptyKeepsSequences) {
  auto s = NewStore();
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  for (uint64_t i = 1; i <= 3; ++i) ASSERT_TRUE(m.Store(i, 1, Record(i, "x", 1)).ok());
  ASSERT_TRUE(m.Empty().ok());
  EXPECT_EQ(m.State().msgs, 0u);
  EXPECT_EQ(m.LastSequence(), 3u);
  EXPECT_EQ(m.FirstSequence(), 4u);
  ASSERT_TRUE(m.Store(4, 1, Record(4, "x", 1)).ok());
  EXPECT_EQ(m.FirstSequence(), 4u);
}

// A cut tail (a deposed cluster leader's store): gone, the next sequence is the cut's + 1, the
// cut's no-ops, and a store that keeps its messages recovers the cut.
TEST_P(StoreConformance, TruncateAfterCutsTheTail) {
  auto s = NewStore();
  ASSERT_TRUE(s->Init(TestInfo()).ok());
  MsgStore* m = (*s->CreateChannel("foo"))->msgs.get();
  uint64_t kept_bytes = 0;
  for (uint64_t i = 1; i <= 10; ++i) {
    std::string r = Record(i, "msg" + std::to_string(i), static_cast<int64_t>(i * 100));
    if (i <= 6) kept_bytes += Counted(r.size());
    ASSERT_TRUE(m->Store(i, static_cast<int64_t>(i * 100), r).ok());
  }
  ASSERT_TRUE(m->Flush().ok());
  // At or past the end: nothing to cut.
  ASSERT_TRUE(m->TruncateAfter(10).ok());
  ASSERT_TRUE(m->TruncateAfter(12).ok());
  EXPECT_EQ(m->LastSequence(), 10u);
  EXPECT_EQ(m->State().msgs, 10u);
  // In the middle.
  Status st = m->TruncateAfter(6);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(m->FirstSequence(), 1u);
  EXPECT_EQ(m->LastSequence(), 6u);
  EXPECT_EQ(m->State().msgs, 6u);
  EXPECT_EQ(m->State().bytes, kept_bytes);
  EXPECT_FALSE(m->Lookup(7)->found());
  EXPECT_FALSE(m->Lookup(10)->found());
  EXPECT_EQ(m->Lookup(6)->record, Record(6, "msg6", 600));
  EXPECT_EQ(*m->GetSequenceFromTimestamp(650), 7u);
  // The sequences go on from the cut, with other messages.
  EXPECT_EQ(m->Store(8, 800, Record(8, "x", 800)).code(), Code::kInvalid);
  for (uint64_t i = 7; i <= 8; ++i) {
    ASSERT_TRUE(m->Store(i, static_cast<int64_t>(i * 100), Record(i, "new", 1)).ok());
  }
  ASSERT_TRUE(m->Flush().ok());
  EXPECT_EQ(m->LastSequence(), 8u);
  EXPECT_EQ(m->Lookup(7)->record, Record(7, "new", 1));
  if (!GetParam().reopen) return;
  ASSERT_TRUE(s->Close().ok());
  s.reset();
  s = Reopen();
  ASSERT_TRUE(s);
  ChannelStore* c = s->LookupChannel("foo");
  ASSERT_TRUE(c);
  m = c->msgs.get();
  EXPECT_EQ(m->FirstSequence(), 1u);
  EXPECT_EQ(m->LastSequence(), 8u);
  EXPECT_EQ(m->State().msgs, 8u);
  EXPECT_EQ(m->Lookup(6)->record, Record(6, "msg6", 600));
  EXPECT_EQ(m->Lookup(7)->record, Record(7, "new", 1));
  EXPECT_EQ(m->Lookup(8)->record, Record(8, "new", 1));
  EXPECT_FALSE(m->Lookup(9)->found());
  ASSERT_TRUE(m->Store(9, 900, Record(9, "after", 900)).ok());
  ASSERT_TRUE(m->Flush().ok());
  EXPECT_EQ(m->Lookup(9)->record, Record(9, "after", 900));
}

// A cut below the first message kept (the others removed by limits) leaves no message, and the
// sequences go on from the cut.
TEST_P(StoreConformance, TruncateAfterBelowTheFirst) {
  StoreLimits limits;
  limits.global.max_msgs = 3;
  auto s = NewStore(limits);
  ASSERT_TRUE(s->Init(TestInfo()).ok());
  MsgStore* m = (*s->CreateChannel("foo"))->msgs.get();
  for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(m->Store(i, 1, Record(i, "x", 1)).ok());
  ASSERT_TRUE(m->Flush().ok());
  ASSERT_EQ(m->FirstSequence(), 8u);
  Status st = m->TruncateAfter(5);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(m->State().msgs, 0u);
  EXPECT_EQ(m->State().bytes, 0u);
  EXPECT_EQ(m->LastSequence(), 5u);
  EXPECT_EQ(m->FirstSequence(), 6u);
  EXPECT_FALSE(m->Lookup(8)->found());
  ASSERT_TRUE(m->Store(6, 2, Record(6, "y", 2)).ok());
  ASSERT_TRUE(m->Flush().ok());
  EXPECT_EQ(m->FirstSequence(), 6u);
  EXPECT_EQ(m->LastSequence(), 6u);
  if (GetParam().reopen) {
    ASSERT_TRUE(s->Close().ok());
    s.reset();
    s = Reopen(limits);
    ASSERT_TRUE(s);
    ChannelStore* c = s->LookupChannel("foo");
    ASSERT_TRUE(c);
    m = c->msgs.get();
    EXPECT_EQ(m->FirstSequence(), 6u);
    EXPECT_EQ(m->LastSequence(), 6u);
    EXPECT_EQ(m->State().msgs, 1u);
    EXPECT_EQ(m->Lookup(6)->record, Record(6, "y", 2));
    EXPECT_FALSE(m->Lookup(8)->found());
  }
  // Everything: as if nothing was ever stored.
  ASSERT_TRUE(m->TruncateAfter(0).ok());
  EXPECT_EQ(m->FirstSequence(), 0u);
  EXPECT_EQ(m->LastSequence(), 0u);
  EXPECT_EQ(m->State().msgs, 0u);
  ASSERT_TRUE(m->Store(1, 3, Record(1, "z", 3)).ok());
  ASSERT_TRUE(m->Flush().ok());
  EXPECT_EQ(m->FirstSequence(), 1u);
  EXPECT_EQ(m->Lookup(1)->record, Record(1, "z", 3));
}

TEST_P(StoreConformance, SubscriptionIdsAndMaxSubs) {
  StoreLimits limits;
  limits.global.max_subscriptions = 2;
  auto s = NewStore(limits);
  SubStore& subs = *(*s->CreateChannel("foo"))->subs;
  SubState a, b, c;
  ASSERT_TRUE(subs.CreateSub(a).ok());
  ASSERT_TRUE(subs.CreateSub(b).ok());
  EXPECT_EQ(a.id, 1u);
  EXPECT_EQ(b.id, 2u);
  Status st = subs.CreateSub(c);
  EXPECT_EQ(st.code(), Code::kTooManySubs);
  EXPECT_EQ(st.message(), "too many subscriptions per channel");
  ASSERT_TRUE(subs.DeleteSub(a.id).ok());
  ASSERT_TRUE(subs.CreateSub(c).ok());
  EXPECT_EQ(c.id, 3u);  // ids are never reused
  EXPECT_TRUE(subs.AddSeqPending(c.id, 1).ok());
  EXPECT_TRUE(subs.AckSeqPending(c.id, 1).ok());
  EXPECT_TRUE(subs.Flush().ok());
}

TEST_P(StoreConformance, PerChannelLimitsApply) {
  StoreLimits limits;
  limits.per_channel["foo.*"].max_msgs = 2;
  limits.per_channel["bar"].max_subscriptions = 1;
  auto s = NewStore(limits);
  EXPECT_EQ(s->GetChannelLimits("foo.x").max_msgs, 2);
  EXPECT_EQ(s->GetChannelLimits("foo.x").max_subscriptions, 1000);
  EXPECT_EQ(s->GetChannelLimits("baz").max_msgs, 1000000);
  MsgStore& m = *(*s->CreateChannel("foo.x"))->msgs;
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(m.Store(i, 1, Record(i, "x", 1)).ok());
  EXPECT_EQ(m.State().msgs, 2u);
  SubStore& subs = *(*s->CreateChannel("bar"))->subs;
  SubState a, b;
  ASSERT_TRUE(subs.CreateSub(a).ok());
  EXPECT_EQ(subs.CreateSub(b).code(), Code::kTooManySubs);
}

}  // namespace
}  // namespace gannet::streaming::store
