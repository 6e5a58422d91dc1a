// /streaming/serverz, storez, clientsz and channelsz: the reference's fields and types, paging,
// subs=1, one client or channel, 404s; and the streaming figures in /metrics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.h"
#include "stan_harness.h"

namespace gannet::streaming::test {
namespace {

using Json = nlohmann::json;

Json Get(int port, const std::string& path) {
  auto r = gannet::test::HttpGet(port, path);
  EXPECT_EQ(r.status, 200) << path << ": " << r.body;
  return Json::parse(r.body, nullptr, false);
}

class StanMonitor : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.EnableMonitoring();
    ASSERT_TRUE(server_.Start()) << server_.Output();
    std::string err;
    a_ = Connect(server_.url(), "alpha", &err);
    ASSERT_TRUE(a_) << err;
    b_ = Connect(server_.url(), "beta", &err);
    ASSERT_TRUE(b_) << err;
    for (int i = 0; i < 3; ++i) ASSERT_EQ(Publish(a_.get(), "ch1", "hello"), "");
    ASSERT_EQ(Publish(a_.get(), "ch2", "x"), "");
    SubscribeOptions o;
    o.durable = "dur";
    o.start = SubscribeOptions::Start::kFirst;
    sub_ = Subscribe(b_.get(), "ch1", col_, o, &err);
    ASSERT_TRUE(sub_) << err;
    SubscribeOptions q;
    q.queue = "grp";
    qsub_ = Subscribe(a_.get(), "ch2", qcol_, q, &err);
    ASSERT_TRUE(qsub_) << err;
    ASSERT_TRUE(col_.WaitCount(3));
  }
  void TearDown() override {
    sub_.reset();
    qsub_.reset();
    a_.reset();
    b_.reset();
    server_.Stop();
    EXPECT_EQ(server_.SanitizerReport(), "");
  }
  StanServer server_;
  StanConn a_, b_;
  Collector col_, qcol_;
  StanSub sub_, qsub_;
};

TEST_F(StanMonitor, Serverz) {
  Json j = Get(server_.http_port(), "/streaming/serverz");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["cluster_id"], "test-cluster");
  EXPECT_TRUE(j["server_id"].is_string());
  EXPECT_EQ(j["version"], "0.25.6");
  EXPECT_TRUE(j["go"].is_string());
  EXPECT_EQ(j["state"], "STANDALONE");
  EXPECT_TRUE(j["now"].is_string());
  EXPECT_TRUE(j["start_time"].is_string());
  EXPECT_TRUE(j["uptime"].is_string());
  EXPECT_EQ(j["clients"], 2);
  EXPECT_EQ(j["subscriptions"], 2);
  EXPECT_EQ(j["channels"], 2);
  EXPECT_EQ(j["total_msgs"], 4);
  EXPECT_TRUE(j["total_bytes"].is_number_unsigned());
  EXPECT_EQ(j["in_msgs"], 4);
  EXPECT_EQ(j["in_bytes"], 16);
  EXPECT_GE(j["out_msgs"].get<int>(), 3);
  EXPECT_TRUE(j["open_fds"].is_number_integer());
  EXPECT_TRUE(j["max_fds"].is_number_integer());
}

TEST_F(StanMonitor, Storez) {
  Json j = Get(server_.http_port(), "/streaming/storez");
  EXPECT_EQ(j["type"], "MEMORY");
  EXPECT_EQ(j["limits"]["max_channels"], 100);
  EXPECT_EQ(j["limits"]["max_msgs"], 1000000);
  EXPECT_EQ(j["limits"]["max_bytes"], 1024000000);
  EXPECT_EQ(j["limits"]["max_age"], 0);
  EXPECT_EQ(j["limits"]["max_subscriptions"], 1000);
  EXPECT_FALSE(j["limits"].contains("channels"));
  EXPECT_EQ(j["total_msgs"], 4);
}

TEST_F(StanMonitor, Clientsz) {
  Json j = Get(server_.http_port(), "/streaming/clientsz");
  EXPECT_EQ(j["total"], 2);
  EXPECT_EQ(j["count"], 2);
  EXPECT_EQ(j["offset"], 0);
  EXPECT_EQ(j["limit"], 1024);
  ASSERT_EQ(j["clients"].size(), 2u);
  EXPECT_EQ(j["clients"][0]["id"], "alpha");  // sorted by id
  EXPECT_TRUE(j["clients"][0]["hb_inbox"].is_string());
  EXPECT_FALSE(j["clients"][0].contains("subscriptions"));
  j = Get(server_.http_port(), "/streaming/clientsz?subs=1&offset=1&limit=1");
  EXPECT_EQ(j["count"], 1);
  ASSERT_EQ(j["clients"].size(), 1u);
  EXPECT_EQ(j["clients"][0]["id"], "beta");
  Json sub = j["clients"][0]["subscriptions"]["ch1"][0];
  EXPECT_EQ(sub["client_id"], "beta");
  EXPECT_EQ(sub["durable_name"], "dur");
  EXPECT_EQ(sub["is_durable"], true);
  EXPECT_EQ(sub["is_offline"], false);
  EXPECT_EQ(sub["max_inflight"], 1024);
  EXPECT_EQ(sub["ack_wait"], 30);
  EXPECT_EQ(sub["last_sent"], 3);
  EXPECT_TRUE(sub["pending_count"].is_number_integer());
  EXPECT_EQ(sub["is_stalled"], false);
  j = Get(server_.http_port(), "/streaming/clientsz?client=alpha&subs=1");
  EXPECT_EQ(j["id"], "alpha");
  EXPECT_EQ(j["subscriptions"]["ch2"][0]["queue_name"], "grp");
  auto missing = gannet::test::HttpGet(server_.http_port(), "/streaming/clientsz?client=nobody");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("Client nobody not found"), std::string::npos);
}

TEST_F(StanMonitor, Channelsz) {
  Json j = Get(server_.http_port(), "/streaming/channelsz");
  EXPECT_EQ(j["total"], 2);
  EXPECT_EQ(j["names"], Json::array({"ch1", "ch2"}));
  EXPECT_FALSE(j.contains("channels"));
  j = Get(server_.http_port(), "/streaming/channelsz?subs=1");
  ASSERT_EQ(j["channels"].size(), 2u);
  Json ch1 = j["channels"][0];
  EXPECT_EQ(ch1["name"], "ch1");
  EXPECT_EQ(ch1["msgs"], 3);
  EXPECT_EQ(ch1["first_seq"], 1);
  EXPECT_EQ(ch1["last_seq"], 3);
  EXPECT_TRUE(ch1["bytes"].is_number_unsigned());
  ASSERT_EQ(ch1["subscriptions"].size(), 1u);
  EXPECT_EQ(ch1["subscriptions"][0]["durable_name"], "dur");
  j = Get(server_.http_port(), "/streaming/channelsz?channel=ch2&subs=1");
  EXPECT_EQ(j["name"], "ch2");
  EXPECT_EQ(j["subscriptions"][0]["queue_name"], "grp");
  j = Get(server_.http_port(), "/streaming/channelsz?offset=1&limit=5");
  EXPECT_EQ(j["names"], Json::array({"ch2"}));
  auto missing = gannet::test::HttpGet(server_.http_port(), "/streaming/channelsz?channel=zz");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("Channel zz not found"), std::string::npos);
}

TEST_F(StanMonitor, OfflineDurableShown) {
  // Close (not unsubscribe) the durable: it stays, offline, with its client id.
  ASSERT_EQ(stanSubscription_Close(sub_.get()), NATS_OK);
  Json j = Get(server_.http_port(), "/streaming/channelsz?channel=ch1&subs=1");
  ASSERT_EQ(j["subscriptions"].size(), 1u);
  EXPECT_EQ(j["subscriptions"][0]["is_offline"], true);
  EXPECT_EQ(j["subscriptions"][0]["client_id"], "beta");
}

TEST_F(StanMonitor, MetricsHaveStreamingFigures) {
  auto r = gannet::test::HttpGet(server_.http_port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("nss_server_channels{"), std::string::npos);
  EXPECT_NE(r.body.find("nss_chan_msgs_total{channel=\"ch1\"} 3"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("nss_chan_subs_count{channel=\"ch2\"} 1"), std::string::npos);
  EXPECT_NE(r.body.find("gnatsd_varz_connections"), std::string::npos);  // the server's own
}

TEST_F(StanMonitor, JsonpAndUnknownPaths) {
  auto r = gannet::test::HttpGet(server_.http_port(), "/streaming/serverz?callback=cb");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind("cb(", 0), 0u);
  EXPECT_EQ(gannet::test::HttpGet(server_.http_port(), "/streaming/nope").status, 404);
  EXPECT_EQ(gannet::test::HttpGet(server_.http_port(), "/streaming").status, 200);
  EXPECT_EQ(gannet::test::HttpGet(server_.http_port(), "/varz").status, 200);
}

}  // namespace
}  // namespace gannet::streaming::test
