// Limits set through a config file (-c FILE): payload and control line sizes, connection and
// subscription counts, server PINGs and stale connections, slow consumers.
#include <sys/socket.h>
#include <sys/time.h>

#include "integration_util.h"

namespace gannet::test {
namespace {

using Clock = std::chrono::steady_clock;

class LimitsTest : public ProtocolTest {};

// Removes the server's keep-alive PINGs (sent ~2s after CONNECT to measure RTT) from a stream of
// control lines and small text messages, so long-running tests are not disturbed by them.
std::string WithoutPings(std::string s) {
  for (size_t pos = 0; (pos = s.find("PING\r\n", pos)) != std::string::npos;) {
    if (pos == 0 || s[pos - 1] == '\n') {
      s.erase(pos, 6);
    } else {
      pos += 6;
    }
  }
  return s;
}

TEST_P(LimitsTest, MaxPayloadFromConfig) {
  StartWithConfig("max_payload: 512\n");
  nlohmann::json info;
  auto conn = DialInfo(&info);
  EXPECT_EQ(info.value("max_payload", -1), 512);
  conn->Send("CONNECT {\"verbose\":false}\r\n");
  ASSERT_EQ(conn->Flush(), "");
  EXPECT_EQ(SendAndFlush(*conn, "SUB foo 1\r\n" + PubBytes("foo", "", std::string(512, 'p'))),
            MsgBytes("foo", "1", "", std::string(512, 'p')));
  conn->Send("PUB foo 513\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Maximum Payload Violation'\r\n"));
}

TEST_P(LimitsTest, MaxControlLineFromConfig) {
  StartWithConfig("max_control_line: 256\n");
  auto conn = Client();
  std::string ok_subject(200, 's');
  EXPECT_EQ(SendAndFlush(*conn, "SUB " + ok_subject + " 1\r\n"), "");
  conn->Send("SUB " + std::string(300, 's') + " 2\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'maximum control line exceeded'\r\n"));
}

TEST_P(LimitsTest, MaxControlLineAppliesToConnect) {
  StartWithConfig("max_control_line: 256\n");
  auto conn = DialInfo();
  conn->Send("CONNECT {\"verbose\":false,\"name\":\"" + std::string(300, 'n') + "\"}\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'maximum control line exceeded'\r\n"));
}

TEST_P(LimitsTest, MaxConnectionsExceeded) {
  StartWithConfig("max_connections: 2\n");
  // Connects a client, retrying while the server is still counting a connection that was just
  // closed (the harness's readiness probe, or a client the test closed).
  auto admit = [&]() -> std::unique_ptr<RawConn> {
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      auto c = Dial();
      if (!c->ReadLine().starts_with("INFO ")) continue;
      c->Send("CONNECT {\"verbose\":false}\r\n");
      if (c->Flush(2s) == "") return c;
    }
    return nullptr;
  };
  auto c1 = admit();
  auto c2 = admit();
  ASSERT_TRUE(c1 && c2) << "two clients must be admitted";
  auto c3 = Dial();
  // The INFO comes first, then the error, then the close.
  std::string info = c3->ReadUntil("\r\n");
  EXPECT_TRUE(info.starts_with("INFO {")) << info;
  EXPECT_TRUE(ClosesWith(*c3, "-ERR 'maximum connections exceeded'\r\n"));
  // The first two are unaffected.
  EXPECT_EQ(SendAndFlush(*c1, "SUB foo 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*c2, "PUB foo 1\r\nx\r\n"), "");
  EXPECT_EQ(c1->Flush(), "MSG foo 1 1\r\nx\r\n");
  // Once one leaves, a new client is admitted.
  c2.reset();
  EXPECT_TRUE(admit() != nullptr);
}

TEST_P(LimitsTest, MaxSubscriptionsExceeded) {
  StartWithConfig("max_subscriptions: 3\n");
  auto conn = Client();
  EXPECT_EQ(SendAndFlush(*conn, "SUB a 1\r\nSUB b 2\r\nSUB c q 3\r\n"), "");
  EXPECT_EQ(SendAndFlush(*conn, "SUB d 4\r\n"), "-ERR 'maximum subscriptions exceeded'\r\n");
  // Still open; the rejected subscription does not exist, the others do.
  EXPECT_EQ(SendAndFlush(*conn, "PUB d 1\r\nx\r\nPUB a 1\r\ny\r\n"), "MSG a 1 1\r\ny\r\n");
  // The limit is per connection.
  auto other = Client();
  EXPECT_EQ(SendAndFlush(*other, "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n"), "");
  // Freeing one makes room again.
  EXPECT_EQ(SendAndFlush(*conn, "UNSUB 2\r\nSUB d 4\r\nPUB d 1\r\nz\r\n"), "MSG d 4 1\r\nz\r\n");
}

TEST_P(LimitsTest, MaxSubscriptionsWithVerboseAndDuplicateSids) {
  StartWithConfig("max_subscriptions: 2\n");
  auto conn = DialInfo();
  conn->Send("CONNECT {\"verbose\":true}\r\n");
  ASSERT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  // A repeated sid does not add a subscription; the rejected one gets no +OK.
  EXPECT_EQ(SendAndFlush(*conn, "SUB a 1\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\n"),
            "+OK\r\n+OK\r\n+OK\r\n-ERR 'maximum subscriptions exceeded'\r\n");
}

TEST_P(LimitsTest, FirstServerPingComesSoonAfterConnect) {
  // Even with the default 2m ping_interval, the reference PINGs about 2s (+ up to 20%) after
  // CONNECT to measure the RTT.
  Start();
  auto conn = Client();
  auto start = Clock::now();
  EXPECT_EQ(conn->ReadUntil("\r\n", 6s), "PING\r\n");
  EXPECT_GT(Clock::now() - start, 1500ms);
  conn->Send("PONG\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(LimitsTest, UnansweredServerPingsEndInStaleConnection) {
  StartWithConfig("ping_interval: \"1s\"\nping_max: 1\n");
  auto conn = Client();
  auto start = Clock::now();
  EXPECT_EQ(conn->ReadUntil("\r\n", 5s), "PING\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Stale Connection'\r\n", 5s));
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST_P(LimitsTest, AnsweredServerPingsKeepTheConnection) {
  StartWithConfig("ping_interval: \"1s\"\nping_max: 1\n");
  auto conn = Client();
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(conn->ReadUntil("\r\n", 5s), "PING\r\n");
    conn->Send("PONG\r\n");
  }
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(LimitsTest, SlowConsumerIsDisconnectedAndPublisherIsNot) {
  StartWithConfig("max_payload: 65536\nmax_pending: 262144\nwrite_deadline: \"2s\"\n");
  auto slow = Client();
  ASSERT_EQ(SendAndFlush(*slow, "SUB flood 1\r\n"), "");
  auto pub = Client();
  // Never block forever if the server stops reading the publisher.
  timeval tv{10, 0};
  ::setsockopt(pub->fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  // From here `slow` reads nothing. 32 MB is far more than max_pending plus any socket buffers.
  const std::string msg = PubBytes("flood", "", std::string(65536, 'x'));
  for (int batch = 0; batch < 32; ++batch) {
    std::string bytes;
    for (int i = 0; i < 16; ++i) bytes += msg;
    ASSERT_TRUE(pub->Send(bytes)) << "publisher blocked at batch " << batch;
    ASSERT_EQ(WithoutPings(pub->Flush(15s)), "") << "at batch " << batch;
  }
  // The publisher is still connected and served.
  EXPECT_EQ(WithoutPings(SendAndFlush(*pub, "SUB other 1\r\nPUB other 2\r\nok\r\n")),
            "MSG other 1 2\r\nok\r\n");
  // The slow consumer was closed: draining it ends in EOF. No -ERR is sent for slow consumers.
  ASSERT_TRUE(slow->WaitClosed(15s)) << "slow consumer still connected";
  EXPECT_EQ(slow->pending().find("-ERR"), std::string::npos);
  // The server still accepts new clients.
  auto fresh = Client();
  EXPECT_EQ(SendAndFlush(*fresh, "SUB flood 1\r\n" + PubBytes("flood", "", "after")),
            MsgBytes("flood", "1", "", "after"));
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(LimitsTest);

}  // namespace
}  // namespace gannet::test
