// The route protocol byte by byte: the test plays a cluster peer on the server's route port
// (INFO/CONNECT, RS+/RS-, RMSG/HMSG) and checks what each server sends and does, so both
// gannet-server and nats-server 2.9.10 answer exactly alike.
#include <set>

#include "integration_util.h"

namespace gannet::test {
namespace {

constexpr std::string_view kFakeId = "NFAKEROUTEPEER0000000000000000000000000000000000000000";

class RouteProtocolTest : public ProtocolTest {
 protected:
  void StartClustered(std::string_view cluster_extra = {}) {
    cluster_port_ = FreeTcpPort();
    StartWithConfig("cluster {\n  name: c\n  listen: 127.0.0.1:" + std::to_string(cluster_port_) +
                    "\n" + std::string(cluster_extra) + "}\n");
  }
  // A connection to the route port whose INFO has been read (into `info`).
  std::unique_ptr<RawConn> DialRoute(nlohmann::json* info = nullptr) {
    auto conn = std::make_unique<RawConn>();
    if (!conn->Connect(cluster_port_)) Fail("cannot reach the route port");
    std::string line = conn->ReadLine();
    if (line.rfind("INFO ", 0) != 0) Fail("no INFO on the route port: " + line);
    if (info) *info = nlohmann::json::parse(line.substr(5));
    return conn;
  }
  // Completes the handshake as a peer named kFakeId of cluster `cluster`.
  std::unique_ptr<RawConn> Peer(std::string_view cluster = "c") {
    auto conn = DialRoute();
    std::string c(cluster);
    conn->Send(R"(CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,)"
               R"("headers":true,"name":")" +
               std::string(kFakeId) + R"(","cluster":")" + c + R"(","lnoc":true})" + "\r\n" +
               R"(INFO {"server_id":")" + std::string(kFakeId) +
               R"(","server_name":"fake","version":"2.9.10","proto":2,"go":"go1.19.8",)"
               R"("host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,)"
               R"("cluster":")" +
               c + R"(","lnoc":true})" + "\r\n");
    return conn;
  }
  // The next line from the peer's point of view, skipping what only nats-server sends (its
  // system account's interest) and answering PINGs.
  static std::string NextLine(RawConn& peer) {
    for (;;) {
      std::string line = peer.ReadLine();
      if (line.rfind("RS+ $SYS ", 0) == 0) continue;
      if (line == "PING") {
        peer.Send("PONG\r\n");
        continue;
      }
      return line;
    }
  }
  // Everything the peer receives up to the PONG of a PING it sends now, line by line, without
  // $SYS lines (the PINGs of the server answered).
  static std::vector<std::string> LinesUntilPong(RawConn& peer) {
    peer.Send("PING\r\n");
    std::vector<std::string> lines;
    for (;;) {
      std::string got = peer.ReadUntil("\r\n");
      if (got.empty()) {
        ADD_FAILURE() << "no PONG from the server";
        return lines;
      }
      got.resize(got.size() - 2);
      if (got == "PONG") return lines;
      if (got == "PING") {
        peer.Send("PONG\r\n");
        continue;
      }
      if (got.rfind("RS+ $SYS ", 0) == 0) continue;
      lines.push_back(got);
    }
  }

  int cluster_port_ = 0;
};

TEST_P(RouteProtocolTest, InfoOnTheRoutePort) {
  StartClustered();
  nlohmann::json info;
  auto conn = DialRoute(&info);
  EXPECT_EQ(info["proto"], 2);
  EXPECT_EQ(info["cluster"], "c");
  EXPECT_EQ(info["port"], cluster_port_);
  EXPECT_EQ(info["host"], "127.0.0.1");
  EXPECT_EQ(info["headers"], true);
  EXPECT_EQ(info["lnoc"], true);
  EXPECT_EQ(info["max_payload"], 1048576);
  EXPECT_TRUE(info.contains("server_id"));
  EXPECT_TRUE(info.contains("nonce"));
  EXPECT_FALSE(info.contains("auth_required"));
  // Its client URLs, for the clients of its peers.
  ASSERT_TRUE(info.contains("connect_urls"));
  EXPECT_EQ(info["connect_urls"],
            nlohmann::json::array({"127.0.0.1:" + std::to_string(server().port())}));
}

TEST_P(RouteProtocolTest, InterestTravelsAsRsPlusAndRsMinus) {
  StartClustered();
  auto client = Client();
  ASSERT_EQ(SendAndFlush(*client, "SUB before 1\r\n"), "");
  auto peer = Peer();
  // Interest that existed before the route came up arrives in bulk.
  EXPECT_EQ(LinesUntilPong(*peer), std::vector<std::string>{"RS+ $G before"});
  ASSERT_EQ(SendAndFlush(*client, "SUB foo 2\r\nSUB bar grp 3\r\nSUB bar grp 4\r\n"), "");
  EXPECT_EQ(LinesUntilPong(*peer),
            (std::vector<std::string>{"RS+ $G foo", "RS+ $G bar grp 1", "RS+ $G bar grp 2"}));
  // A second plain subscription on the same subject changes nothing for the peer.
  ASSERT_EQ(SendAndFlush(*client, "SUB foo 5\r\n"), "");
  EXPECT_EQ(LinesUntilPong(*peer), std::vector<std::string>{});
  ASSERT_EQ(SendAndFlush(*client, "UNSUB 4\r\nUNSUB 2\r\nUNSUB 5\r\n"), "");
  EXPECT_EQ(LinesUntilPong(*peer), (std::vector<std::string>{"RS+ $G bar grp 1", "RS- $G foo"}));
  // A client that leaves takes its interest with it.
  client->Close();
  std::set<std::string> gone{NextLine(*peer), NextLine(*peer)};
  EXPECT_EQ(gone, (std::set<std::string>{"RS- $G before", "RS- $G bar grp"}));
}

TEST_P(RouteProtocolTest, MessagesInAndOut) {
  StartClustered();
  auto client = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*client, "SUB bar grp 7\r\nSUB plain 8\r\n"), "");
  auto peer = Peer();
  LinesUntilPong(*peer);
  // In: to local subscribers, queue groups as the sender names them.
  peer->Send(
      "RMSG $G plain 5\r\nhello\r\nRMSG $G bar | grp 3\r\nabc\r\n"
      "RMSG $G bar | other 3\r\nnot\r\nRMSG $G plain + r grp 2\r\nhi\r\n"
      "HMSG $G plain reply 12 14\r\nNATS/1.0\r\n\r\nyo\r\n");
  LinesUntilPong(*peer);
  EXPECT_EQ(client->Flush(),
            "MSG plain 8 5\r\nhello\r\nMSG bar 7 3\r\nabc\r\nMSG plain 8 r 2\r\nhi\r\n"
            "HMSG plain 8 reply 12 14\r\nNATS/1.0\r\n\r\nyo\r\n");
  // Out: only where the peer has interest, once.
  peer->Send("RS+ $G zap\r\nRS+ $G zap.>\r\nRS+ $G q qq 2\r\n");
  LinesUntilPong(*peer);
  ASSERT_EQ(SendAndFlush(*client,
                         "PUB nobody 1\r\nx\r\nPUB zap 2\r\nhi\r\nPUB zap.a r 1\r\ny\r\n"
                         "HPUB zap 12 14\r\nNATS/1.0\r\n\r\nok\r\nPUB q 1\r\nz\r\n"),
            "");
  EXPECT_EQ(LinesUntilPong(*peer),
            (std::vector<std::string>{"RMSG $G zap 2", "hi", "RMSG $G zap.a r 1", "y",
                                      "HMSG $G zap 12 14", "NATS/1.0", "", "ok", "RMSG $G q | qq 1",
                                      "z"}));
  // After RS- nothing more goes out on that subject.
  peer->Send("RS- $G zap\r\n");
  LinesUntilPong(*peer);
  ASSERT_EQ(SendAndFlush(*client, "PUB zap 2\r\nno\r\n"), "");
  EXPECT_EQ(LinesUntilPong(*peer), std::vector<std::string>{});
}

TEST_P(RouteProtocolTest, ClusterNameMismatchIsRefused) {
  StartClustered();
  auto peer = Peer("other");
  EXPECT_EQ(NextLine(*peer),
            "-ERR 'Rejecting connection, cluster name \"other\" does not match \"c\"'");
  EXPECT_TRUE(peer->WaitClosed());
}

TEST_P(RouteProtocolTest, AClientOnTheRoutePortIsTurnedAway) {
  StartClustered();
  auto conn = DialRoute();
  conn->Send("CONNECT {\"verbose\":false,\"lang\":\"go\",\"version\":\"1.0\"}\r\n");
  EXPECT_EQ(NextLine(*conn), "-ERR 'attempted to connect to route port'");
  EXPECT_TRUE(conn->WaitClosed());
}

TEST_P(RouteProtocolTest, ClientVerbsOnARouteAreAProtocolError) {
  StartClustered();
  auto peer = Peer();
  LinesUntilPong(*peer);
  peer->Send("FOO bar\r\n");
  EXPECT_EQ(NextLine(*peer), "-ERR 'Unknown Protocol Operation'");
  EXPECT_TRUE(peer->WaitClosed());
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(RouteProtocolTest);

}  // namespace
}  // namespace gannet::test
