// gannet-streaming -st SQL end to end, with libnats' Streaming clients, on real PostgreSQL and
// MariaDB servers (sql_servers.h): a durable subscription across a restart, a kill -9 of
// gannet-streaming in the middle of an asynchronous publish stream (every acknowledged
// message must be recovered), and the database killed and started again under a publisher
// (no PubAck for what was not committed; the server reconnects by itself).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "sql_servers.h"
#include "stan_harness.h"

namespace gannet::streaming::test {
namespace {

SqlServer* Database(const std::string& driver) {
  std::string error;
  SqlServer* s = SharedServer(driver, &error);
  if (!s) ADD_FAILURE() << "cannot start " << driver << ": " << error;
  return s;
}

class StanSql : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = Database(GetParam());
    ASSERT_NE(db_, nullptr);
    if (!db_->running()) {
      ASSERT_EQ(db_->Start(), "");
    }
    ASSERT_EQ(db_->Truncate(), "");
  }
  std::vector<std::string> Args(std::vector<std::string> more = {}) const {
    std::vector<std::string> a{"-st",          "SQL",        "--sql_driver", db_->driver_name(),
                               "--sql_source", db_->Source()};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }
  SqlServer* db_ = nullptr;
};

struct Acked {
  std::mutex mu;
  std::vector<char> ok;  // ok[i]: message i acknowledged without error
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> errors{0};
};

void OnAck(const char* /*guid*/, const char* error, void* closure) {
  auto* ctx = static_cast<std::pair<Acked*, uint64_t>*>(closure);
  Acked& a = *ctx->first;
  if (error) {
    a.errors.fetch_add(1);
  } else {
    std::lock_guard lk(a.mu);
    if (a.ok.size() <= ctx->second) a.ok.resize(ctx->second + 1 + 65536, 0);
    a.ok[ctx->second] = 1;
    a.count.fetch_add(1);
  }
  delete ctx;
}

// A publisher that does not reconnect and waits `ack_wait_ms` for each PubAck.
stanConnection* ConnectPublisher(const std::string& url, const std::string& id, int ack_wait_ms,
                                 std::string* error) {
  natsOptions* nopts = nullptr;
  natsOptions_Create(&nopts);
  natsOptions_SetAllowReconnect(nopts, false);
  stanConnOptions* opts = nullptr;
  stanConnOptions_Create(&opts);
  stanConnOptions_SetURL(opts, url.c_str());
  stanConnOptions_SetNATSOptions(opts, nopts);
  stanConnOptions_SetMaxPubAcksInflight(opts, 4096, 1.0);
  stanConnOptions_SetPubAckWait(opts, ack_wait_ms);
  stanConnection* sc = nullptr;
  natsStatus s = stanConnection_Connect(&sc, "test-cluster", id.c_str(), opts);
  stanConnOptions_Destroy(opts);
  natsOptions_Destroy(nopts);
  if (s != NATS_OK) {
    *error = LastError(s);
    return nullptr;
  }
  return sc;
}

// Every message of `channel` from the first, after publishing an "END" marker.
std::vector<Received> ReadAll(StanServer& server, const std::string& channel) {
  std::string error;
  StanConn c = Connect(server.url(), "reader", &error);
  EXPECT_TRUE(c) << error;
  if (!c) return {};
  EXPECT_EQ(Publish(c.get(), channel, "END"), "");
  Collector got;
  SubscribeOptions so;
  so.start = SubscribeOptions::Start::kFirst;
  so.max_inflight = 10000;
  StanSub sub = Subscribe(c.get(), channel, got, so, &error);
  EXPECT_TRUE(sub) << error;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto s = got.Snapshot();
        return !s.empty() && s.back().data == "END";
      },
      60s))
      << got.Count() << " received";
  auto msgs = got.Snapshot();
  if (!msgs.empty()) msgs.pop_back();
  return msgs;
}

TEST_P(StanSql, DurableResumesAfterRestart) {
  StanServer server(Args());
  ASSERT_TRUE(server.Start()) << server.Output();
  EXPECT_NE(server.Output().find("Message store is SQL"), std::string::npos) << server.Output();
  std::string error;
  {
    StanConn c1 = Connect(server.url(), "c1", &error);
    ASSERT_TRUE(c1) << error;
    Collector got;
    SubscribeOptions so;
    so.durable = "dur";
    so.manual_ack = true;
    so.start = SubscribeOptions::Start::kFirst;
    StanSub sub = Subscribe(c1.get(), "orders", got, so, &error);
    ASSERT_TRUE(sub) << error;
    for (int i = 1; i <= 5; ++i) {
      ASSERT_EQ(Publish(c1.get(), "orders", "m" + std::to_string(i)), "");
    }
    ASSERT_TRUE(got.WaitCount(5));
    got.SetAck(false);  // 6-10 delivered, never acknowledged
    for (int i = 6; i <= 10; ++i) {
      ASSERT_EQ(Publish(c1.get(), "orders", "m" + std::to_string(i)), "");
    }
    ASSERT_TRUE(got.WaitCount(10));
  }
  ASSERT_EQ(server.Stop(), 0) << server.Output();
  ASSERT_TRUE(server.Start()) << server.Output();
  EXPECT_NE(server.Output().find("Recovered 1 channel(s)"), std::string::npos) << server.Output();
  StanConn c1 = Connect(server.url(), "c1", &error);
  ASSERT_TRUE(c1) << error;
  Collector resumed;
  SubscribeOptions so;
  so.durable = "dur";
  so.manual_ack = true;
  StanSub sub = Subscribe(c1.get(), "orders", resumed, so, &error);
  ASSERT_TRUE(sub) << error;
  ASSERT_TRUE(resumed.WaitCount(5)) << resumed.Count();
  ASSERT_EQ(Publish(c1.get(), "orders", "m11"), "");
  ASSERT_TRUE(resumed.WaitCount(6));
  std::vector<Received> r = resumed.Snapshot();
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r[i].seq, i + 6);
    EXPECT_EQ(r[i].data, "m" + std::to_string(i + 6));
    EXPECT_TRUE(r[i].redelivered);
  }
  EXPECT_EQ(r[5].seq, 11u);
  sub.reset();
  c1.reset();
  auto all = ReadAll(server, "orders");
  ASSERT_EQ(all.size(), 11u);
  for (size_t i = 0; i < 11; ++i) EXPECT_EQ(all[i].data, "m" + std::to_string(i + 1));
  EXPECT_EQ(server.SanitizerReport(), "");
}

// Acks with no publish after them reach the database too (the store's subscription flush every
// second), so a crash then does not redeliver what was acknowledged.
TEST_P(StanSql, AcksAreStoredWithoutAnotherPublish) {
  StanServer server(Args());
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string error;
  auto conn = db_->Connect(&error);
  ASSERT_TRUE(conn) << error;
  ASSERT_TRUE(conn->Prepare("rows", "SELECT COUNT(*) FROM SubsPending"));
  auto pending_rows = [&]() -> int64_t {
    auto r = conn->Exec("rows", {});
    return r.ok() && !r->rows.empty() ? r->rows.Int(0, 0) : -1;
  };
  {
    StanConn c = Connect(server.url(), "c", &error);
    ASSERT_TRUE(c) << error;
    Collector got;  // acknowledges each message as it comes
    SubscribeOptions so;
    so.durable = "dur";
    so.manual_ack = true;
    StanSub sub = Subscribe(c.get(), "acks", got, so, &error);
    ASSERT_TRUE(sub) << error;
    for (int i = 1; i <= 10; ++i) {
      ASSERT_EQ(Publish(c.get(), "acks", "m" + std::to_string(i)), "");
    }
    ASSERT_TRUE(got.WaitCount(10));
    // The last deliveries were stored pending with the last publish's batch; their acks came
    // after it, with no publish to flush them: the periodic flush empties the rows.
    ASSERT_TRUE(WaitFor([&] { return pending_rows() == 0; }, 10s)) << pending_rows();
    server.Stop(/*kill=*/true);  // the subscription is neither closed nor flushed by a close
  }
  ASSERT_TRUE(server.Start()) << server.Output();
  StanConn c = Connect(server.url(), "c2", &error);
  ASSERT_TRUE(c) << error;
  Collector after;
  SubscribeOptions so;
  so.durable = "dur";
  so.manual_ack = true;
  StanSub back = Subscribe(c.get(), "acks", after, so, &error);
  ASSERT_TRUE(back) << error;
  ASSERT_EQ(Publish(c.get(), "acks", "m11"), "");
  ASSERT_TRUE(after.WaitCount(1));
  EXPECT_EQ(after.Snapshot()[0].seq, 11u) << "an acknowledged message was delivered again";
}

// kill -9 of gannet-streaming under an asynchronous publisher: every acknowledged message is in
// the database.
TEST_P(StanSql, KillMidStreamLosesNoAcknowledgedMessage) {
  StanServer server(Args());
  ASSERT_TRUE(server.Start()) << server.Output();
  Acked acked;
  std::string error;
  stanConnection* pub = ConnectPublisher(server.url(), "publisher", 5000, &error);
  ASSERT_NE(pub, nullptr) << error;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  std::thread publisher([&] {
    for (uint64_t i = 0; !stop.load(); ++i) {
      const std::string data = "msg-" + std::to_string(i);
      auto* ctx = new std::pair<Acked*, uint64_t>(&acked, i);
      natsStatus s = stanConnection_PublishAsync(pub, "crash", data.data(),
                                                 static_cast<int>(data.size()), OnAck, ctx);
      if (s != NATS_OK) {
        delete ctx;
        break;
      }
      published.store(i + 1);
    }
  });
  ASSERT_TRUE(WaitFor([&] { return acked.count.load() >= 5000; }, 60s)) << server.Output();
  server.Stop(/*kill=*/true);
  stop = true;
  publisher.join();
  stanConnection_Close(pub);
  stanConnection_Destroy(pub);
  const uint64_t acked_total = acked.count.load();

  ASSERT_TRUE(server.Start()) << server.Output();
  auto msgs = ReadAll(server, "crash");
  for (size_t k = 0; k < msgs.size(); ++k) {
    ASSERT_EQ(msgs[k].seq, k + 1);
    ASSERT_EQ(msgs[k].data, "msg-" + std::to_string(k));
  }
  uint64_t missing = 0;
  {
    std::lock_guard lk(acked.mu);
    for (uint64_t i = msgs.size(); i < acked.ok.size(); ++i) missing += acked.ok[i] ? 1 : 0;
  }
  EXPECT_EQ(missing, 0u) << "acknowledged messages lost (recovered " << msgs.size()
                         << ", acknowledged " << acked_total << ")";
  EXPECT_GE(msgs.size(), acked_total);
  std::printf("[ sql crash ] %s: published %llu, acknowledged %llu, recovered %zu, lost 0\n",
              GetParam().c_str(), static_cast<unsigned long long>(published.load()),
              static_cast<unsigned long long>(acked_total), msgs.size());
}

// The database dies (kill -9) under a publisher and comes back: what is published meanwhile
// gets no PubAck or an error one; the server reports the loss, reconnects, and later publishes
// are acknowledged; every acknowledged message is stored.
TEST_P(StanSql, DatabaseKilledAndRestarted) {
  StanServer server(Args());
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string error;
  stanConnection* pub = ConnectPublisher(server.url(), "publisher", 2000, &error);
  ASSERT_NE(pub, nullptr) << error;
  std::vector<std::string> acked;
  auto publish = [&](const std::string& data) {
    natsStatus s = stanConnection_Publish(pub, "db", data.data(), static_cast<int>(data.size()));
    if (s == NATS_OK) acked.push_back(data);
    return s;
  };
  ASSERT_EQ(publish("before-1"), NATS_OK);
  ASSERT_EQ(publish("before-2"), NATS_OK);

  db_->Kill();
  EXPECT_NE(publish("during"), NATS_OK) << "a PubAck for a message the database did not take";
  ASSERT_EQ(db_->Start(), "");
  // The server retries the flush until the database answers again.
  ASSERT_TRUE(WaitFor([&] { return publish("after") == NATS_OK; }, 60s)) << server.Output();
  const std::string log = server.Output();
  EXPECT_NE(log.find("connection to the database lost"), std::string::npos) << log;
  EXPECT_NE(log.find("reconnected to the database"), std::string::npos) << log;
  stanConnection_Close(pub);
  stanConnection_Destroy(pub);

  auto msgs = ReadAll(server, "db");
  std::vector<std::string> stored;
  for (size_t k = 0; k < msgs.size(); ++k) {
    EXPECT_EQ(msgs[k].seq, k + 1);  // gapless
    stored.push_back(msgs[k].data);
  }
  for (const std::string& a : acked) {
    EXPECT_NE(std::find(stored.begin(), stored.end(), a), stored.end()) << a << " lost";
  }
}

INSTANTIATE_TEST_SUITE_P(Sql, StanSql, ::testing::Values("postgres", "mysql"),
                         [](const auto& info) {
                           return std::string(info.param == "postgres" ? "Postgres" : "Mysql");
                         });

}  // namespace
}  // namespace gannet::streaming::test
