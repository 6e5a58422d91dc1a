#include <gtest/gtest.h>

#include "client/server_pool.h"
#include "client/subject_check.h"

namespace gannet::client::detail {
namespace {

TEST(ClientServerUrl, Forms) {
  auto u = ParseServerUrl("nats://alice:s3cret@example.com:4333");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 4333);
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->password, "s3cret");
  EXPECT_EQ(u->ToString(), "nats://example.com:4333");

  u = ParseServerUrl("nats://tok@10.0.0.1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->token, "tok");
  EXPECT_EQ(u->port, 4222);

  u = ParseServerUrl("localhost:5000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 5000);

  u = ParseServerUrl(" [::1]:4222 ");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->ToString(), "nats://[::1]:4222");

  u = ParseServerUrl("NATS://h:1/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "nats");

  for (const char* bad : {"", "nats://", "http://h:1", "nats://h:0", "nats://h:70000", "nats://h:x",
                          "[::1", "nats://:4222"}) {
    EXPECT_FALSE(ParseServerUrl(bad).ok()) << bad;
  }
}

TEST(ClientServerPool, CommaSeparatedAndDiscovered) {
  ServerPool p;
  std::string err;
  ASSERT_EQ(p.AddConfigured({"nats://a:1,nats://b:2", "c:3"}, &err), Status::kOk);
  EXPECT_EQ(p.Urls(), (std::vector<std::string>{"nats://a:1", "nats://b:2", "nats://c:3"}));
  EXPECT_EQ(p.AddDiscovered({"a:1", "d:4", "d:4", "bad:port:x"}, 1, false), 1);
  EXPECT_EQ(p.Urls().back(), "nats://d:4");
  EXPECT_TRUE(p.servers().back().discovered);
  EXPECT_EQ(p.AddConfigured({"nats://ok:1,nats://bad:x"}, &err), Status::kInvalidArgument);
  EXPECT_NE(err.find("bad port"), std::string::npos);
}

TEST(ClientServerPool, ReconnectOrderAndGivingUp) {
  ServerPool p;
  std::string err;
  ASSERT_EQ(p.AddConfigured({"a:1,b:2"}, &err), Status::kOk);
  p.set_current(0);  // connected to a
  ServerUrl* next = p.NextForReconnect(2);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->host, "b");  // the server we lost goes to the back
  next->failed_attempts = 2;   // b failed twice: dropped when it comes round
  next = p.NextForReconnect(2);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->host, "a");
  EXPECT_EQ(p.servers().size(), 1u);
  next->failed_attempts = 2;
  EXPECT_EQ(p.NextForReconnect(2), nullptr);
  // -1: never give up.
  ServerPool forever;
  ASSERT_EQ(forever.AddConfigured({"a:1"}, &err), Status::kOk);
  forever.servers()[0].failed_attempts = 1000;
  EXPECT_NE(forever.NextForReconnect(-1), nullptr);
}

TEST(ClientSubjects, Checks) {
  EXPECT_TRUE(IsValidSubscribeSubject("a.*.>"));
  EXPECT_FALSE(IsValidSubscribeSubject("a..b"));
  EXPECT_FALSE(IsValidSubscribeSubject(".a"));
  EXPECT_FALSE(IsValidSubscribeSubject("a."));
  EXPECT_FALSE(IsValidSubscribeSubject("a b"));
  EXPECT_FALSE(IsValidSubscribeSubject(""));
  EXPECT_TRUE(IsValidPublishSubject("a..b"));  // the reference clients let the server judge
  EXPECT_FALSE(IsValidPublishSubject("a\r\nPUB"));
  EXPECT_FALSE(IsValidQueueName("q q"));
}

}  // namespace
}  // namespace gannet::client::detail
