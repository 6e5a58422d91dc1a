// Interop with libnats' Streaming API: connecting (client id rules, duplicate ids, the wrong
// cluster id), client pings, closing, heartbeats, the startup guard.
#include <gtest/gtest.h>

#include <atomic>

#include "gannet/client.h"
#include "http_client.h"
#include "server_process.h"
#include "stan_harness.h"
#include "streaming/proto/protocol.pb.h"
#include "tls_support.h"

namespace gannet::streaming::test {
namespace {

TEST(StanConnect, ConnectPublishClose) {
  StanServer server;
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "me", &err);
  ASSERT_TRUE(sc) << err;
  EXPECT_EQ(Publish(sc.get(), "foo", "hello"), "");
  EXPECT_EQ(stanConnection_Close(sc.get()), NATS_OK);
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(server.SanitizerReport(), "");
}

TEST(StanConnect, InvalidClientIdRefused) {
  StanServer server;
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn sc = Connect(server.url(), "bad id!", &err);
  EXPECT_FALSE(sc);
  EXPECT_NE(err.find("stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"),
            std::string::npos)
      << err;
}

TEST(StanConnect, WrongClusterIdFails) {
  StanServer server;
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  ConnectOptions o;
  o.cluster_id = "other-cluster";
  o.connect_wait_ms = 500;
  StanConn sc = Connect(server.url(), "me", &err, o);
  EXPECT_FALSE(sc);
  EXPECT_FALSE(err.empty());
}

TEST(StanConnect, DuplicateClientIdRefusedWhileTheFirstIsAlive) {
  StanServer server;
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn first = Connect(server.url(), "dup", &err);
  ASSERT_TRUE(first) << err;
  StanConn second = Connect(server.url(), "dup", &err);
  EXPECT_FALSE(second);
  EXPECT_NE(err.find("stan: clientID already registered"), std::string::npos) << err;
  // The first one still works.
  EXPECT_EQ(Publish(first.get(), "foo", "x"), "");
}

// A client that registered and vanished (its heartbeat inbox has no subscriber): a new
// connection with its id replaces it.
TEST(StanConnect, DuplicateClientIdReplacesADeadClient) {
  StanServer server;
  ASSERT_TRUE(server.Start()) << server.Output();
  auto nc = client::Connection::Connect(server.url());
  ASSERT_TRUE(nc) << nc.error();
  pb::ConnectRequest req;
  req.set_client_id("ghost");
  req.set_heartbeat_inbox("_INBOX.nobody.listens");
  req.set_protocol(1);
  req.set_conn_id("ghost-conn");
  auto reply = nc->Request("_STAN.discover.test-cluster", req.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::ConnectResponse cr;
  ASSERT_TRUE(cr.ParseFromString(std::string(reply->data())));
  ASSERT_EQ(cr.error(), "");
  std::string err;
  StanConn sc = Connect(server.url(), "ghost", &err);
  ASSERT_TRUE(sc) << err;
  // The old connection id is no longer valid: its publishes are refused.
  pb::PubMsg pm;
  pm.set_client_id("ghost");
  pm.set_guid("g1");
  pm.set_subject("foo");
  pm.set_conn_id("ghost-conn");
  auto ack = nc->Request(cr.pub_prefix() + ".foo", pm.SerializeAsString(), 2s);
  ASSERT_TRUE(ack) << ack.error();
  pb::PubAck pa;
  ASSERT_TRUE(pa.ParseFromString(std::string(ack->data())));
  EXPECT_EQ(pa.guid(), "g1");
  EXPECT_EQ(pa.error(), "stan: invalid publish request");
  EXPECT_EQ(Publish(sc.get(), "foo", "x"), "");
}

TEST(StanConnect, ConnectResponseSubjectsAndPings) {
  StanServer server;
  ASSERT_TRUE(server.Start()) << server.Output();
  auto nc = client::Connection::Connect(server.url());
  ASSERT_TRUE(nc) << nc.error();
  auto hb = nc->Subscribe("_INBOX.hb.me", [&](client::Message& m) { nc->Respond(m, ""); });
  ASSERT_TRUE(hb);
  pb::ConnectRequest req;
  req.set_client_id("me");
  req.set_heartbeat_inbox("_INBOX.hb.me");
  req.set_protocol(1);
  req.set_conn_id("conn-1");
  req.set_ping_interval(5);
  req.set_ping_max_out(88);
  auto reply = nc->Request("_STAN.discover.test-cluster", req.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::ConnectResponse cr;
  ASSERT_TRUE(cr.ParseFromString(std::string(reply->data())));
  EXPECT_EQ(cr.error(), "");
  EXPECT_EQ(cr.protocol(), 1);
  EXPECT_EQ(cr.pub_prefix().rfind("_STAN.pub.", 0), 0u);
  EXPECT_EQ(cr.sub_requests().rfind("_STAN.sub.", 0), 0u);
  EXPECT_EQ(cr.unsub_requests().rfind("_STAN.unsub.", 0), 0u);
  EXPECT_EQ(cr.sub_close_requests().rfind("_STAN.subclose.", 0), 0u);
  EXPECT_EQ(cr.close_requests().rfind("_STAN.close.", 0), 0u);
  EXPECT_EQ(cr.ping_requests(), "_STAN.discover.test-cluster.pings");
  EXPECT_EQ(cr.ping_interval(), 5);
  EXPECT_EQ(cr.ping_max_out(), 88);

  pb::Ping ping;
  ping.set_conn_id("conn-1");
  auto pong = nc->Request(cr.ping_requests(), ping.SerializeAsString(), 2s);
  ASSERT_TRUE(pong) << pong.error();
  pb::PingResponse pr;
  ASSERT_TRUE(pr.ParseFromString(std::string(pong->data())));
  EXPECT_EQ(pr.error(), "");
  ping.set_conn_id("unknown-conn");
  pong = nc->Request(cr.ping_requests(), ping.SerializeAsString(), 2s);
  ASSERT_TRUE(pong) << pong.error();
  ASSERT_TRUE(pr.ParseFromString(std::string(pong->data())));
  EXPECT_EQ(pr.error(), "client has been replaced or is no longer registered");

  // Closing twice: the second time the client is unknown.
  pb::CloseRequest close;
  close.set_client_id("me");
  auto closed = nc->Request(cr.close_requests(), close.SerializeAsString(), 2s);
  ASSERT_TRUE(closed);
  pb::CloseResponse resp;
  ASSERT_TRUE(resp.ParseFromString(std::string(closed->data())));
  EXPECT_EQ(resp.error(), "");
  closed = nc->Request(cr.close_requests(), close.SerializeAsString(), 2s);
  ASSERT_TRUE(closed);
  ASSERT_TRUE(resp.ParseFromString(std::string(closed->data())));
  EXPECT_EQ(resp.error(), "stan: unknown clientID");
  // A connect request without a heartbeat inbox is invalid.
  req.clear_heartbeat_inbox();
  reply = nc->Request("_STAN.discover.test-cluster", req.SerializeAsString(), 2s);
  ASSERT_TRUE(reply);
  ASSERT_TRUE(cr.ParseFromString(std::string(reply->data())));
  EXPECT_EQ(cr.error(), "stan: invalid connection request");
}

std::atomic<int> g_lost{0};
std::string g_lost_text;
void OnLost(stanConnection*, const char* text, void*) {
  g_lost_text = text ? text : "";
  g_lost.fetch_add(1);
}

// The server restarts (memory store: it forgets its clients); the client's pings are answered
// with an error and libnats reports the connection lost.
TEST(StanConnect, ClientPingsDetectAServerThatForgotUs) {
  StanServer server;
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  ConnectOptions o;
  o.ping_interval = 1;
  o.ping_max_out = 3;
  o.lost_handler = &OnLost;
  g_lost = 0;
  StanConn sc = Connect(server.url(), "pinger", &err, o);
  ASSERT_TRUE(sc) << err;
  server.Stop();
  ASSERT_TRUE(server.Start()) << server.Output();
  EXPECT_TRUE(WaitFor([] { return g_lost.load() > 0; }, 15s));
  EXPECT_NE(g_lost_text.find("client has been replaced or is no longer registered"),
            std::string::npos)
      << g_lost_text;
}

// Heartbeats: a client whose heartbeat inbox does not answer is closed after hb_fail_count
// failures.
TEST(StanConnect, HeartbeatFailuresCloseTheClient) {
  StanServer server({"-hbi", "100ms", "-hbt", "100ms", "-hbf", "2"});
  server.EnableMonitoring();
  ASSERT_TRUE(server.Start()) << server.Output();
  auto nc = client::Connection::Connect(server.url());
  ASSERT_TRUE(nc) << nc.error();
  pb::ConnectRequest req;
  req.set_client_id("silent");
  req.set_heartbeat_inbox("_INBOX.silent.hb");
  auto reply = nc->Request("_STAN.discover.test-cluster", req.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::ConnectResponse cr;
  ASSERT_TRUE(cr.ParseFromString(std::string(reply->data())));
  ASSERT_EQ(cr.error(), "");
  // A live client next to it keeps answering.
  std::string err;
  StanConn alive = Connect(server.url(), "alive", &err);
  ASSERT_TRUE(alive) << err;
  EXPECT_EQ(gannet::test::HttpGet(server.http_port(), "/streaming/clientsz?client=silent").status,
            200);
  // The silent one is closed after 1 + 2 failed heartbeats; the live one stays.
  EXPECT_TRUE(WaitFor(
      [&] {
        return gannet::test::HttpGet(server.http_port(), "/streaming/clientsz?client=silent")
                   .status == 404;
      },
      10s));
  EXPECT_EQ(gannet::test::HttpGet(server.http_port(), "/streaming/clientsz?client=alive").status,
            200);
  EXPECT_EQ(Publish(alive.get(), "foo", "still here"), "");
}

TEST(StanConnect, SecondServerWithTheSameClusterIdRefused) {
  gannet::test::ServerProcess nats(gannet::test::ServerKind::kNatsServer);
  ASSERT_TRUE(nats.Start()) << nats.Output();
  StanServer first({"-ns", nats.url()}, false);
  ASSERT_TRUE(first.Start()) << first.Output();
  StanServer second({"-ns", nats.url()}, false);
  EXPECT_FALSE(second.Start());
  EXPECT_EQ(second.WaitExit(), 1);
  EXPECT_NE(second.Output().find("discovered another streaming server with cluster ID "
                                 "\"test-cluster\""),
            std::string::npos)
      << second.Output();
  // Another cluster id on the same NATS is fine.
  StanServer other({"-ns", nats.url(), "-cid", "other"}, false);
  ASSERT_TRUE(other.Start()) << other.Output();
  std::string err;
  ConnectOptions o;
  o.cluster_id = "other";
  StanConn a = Connect(nats.url(), "a", &err);
  ASSERT_TRUE(a) << err;
  StanConn b = Connect(nats.url(), "b", &err, o);
  ASSERT_TRUE(b) << err;
  EXPECT_EQ(Publish(a.get(), "foo", "1"), "");
  EXPECT_EQ(Publish(b.get(), "foo", "2"), "");
}

// The embedded server requires a user: the streaming server connects with it, clients too.
TEST(StanConnect, EmbeddedServerWithAuthorization) {
  StanServer server({"--user", "u", "--pass", "secret"});
  ASSERT_TRUE(server.Start()) << server.Output();
  std::string err;
  StanConn anon = Connect(server.url(), "anon", &err);
  EXPECT_FALSE(anon);
  const std::string url = "nats://u:secret@127.0.0.1:" + std::to_string(server.port());
  StanConn sc = Connect(url, "authed", &err);
  ASSERT_TRUE(sc) << err;
  EXPECT_EQ(Publish(sc.get(), "foo", "x"), "");
}

// The embedded server requires TLS: the streaming server's own connection takes it up.
TEST(StanConnect, EmbeddedServerWithTls) {
  const auto& certs = gannet::test::Certs();
  StanServer server({"--tls", "--tlscert", certs.server_cert, "--tlskey", certs.server_key});
  ASSERT_TRUE(server.Start()) << server.Output();
  client::Options o;
  o.servers = {"tls://127.0.0.1:" + std::to_string(server.port())};
  o.tls_ca_file = certs.ca;
  auto nc = client::Connection::Connect(o);
  ASSERT_TRUE(nc) << nc.error();
  pb::ConnectRequest req;
  req.set_client_id("tls-client");
  req.set_heartbeat_inbox("_INBOX.tls.hb");
  auto reply = nc->Request("_STAN.discover.test-cluster", req.SerializeAsString(), 2s);
  ASSERT_TRUE(reply) << reply.error();
  pb::ConnectResponse cr;
  ASSERT_TRUE(cr.ParseFromString(std::string(reply->data())));
  EXPECT_EQ(cr.error(), "");
}

}  // namespace
}  // namespace gannet::streaming::test
