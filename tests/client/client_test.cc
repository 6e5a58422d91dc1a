// The client library against gannet-server and the reference nats-server: every test is run
// against both, so the expectation is also checked against the reference.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <set>

#include "client_test_util.h"
#include "gannet/client.h"
#include "server_test.h"

namespace gannet::test {
namespace {

using namespace std::chrono_literals;
using client::Connection;
using client::ConnectionState;
using client::Headers;
using client::Message;
using client::Options;
using client::Status;

class ClientTest : public ServerTest {
 protected:
  Options OptionsFor(const ServerProcess& s) {
    Options o;
    o.servers = {s.url()};
    o.reconnect_wait = 50ms;
    o.reconnect_jitter = 10ms;
    return o;
  }
  // Options for `s` whose disconnect and reconnect callbacks count into the two counters.
  Options CountingReconnects(const ServerProcess& s, Counter& disconnected, Counter& reconnected) {
    Options o = OptionsFor(s);
    o.on_disconnected = [&disconnected] { disconnected.Add(); };
    o.on_reconnected = [&reconnected](const std::string&) { reconnected.Add(); };
    return o;
  }
  Connection Connect(const ServerProcess& s) { return Connect(OptionsFor(s)); }
  Connection Connect(Options o) {
    auto nc = Connection::Connect(std::move(o));
    if (!nc.ok()) {
      ADD_FAILURE() << "connect: " << nc.error();
      return Connection();
    }
    return std::move(*nc);
  }
};

TEST_P(ClientTest, ConnectReadsServerInfo) {
  auto& s = Start();
  auto nc = Connect(s);
  ASSERT_TRUE(nc.valid());
  EXPECT_EQ(nc.state(), ConnectionState::kConnected);
  EXPECT_EQ(nc.connected_url(), s.url());
  auto info = nc.server_info();
  EXPECT_FALSE(info.server_id.empty());
  EXPECT_TRUE(info.headers);
  EXPECT_EQ(info.max_payload, 1024 * 1024);
  EXPECT_EQ(info.port, s.port());
  EXPECT_GT(info.client_id, 0u);
  nc.Close();
  EXPECT_EQ(nc.state(), ConnectionState::kClosed);
  EXPECT_EQ(nc.Publish("a", "b"), Status::kConnectionClosed);
}

TEST_P(ClientTest, PublishSubscribeInOrder) {
  auto& s = Start();
  auto sub_conn = Connect(s);
  auto pub_conn = Connect(s);
  std::vector<std::string> got;
  std::mutex mu;
  Counter n;
  auto sub = sub_conn.Subscribe("orders.*", [&](Message& m) {
    std::lock_guard lk(mu);
    got.push_back(std::string(m.subject()) + "=" + std::string(m.data()));
    n.Add();
  });
  ASSERT_TRUE(sub.ok()) << sub.error();
  ASSERT_EQ(sub_conn.Flush(), Status::kOk);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(pub_conn.Publish("orders." + std::to_string(i % 3), "m" + std::to_string(i)),
              Status::kOk);
  }
  ASSERT_EQ(pub_conn.Publish("other", "x"), Status::kOk);
  ASSERT_EQ(pub_conn.Flush(), Status::kOk);
  ASSERT_TRUE(n.WaitFor(200));
  // delivered() counts a message once its callback has returned: drain to be sure of all.
  ASSERT_EQ(sub->Drain(10s), Status::kOk);
  EXPECT_EQ(sub->delivered(), 200);
  std::lock_guard lk(mu);
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(got[static_cast<size_t>(i)],
              "orders." + std::to_string(i % 3) + "=m" + std::to_string(i));
  }
  EXPECT_EQ(pub_conn.stats().out_msgs, 201u);
}

// Several threads publish on one connection at once (the lock is contended, batches are written
// by whichever publisher fills one): every message arrives once, each thread's in its order.
TEST_P(ClientTest, ConcurrentPublishersKeepEachThreadsOrder) {
  auto& s = Start();
  auto sub_conn = Connect(s);
  auto pub_conn = Connect(s);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::mutex mu;
  std::vector<int> next(kThreads, 0);
  int out_of_order = 0;
  Counter n;
  auto sub = sub_conn.Subscribe("conc.>", [&](Message& m) {
    // "conc.<thread>" carries "<i>" padded with the thread's id to a size that varies.
    int t = std::stoi(std::string(m.subject().substr(5)));
    int i = std::stoi(std::string(m.data().substr(0, m.data().find(' '))));
    {
      std::lock_guard lk(mu);
      if (next[static_cast<size_t>(t)] != i) ++out_of_order;
      next[static_cast<size_t>(t)] = i + 1;
    }
    n.Add();
  });
  ASSERT_TRUE(sub.ok()) << sub.error();
  ASSERT_EQ(sub->SetPendingLimits(kThreads * kPerThread, 1 << 30), Status::kOk);
  ASSERT_EQ(sub_conn.Flush(), Status::kOk);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string subject = "conc." + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        std::string body =
            std::to_string(i) + " " + std::string(static_cast<size_t>(i % 200), 'a' + t);
        if (pub_conn.Publish(subject, body) != Status::kOk) failures++;
        if (i % 5000 == 0 && pub_conn.Flush() != Status::kOk) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(pub_conn.Flush(), Status::kOk);
  ASSERT_TRUE(n.WaitFor(kThreads * kPerThread, 30s)) << n.value();
  ASSERT_EQ(sub->Drain(10s), Status::kOk);
  EXPECT_EQ(sub->delivered(), kThreads * kPerThread);
  EXPECT_EQ(sub->dropped(), 0);
  std::lock_guard lk(mu);
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(next, std::vector<int>(kThreads, kPerThread));
  EXPECT_EQ(pub_conn.stats().out_msgs, static_cast<uint64_t>(kThreads * kPerThread));
}

// Payloads larger than the batch a publisher writes itself (252 KB), between small ones, with
// and without a reply subject: all arrive whole and in order.
TEST_P(ClientTest, PayloadsLargerThanTheWriteBatch) {
  auto& s = Start();
  auto nc = Connect(s);
  auto sub = nc.SubscribeSync("big");
  ASSERT_TRUE(sub.ok());
  std::vector<size_t> sizes = {1,          300 * 1024, 9, 1024 * 1024, 16,
                               600 * 1024, 257 * 1024, 0, 99,          100};
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string body(sizes[i], static_cast<char>('a' + i));
    Status st = i % 2 ? nc.Publish("big", body, "r." + std::to_string(i)) : nc.Publish("big", body);
    ASSERT_EQ(st, Status::kOk) << i;
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto m = sub->NextMessage(10s);
    ASSERT_TRUE(m.ok()) << i << ": " << m.error();
    EXPECT_EQ(m->data().size(), sizes[i]) << i;
    EXPECT_EQ(m->data(), std::string(sizes[i], static_cast<char>('a' + i))) << i;
    EXPECT_EQ(m->reply(), i % 2 ? "r." + std::to_string(i) : "") << i;
  }
}

// HPUB from the queue path: with and without a reply, empty and large payloads, between plain
// publishes, in order.
TEST_P(ClientTest, HeaderPublishesKeepOrderAndContent) {
  auto& s = Start();
  auto nc = Connect(s);
  auto sub = nc.SubscribeSync("hp");
  ASSERT_TRUE(sub.ok());
  Headers h;
  h.Add("K", "v");
  h.Add("Trace-Id", std::string(300, 't'));
  std::vector<size_t> sizes = {0, 5, 100, 300 * 1024, 7};
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string body(sizes[i], static_cast<char>('a' + i));
    std::string reply = i % 2 ? "rep." + std::to_string(i) : "";
    ASSERT_EQ(nc.Publish("hp", h, body, reply), Status::kOk) << i;
    ASSERT_EQ(nc.Publish("hp", "plain" + std::to_string(i)), Status::kOk) << i;
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto m = sub->NextMessage(10s);
    ASSERT_TRUE(m.ok()) << i << ": " << m.error();
    EXPECT_TRUE(m->has_headers()) << i;
    EXPECT_EQ(m->headers().Get("K"), "v") << i;
    EXPECT_EQ(m->header_block(), h.Serialize()) << i;
    EXPECT_EQ(m->data(), std::string(sizes[i], static_cast<char>('a' + i))) << i;
    EXPECT_EQ(m->reply(), i % 2 ? "rep." + std::to_string(i) : "") << i;
    auto p = sub->NextMessage(10s);
    ASSERT_TRUE(p.ok()) << i << ": " << p.error();
    EXPECT_FALSE(p->has_headers()) << i;
    EXPECT_EQ(p->data(), "plain" + std::to_string(i)) << i;
  }
}

TEST_P(ClientTest, SyncSubscriptionAndTimeout) {
  auto& s = Start();
  auto nc = Connect(s);
  auto sub = nc.SubscribeSync("q");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->NextMessage(50ms).status(), Status::kTimeout);
  ASSERT_EQ(nc.Publish("q", "one", "reply.to"), Status::kOk);
  auto m = sub->NextMessage(5s);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->subject(), "q");
  EXPECT_EQ(m->reply(), "reply.to");
  EXPECT_EQ(m->data(), "one");
  EXPECT_FALSE(m->has_headers());
}

TEST_P(ClientTest, EmptyAndLargePayloads) {
  auto& s = Start();
  auto nc = Connect(s);
  auto sub = nc.SubscribeSync("p");
  ASSERT_TRUE(sub.ok());
  std::string big(512 * 1024, 'z');
  big[1000] = '\r';
  big[1001] = '\n';
  ASSERT_EQ(nc.Publish("p", ""), Status::kOk);
  ASSERT_EQ(nc.Publish("p", big), Status::kOk);
  auto a = sub->NextMessage(5s);
  auto b = sub->NextMessage(5s);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->data(), "");
  EXPECT_EQ(b->data(), big);
  EXPECT_EQ(nc.Publish("p", std::string(1024 * 1024 + 1, 'x')), Status::kMaxPayload);
  EXPECT_EQ(nc.Publish("bad subject", "x"), Status::kInvalidSubject);
  EXPECT_EQ(nc.Publish("", "x"), Status::kInvalidSubject);
  EXPECT_EQ(nc.Subscribe("a..b", [](Message&) {}).status(), Status::kInvalidSubject);
}

TEST_P(ClientTest, QueueGroupSharesMessages) {
  auto& s = Start();
  auto pub = Connect(s);
  std::vector<Connection> members;
  std::vector<std::unique_ptr<std::atomic<int>>> counts;
  Counter total;
  for (int i = 0; i < 3; ++i) {
    members.push_back(Connect(s));
    counts.push_back(std::make_unique<std::atomic<int>>(0));
    auto* c = counts.back().get();
    ASSERT_TRUE(members.back()
                    .QueueSubscribe("work", "workers",
                                    [c, &total](Message&) {
                                      c->fetch_add(1);
                                      total.Add();
                                    })
                    .ok());
    ASSERT_EQ(members.back().Flush(), Status::kOk);
  }
  for (int i = 0; i < 300; ++i) ASSERT_EQ(pub.Publish("work", "job"), Status::kOk);
  ASSERT_EQ(pub.Flush(), Status::kOk);
  ASSERT_TRUE(total.WaitFor(300));
  for (auto& m : members) ASSERT_EQ(m.Flush(), Status::kOk);
  EXPECT_EQ(total.value(), 300);  // each message to exactly one member
  for (auto& c : counts) EXPECT_GT(c->load(), 0);
}

TEST_P(ClientTest, RequestReply) {
  auto& s = Start();
  auto svc = Connect(s);
  auto cli = Connect(s);
  ASSERT_TRUE(
      svc.Subscribe("echo", [&](Message& m) { svc.Respond(m, "re:" + std::string(m.data())); })
          .ok());
  ASSERT_EQ(svc.Flush(), Status::kOk);
  for (int i = 0; i < 20; ++i) {
    auto r = cli.Request("echo", "hi" + std::to_string(i), 5s);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->data(), "re:hi" + std::to_string(i));
  }
  // Concurrent requests share the one inbox subscription and each gets its own answer.
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string body = std::to_string(t) + "/" + std::to_string(i);
        auto r = cli.Request("echo", body, 5s);
        if (r.ok() && r->data() == "re:" + body) right.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(right.load(), 100);
}

TEST_P(ClientTest, NoRespondersAndTimeout) {
  auto& s = Start();
  auto nc = Connect(s);
  auto start = std::chrono::steady_clock::now();
  auto r = nc.Request("nobody.home", "x", 5s);
  EXPECT_EQ(r.status(), Status::kNoResponders);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);  // told, not timed out
  // A subscriber that never answers: a timeout.
  auto silent = nc.SubscribeSync("silent");
  ASSERT_TRUE(silent.ok());
  ASSERT_EQ(nc.Flush(), Status::kOk);
  EXPECT_EQ(nc.Request("silent", "x", 100ms).status(), Status::kTimeout);
  // Without no_responders the server stays silent: a timeout too.
  Options o = OptionsFor(s);
  o.no_responders = false;
  auto plain = Connect(o);
  EXPECT_EQ(plain.Request("nobody.home", "x", 100ms).status(), Status::kTimeout);
}

TEST_P(ClientTest, HeadersRoundTrip) {
  auto& s = Start();
  auto nc = Connect(s);
  auto sub = nc.SubscribeSync("h");
  ASSERT_TRUE(sub.ok());
  Headers h;
  h.Add("Trace-Id", "abc");
  h.Add("Multi", "1");
  h.Add("Multi", "2");
  ASSERT_EQ(nc.Publish("h", h, "body"), Status::kOk);
  auto m = sub->NextMessage(5s);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_TRUE(m->has_headers());
  EXPECT_EQ(m->data(), "body");
  EXPECT_EQ(m->headers().Get("Trace-Id"), "abc");
  EXPECT_EQ(m->headers().Values("Multi"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_EQ(m->header_block(), h.Serialize());
  // A subscriber connection that does not want headers gets the payload only.
  Options o = OptionsFor(s);
  o.headers = false;
  auto plain = Connect(o);
  auto psub = plain.SubscribeSync("h");
  ASSERT_TRUE(psub.ok());
  ASSERT_EQ(plain.Flush(), Status::kOk);
  ASSERT_EQ(nc.Publish("h", h, "body2"), Status::kOk);
  auto pm = psub->NextMessage(5s);
  ASSERT_TRUE(pm.ok());
  EXPECT_FALSE(pm->has_headers());
  EXPECT_EQ(pm->data(), "body2");
  EXPECT_EQ(plain.Publish("h", h, "x"), Status::kHeadersNotSupported);
}

TEST_P(ClientTest, AutoUnsubscribeAndUnsubscribe) {
  auto& s = Start();
  auto nc = Connect(s);
  Counter n;
  auto sub = nc.Subscribe("auto", [&](Message&) { n.Add(); });
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(sub->AutoUnsubscribe(5), Status::kOk);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(nc.Publish("auto", "x"), Status::kOk);
  ASSERT_EQ(nc.Flush(), Status::kOk);
  ASSERT_TRUE(n.WaitFor(5));
  // A second round trip: anything beyond 5 would have arrived before this PONG.
  ASSERT_EQ(nc.Flush(), Status::kOk);
  EXPECT_EQ(n.value(), 5);
  EXPECT_FALSE(sub->active());

  Counter m;
  auto sub2 = nc.Subscribe("gone", [&](Message&) { m.Add(); });
  ASSERT_TRUE(sub2.ok());
  ASSERT_EQ(nc.Publish("gone", "1"), Status::kOk);
  ASSERT_TRUE(m.WaitFor(1));
  ASSERT_EQ(sub2->Unsubscribe(), Status::kOk);
  EXPECT_EQ(sub2->Unsubscribe(), Status::kInvalidSubscription);
  ASSERT_EQ(nc.Publish("gone", "2"), Status::kOk);
  ASSERT_EQ(nc.Flush(), Status::kOk);
  ASSERT_EQ(nc.Flush(), Status::kOk);
  EXPECT_EQ(m.value(), 1);
}

TEST_P(ClientTest, EchoOffSkipsOwnMessages) {
  auto& s = Start();
  Options o = OptionsFor(s);
  o.echo = false;
  auto quiet = Connect(o);
  auto other = Connect(s);
  auto sub = quiet.SubscribeSync("e");
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(quiet.Flush(), Status::kOk);
  ASSERT_EQ(quiet.Publish("e", "mine"), Status::kOk);
  ASSERT_EQ(quiet.Flush(), Status::kOk);
  ASSERT_EQ(other.Publish("e", "theirs"), Status::kOk);
  auto m = sub->NextMessage(5s);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->data(), "theirs");
}

TEST_P(ClientTest, DrainDeliversEverythingThenCloses) {
  auto& s = Start();
  auto nc = Connect(s);
  auto pub = Connect(s);
  Gate release;
  std::atomic<int> got{0};
  ASSERT_TRUE(nc.Subscribe("d", [&](Message&) {
                  release.Wait();  // hold the dispatcher: messages pile up in the subscription
                  got.fetch_add(1);
                }).ok());
  ASSERT_EQ(nc.Flush(), Status::kOk);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(pub.Publish("d", "x"), Status::kOk);
  ASSERT_EQ(pub.Flush(), Status::kOk);
  std::thread opener([&] {
    // Let Drain start with messages pending, then let the callbacks run.
    nc.Flush();
    release.Open();
  });
  EXPECT_EQ(nc.Drain(10s), Status::kOk);
  opener.join();
  EXPECT_EQ(got.load(), 50);
  EXPECT_EQ(nc.state(), ConnectionState::kClosed);
  EXPECT_EQ(nc.Publish("d", "late"), Status::kConnectionClosed);
}

TEST_P(ClientTest, SubscriptionDrain) {
  auto& s = Start();
  auto nc = Connect(s);
  std::atomic<int> got{0};
  auto sub = nc.Subscribe("sd", [&](Message&) { got.fetch_add(1); });
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(nc.Flush(), Status::kOk);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(nc.Publish("sd", "x"), Status::kOk);
  ASSERT_EQ(sub->Drain(10s), Status::kOk);
  EXPECT_EQ(got.load(), 100);
  EXPECT_FALSE(sub->active());
  EXPECT_EQ(nc.state(), ConnectionState::kConnected);  // the connection goes on
}

TEST_P(ClientTest, SlowConsumerDropsAndReports) {
  auto& s = Start();
  Counter errors;
  Options o = OptionsFor(s);
  o.on_error = [&](Status st, const std::string& detail) {
    if (st == Status::kSlowConsumer && detail == "slow") errors.Add();
  };
  auto nc = Connect(o);
  Gate release;
  std::atomic<int> got{0};
  auto sub = nc.Subscribe("slow", [&](Message&) {
    release.Wait();
    got.fetch_add(1);
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(sub->SetPendingLimits(10, 1 << 20), Status::kOk);
  ASSERT_EQ(nc.Flush(), Status::kOk);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(nc.Publish("slow", "x"), Status::kOk);
  ASSERT_EQ(nc.Flush(), Status::kOk);  // all 100 have reached us by now
  EXPECT_TRUE(errors.WaitFor(1));
  EXPECT_GE(sub->dropped(), 89);
  EXPECT_LE(sub->pending_msgs(), 10);
  release.Open();
  ASSERT_EQ(sub->Drain(10s), Status::kOk);
  EXPECT_EQ(got.load() + sub->dropped(), 100);
}

TEST_P(ClientTest, CallbacksMayRequestFlushAndClose) {
  auto& s = Start();
  auto nc = Connect(s);
  Counter done;
  std::string answer;
  ASSERT_TRUE(nc.Subscribe("trigger", [&](Message&) {
                  // On the dispatcher thread: replies and PONGs are completed by the I/O thread.
                  EXPECT_EQ(nc.Flush(5s), Status::kOk);
                  auto r = nc.Request("svc", "q", 5s);
                  answer = r.ok() ? std::string(r->data()) : r.error();
                  done.Add();
                }).ok());
  // The service is on another connection: this one's dispatcher is busy in "trigger".
  auto svc2 = Connect(s);
  ASSERT_TRUE(svc2.Subscribe("svc", [&](Message& m) { svc2.Respond(m, "ok2"); }).ok());
  ASSERT_EQ(svc2.Flush(), Status::kOk);
  ASSERT_EQ(nc.Publish("trigger", ""), Status::kOk);
  ASSERT_TRUE(done.WaitFor(1));
  EXPECT_EQ(answer, "ok2");
  Counter closed;
  ASSERT_TRUE(nc.Subscribe("close", [&](Message&) {
                  nc.Close();
                  closed.Add();
                }).ok());
  ASSERT_EQ(nc.Publish("close", ""), Status::kOk);
  ASSERT_TRUE(closed.WaitFor(1));
  EXPECT_EQ(nc.state(), ConnectionState::kClosed);
}

TEST_P(ClientTest, Authentication) {
  auto& s = Start({"--user", "alice", "--pass", "s3cret"});
  {
    Options o;
    o.servers = {"nats://alice:s3cret@127.0.0.1:" + std::to_string(s.port())};
    auto nc = Connect(o);
    ASSERT_TRUE(nc.valid());
    EXPECT_EQ(nc.Flush(), Status::kOk);
  }
  {
    Options o = OptionsFor(s);
    o.user = "alice";
    o.password = "s3cret";
    EXPECT_TRUE(Connection::Connect(o).ok());
  }
  Options bad;
  bad.servers = {"nats://alice:wrong@127.0.0.1:" + std::to_string(s.port())};
  auto r = Connection::Connect(bad);
  EXPECT_EQ(r.status(), Status::kAuthorization) << r.error();
  EXPECT_NE(r.detail().find("Authorization Violation"), std::string::npos) << r.detail();
}

TEST_P(ClientTest, TokenInUrl) {
  auto& s = Start({"--auth", "t0ken"});
  Options o;
  o.servers = {"nats://t0ken@127.0.0.1:" + std::to_string(s.port())};
  EXPECT_TRUE(Connection::Connect(o).ok());
  o.servers = {"nats://wrong@127.0.0.1:" + std::to_string(s.port())};
  EXPECT_EQ(Connection::Connect(o).status(), Status::kAuthorization);
}

TEST_P(ClientTest, UnreachableServerIsAClearError) {
  int port = FreeTcpPort();
  Options o;
  o.servers = {"nats://127.0.0.1:" + std::to_string(port)};
  auto r = Connection::Connect(o);
  EXPECT_EQ(r.status(), Status::kNoServers);
  EXPECT_NE(r.detail().find("Connection refused"), std::string::npos) << r.detail();
  o.servers = {"nats://host:notaport"};
  EXPECT_EQ(Connection::Connect(o).status(), Status::kInvalidArgument);
}

TEST_P(ClientTest, ReconnectsAfterServerRestartAndResubscribes) {
  auto& first = Start();
  int port = first.port();
  Counter disconnected, reconnected;
  auto nc = Connect(CountingReconnects(first, disconnected, reconnected));
  Counter got;
  std::vector<std::string> bodies;
  std::mutex mu;
  ASSERT_TRUE(nc.Subscribe("r", [&](Message& m) {
                  std::lock_guard lk(mu);
                  bodies.emplace_back(m.data());
                  got.Add();
                }).ok());
  ASSERT_EQ(nc.Publish("r", "before"), Status::kOk);
  ASSERT_TRUE(got.WaitFor(1));

  first.Stop();
  ASSERT_TRUE(disconnected.WaitFor(1));
  EXPECT_EQ(nc.state(), ConnectionState::kReconnecting);
  // Published while disconnected: buffered, sent after the subscriptions on reconnect.
  ASSERT_EQ(nc.Publish("r", "buffered"), Status::kOk);

  auto& second = Start({"-p", std::to_string(port)});
  ASSERT_EQ(second.port(), port);
  ASSERT_TRUE(reconnected.WaitFor(1, 20s));
  ASSERT_TRUE(got.WaitFor(2));
  ASSERT_EQ(nc.Publish("r", "after"), Status::kOk);
  ASSERT_TRUE(got.WaitFor(3));
  std::lock_guard lk(mu);
  EXPECT_EQ(bodies, (std::vector<std::string>{"before", "buffered", "after"}));
  EXPECT_EQ(nc.stats().reconnects, 1u);
}

// Many messages published while disconnected (from two threads) go out after the
// subscriptions, in each thread's order, before what is published after the reconnect.
TEST_P(ClientTest, PublishesDuringReconnectKeepTheirOrder) {
  auto& first = Start();
  int port = first.port();
  Counter disconnected, reconnected;
  auto nc = Connect(CountingReconnects(first, disconnected, reconnected));
  std::mutex mu;
  std::vector<std::string> bodies;
  Counter got;
  ASSERT_TRUE(nc.Subscribe("rc.*", [&](Message& m) {
                  std::lock_guard lk(mu);
                  bodies.push_back(std::string(m.subject()) + ":" + std::string(m.data()));
                  got.Add();
                }).ok());
  ASSERT_EQ(nc.Flush(), Status::kOk);
  first.Stop();
  ASSERT_TRUE(disconnected.WaitFor(1));
  constexpr int kEach = 500;
  std::thread other([&] {
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(nc.Publish("rc.b", std::to_string(i)), Status::kOk);
  });
  for (int i = 0; i < kEach; ++i) ASSERT_EQ(nc.Publish("rc.a", std::to_string(i)), Status::kOk);
  other.join();
  auto& second = Start({"-p", std::to_string(port)});
  ASSERT_EQ(second.port(), port);
  ASSERT_TRUE(reconnected.WaitFor(1, 20s));
  ASSERT_EQ(nc.Publish("rc.a", "after"), Status::kOk);
  ASSERT_TRUE(got.WaitFor(2 * kEach + 1, 20s)) << got.value();
  std::lock_guard lk(mu);
  ASSERT_EQ(bodies.size(), static_cast<size_t>(2 * kEach + 1));
  EXPECT_EQ(bodies.back(), "rc.a:after");
  int next_a = 0, next_b = 0;
  for (size_t i = 0; i + 1 < bodies.size(); ++i) {
    if (bodies[i].starts_with("rc.a:")) {
      EXPECT_EQ(bodies[i], "rc.a:" + std::to_string(next_a++));
    } else {
      EXPECT_EQ(bodies[i], "rc.b:" + std::to_string(next_b++));
    }
  }
  EXPECT_EQ(next_a, kEach);
  EXPECT_EQ(next_b, kEach);
}

TEST_P(ClientTest, FailsOverToTheNextServer) {
  auto& a = Start();
  auto& b = Start();
  Counter reconnected;
  std::string url;
  std::mutex mu;
  Options o;
  o.servers = {a.url(), b.url()};
  o.randomize = false;
  o.reconnect_wait = 50ms;
  o.on_reconnected = [&](const std::string& u) {
    std::lock_guard lk(mu);
    url = u;
    reconnected.Add();
  };
  auto nc = Connect(o);
  ASSERT_EQ(nc.connected_url(), a.url());
  auto sub = nc.SubscribeSync("f");
  ASSERT_TRUE(sub.ok());
  a.Stop();
  ASSERT_TRUE(reconnected.WaitFor(1, 20s));
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(url, b.url());
  }
  EXPECT_EQ(nc.connected_url(), b.url());
  ASSERT_EQ(nc.Publish("f", "on b"), Status::kOk);
  auto m = sub->NextMessage(5s);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->data(), "on b");
}

TEST_P(ClientTest, GivesUpAfterMaxReconnects) {
  auto& s = Start();
  Counter closed;
  Options o = OptionsFor(s);
  o.max_reconnect_attempts = 2;
  o.reconnect_wait = 20ms;
  o.on_closed = [&] { closed.Add(); };
  auto nc = Connect(o);
  s.Stop();
  ASSERT_TRUE(closed.WaitFor(1, 20s));
  EXPECT_EQ(nc.state(), ConnectionState::kClosed);
  EXPECT_EQ(nc.Publish("x", "y"), Status::kConnectionClosed);
}

TEST_P(ClientTest, RetryOnFailedConnect) {
  int port = FreeTcpPort();
  Counter reconnected;
  Options o;
  o.servers = {"nats://127.0.0.1:" + std::to_string(port)};
  o.retry_on_failed_connect = true;
  o.reconnect_wait = 50ms;
  o.max_reconnect_attempts = -1;
  o.on_reconnected = [&](const std::string&) { reconnected.Add(); };
  auto nc = Connect(o);  // nobody listens yet: the connection starts reconnecting
  ASSERT_TRUE(nc.valid());
  EXPECT_EQ(nc.state(), ConnectionState::kReconnecting);
  auto sub = nc.SubscribeSync("early");
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(nc.Publish("early", "queued before any server"), Status::kOk);
  Start({"-p", std::to_string(port)});
  ASSERT_TRUE(reconnected.WaitFor(1, 20s));
  auto m = sub->NextMessage(5s);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->data(), "queued before any server");
}

TEST_P(ClientTest, LameDuckEventThenReconnectElsewhere) {
  auto& a = StartWithConfig("lame_duck_grace_period: \"1s\"\nlame_duck_duration: \"30s\"\n");
  auto& b = Start();
  Counter ldm, reconnected;
  Options o;
  o.servers = {a.url(), b.url()};
  o.randomize = false;
  o.reconnect_wait = 50ms;
  o.on_lame_duck = [&] { ldm.Add(); };
  o.on_reconnected = [&](const std::string&) { reconnected.Add(); };
  auto nc = Connect(o);
  ASSERT_EQ(nc.Flush(), Status::kOk);  // the first PING: now it takes INFO updates
  a.Signal(SIGUSR2);
  EXPECT_TRUE(ldm.WaitFor(1));
  EXPECT_TRUE(nc.server_info().lame_duck_mode);
  ASSERT_TRUE(reconnected.WaitFor(1, 20s));
  EXPECT_EQ(nc.connected_url(), b.url());
}

TEST_P(ClientTest, ReconnectBufferIsBounded) {
  auto& s = Start();
  Counter disconnected;
  Options o = OptionsFor(s);
  o.reconnect_buffer_size = 1000;
  o.reconnect_wait = 10s;  // stay disconnected for the test
  o.on_disconnected = [&] { disconnected.Add(); };
  auto nc = Connect(o);
  s.Stop();
  ASSERT_TRUE(disconnected.WaitFor(1));
  EXPECT_EQ(nc.Publish("a", std::string(500, 'x')), Status::kOk);
  EXPECT_EQ(nc.Publish("a", std::string(500, 'x')), Status::kBufferFull);
  EXPECT_EQ(nc.state(), ConnectionState::kReconnecting);
  nc.Close();  // wakes the reconnect wait
  EXPECT_EQ(nc.state(), ConnectionState::kClosed);
}

TEST_P(ClientTest, VerboseAndPedanticConnectionsWork) {
  auto& s = Start();
  Options o = OptionsFor(s);
  o.verbose = true;
  o.pedantic = true;
  o.name = "verbose client";
  auto nc = Connect(o);
  auto sub = nc.SubscribeSync("v.>");
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(nc.Publish("v.1", "x"), Status::kOk);
  auto m = sub->NextMessage(5s);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->subject(), "v.1");
  EXPECT_EQ(nc.Flush(), Status::kOk);  // +OKs in between do not confuse the PONG count
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS_SANITIZED(ClientTest);

// ---------------------------------------------------------------------------------------------
// Behaviour a real server shows only in a cluster or on demand: a scripted fake server.

// Connects to the fake server while it accepts and completes the handshake.
client::Result<Connection> ConnectToFake(FakeServer& fake, const Options& o) {
  bool accepted = false;
  std::thread t([&] { accepted = fake.AcceptClient(); });
  auto nc = Connection::Connect(o);
  t.join();
  if (!accepted) ADD_FAILURE() << "the fake server saw no handshake";
  return nc;
}

constexpr const char* kFakeInfo =
    R"({"server_id":"FAKE","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576})";

TEST(ClientFakeServer, DiscoveredServersAndLameDuck) {
  FakeServer fake(kFakeInfo);
  Counter discovered, ldm;
  std::vector<std::string> list;
  std::mutex mu;
  Options o;
  o.servers = {fake.url()};
  o.on_discovered_servers = [&](const std::vector<std::string>& servers) {
    std::lock_guard lk(mu);
    list = servers;
    discovered.Add();
  };
  o.on_lame_duck = [&] { ldm.Add(); };
  auto nc = ConnectToFake(fake, o);
  ASSERT_TRUE(nc.ok()) << nc.error();
  ASSERT_TRUE(fake.Send(
      R"(INFO {"server_id":"FAKE","headers":true,"connect_urls":["10.0.0.1:4222","10.0.0.2:4223"]})"
      "\r\n"));
  ASSERT_TRUE(discovered.WaitFor(1));
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(list.size(), 3u);
    EXPECT_NE(std::find(list.begin(), list.end(), "nats://10.0.0.2:4223"), list.end());
  }
  auto servers = nc->servers();
  EXPECT_EQ(servers.size(), 3u);
  ASSERT_TRUE(fake.Send(R"(INFO {"server_id":"FAKE","headers":true,"ldm":true})"
                        "\r\n"));
  ASSERT_TRUE(ldm.WaitFor(1));
  EXPECT_TRUE(nc->server_info().lame_duck_mode);
}

TEST(ClientFakeServer, AnswersServerPingsAndDetectsAStaleServer) {
  FakeServer fake(kFakeInfo);
  fake.set_answer_pings(false);
  Counter disconnected;
  Options o;
  o.servers = {fake.url()};
  o.ping_interval = 50ms;
  o.max_pings_out = 2;
  o.allow_reconnect = false;
  o.on_disconnected = [&] { disconnected.Add(); };
  auto nc = ConnectToFake(fake, o);
  ASSERT_TRUE(nc.ok());
  ASSERT_TRUE(fake.Send("PING\r\n"));
  EXPECT_NE(fake.ReadUntil("PONG\r\n").find("PONG\r\n"), std::string::npos);
  // Keepalive PINGs go unanswered: after max_pings_out the client declares the server dead.
  ASSERT_TRUE(disconnected.WaitFor(1, 10s));
  EXPECT_EQ(nc->last_error(), "Stale Connection");
  EXPECT_TRUE(fake.WaitClientClosed());
}

TEST(ClientFakeServer, ServerErrorIsReported) {
  FakeServer fake(kFakeInfo);
  Counter errors;
  std::string text;
  std::mutex mu;
  Options o;
  o.servers = {fake.url()};
  o.on_error = [&](Status st, const std::string& d) {
    std::lock_guard lk(mu);
    if (st == Status::kServerError) text = d;
    errors.Add();
  };
  auto nc = ConnectToFake(fake, o);
  ASSERT_TRUE(nc.ok());
  ASSERT_TRUE(fake.Send("-ERR 'Permissions Violation for Publish to \"x\"'\r\n"));
  ASSERT_TRUE(errors.WaitFor(1));
  std::lock_guard lk(mu);
  EXPECT_EQ(text, "Permissions Violation for Publish to \"x\"");
}

TEST(ClientFakeServer, GarbageFromTheServerDisconnects) {
  FakeServer fake(kFakeInfo);
  Counter disconnected;
  Options o;
  o.servers = {fake.url()};
  o.allow_reconnect = false;
  o.on_disconnected = [&] { disconnected.Add(); };
  auto nc = ConnectToFake(fake, o);
  ASSERT_TRUE(nc.ok());
  ASSERT_TRUE(fake.Send("BOGUS nonsense\r\n"));
  ASSERT_TRUE(disconnected.WaitFor(1));
  EXPECT_NE(nc->last_error().find("protocol error"), std::string::npos) << nc->last_error();
}

TEST(ClientFakeServer, OversizedMessageFromTheServerDisconnects) {
  FakeServer fake(kFakeInfo);
  Counter disconnected;
  Options o;
  o.servers = {fake.url()};
  o.allow_reconnect = false;
  o.on_disconnected = [&] { disconnected.Add(); };
  auto nc = ConnectToFake(fake, o);
  ASSERT_TRUE(nc.ok());
  auto sub = nc->SubscribeSync("big");
  ASSERT_TRUE(sub.ok());
  // Announces 900 MB: refused before any of it is buffered.
  ASSERT_TRUE(fake.Send("MSG big 1 900000000\r\n"));
  ASSERT_TRUE(disconnected.WaitFor(1));
  EXPECT_NE(nc->last_error().find("protocol error"), std::string::npos) << nc->last_error();
}

TEST(ClientFakeServer, NotANatsServerFailsTheConnect) {
  FakeServer fake(kFakeInfo);
  std::thread t([&] {
    ASSERT_TRUE(fake.AcceptRaw());
    fake.Send("HTTP/1.1 400 Bad Request\r\n\r\n");
  });
  Options o;
  o.servers = {fake.url()};
  auto r = Connection::Connect(o);
  t.join();
  EXPECT_EQ(r.status(), Status::kNoServers);
  EXPECT_NE(r.detail().find("did not speak the NATS protocol"), std::string::npos) << r.detail();
}

TEST(ClientFakeServer, ConnectTimeoutWhenNoInfoComes) {
  FakeServer fake(kFakeInfo);
  std::thread t([&] { ASSERT_TRUE(fake.AcceptRaw()); });  // accepts, then says nothing
  Options o;
  o.servers = {fake.url()};
  o.connect_timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto r = Connection::Connect(o);
  auto took = std::chrono::steady_clock::now() - start;
  t.join();
  EXPECT_EQ(r.status(), Status::kNoServers);
  EXPECT_NE(r.detail().find("read timeout"), std::string::npos) << r.detail();
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
}

// Discovery from a real cluster: two reference servers routed together. The client is given
// one URL and learns the other from INFO connect_urls.
TEST(ClientCluster, LearnsClusterMembersFromConnectUrls) {
  int cluster_a = FreeTcpPort();
  ServerProcess a(
      ServerKind::kNatsServer,
      {"--cluster", "nats://127.0.0.1:" + std::to_string(cluster_a), "--cluster_name", "c1"});
  ASSERT_TRUE(a.Start());
  Counter discovered;
  Options o;
  o.servers = {a.url()};
  o.on_discovered_servers = [&](const std::vector<std::string>&) { discovered.Add(); };
  auto nc = Connection::Connect(o);
  ASSERT_TRUE(nc.ok()) << nc.error();
  ServerProcess b(
      ServerKind::kNatsServer,
      {"--cluster", "nats://127.0.0.1:" + std::to_string(FreeTcpPort()), "--cluster_name", "c1",
       "--routes", "nats://127.0.0.1:" + std::to_string(cluster_a)});
  ASSERT_TRUE(b.Start());
  ASSERT_TRUE(discovered.WaitFor(1, 20s));
  auto servers = nc->servers();
  std::string b_port = ":" + std::to_string(b.port());
  EXPECT_TRUE(std::any_of(servers.begin(), servers.end(),
                          [&](const std::string& s) {
                            return s.size() > b_port.size() &&
                                   s.compare(s.size() - b_port.size(), b_port.size(), b_port) == 0;
                          }))
      << "servers: " << servers.size();
}

}  // namespace
}  // namespace gannet::test
