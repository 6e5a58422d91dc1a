// Recovery of a persistent store's state, in process: a store that "recovers" clients, a
// channel with messages and subscriptions (an online plain subscription with an unacknowledged
// message, an offline durable, a durable queue group's shadow, a subscription of a client that
// is gone), then gannet-streaming on an embedded gannet-server, checked over NATS with the raw
// protocol.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "gannet/client.h"
#include "server/server.h"
#include "server_process.h"
#include "streaming/proto/protocol.pb.h"
#include "streaming/server.h"
#include "streaming/store/memory_store.h"
#include "streaming/store/records.h"

namespace gannet::streaming {
namespace {

using namespace std::chrono_literals;

// The MEMORY store, except that Recover hands out a prepared state once.
class RecoveringStore : public store::Store {
 public:
  explicit RecoveringStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
  std::optional<store::RecoveredState> state;
  int inits = 0;

  std::string_view Name() const override { return "RECOVERING"; }
  store::Result<bool> GetExclusiveLock() override { return inner_->GetExclusiveLock(); }
  store::Status Init(const store::ServerInfo& info) override {
    ++inits;
    return inner_->Init(info);
  }
  store::Result<std::optional<store::RecoveredState>> Recover() override {
    auto out = std::move(state);
    state.reset();
    return out;
  }
  store::Status SetLimits(const store::StoreLimits& l) override { return inner_->SetLimits(l); }
  store::ChannelLimits GetChannelLimits(std::string_view c) const override {
    return inner_->GetChannelLimits(c);
  }
  store::Result<store::ChannelStore*> CreateChannel(std::string_view n) override {
    return inner_->CreateChannel(n);
  }
  store::ChannelStore* LookupChannel(std::string_view n) override {
    return inner_->LookupChannel(n);
  }
  store::Status DeleteChannel(std::string_view n) override { return inner_->DeleteChannel(n); }
  store::Status AddClient(const store::ClientInfo& i) override { return inner_->AddClient(i); }
  store::Status DeleteClient(std::string_view id) override { return inner_->DeleteClient(id); }
  store::Status Close() override { return inner_->Close(); }

 private:
  std::unique_ptr<store::Store> inner_;
};

struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<pb::MsgProto> msgs;
  bool Wait(size_t n) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, 10s, [&] { return msgs.size() >= n; });
  }
  std::vector<pb::MsgProto> Snapshot() {
    std::lock_guard lk(mu);
    return msgs;
  }
};

TEST(Recovery, RecoveredStateIsServed) {
  // ---- the store's state from "the previous run" ----
  auto mem = store::MemoryStore::Create(store::StoreLimits{});
  ASSERT_TRUE(mem.ok());
  auto rs = std::make_unique<RecoveringStore>(std::move(mem).value());
  store::ChannelStore* foo = *rs->CreateChannel("foo");
  const int64_t an_hour_ago =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch() - std::chrono::hours(1))
          .count();
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    std::string rec;
    int64_t ts = an_hour_ago + static_cast<int64_t>(seq);
    store::AppendMsgRecord(rec, seq, "foo", "", "m" + std::to_string(seq), ts);
    ASSERT_TRUE(foo->msgs->Store(seq, ts, rec).ok());
  }
  store::RecoveredState st;
  st.info.cluster_id = "test-cluster";
  st.info.discovery = "_STAN.discover.test-cluster";
  st.info.publish = "_STAN.pub.REC";
  st.info.subscribe = "_STAN.sub.REC";
  st.info.unsubscribe = "_STAN.unsub.REC";
  st.info.close = "_STAN.close.REC";
  st.info.sub_close = "_STAN.subclose.REC";
  st.info.acks_subs = "_STAN.ack.REC";
  st.clients.push_back({"c1", "_INBOX.c1hb", "c1conn", 1, 5, 88});
  auto make_sub = [&](std::string client, std::string durable, std::string group,
                      uint64_t last_sent, bool closed, std::vector<uint64_t> pending,
                      std::string inbox, std::string ack) {
    store::RecoveredSubscription r;
    r.state.client_id = std::move(client);
    r.state.durable_name = std::move(durable);
    r.state.q_group = std::move(group);
    r.state.is_durable = !r.state.durable_name.empty() || !r.state.q_group.empty();
    r.state.last_sent = last_sent;
    r.state.is_closed = closed;
    r.state.max_in_flight = 10;
    r.state.ack_wait_in_secs = 30;
    r.state.inbox = std::move(inbox);
    r.state.ack_inbox = std::move(ack);
    EXPECT_TRUE(foo->subs->CreateSub(r.state).ok());
    r.pending = std::move(pending);
    return r;
  };
  store::RecoveredChannel rc;
  rc.channel = foo;
  rc.subscriptions.push_back(
      make_sub("c1", "dur", "", 3, true, {2, 3}, "_INBOX.olddur", "_STAN.ack.REC.a1"));
  rc.subscriptions.push_back(
      make_sub("", "", "qd:grp", 4, false, {}, "_INBOX.oldq", "_STAN.ack.REC.a2"));
  rc.subscriptions.push_back(
      make_sub("c1", "", "", 5, false, {5}, "_INBOX.c1sub", "_STAN.ack.REC.a3"));
  rc.subscriptions.push_back(
      make_sub("gone", "", "", 5, false, {}, "_INBOX.gone", "_STAN.ack.REC.a4"));
  st.channels["foo"] = std::move(rc);
  rs->state = std::move(st);
  RecoveringStore* raw_store = rs.get();

  // ---- NATS, and a client that plays c1 ----
  Options nopts;
  nopts.host = "127.0.0.1";
  nopts.port = gannet::test::FreeTcpPort();
  nopts.threads = 1;
  Server nats(nopts);
  ASSERT_TRUE(nats.Start());
  const std::string url = "nats://127.0.0.1:" + std::to_string(nopts.port);
  Inbox plain, dur, q;  // outlive the connection whose callbacks fill them
  auto nc = client::Connection::Connect(url);
  ASSERT_TRUE(nc) << nc.error();
  auto hb = nc->Subscribe("_INBOX.c1hb", [&](client::Message& m) { nc->Respond(m, ""); });
  ASSERT_TRUE(hb);
  auto collect = [&](Inbox& box) {
    return [&box](client::Message& m) {
      pb::MsgProto p;
      p.ParseFromArray(m.data().data(), static_cast<int>(m.data().size()));
      std::lock_guard lk(box.mu);
      box.msgs.push_back(std::move(p));
      box.cv.notify_all();
    };
  };
  ASSERT_TRUE(nc->Subscribe("_INBOX.c1sub", collect(plain)));
  ASSERT_TRUE(nc->Subscribe("_INBOX.dur2", collect(dur)));
  ASSERT_TRUE(nc->Subscribe("_INBOX.q2", collect(q)));
  ASSERT_EQ(nc->Flush(), client::Status::kOk);

  // ---- the server ----
  StreamingOptions so;
  StreamingServer server(so);
  ASSERT_EQ(server.Open(std::move(rs)), "");
  NatsLinkOptions link;
  link.urls = {url};
  link.name = "_NSS-test-cluster-general";
  ASSERT_EQ(server.Start(link), "");
  EXPECT_EQ(raw_store->inits, 0);  // the recovered info was complete

  // The online subscription's unacknowledged message (long expired) comes again first.
  ASSERT_TRUE(plain.Wait(1));
  EXPECT_EQ(plain.Snapshot()[0].sequence(), 5u);
  EXPECT_TRUE(plain.Snapshot()[0].redelivered());
  EXPECT_EQ(plain.Snapshot()[0].data(), "m5");

  // The offline durable resumes: its two unacknowledged messages, then the rest.
  pb::SubscriptionRequest sr;
  sr.set_client_id("c1");
  sr.set_subject("foo");
  sr.set_inbox("_INBOX.dur2");
  sr.set_max_in_flight(10);
  sr.set_ack_wait_in_secs(30);
  sr.set_durable_name("dur");
  sr.set_start_position(pb::First);
  auto reply = nc->Request("_STAN.sub.REC", sr.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::SubscriptionResponse resp;
  ASSERT_TRUE(resp.ParseFromString(std::string(reply->data())));
  ASSERT_EQ(resp.error(), "");
  ASSERT_TRUE(dur.Wait(4));
  auto got = dur.Snapshot();
  std::vector<uint64_t> seqs;
  for (const auto& m : got) seqs.push_back(m.sequence());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_TRUE(got[0].redelivered());
  EXPECT_FALSE(got[2].redelivered());

  // The durable queue group continues from its shadow's position.
  pb::SubscriptionRequest qr = sr;
  qr.set_inbox("_INBOX.q2");
  qr.set_durable_name("qd");
  qr.set_q_group("grp");
  reply = nc->Request("_STAN.sub.REC", qr.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  ASSERT_TRUE(resp.ParseFromString(std::string(reply->data())));
  ASSERT_EQ(resp.error(), "");
  ASSERT_TRUE(q.Wait(1));
  EXPECT_EQ(q.Snapshot()[0].sequence(), 5u);

  // The recovered client publishes with its connection id; sequences go on.
  pb::PubMsg pm;
  pm.set_client_id("c1");
  pm.set_conn_id("c1conn");
  pm.set_guid("g6");
  pm.set_subject("foo");
  pm.set_data("m6");
  auto ack = nc->Request("_STAN.pub.REC.foo", pm.SerializeAsString(), 2s);
  ASSERT_TRUE(ack) << ack.error();
  pb::PubAck pa;
  ASSERT_TRUE(pa.ParseFromString(std::string(ack->data())));
  EXPECT_EQ(pa.error(), "");
  ASSERT_TRUE(plain.Wait(2));
  EXPECT_EQ(plain.Snapshot()[1].sequence(), 6u);

  // The subscription of the client that did not come back is gone; the others are listed.
  auto chans = server.Channels(true);
  ASSERT_TRUE(chans);
  ASSERT_EQ(chans->size(), 1u);
  size_t online = 0;
  for (const auto& s : (*chans)[0].subs) {
    EXPECT_NE(s.inbox, "_INBOX.gone");
    online += !s.is_offline;
  }
  EXPECT_EQ(online, 3u);
  nc->Close();
  server.Shutdown();
  nats.Shutdown();
}

}  // namespace
}  // namespace gannet::streaming
