// Crash tests of the FILE store through the real gannet-streaming (-st FILE): one libnats client
// publishes asynchronously at full speed (stanConnection_PublishAsync, 16 B messages, up to
// 16,384 PubAcks in flight), the server is killed with SIGKILL in the middle of the stream,
// restarted on the same directory, and every message whose PubAck the client received must be
// there, in publish order, with its sequence (one publisher: message i has sequence i + 1).
// The same after the test damages the tail of the last slice as a crash of the machine could
// (a torn record, a zero-padded data and index file).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "stan_harness.h"

namespace gannet::streaming::test {
namespace {

constexpr const char* kChannel = "crash";

struct Acked {
  std::mutex mu;
  std::vector<char> ok;  // ok[i]: message i acknowledged without error
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> errors{0};

  void Record(uint64_t i, bool good) {
    if (!good) {
      errors.fetch_add(1);
      return;
    }
    std::lock_guard lk(mu);
    if (ok.size() <= i) ok.resize(i + 1 + 65536, 0);
    ok[i] = 1;
    count.fetch_add(1);
  }
};

Acked* g_acked = nullptr;

void OnAck(const char* /*guid*/, const char* error, void* closure) {
  g_acked->Record(reinterpret_cast<uintptr_t>(closure), error == nullptr);
}

std::string Payload(uint64_t i) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llu", static_cast<unsigned long long>(i % 10000000000000000));
  return buf;
}

// A publisher that does not reconnect: what it publishes after the kill fails.
stanConnection* ConnectPublisher(const std::string& url, std::string* error) {
  natsOptions* nopts = nullptr;
  natsOptions_Create(&nopts);
  natsOptions_SetAllowReconnect(nopts, false);
  stanConnOptions* opts = nullptr;
  stanConnOptions_Create(&opts);
  stanConnOptions_SetURL(opts, url.c_str());
  stanConnOptions_SetNATSOptions(opts, nopts);
  stanConnOptions_SetMaxPubAcksInflight(opts, 16384, 1.0);
  stanConnOptions_SetPubAckWait(opts, 5000);
  stanConnection* sc = nullptr;
  natsStatus s = stanConnection_Connect(&sc, "test-cluster", "publisher", opts);
  stanConnOptions_Destroy(opts);
  natsOptions_Destroy(nopts);
  if (s != NATS_OK) {
    *error = LastError(s);
    return nullptr;
  }
  return sc;
}

// The last slice of the channel's message log.
std::string LastSlice(const std::string& dir) {
  int best = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/" + kChannel)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("msgs.", 0) == 0 && n.size() > 9 && n.substr(n.size() - 4) == ".dat") {
      best = std::max(best, std::atoi(n.substr(5, n.size() - 9).c_str()));
    }
  }
  return dir + "/" + kChannel + "/msgs." + std::to_string(best);
}

void Append(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

enum class Damage { kNone, kTornTail, kZeroPadded };

void RunCrash(Damage damage) {
  char tmpl[] = "/tmp/gannet-crash-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  // Small slices, so that the kill can land on any of them and recovery reads several.
  StanServer server({"-st", "FILE", "--dir", dir, "--file_slice_max_bytes", "1MB"});
  ASSERT_TRUE(server.Start()) << server.Output();

  Acked acked;
  g_acked = &acked;
  std::string error;
  stanConnection* pub = ConnectPublisher(server.url(), &error);
  ASSERT_NE(pub, nullptr) << error;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  std::thread publisher([&] {
    for (uint64_t i = 0; !stop.load(); ++i) {
      const std::string data = Payload(i);
      natsStatus s =
          stanConnection_PublishAsync(pub, kChannel, data.data(), static_cast<int>(data.size()),
                                      OnAck, reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
      if (s != NATS_OK) break;  // the connection is gone
      published.store(i + 1);
    }
  });
  // Mid-stream: enough acknowledged, publishes still in flight.
  ASSERT_TRUE(WaitFor([&] { return acked.count.load() >= 30000; }, 60s)) << server.Output();
  const uint64_t acked_before_kill = acked.count.load();
  server.Stop(/*kill=*/true);
  stop = true;
  publisher.join();
  stanConnection_Close(pub);
  stanConnection_Destroy(pub);
  const uint64_t acked_total = acked.count.load();
  ASSERT_GE(acked_total, acked_before_kill);
  EXPECT_LT(acked_total, published.load()) << "the kill did not land mid-stream";

  const std::string slice = LastSlice(dir);
  if (damage == Damage::kTornTail) {
    // A record header announcing 100 bytes, and only 20 of them.
    std::string torn = std::string("\x64\x00\x00\x00\x12\x34\x56\x78", 8) + std::string(20, 'x');
    Append(slice + ".dat", torn);
  } else if (damage == Damage::kZeroPadded) {
    Append(slice + ".dat", std::string(8192, '\0'));
    Append(slice + ".idx", std::string(320, '\0'));
  }

  ASSERT_TRUE(server.Start()) << server.Output();
  StanConn checker = Connect(server.url(), "checker", &error);
  ASSERT_TRUE(checker) << error;
  // A marker after the recovered messages, then everything from the first.
  ASSERT_EQ(Publish(checker.get(), kChannel, "END"), "");
  Collector got;
  SubscribeOptions so;
  so.start = SubscribeOptions::Start::kFirst;
  so.max_inflight = 10000;
  StanSub sub = Subscribe(checker.get(), kChannel, got, so, &error);
  ASSERT_TRUE(sub) << error;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = got.Snapshot();
        return !s.empty() && s.back().data == "END";
      },
      60s))
      << got.Count() << " messages received";
  std::vector<Received> msgs = got.Snapshot();
  msgs.pop_back();  // the marker
  // One publisher: the stored messages are the first K published, message i at sequence i+1.
  for (size_t k = 0; k < msgs.size(); ++k) {
    ASSERT_EQ(msgs[k].seq, k + 1);
    ASSERT_EQ(msgs[k].data, Payload(k)) << "at sequence " << k + 1;
  }
  uint64_t missing = 0;
  {
    std::lock_guard lk(acked.mu);
    for (uint64_t i = msgs.size(); i < acked.ok.size(); ++i) missing += acked.ok[i] ? 1 : 0;
  }
  EXPECT_EQ(missing, 0u) << "acknowledged messages lost: " << missing << " (recovered "
                         << msgs.size() << ", acknowledged " << acked_total << ")";
  EXPECT_GE(msgs.size(), acked_total);
  // The damage was seen and cut off by the recovery.
  const std::string log = server.Output();
  if (damage == Damage::kTornTail) {
    EXPECT_NE(log.find("after its last indexed message truncated"), std::string::npos) << log;
  } else if (damage == Damage::kZeroPadded) {
    EXPECT_NE(log.find("bytes of zeros at its end truncated"), std::string::npos) << log;
  }
  EXPECT_EQ(server.SanitizerReport(), "");
  std::printf("[ crash    ] published %llu, acknowledged %llu, recovered %zu\n",
              static_cast<unsigned long long>(published.load()),
              static_cast<unsigned long long>(acked_total), msgs.size());
  sub.reset();
  checker.reset();
  server.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// A graceful restart on the same directory: the channel's messages, and a durable subscription
// that was closed with messages unacknowledged, which resumes with those first.
TEST(FileRestart, DurableResumesAfterRestart) {
  char tmpl[] = "/tmp/gannet-restart-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  StanServer server({"-st", "FILE", "--dir", dir});
  ASSERT_TRUE(server.Start()) << server.Output();
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
    for (int i = 1; i <= 5; ++i)
      ASSERT_EQ(Publish(c1.get(), "orders", "m" + std::to_string(i)), "");
    ASSERT_TRUE(got.WaitCount(5));
    got.SetAck(false);  // 6-10 delivered, never acknowledged
    for (int i = 6; i <= 10; ++i)
      ASSERT_EQ(Publish(c1.get(), "orders", "m" + std::to_string(i)), "");
    ASSERT_TRUE(got.WaitCount(10));
    // Closing the connection leaves the durable offline, its pending messages kept.
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
  EXPECT_FALSE(r[5].redelivered);
  // Every message is there for a new subscriber.
  Collector all;
  SubscribeOptions first;
  first.start = SubscribeOptions::Start::kFirst;
  StanSub sub2 = Subscribe(c1.get(), "orders", all, first, &error);
  ASSERT_TRUE(all.WaitCount(11));
  for (size_t i = 0; i < 11; ++i) EXPECT_EQ(all.Snapshot()[i].data, "m" + std::to_string(i + 1));
  EXPECT_EQ(server.SanitizerReport(), "");
  sub.reset();
  sub2.reset();
  c1.reset();
  server.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST(FileCrash, KillMidStream) { RunCrash(Damage::kNone); }
TEST(FileCrash, KillMidStreamThenTornTail) { RunCrash(Damage::kTornTail); }
TEST(FileCrash, KillMidStreamThenZeroPaddedTail) { RunCrash(Damage::kZeroPadded); }

}  // namespace
}  // namespace gannet::streaming::test
