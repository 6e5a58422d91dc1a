// Interop with libnats' Streaming API: channel limits (max_channels, max_subs, max_msgs,
// max_bytes, max_age, max_inactivity), global and per channel with wildcards from the
// `streaming {}` configuration block.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "http_client.h"
#include "stan_harness.h"

namespace gannet::streaming::test {
namespace {

using Start = SubscribeOptions::Start;

std::string TempConfig(const std::string& text) {
  char tmpl[] = "/tmp/gannet-streaming-conf-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  std::ofstream(tmpl) << text;
  return tmpl;
}

TEST(StanLimits, MaxChannels) {
  StanServer server({"-mc", "2"});
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "c", &err);
  ASSERT_TRUE(sc) << err;
  EXPECT_EQ(Publish(sc.get(), "a", "x"), "");
  EXPECT_EQ(Publish(sc.get(), "b", "x"), "");
  std::string e = Publish(sc.get(), "c", "x");
  EXPECT_NE(e.find("too many channels"), std::string::npos) << e;
  Collector col;
  StanSub sub = Subscribe(sc.get(), "d", col, {}, &err);
  EXPECT_FALSE(sub);
  EXPECT_NE(err.find("too many channels"), std::string::npos) << err;
}

TEST(StanLimits, MaxSubscriptions) {
  StanServer server({"-msu", "1"});
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "c", &err);
  ASSERT_TRUE(sc) << err;
  Collector c1, c2;
  StanSub s1 = Subscribe(sc.get(), "foo", c1, {}, &err);
  ASSERT_TRUE(s1) << err;
  StanSub s2 = Subscribe(sc.get(), "foo", c2, {}, &err);
  EXPECT_FALSE(s2);
  EXPECT_NE(err.find("too many subscriptions per channel"), std::string::npos) << err;
}

TEST(StanLimits, MaxBytesDropsOldest) {
  StanServer server({"-mb", "1KB"});
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "c", &err);
  ASSERT_TRUE(sc) << err;
  const std::string payload(300, 'p');
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Publish(sc.get(), "big", payload), "");
  Collector c;
  SubscribeOptions o;
  o.start = Start::kFirst;
  StanSub sub = Subscribe(sc.get(), "big", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(3));
  EXPECT_FALSE(c.WaitCount(4, 200ms));
  EXPECT_EQ(c.Snapshot().back().seq, 10u);
}

TEST(StanLimits, MaxAgeExpiresMessages) {
  StanServer server({"-ma", "300ms"});
  server.EnableMonitoring();
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "c", &err);
  ASSERT_TRUE(sc) << err;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Publish(sc.get(), "aging", "x"), "");
  auto msgs = [&] {
    auto r = gannet::test::HttpGet(server.http_port(), "/streaming/channelsz?channel=aging");
    auto at = r.body.find("\"msgs\": ");
    return at == std::string::npos ? -1 : std::atoi(r.body.c_str() + at + 8);
  };
  EXPECT_EQ(msgs(), 5);
  EXPECT_TRUE(WaitFor([&] { return msgs() == 0; }, 5s));
  // Sequences go on after the expiry.
  ASSERT_EQ(Publish(sc.get(), "aging", "y"), "");
  Collector c;
  SubscribeOptions o;
  o.start = Start::kFirst;
  StanSub sub = Subscribe(sc.get(), "aging", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_TRUE(c.WaitCount(1));
  EXPECT_EQ(c.Snapshot().front().seq, 6u);
}

TEST(StanLimits, MaxInactivityDeletesIdleChannels) {
  StanServer server({"-mi", "300ms"});
  server.EnableMonitoring();
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "c", &err);
  ASSERT_TRUE(sc) << err;
  ASSERT_EQ(Publish(sc.get(), "idle", "x"), "");
  // A channel with an active subscription stays.
  Collector c;
  StanSub sub = Subscribe(sc.get(), "busy", c, {}, &err);
  ASSERT_TRUE(sub) << err;
  auto exists = [&](const char* name) {
    return gannet::test::HttpGet(server.http_port(),
                                 std::string("/streaming/channelsz?channel=") + name)
               .status == 200;
  };
  EXPECT_TRUE(exists("idle"));
  EXPECT_TRUE(WaitFor([&] { return !exists("idle"); }, 5s));
  EXPECT_TRUE(exists("busy"));
  EXPECT_NE(server.Output().find("Channel \"idle\" has been deleted"), std::string::npos);
}

// An offline durable does not keep a channel alive: it goes with the channel.
TEST(StanLimits, MaxInactivityIgnoresOfflineDurables) {
  StanServer server({"-mi", "300ms"});
  server.EnableMonitoring();
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "c", &err);
  ASSERT_TRUE(sc) << err;
  Collector c;
  SubscribeOptions o;
  o.durable = "dur";
  StanSub sub = Subscribe(sc.get(), "parked", c, o, &err);
  ASSERT_TRUE(sub) << err;
  ASSERT_EQ(stanSubscription_Close(sub.get()), NATS_OK);
  EXPECT_TRUE(WaitFor(
      [&] {
        return gannet::test::HttpGet(server.http_port(), "/streaming/channelsz?channel=parked")
                   .status == 404;
      },
      5s));
  // The durable is gone with it: subscribing again starts a new one.
  Collector c2;
  o.start = Start::kFirst;
  StanSub again = Subscribe(sc.get(), "parked", c2, o, &err);
  ASSERT_TRUE(again) << err;
}

TEST(StanLimits, PerChannelLimitsFromTheStreamingBlock) {
  std::string conf = TempConfig(R"(
    # NATS keys and the streaming block share the file.
    max_payload: 65536
    streaming {
      cluster_id: "conf-cluster"
      store_limits {
        max_channels: 10
        max_msgs: 100
        channels {
          "foo.*": { max_msgs: 2 }
          "bar": { max_subs: 1 }
        }
      }
    }
  )");
  StanServer server({"-c", conf});
  server.EnableMonitoring();
  ASSERT_TRUE(server.Start()) << server.Output();
  EXPECT_NE(server.Output().find("STREAM: foo.*"), std::string::npos) << server.Output();
  std::string err;
  ConnectOptions co;
  co.cluster_id = "conf-cluster";
  StanConn sc = Connect(server.url(), "c", &err, co);
  ASSERT_TRUE(sc) << err;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Publish(sc.get(), "foo.x", "x"), "");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Publish(sc.get(), "other", "x"), "");
  auto r = gannet::test::HttpGet(server.http_port(), "/streaming/channelsz?channel=foo.x");
  EXPECT_NE(r.body.find("\"msgs\": 2,"), std::string::npos) << r.body;
  r = gannet::test::HttpGet(server.http_port(), "/streaming/channelsz?channel=other");
  EXPECT_NE(r.body.find("\"msgs\": 5,"), std::string::npos) << r.body;
  Collector c1, c2;
  StanSub s1 = Subscribe(sc.get(), "bar", c1, {}, &err);
  ASSERT_TRUE(s1) << err;
  StanSub s2 = Subscribe(sc.get(), "bar", c2, {}, &err);
  EXPECT_FALSE(s2);
  r = gannet::test::HttpGet(server.http_port(), "/streaming/storez");
  EXPECT_NE(r.body.find("\"foo.*\""), std::string::npos) << r.body;
  ::unlink(conf.c_str());
}

// SIGHUP reloads the embedded NATS server's part of the file; streaming goes on undisturbed.
TEST(StanLimits, ReloadOfTheEmbeddedServer) {
  std::string conf = TempConfig("max_payload: 65536\nstreaming { cluster_id: \"reload\" }\n");
  StanServer server({"-c", conf});
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  ConnectOptions co;
  co.cluster_id = "reload";
  StanConn sc = Connect(server.url(), "c", &err, co);
  ASSERT_TRUE(sc) << err;
  std::ofstream(conf) << "max_payload: 65536\ndebug: true\nstreaming { cluster_id: \"reload\" }\n";
  server.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] { return server.Output().find("Reloaded server configuration") != std::string::npos; }));
  EXPECT_EQ(Publish(sc.get(), "after-reload", "x"), "");
  ::unlink(conf.c_str());
}

TEST(StanLimits, BadStreamingConfigRefused) {
  std::string conf = TempConfig("streaming { store_limits { max_msgs: \"many\" } }\n");
  StanServer server({"-c", conf});
  EXPECT_FALSE(server.Start(5s));
  EXPECT_EQ(server.WaitExit(), 1);
  EXPECT_NE(
      server.Output().find("parameter \"max_msgs\" value is expected to be int64, got string"),
      std::string::npos)
      << server.Output();
  ::unlink(conf.c_str());
  conf = TempConfig("streaming { no_such_key: 1 }\n");
  StanServer unknown({"-c", conf});
  EXPECT_FALSE(unknown.Start(5s));
  EXPECT_NE(unknown.Output().find("unknown field \"no_such_key\""), std::string::npos)
      << unknown.Output();
  ::unlink(conf.c_str());
}

}  // namespace
}  // namespace gannet::streaming::test
