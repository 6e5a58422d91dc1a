// Interop with libnats' Streaming API: publishing and every start position, acks, redelivery,
// max in flight, durables (across client restarts, unsubscribe versus close), errors.
#include <gtest/gtest.h>

#include "gannet/client.h"
#include "stan_harness.h"
#include "streaming/proto/protocol.pb.h"

namespace gannet::streaming::test {
namespace {

using Start = SubscribeOptions::Start;

class StanSubscribe : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start()) << server_.Output();
    std::string err;
    sc_ = Connect(server_.url(), "sub-client", &err);
    ASSERT_TRUE(sc_) << err;
  }
  void TearDown() override {
    sc_.reset();
    server_.Stop();
    EXPECT_EQ(server_.SanitizerReport(), "");
  }
  void PublishN(const std::string& channel, int from, int to) {
    for (int i = from; i <= to; ++i) {
      ASSERT_EQ(Publish(sc_.get(), channel, "m" + std::to_string(i)), "");
    }
  }
  static std::vector<uint64_t> Seqs(Collector& c) {
    std::vector<uint64_t> out;
    for (const auto& r : c.Snapshot()) out.push_back(r.seq);
    return out;
  }

  StanServer server_;
  StanConn sc_;
};

TEST_F(StanSubscribe, SequencesAndTimestampsInOrder) {
  PublishN("foo", 1, 50);
  Collector c;
  SubscribeOptions o;
  o.start = Start::kFirst;
  std::string err;
  StanSub sub = Subscribe(sc_.get(), "foo", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(50));
  auto got = c.Snapshot();
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, i + 1);
    EXPECT_EQ(got[i].data, "m" + std::to_string(i + 1));
    EXPECT_FALSE(got[i].redelivered);
    if (i > 0) {
      EXPECT_GE(got[i].timestamp, got[i - 1].timestamp);
    }
  }
}

TEST_F(StanSubscribe, NewOnly) {
  PublishN("foo", 1, 3);
  Collector c;
  std::string err;
  StanSub sub = Subscribe(sc_.get(), "foo", c, {}, &err);
  ASSERT_TRUE(sub) << err;
  PublishN("foo", 4, 5);
  ASSERT_TRUE(c.WaitCount(2));
  EXPECT_EQ(Seqs(c), (std::vector<uint64_t>{4, 5}));
}

TEST_F(StanSubscribe, LastReceived) {
  PublishN("foo", 1, 3);
  Collector c;
  SubscribeOptions o;
  o.start = Start::kLastReceived;
  std::string err;
  StanSub sub = Subscribe(sc_.get(), "foo", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(1));
  PublishN("foo", 4, 4);
  ASSERT_TRUE(c.WaitCount(2));
  EXPECT_EQ(Seqs(c), (std::vector<uint64_t>{3, 4}));
}

TEST_F(StanSubscribe, LastReceivedOnAnEmptyChannel) {
  Collector c;
  SubscribeOptions o;
  o.start = Start::kLastReceived;
  std::string err;
  StanSub sub = Subscribe(sc_.get(), "empty", c, o, &err);
  ASSERT_TRUE(sub) << err;
  PublishN("empty", 1, 1);
  ASSERT_TRUE(c.WaitCount(1));
  EXPECT_EQ(Seqs(c), (std::vector<uint64_t>{1}));
}

TEST_F(StanSubscribe, SequenceStart) {
  PublishN("foo", 1, 10);
  std::string err;
  Collector mid, below, above;
  SubscribeOptions o;
  o.start = Start::kSequence;
  o.start_seq = 7;
  StanSub s1 = Subscribe(sc_.get(), "foo", mid, o, &err);
  ASSERT_TRUE(s1) << err;
  ASSERT_TRUE(mid.WaitCount(4));
  EXPECT_EQ(Seqs(mid), (std::vector<uint64_t>{7, 8, 9, 10}));
  // Beyond the last: new messages only.
  o.start_seq = 100;
  StanSub s2 = Subscribe(sc_.get(), "foo", above, o, &err);
  ASSERT_TRUE(s2) << err;
  PublishN("foo", 11, 11);
  ASSERT_TRUE(above.WaitCount(1));
  EXPECT_EQ(Seqs(above), (std::vector<uint64_t>{11}));
}

TEST_F(StanSubscribe, TimeDelta) {
  PublishN("foo", 1, 3);
  std::string err;
  // Everything of the last minute.
  Collector all;
  SubscribeOptions o;
  o.start = Start::kTimeDelta;
  o.start_delta_ms = 60000;
  StanSub s1 = Subscribe(sc_.get(), "foo", all, o, &err);
  ASSERT_TRUE(s1) << err;
  ASSERT_TRUE(all.WaitCount(3));
  EXPECT_EQ(Seqs(all), (std::vector<uint64_t>{1, 2, 3}));
  // A delta that reaches back to between messages 3 and 4: only 4. The gap between them
  // is made by waiting for the clock.
  const int64_t t3 = all.Snapshot()[2].timestamp;
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  ASSERT_TRUE(WaitFor([&] { return now_ns() >= t3 + 400'000'000; }));
  PublishN("foo", 4, 4);
  Collector recent;
  o.start_delta_ms = 200;
  StanSub s2 = Subscribe(sc_.get(), "foo", recent, o, &err);
  ASSERT_TRUE(s2) << err;
  ASSERT_TRUE(recent.WaitCount(1));
  EXPECT_EQ(Seqs(recent), (std::vector<uint64_t>{4}));
}

TEST_F(StanSubscribe, FirstAfterMessagesWereDroppedByLimits) {
  server_.Stop();
  sc_.reset();
  StanServer limited({"-mm", "5"});
  ASSERT_TRUE(limited.Start()) << limited.Output();
  std::string err;
  StanConn sc = Connect(limited.url(), "limited", &err);
  ASSERT_TRUE(sc) << err;
  for (int i = 1; i <= 12; ++i) ASSERT_EQ(Publish(sc.get(), "foo", std::to_string(i)), "");
  Collector c;
  SubscribeOptions o;
  o.start = Start::kFirst;
  StanSub sub = Subscribe(sc.get(), "foo", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(5));
  EXPECT_EQ(Seqs(c), (std::vector<uint64_t>{8, 9, 10, 11, 12}));
  // A sequence start below the first available starts at the first.
  Collector low;
  o.start = Start::kSequence;
  o.start_seq = 2;
  StanSub sub2 = Subscribe(sc.get(), "foo", low, o, &err);
  ASSERT_TRUE(sub2) << err;
  ASSERT_TRUE(low.WaitCount(5));
  EXPECT_EQ(Seqs(low).front(), 8u);
  EXPECT_NE(limited.Output().find("WARNING: Reached limits for store \"foo\""), std::string::npos);
  sub.reset();
  sub2.reset();
  sc.reset();
  limited.Stop();
  EXPECT_EQ(limited.SanitizerReport(), "");
  ASSERT_TRUE(server_.Start());  // for TearDown
}

TEST_F(StanSubscribe, UnackedMessagesAreRedelivered) {
  Collector c;
  c.SetAck(false);
  SubscribeOptions o;
  o.manual_ack = true;
  o.ack_wait_ms = 1000;  // the minimum the server takes
  std::string err;
  StanSub sub = Subscribe(sc_.get(), "redeliver", c, o, &err);
  ASSERT_TRUE(sub) << err;
  PublishN("redeliver", 1, 2);
  ASSERT_TRUE(c.WaitCount(2));
  // Not acknowledged: both come again, flagged redelivered.
  ASSERT_TRUE(c.WaitCount(4, 5s));
  auto got = c.Snapshot();
  EXPECT_FALSE(got[0].redelivered);
  EXPECT_TRUE(got[2].redelivered);
  EXPECT_TRUE(got[3].redelivered);
  EXPECT_EQ(got[2].seq, 1u);
  EXPECT_EQ(got[3].seq, 2u);
  // Acknowledged now (the collector acks redeliveries from here): no more.
  c.SetAck(true);
  ASSERT_TRUE(c.WaitCount(6, 5s));
  size_t settled = c.Count();
  EXPECT_FALSE(c.WaitCount(settled + 1, 2500ms));
}

TEST_F(StanSubscribe, MaxInflightStallsUntilAcks) {
  Collector c;
  c.SetAck(false);
  SubscribeOptions o;
  o.manual_ack = true;
  o.max_inflight = 2;
  o.ack_wait_ms = 30000;
  std::string err;
  StanSub sub = Subscribe(sc_.get(), "stall", c, o, &err);
  ASSERT_TRUE(sub) << err;
  PublishN("stall", 1, 5);
  ASSERT_TRUE(c.WaitCount(2));
  EXPECT_FALSE(c.WaitCount(3, 300ms));
  EXPECT_EQ(Seqs(c), (std::vector<uint64_t>{1, 2}));
}

TEST_F(StanSubscribe, SubscriptionRequestErrors) {
  Collector c;
  SubscribeOptions o;
  std::string err;
  StanSub bad = Subscribe(sc_.get(), "foo.*", c, o, &err);
  EXPECT_FALSE(bad);
  EXPECT_NE(err.find("stan: invalid subject"), std::string::npos) << err;
  o.durable = "dur";
  StanSub d1 = Subscribe(sc_.get(), "foo", c, o, &err);
  ASSERT_TRUE(d1) << err;
  StanSub d2 = Subscribe(sc_.get(), "foo", c, o, &err);
  EXPECT_FALSE(d2);
  EXPECT_NE(err.find("stan: duplicate durable registration"), std::string::npos) << err;
  o.queue = "q";
  o.durable = "a:b";
  StanSub dq = Subscribe(sc_.get(), "foo", c, o, &err);
  EXPECT_FALSE(dq);
  EXPECT_NE(err.find("durable name of a durable queue subscriber can't contain the character ':'"),
            std::string::npos)
      << err;
}

TEST_F(StanSubscribe, DurableResumesAfterClientRestart) {
  std::string err;
  {
    StanConn sc = Connect(server_.url(), "durable-client", &err);
    ASSERT_TRUE(sc) << err;
    Collector c;
    SubscribeOptions o;
    o.durable = "dur";
    o.manual_ack = true;  // acked before the collector counts it
    o.start = Start::kFirst;
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(Publish(sc.get(), "orders", std::to_string(i)), "");
    StanSub sub = Subscribe(sc.get(), "orders", c, o, &err);
    ASSERT_TRUE(sub) << err;
    ASSERT_TRUE(c.WaitCount(3));
    // The connection closes with the durable open: it goes offline, kept.
    ASSERT_EQ(stanConnection_Close(sc.get()), NATS_OK);
  }
  for (int i = 4; i <= 6; ++i) ASSERT_EQ(Publish(sc_.get(), "orders", std::to_string(i)), "");
  StanConn sc = Connect(server_.url(), "durable-client", &err);
  ASSERT_TRUE(sc) << err;
  Collector c;
  SubscribeOptions o;
  o.durable = "dur";
  o.start = Start::kFirst;  // ignored for a durable that resumes
  StanSub sub = Subscribe(sc.get(), "orders", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(3));
  EXPECT_EQ(Seqs(c), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_FALSE(c.WaitCount(4, 200ms));
}

TEST_F(StanSubscribe, DurableUnackedRedeliveredOnResume) {
  std::string err;
  {
    StanConn sc = Connect(server_.url(), "dc", &err);
    ASSERT_TRUE(sc) << err;
    Collector c;
    c.SetAck(false);
    SubscribeOptions o;
    o.durable = "dur";
    o.manual_ack = true;
    o.start = Start::kFirst;
    PublishN("work", 1, 2);
    StanSub sub = Subscribe(sc.get(), "work", c, o, &err);
    ASSERT_TRUE(sub) << err;
    ASSERT_TRUE(c.WaitCount(2));
    ASSERT_EQ(stanSubscription_Close(sub.get()), NATS_OK);
  }
  StanConn sc = Connect(server_.url(), "dc", &err);
  ASSERT_TRUE(sc) << err;
  Collector c;
  SubscribeOptions o;
  o.durable = "dur";
  StanSub sub = Subscribe(sc.get(), "work", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(2));
  auto got = c.Snapshot();
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_TRUE(got[0].redelivered);
  EXPECT_EQ(got[1].seq, 2u);
}

TEST_F(StanSubscribe, DurableUnsubscribeForgetsIt) {
  std::string err;
  Collector c1;
  SubscribeOptions o;
  o.durable = "dur";
  o.manual_ack = true;
  o.start = Start::kFirst;
  PublishN("gone", 1, 2);
  StanSub s1 = Subscribe(sc_.get(), "gone", c1, o, &err);
  ASSERT_TRUE(s1) << err;
  ASSERT_TRUE(c1.WaitCount(2));
  ASSERT_EQ(stanSubscription_Unsubscribe(s1.get()), NATS_OK);
  // Subscribing again with the same name starts over from the start position.
  Collector c2;
  StanSub s2 = Subscribe(sc_.get(), "gone", c2, o, &err);
  ASSERT_TRUE(s2) << err;
  ASSERT_TRUE(c2.WaitCount(2));
  EXPECT_EQ(Seqs(c2), (std::vector<uint64_t>{1, 2}));
}

TEST_F(StanSubscribe, DurableCloseKeepsPosition) {
  std::string err;
  Collector c1;
  SubscribeOptions o;
  o.durable = "dur";
  o.manual_ack = true;  // acked before the collector counts it
  o.start = Start::kFirst;
  PublishN("kept", 1, 2);
  StanSub s1 = Subscribe(sc_.get(), "kept", c1, o, &err);
  ASSERT_TRUE(s1) << err;
  ASSERT_TRUE(c1.WaitCount(2));
  ASSERT_EQ(stanSubscription_Close(s1.get()), NATS_OK);
  PublishN("kept", 3, 3);
  Collector c2;
  StanSub s2 = Subscribe(sc_.get(), "kept", c2, o, &err);
  ASSERT_TRUE(s2) << err;
  ASSERT_TRUE(c2.WaitCount(1));
  EXPECT_EQ(Seqs(c2), (std::vector<uint64_t>{3}));
}

TEST_F(StanSubscribe, PlainUnsubscribeStopsDelivery) {
  std::string err;
  Collector c;
  StanSub s = Subscribe(sc_.get(), "stop", c, {}, &err);
  ASSERT_TRUE(s) << err;
  PublishN("stop", 1, 1);
  ASSERT_TRUE(c.WaitCount(1));
  ASSERT_EQ(stanSubscription_Unsubscribe(s.get()), NATS_OK);
  PublishN("stop", 2, 3);
  EXPECT_FALSE(c.WaitCount(2, 200ms));
}

// --replace_durable: a second registration of an active durable takes it over instead of
// failing.
TEST(StanReplaceDurable, SecondRegistrationTakesOver) {
  StanServer server({"--replace_durable"});
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "rd", &err);
  ASSERT_TRUE(sc) << err;
  SubscribeOptions o;
  o.durable = "dur";
  o.manual_ack = true;
  o.start = SubscribeOptions::Start::kFirst;
  for (int i = 1; i <= 2; ++i) ASSERT_EQ(Publish(sc.get(), "rd", std::to_string(i)), "");
  Collector c1, c2;
  StanSub s1 = Subscribe(sc.get(), "rd", c1, o, &err);
  ASSERT_TRUE(s1) << err;
  ASSERT_TRUE(c1.WaitCount(2));
  StanSub s2 = Subscribe(sc.get(), "rd", c2, o, &err);
  ASSERT_TRUE(s2) << err;
  ASSERT_EQ(Publish(sc.get(), "rd", "3"), "");
  // The new registration continues where the durable was; the old one gets nothing more.
  ASSERT_TRUE(c2.WaitCount(1));
  EXPECT_EQ(c2.Snapshot().front().seq, 3u);
  EXPECT_EQ(c1.Count(), 2u);
}

// A client whose subscribe request timed out closes the subscription by its delivery inbox
// (it never learned the ack inbox): the server finds it that way too.
TEST_F(StanSubscribe, CloseByDeliveryInbox) {
  auto nc = client::Connection::Connect(server_.url());
  ASSERT_TRUE(nc) << nc.error();
  auto hb = nc->Subscribe("_INBOX.raw.hb", [&](client::Message& m) { nc->Respond(m, ""); });
  ASSERT_TRUE(hb);
  pb::ConnectRequest req;
  req.set_client_id("raw");
  req.set_heartbeat_inbox("_INBOX.raw.hb");
  auto reply = nc->Request("_STAN.discover.test-cluster", req.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::ConnectResponse cr;
  ASSERT_TRUE(cr.ParseFromString(std::string(reply->data())));
  pb::SubscriptionRequest sr;
  sr.set_client_id("raw");
  sr.set_subject("timed");
  sr.set_inbox("_INBOX.raw.deliveries");
  sr.set_max_in_flight(10);
  sr.set_ack_wait_in_secs(30);
  reply = nc->Request(cr.sub_requests(), sr.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::UnsubscribeRequest ur;
  ur.set_client_id("raw");
  ur.set_subject("timed");
  ur.set_inbox("_INBOX.raw.deliveries");
  reply = nc->Request(cr.sub_close_requests(), ur.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::SubscriptionResponse resp;
  ASSERT_TRUE(resp.ParseFromString(std::string(reply->data())));
  EXPECT_EQ(resp.error(), "");
  // Gone: closing it again finds nothing; an unknown channel is its own error.
  reply = nc->Request(cr.sub_close_requests(), ur.SerializeAsString(), 2s);
  ASSERT_TRUE(reply);
  ASSERT_TRUE(resp.ParseFromString(std::string(reply->data())));
  EXPECT_EQ(resp.error(), "stan: invalid subscription");
  ur.set_subject("no-such-channel");
  reply = nc->Request(cr.unsub_requests(), ur.SerializeAsString(), 2s);
  ASSERT_TRUE(reply);
  ASSERT_TRUE(resp.ParseFromString(std::string(reply->data())));
  EXPECT_EQ(resp.error(), "stan: unknown channel");
}

}  // namespace
}  // namespace gannet::streaming::test
