// Store record encodings: the one-pass MsgProto encoder against the generated serializer, the
// redelivery fields, and the spb records' round trips.
#include <gtest/gtest.h>

#include "streaming/proto/protocol.pb.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store {
namespace {

TEST(Records, MsgRecordMatchesGeneratedSerializer) {
  struct Case {
    uint64_t seq;
    std::string subject, reply, data;
    int64_t ts;
  };
  std::vector<Case> cases = {
      {1, "foo", "", "hello", 1700000000123456789},
      {300, "a.b.c", "reply.x", std::string(1000, 'z'), 5},
      {uint64_t{1} << 40, "x", "", "", 0},
      {7, "bin", "", std::string("\0\1\2\xff", 4), -1},
  };
  for (const Case& c : cases) {
    pb::MsgProto m;
    m.set_sequence(c.seq);
    m.set_subject(c.subject);
    m.set_reply(c.reply);
    m.set_data(c.data);
    m.set_timestamp(c.ts);
    std::string mine = "prefix";
    AppendMsgRecord(mine, c.seq, c.subject, c.reply, c.data, c.ts);
    EXPECT_EQ(mine.substr(6), m.SerializeAsString());
    EXPECT_EQ(mine.size() - 6, MsgRecordSize(c.seq, c.subject, c.reply, c.data, c.ts));
    MsgRecord back;
    ASSERT_TRUE(DecodeMsgRecord(mine.substr(6), back));
    EXPECT_EQ(back.seq, c.seq);
    EXPECT_EQ(back.data, c.data);
    EXPECT_EQ(back.timestamp, c.ts);
    EXPECT_FALSE(back.redelivered);
  }
}

TEST(Records, RedeliveryFieldsAppended) {
  std::string r;
  AppendMsgRecord(r, 9, "foo", "", "data", 42);
  AppendRedeliveryFields(r, 3);
  MsgRecord back;
  ASSERT_TRUE(DecodeMsgRecord(r, back));
  EXPECT_EQ(back.seq, 9u);
  EXPECT_TRUE(back.redelivered);
  EXPECT_EQ(back.redelivery_count, 3u);
  EXPECT_EQ(back.data, "data");
}

TEST(Records, SpbRoundTrips) {
  ServerInfo si{"cid",
                "_STAN.discover.cid",
                "_STAN.pub.X",
                "_STAN.sub.X",
                "_STAN.unsub.X",
                "_STAN.close.X",
                "_STAN.subclose.X",
                "_STAN.ack.X",
                ""};
  ServerInfo si2;
  ASSERT_TRUE(DecodeServerInfo(EncodeServerInfo(si), si2));
  EXPECT_EQ(si2.cluster_id, "cid");
  EXPECT_EQ(si2.sub_close, "_STAN.subclose.X");

  ClientInfo ci{"me", "_INBOX.hb", std::string("\x01\x02", 2), 1, 5, 88};
  ClientInfo ci2;
  ASSERT_TRUE(DecodeClientInfo(EncodeClientInfo(ci), ci2));
  EXPECT_EQ(ci2.id, "me");
  EXPECT_EQ(ci2.conn_id, ci.conn_id);
  EXPECT_EQ(ci2.ping_max_out, 88);

  SubState ss;
  ss.id = 12;
  ss.client_id = "me";
  ss.q_group = "dur:q";
  ss.inbox = "in";
  ss.ack_inbox = "ack";
  ss.max_in_flight = 1024;
  ss.ack_wait_in_secs = 30;
  ss.last_sent = 99;
  ss.is_durable = true;
  ss.is_closed = true;
  SubState ss2;
  ASSERT_TRUE(DecodeSubState(EncodeSubState(ss), ss2));
  EXPECT_EQ(ss2.id, 12u);
  EXPECT_EQ(ss2.q_group, "dur:q");
  EXPECT_EQ(ss2.last_sent, 99u);
  EXPECT_TRUE(ss2.is_closed);

  uint64_t id = 0, seq = 0;
  ASSERT_TRUE(DecodeSubStateUpdate(EncodeSubStateUpdate(4, 77), id, seq));
  EXPECT_EQ(id, 4u);
  EXPECT_EQ(seq, 77u);
  ASSERT_TRUE(DecodeSubStateDelete(EncodeSubStateDelete(5), id));
  EXPECT_EQ(id, 5u);
  std::string cid;
  ASSERT_TRUE(DecodeClientDelete(EncodeClientDelete("gone"), cid));
  EXPECT_EQ(cid, "gone");
  EXPECT_FALSE(DecodeSubState("\xff\xff\xff", ss2));
}

}  // namespace
}  // namespace gannet::streaming::store
