// Gannet's C++ Streaming client (gannet/client/streaming.h) against gannet-streaming: connect,
// publish sync and async, every start position, durables across client restarts, queue groups,
// manual acks and redelivery, max in flight, unsubscribe versus close, ack timeouts, the
// connection lost when the server dies; and interop with libnats' Streaming API both ways.
#include <signal.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "gannet/client/streaming.h"
#include "http_client.h"
#include "stan_harness.h"
#include "streaming/proto/protocol.pb.h"

namespace gannet::streaming::test {
namespace {

namespace stan = gannet::client::streaming;
using client::Status;

// The messages one subscription received, for tests to wait on.
class Inbox {
 public:
  stan::MessageHandler Handler(bool ack = false) {
    return [this, ack](stan::Message& m) {
      if (ack) m.Ack();
      std::lock_guard lk(mu_);
      got_.push_back(m);
      cv_.notify_all();
    };
  }
  bool WaitCount(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return got_.size() >= n; });
  }
  std::vector<stan::Message> Snapshot() {
    std::lock_guard lk(mu_);
    return got_;
  }
  std::vector<uint64_t> Seqs() {
    std::vector<uint64_t> out;
    for (const auto& m : Snapshot()) out.push_back(m.sequence());
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<stan::Message> got_;
};

// A process's state letter from /proc/<pid>/stat ('R', 'S', 'T' for stopped, ...).
char ProcessState(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

stan::Options ClientOptions(const StanServer& server, const std::string& client_id) {
  stan::Options o;
  o.client_id = client_id;
  o.nats_options.servers = {server.url()};
  return o;
}

class StanClient : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.EnableMonitoring();
    ASSERT_TRUE(server_.Start()) << server_.Output();
  }
  void TearDown() override {
    server_.Stop();
    EXPECT_EQ(server_.SanitizerReport(), "");
  }
  stan::Connection Connect(const std::string& client_id) {
    auto sc = stan::Connection::Connect(ClientOptions(server_, client_id));
    EXPECT_TRUE(sc.ok()) << sc.error();
    return sc.ok() ? *sc : stan::Connection();
  }
  void PublishN(stan::Connection& sc, const std::string& channel, int from, int to) {
    for (int i = from; i <= to; ++i) {
      auto r = sc.Publish(channel, "m" + std::to_string(i));
      ASSERT_TRUE(r.ok()) << r.error();
    }
  }
  // The channel's subscriptions as /streaming/channelsz reports them.
  nlohmann::json Subs(const std::string& channel) {
    auto r = gannet::test::HttpGet(server_.http_port(),
                                   "/streaming/channelsz?subs=1&channel=" + channel);
    if (r.status != 200) return nlohmann::json::array();
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("subscriptions")) return nlohmann::json::array();
    return j["subscriptions"];
  }

  StanServer server_;
};

TEST_F(StanClient, PublishSubscribeClose) {
  auto sc = Connect("me");
  ASSERT_TRUE(sc.valid());
  Inbox in;
  auto sub = sc.Subscribe("foo", in.Handler());
  ASSERT_TRUE(sub.ok()) << sub.error();
  EXPECT_FALSE(sub->ack_inbox().empty());
  PublishN(sc, "foo", 1, 3);
  ASSERT_TRUE(in.WaitCount(3));
  auto got = in.Snapshot();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].sequence(), i + 1);
    EXPECT_EQ(got[i].channel(), "foo");
    EXPECT_EQ(got[i].data(), "m" + std::to_string(i + 1));
    EXPECT_FALSE(got[i].redelivered());
    EXPECT_GT(got[i].timestamp(), 0);
  }
  EXPECT_EQ(got[2].Ack().status(), Status::kInvalidArgument);  // auto-ack mode
  EXPECT_TRUE(sc.Close().ok());
  EXPECT_TRUE(sc.IsClosed());
  EXPECT_EQ(sc.Close().status(), Status::kConnectionClosed);
  EXPECT_EQ(sc.Publish("foo", "late").status(), Status::kConnectionClosed);
  // The server forgot the client: the id is free again at once.
  auto again = Connect("me");
  EXPECT_TRUE(again.valid());
}

TEST_F(StanClient, WrongClusterIdFailsWithTheReferenceText) {
  auto o = ClientOptions(server_, "me");
  o.cluster_id = "other-cluster";
  o.connect_wait = 500ms;
  auto sc = stan::Connection::Connect(o);
  ASSERT_FALSE(sc.ok());
  EXPECT_EQ(sc.detail(), "stan: connect request timeout (possibly wrong cluster ID?)");
}

TEST_F(StanClient, ServerRefusalsCarryTheServerText) {
  auto bad = stan::Connection::Connect(ClientOptions(server_, "bad id!"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status(), Status::kServerError);
  EXPECT_NE(bad.detail().find("stan: invalid clientID"), std::string::npos) << bad.detail();

  auto first = Connect("dup");
  auto second = stan::Connection::Connect(ClientOptions(server_, "dup"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.detail(), "stan: clientID already registered");

  Inbox in;
  auto wild = first.Subscribe("foo.*", in.Handler());
  ASSERT_FALSE(wild.ok());
  EXPECT_EQ(wild.detail(), "stan: invalid subject");
  auto o = ClientOptions(server_, "no-pings");
  o.ping_interval = 0s;
  auto bad_pings = stan::Connection::Connect(o);
  EXPECT_EQ(bad_pings.status(), Status::kInvalidArgument);

  auto wait = first.Subscribe("foo", in.Handler(), stan::SubscriptionOptions().AckWait(0s));
  ASSERT_FALSE(wait.ok());
  EXPECT_EQ(wait.detail(), "stan: invalid ack wait time, should be >= 1s");
}

TEST_F(StanClient, AsyncPublishesAreAckedWithinTheInFlightLimit) {
  auto o = ClientOptions(server_, "async");
  o.max_pub_acks_in_flight = 32;
  auto sc = stan::Connection::Connect(o);
  ASSERT_TRUE(sc.ok()) << sc.error();
  constexpr int kCount = 2000;
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> acked;
  int failures = 0;
  std::vector<std::string> guids;
  int64_t max_seen = 0;
  for (int i = 0; i < kCount; ++i) {
    auto guid = sc->PublishAsync("async", "x", [&](const std::string& g, const stan::Outcome& r) {
      std::lock_guard lk(mu);
      if (!r.ok()) ++failures;
      acked.insert(g);
      cv.notify_all();
    });
    ASSERT_TRUE(guid.ok()) << guid.error();
    guids.push_back(*guid);
    max_seen = std::max(max_seen, sc->pub_acks_in_flight());
  }
  std::unique_lock lk(mu);
  ASSERT_TRUE(cv.wait_for(lk, 20s, [&] { return acked.size() == kCount; }));
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(acked, std::set<std::string>(guids.begin(), guids.end()));
  EXPECT_LE(max_seen, 32);
  EXPECT_EQ(sc->pub_acks_in_flight(), 0);
  // The server stored them all, in order.
  Inbox in;
  auto sub =
      sc->Subscribe("async", in.Handler(), stan::SubscriptionOptions().DeliverAllAvailable());
  ASSERT_TRUE(sub.ok()) << sub.error();
  ASSERT_TRUE(in.WaitCount(kCount));
  EXPECT_EQ(in.Snapshot().back().sequence(), static_cast<uint64_t>(kCount));
}

// A window of one: each publish waits for the previous one's ack (the low-water mark is 0).
TEST_F(StanClient, AsyncPublishesWithAWindowOfOne) {
  auto o = ClientOptions(server_, "window-one");
  o.max_pub_acks_in_flight = 1;
  auto sc = stan::Connection::Connect(o);
  ASSERT_TRUE(sc.ok()) << sc.error();
  std::atomic<int> acked{0};
  for (int i = 0; i < 200; ++i) {
    ASSERT_LE(sc->pub_acks_in_flight(), 1);
    auto guid = sc->PublishAsync("one", "x", [&](const std::string&, const stan::Outcome& r) {
      if (r.ok()) acked.fetch_add(1);
    });
    ASSERT_TRUE(guid.ok()) << guid.error();
  }
  ASSERT_TRUE(WaitFor([&] { return acked.load() == 200; }));
}

// Synchronous publishes from a message handler (the NATS dispatcher) and from an ack handler
// (the control thread) complete: their PubAcks do not wait behind the thread that waits.
TEST_F(StanClient, SynchronousPublishFromHandlers) {
  auto sc = Connect("forwarder");
  Inbox out;
  auto collect = sc.Subscribe("out", out.Handler());
  ASSERT_TRUE(collect.ok()) << collect.error();
  std::atomic<int> failures{0};
  auto forward = sc.Subscribe("in", [&](stan::Message& m) {
    if (!sc.Publish("out", "fwd " + m.data()).ok()) failures.fetch_add(1);
  });
  ASSERT_TRUE(forward.ok()) << forward.error();
  PublishN(sc, "in", 1, 2);
  auto guid = sc.PublishAsync("in", "m3", [&](const std::string&, const stan::Outcome& r) {
    if (!r.ok() || !sc.Publish("out", "from ack handler").ok()) failures.fetch_add(1);
  });
  ASSERT_TRUE(guid.ok()) << guid.error();
  ASSERT_TRUE(out.WaitCount(4));
  std::multiset<std::string> got;
  for (const auto& m : out.Snapshot()) got.insert(m.data());
  EXPECT_EQ(got, (std::multiset<std::string>{"fwd m1", "fwd m2", "fwd m3", "from ack handler"}));
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(StanClient, EveryStartPosition) {
  auto sc = Connect("starts");
  PublishN(sc, "pos", 1, 2);
  // Messages 3-5 are stored at least 500 ms after message 2, and the start time asked is 1 ms
  // after message 2: the subscribe request (the server applies the delta to its own clock
  // when it gets it) can take up to 499 ms and still start at message 3.
  Inbox first;
  auto all =
      sc.Subscribe("pos", first.Handler(), stan::SubscriptionOptions().DeliverAllAvailable());
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_TRUE(first.WaitCount(2));
  int64_t ts2 = first.Snapshot()[1].timestamp();
  auto ts2_point = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(ts2)));
  ASSERT_TRUE(WaitFor([&] { return std::chrono::system_clock::now() > ts2_point + 500ms; }, 5s));
  PublishN(sc, "pos", 3, 5);
  ASSERT_TRUE(first.WaitCount(5));
  EXPECT_EQ(first.Seqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));

  Inbox last, seq, since, fresh;
  auto s1 =
      sc.Subscribe("pos", last.Handler(), stan::SubscriptionOptions().StartWithLastReceived());
  auto s2 = sc.Subscribe("pos", seq.Handler(), stan::SubscriptionOptions().StartAtSequence(3));
  auto s3 = sc.Subscribe("pos", since.Handler(),
                         stan::SubscriptionOptions().StartAtTime(ts2_point + 1ms));
  auto s4 = sc.Subscribe("pos", fresh.Handler());  // new only
  ASSERT_TRUE(s1.ok() && s2.ok() && s3.ok() && s4.ok());
  PublishN(sc, "pos", 6, 6);
  ASSERT_TRUE(last.WaitCount(2));
  ASSERT_TRUE(seq.WaitCount(4));
  ASSERT_TRUE(since.WaitCount(4));
  ASSERT_TRUE(fresh.WaitCount(1));
  EXPECT_EQ(last.Seqs(), (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(seq.Seqs(), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(since.Seqs(), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(fresh.Seqs(), (std::vector<uint64_t>{6}));
}

TEST_F(StanClient, DurableResumesAfterAClientCrashAndAfterAClose) {
  auto pub = Connect("publisher");
  PublishN(pub, "dur", 1, 3);
  {
    auto crashed = Connect("durable-client");
    Inbox in;
    auto sub = crashed.Subscribe("dur", in.Handler(),
                                 stan::SubscriptionOptions().DeliverAllAvailable().Durable("d"));
    ASSERT_TRUE(sub.ok()) << sub.error();
    ASSERT_TRUE(in.WaitCount(3));
    // The acks have reached the server: nothing is pending.
    ASSERT_TRUE(WaitFor([&] {
      auto subs = Subs("dur");
      return subs.size() == 1 && subs[0]["pending_count"] == 0 && subs[0]["last_sent"] == 3;
    }));
  }  // the last handle goes without Close: a crash, as the server sees it
  PublishN(pub, "dur", 4, 5);
  {
    // A new process with the same client id replaces the dead one and resumes the durable
    // (its start position is ignored).
    auto restarted = Connect("durable-client");
    ASSERT_TRUE(restarted.valid());
    Inbox in;
    auto sub = restarted.Subscribe("dur", in.Handler(),
                                   stan::SubscriptionOptions().DeliverAllAvailable().Durable("d"));
    ASSERT_TRUE(sub.ok()) << sub.error();
    ASSERT_TRUE(in.WaitCount(2));
    EXPECT_EQ(in.Seqs(), (std::vector<uint64_t>{4, 5}));
    ASSERT_TRUE(WaitFor([&] {
      auto subs = Subs("dur");
      return subs.size() == 1 && subs[0]["pending_count"] == 0;
    }));
    EXPECT_TRUE(restarted.Close().ok());
  }
  PublishN(pub, "dur", 6, 6);
  auto back = Connect("durable-client");
  Inbox in;
  auto sub = back.Subscribe("dur", in.Handler(), stan::SubscriptionOptions().Durable("d"));
  ASSERT_TRUE(sub.ok()) << sub.error();
  ASSERT_TRUE(in.WaitCount(1));
  EXPECT_EQ(in.Seqs(), (std::vector<uint64_t>{6}));
}

TEST_F(StanClient, UnsubscribeForgetsADurableCloseKeepsIt) {
  auto sc = Connect("unsub-close");
  Inbox a;
  auto sub = sc.Subscribe("uc", a.Handler(), stan::SubscriptionOptions().Durable("d"));
  ASSERT_TRUE(sub.ok()) << sub.error();
  PublishN(sc, "uc", 1, 1);
  ASSERT_TRUE(a.WaitCount(1));
  ASSERT_TRUE(WaitFor([&] {
    auto subs = Subs("uc");
    return subs.size() == 1 && subs[0]["pending_count"] == 0;
  }));
  ASSERT_TRUE(sub->Close().ok());
  EXPECT_FALSE(sub->active());
  EXPECT_EQ(sub->Close().status(), Status::kInvalidSubscription);
  auto subs = Subs("uc");
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]["is_offline"], true);

  PublishN(sc, "uc", 2, 2);
  Inbox b;
  auto resumed = sc.Subscribe("uc", b.Handler(), stan::SubscriptionOptions().Durable("d"));
  ASSERT_TRUE(resumed.ok()) << resumed.error();
  ASSERT_TRUE(b.WaitCount(1));
  EXPECT_EQ(b.Seqs(), (std::vector<uint64_t>{2}));
  ASSERT_TRUE(resumed->Unsubscribe().ok());
  EXPECT_TRUE(Subs("uc").empty());

  // Gone: the same name starts afresh (new only).
  PublishN(sc, "uc", 3, 3);
  Inbox c;
  auto fresh = sc.Subscribe("uc", c.Handler(), stan::SubscriptionOptions().Durable("d"));
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  PublishN(sc, "uc", 4, 4);
  ASSERT_TRUE(c.WaitCount(1));
  EXPECT_EQ(c.Seqs(), (std::vector<uint64_t>{4}));
}

TEST_F(StanClient, QueueGroupMembersShareTheMessages) {
  auto a = Connect("member-a");
  auto b = Connect("member-b");
  Inbox ia, ib;
  // Unacknowledged, each member's outstanding count grows: the server alternates.
  auto opts = stan::SubscriptionOptions().ManualAcks().MaxInFlight(100);
  auto sa = a.QueueSubscribe("work", "workers", ia.Handler(), opts);
  auto sb = b.QueueSubscribe("work", "workers", ib.Handler(), opts);
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(sa->queue_group(), "workers");
  PublishN(a, "work", 1, 20);
  ASSERT_TRUE(WaitFor([&] { return ia.Snapshot().size() + ib.Snapshot().size() >= 20; }));
  std::multiset<uint64_t> all;
  for (auto s : ia.Seqs()) all.insert(s);
  for (auto s : ib.Seqs()) all.insert(s);
  EXPECT_EQ(all.size(), 20u);
  EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), 20u);  // each once
  EXPECT_GT(ia.Snapshot().size(), 0u);
  EXPECT_GT(ib.Snapshot().size(), 0u);
}

// A durable queue group outlives its last member's Close (the group keeps its position) and
// ends with its last member's Unsubscribe.
TEST_F(StanClient, DurableQueueGroupSurvivesCloseNotUnsubscribe) {
  auto sc = Connect("dq");
  auto opts = stan::SubscriptionOptions().Durable("dur").DeliverAllAvailable();
  PublishN(sc, "dq", 1, 2);
  Inbox first;
  auto member = sc.QueueSubscribe("dq", "group", first.Handler(), opts);
  ASSERT_TRUE(member.ok()) << member.error();
  ASSERT_TRUE(first.WaitCount(2));
  ASSERT_TRUE(WaitFor([&] {
    auto subs = Subs("dq");
    return subs.size() == 1 && subs[0]["pending_count"] == 0;
  }));
  ASSERT_TRUE(member->Close().ok());
  PublishN(sc, "dq", 3, 3);
  Inbox second;
  auto again = sc.QueueSubscribe("dq", "group", second.Handler(), opts);
  ASSERT_TRUE(again.ok()) << again.error();
  ASSERT_TRUE(second.WaitCount(1));
  EXPECT_EQ(second.Seqs(), (std::vector<uint64_t>{3}));  // where the group stopped
  ASSERT_TRUE(again->Unsubscribe().ok());
  EXPECT_TRUE(Subs("dq").empty());
  Inbox third;
  auto fresh = sc.QueueSubscribe("dq", "group", third.Handler(), opts);
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  ASSERT_TRUE(third.WaitCount(3));  // a new group: from the first message
  EXPECT_EQ(third.Seqs(), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(StanClient, ManualAcksRedeliveryAndMaxInFlight) {
  auto sc = Connect("manual");
  std::mutex mu;
  std::condition_variable cv;
  std::vector<stan::Message> got;
  auto sub = sc.Subscribe(
      "red",
      [&](stan::Message& m) {
        std::lock_guard lk(mu);
        got.push_back(m);
        cv.notify_all();
      },
      stan::SubscriptionOptions().ManualAcks().MaxInFlight(2).AckWait(1s));
  ASSERT_TRUE(sub.ok()) << sub.error();
  PublishN(sc, "red", 1, 3);
  // Two in flight, unacknowledged: the subscription is stalled, message 3 waits.
  std::unique_lock lk(mu);
  ASSERT_TRUE(cv.wait_for(lk, 10s, [&] { return got.size() >= 2; }));
  lk.unlock();
  ASSERT_TRUE(WaitFor([&] {
    auto subs = Subs("red");
    return subs.size() == 1 && subs[0]["is_stalled"] == true && subs[0]["max_inflight"] == 2;
  }));
  lk.lock();
  // After the ack wait both come again, flagged.
  ASSERT_TRUE(cv.wait_for(lk, 10s, [&] {
    int redelivered = 0;
    for (const auto& m : got) redelivered += m.redelivered() ? 1 : 0;
    return redelivered >= 2;
  }));
  for (const auto& m : got) {
    EXPECT_LE(m.sequence(), 2u);
    if (m.redelivered()) {
      EXPECT_GE(m.redelivery_count(), 1u);
    }
  }
  auto acks = got;
  lk.unlock();
  for (const auto& m : acks) EXPECT_TRUE(m.Ack().ok());
  lk.lock();
  ASSERT_TRUE(cv.wait_for(lk, 10s, [&] {
    for (const auto& m : got) {
      if (m.sequence() == 3) return true;
    }
    return false;
  }));
  for (const auto& m : got) {
    if (m.sequence() == 3) {
      EXPECT_TRUE(m.Ack().ok());
    }
  }
  lk.unlock();
  ASSERT_TRUE(WaitFor([&] {
    auto subs = Subs("red");
    return subs.size() == 1 && subs[0]["pending_count"] == 0 && subs[0]["is_stalled"] == false;
  }));
}

TEST_F(StanClient, PublishAckTimeout) {
  auto o = ClientOptions(server_, "acktimeout");
  o.pub_ack_wait = 300ms;
  auto sc = stan::Connection::Connect(o);
  ASSERT_TRUE(sc.ok()) << sc.error();
  server_.Signal(SIGSTOP);  // the server (and its embedded NATS) hears nothing
  // The signal is asynchronous: wait until the process is really stopped ("T" in /proc).
  ASSERT_TRUE(WaitFor([&] { return ProcessState(server_.pid()) == 'T'; }));
  auto r = sc->Publish("slow", "x");
  server_.Signal(SIGCONT);
  EXPECT_EQ(r.status(), Status::kTimeout);
  EXPECT_EQ(r.detail(), "stan: publish ack timeout");
}

TEST_F(StanClient, ConnectionLostWhenTheServerIsKilled) {
  auto o = ClientOptions(server_, "lost");
  o.ping_interval = 1s;
  o.ping_max_out = 2;
  std::mutex mu;
  std::condition_variable cv;
  std::string reason;
  o.on_connection_lost = [&](const std::string& why) {
    std::lock_guard lk(mu);
    reason = why;
    cv.notify_all();
  };
  auto sc = stan::Connection::Connect(o);
  ASSERT_TRUE(sc.ok()) << sc.error();
  server_.Stop(/*kill=*/true);
  std::unique_lock lk(mu);
  ASSERT_TRUE(cv.wait_for(lk, 15s, [&] { return !reason.empty(); }));
  EXPECT_EQ(reason, "stan: connection lost due to PING failure");
  EXPECT_TRUE(sc->IsClosed());
  EXPECT_EQ(sc->Publish("x", "y").status(), Status::kConnectionClosed);
}

// A FILE-store server restarts under a connected client: the NATS connection reconnects, the
// server has recovered the client and its durable, so pings go on being answered, publishing
// goes on and the durable subscription keeps receiving, without a connection-lost event (the
// close at the end is answered: the server knows the client).
TEST(StanClientRestart, FileStoreServerRestartsUnderTheClient) {
  char tmpl[] = "/tmp/gannet-stanclient-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  StanServer server({"-st", "FILE", "--dir", dir});
  ASSERT_TRUE(server.Start()) << server.Output();
  auto o = ClientOptions(server, "survivor");
  o.ping_interval = 1s;
  o.nats_options.reconnect_wait = 50ms;
  o.nats_options.max_reconnect_attempts = -1;
  std::atomic<int> lost{0};
  o.on_connection_lost = [&](const std::string&) { lost.fetch_add(1); };
  auto sc = stan::Connection::Connect(o);
  ASSERT_TRUE(sc.ok()) << sc.error();
  Inbox in;
  auto sub = sc->Subscribe("kept", in.Handler(), stan::SubscriptionOptions().Durable("d"));
  ASSERT_TRUE(sub.ok()) << sub.error();
  ASSERT_TRUE(sc->Publish("kept", "before").ok());
  ASSERT_TRUE(in.WaitCount(1));

  EXPECT_EQ(server.Stop(), 0);
  ASSERT_TRUE(server.Start()) << server.Output();
  auto r = sc->Publish("kept", "after");  // waits in the reconnect buffer if need be
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_TRUE(in.WaitCount(2));
  EXPECT_EQ(in.Snapshot()[1].data(), "after");
  EXPECT_EQ(in.Snapshot()[1].sequence(), 2u);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_FALSE(sc->IsClosed());
  EXPECT_TRUE(sc->Close().ok());
  server.Stop();
  std::filesystem::remove_all(dir);
}

TEST_F(StanClient, ReplacedClientIsToldByItsPings) {
  auto o = ClientOptions(server_, "replaced");
  o.ping_interval = 1s;
  std::mutex mu;
  std::condition_variable cv;
  std::string reason;
  o.on_connection_lost = [&](const std::string& why) {
    std::lock_guard lk(mu);
    reason = why;
    cv.notify_all();
  };
  auto sc = stan::Connection::Connect(o);
  ASSERT_TRUE(sc.ok()) << sc.error();
  // Another party closes this id: the server forgets it, and the next ping learns it.
  auto nc = client::Connection::Connect(server_.url());
  ASSERT_TRUE(nc.ok()) << nc.error();
  pb::ConnectRequest req;
  req.set_client_id("peer");
  req.set_heartbeat_inbox(nc->NewInbox());
  req.set_protocol(1);
  req.set_conn_id("peer-conn");
  auto reply = nc->Request("_STAN.discover.test-cluster", req.SerializeAsString(), 2s);
  ASSERT_TRUE(reply.ok()) << reply.error();
  pb::ConnectResponse cr;
  ASSERT_TRUE(cr.ParseFromString(std::string(reply->data())));
  pb::CloseRequest close;
  close.set_client_id("replaced");
  auto closed = nc->Request(cr.close_requests(), close.SerializeAsString(), 2s);
  ASSERT_TRUE(closed.ok()) << closed.error();
  std::unique_lock lk(mu);
  ASSERT_TRUE(cv.wait_for(lk, 15s, [&] { return !reason.empty(); }));
  EXPECT_EQ(reason, "client has been replaced or is no longer registered");
  EXPECT_TRUE(sc->IsClosed());
}

// ---- Interop with libnats' stanConnection_* API ----

TEST_F(StanClient, LibnatsPublishesOurClientReceives) {
  auto ours = Connect("ours");
  Inbox in;
  auto sub = ours.Subscribe("interop", in.Handler());
  ASSERT_TRUE(sub.ok()) << sub.error();
  std::string err;
  StanConn theirs = gannet::streaming::test::Connect(server_.url(), "theirs", &err);
  ASSERT_TRUE(theirs) << err;
  ASSERT_EQ(gannet::streaming::test::Publish(theirs.get(), "interop", "from libnats"), "");
  ASSERT_TRUE(in.WaitCount(1));
  EXPECT_EQ(in.Snapshot()[0].data(), "from libnats");
  EXPECT_EQ(in.Snapshot()[0].sequence(), 1u);
}

TEST_F(StanClient, OurClientPublishesLibnatsReceives) {
  std::string err;
  StanConn theirs = gannet::streaming::test::Connect(server_.url(), "theirs", &err);
  ASSERT_TRUE(theirs) << err;
  Collector c;
  StanSub sub = gannet::streaming::test::Subscribe(theirs.get(), "interop", c, {}, &err);
  ASSERT_TRUE(sub) << err;
  auto ours = Connect("ours");
  auto r = ours.Publish("interop", "from gannet");
  ASSERT_TRUE(r.ok()) << r.error();
  bool acked = false;
  std::mutex mu;
  std::condition_variable cv;
  ASSERT_TRUE(ours.PublishAsync("interop", "async from gannet",
                                [&](const std::string&, const stan::Outcome& o) {
                                  std::lock_guard lk(mu);
                                  acked = o.ok();
                                  cv.notify_all();
                                })
                  .ok());
  ASSERT_TRUE(c.WaitCount(2));
  auto got = c.Snapshot();
  EXPECT_EQ(got[0].data, "from gannet");
  EXPECT_EQ(got[1].data, "async from gannet");
  std::unique_lock lk(mu);
  EXPECT_TRUE(cv.wait_for(lk, 10s, [&] { return acked; }));
}

}  // namespace
}  // namespace gannet::streaming::test
