// The SQL store against real PostgreSQL and MariaDB servers (sql_servers.h): the store
// conformance suite, recovery, the reference's row formats read and written, caching and
// bulk inserts, and a connection lost under the store. Each driver's tests share one server,
// started by the first test that needs it; each store starts from empty tables.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <thread>

#include "sql_servers.h"
#include "store_conformance.h"
#include "streaming/proto/protocol.pb.h"
#include "streaming/proto/records.pb.h"
#include "streaming/store/exclusive_lock.h"
#include "streaming/store/factory.h"
#include "streaming/store/records.h"
#include "streaming/store/sql_store.h"

namespace gannet::streaming::store {
namespace {

// Server info with only the cluster id (the other fields stay empty).
ServerInfo ClusterInfo(const std::string& id) {
  ServerInfo info;
  info.cluster_id = id;
  return info;
}

using test::SqlServer;

// The test program's server for `driver`, started once (a failure fails every test using it).
SqlServer* Server(const std::string& driver) {
  std::string error;
  SqlServer* s = test::SharedServer(driver, &error);
  if (!s) ADD_FAILURE() << "cannot start " << driver << ": " << error;
  return s;
}

// A store on empty tables (or on what is there, when `keep`).
std::unique_ptr<Store> OpenSql(const std::string& driver, StoreOptions o, bool keep = false) {
  SqlServer* server = Server(driver);
  if (!server) return nullptr;
  if (!keep) {
    if (std::string err = server->Truncate(); !err.empty()) {
      ADD_FAILURE() << err;
      return nullptr;
    }
  }
  o.type = "SQL";
  o.sql.driver = server->driver_name();
  o.sql.source = server->Source();
  auto s = CreateStore(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::string Record(uint64_t seq, std::string_view subject, std::string_view data, int64_t ts) {
  std::string r;
  AppendMsgRecord(r, seq, subject, "", data, ts);
  return r;
}

// A blob as a literal of the driver's SQL.
std::string Hex(const std::string& driver, std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return driver == "postgres" ? "'\\x" + hex + "'::bytea" : "X'" + hex + "'";
}

// One integer from a query run on a connection of its own.
int64_t QueryInt(SqlServer& server, const std::string& select) {
  std::string error;
  auto c = server.Connect(&error);
  if (!c) {
    ADD_FAILURE() << error;
    return -1;
  }
  if (store::Status s = c->Prepare("q", sql::ForDriver(server.driver(), select)); !s) {
    ADD_FAILURE() << s.message();
    return -1;
  }
  auto r = c->Exec("q", {});
  if (!r.ok() || r->rows.empty()) {
    ADD_FAILURE() << select << ": " << r.status().message();
    return -1;
  }
  return r->rows.Int(0, 0);
}

std::string QueryBytes(SqlServer& server, const std::string& select) {
  auto c = server.Connect();
  if (!c || !c->Prepare("q", sql::ForDriver(server.driver(), select))) return "<error>";
  auto r = c->Exec("q", {});
  if (!r.ok() || r->rows.empty()) return "<none>";
  return std::string(r->rows.Bytes(0, 0));
}

std::string DriverName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param == "postgres" ? "Postgres" : "Mysql";
}

// ---- the conformance suite ----

StoreMaker Maker(const std::string& driver) {
  return StoreMaker{driver == "postgres" ? "Postgres" : "Mysql",
                    [driver](const StoreLimits& limits) {
                      StoreOptions o;
                      o.limits = limits;
                      return OpenSql(driver, o);
                    },
                    0,
                    [driver](const StoreLimits& limits) {
                      StoreOptions o;
                      o.limits = limits;
                      return OpenSql(driver, o, true);
                    }};
}

INSTANTIATE_TEST_SUITE_P(Sql, StoreConformance,
                         ::testing::Values(Maker("postgres"), Maker("mysql")),
                         [](const auto& info) { return info.param.name; });

// ---- the SQL store's own ----

class SqlStore : public ::testing::TestWithParam<std::string> {
 protected:
  SqlServer& server() { return *Server(GetParam()); }
  std::unique_ptr<Store> Open(StoreOptions o = {}, bool keep = false) {
    return OpenSql(GetParam(), std::move(o), keep);
  }
};

TEST_P(SqlStore, RecoversWhatWasStored) {
  ServerInfo info{"test-cluster",
                  "_STAN.discover.test-cluster",
                  "_STAN.pub.x",
                  "_STAN.sub.x",
                  "_STAN.unsub.x",
                  "_STAN.close.x",
                  "_STAN.subclose.x",
                  "_STAN.ack.x",
                  ""};
  {
    auto s = Open();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->Name(), "SQL");
    auto none = s->Recover();
    ASSERT_TRUE(none.ok()) << none.status().message();
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE(s->Init(info).ok());
    ASSERT_TRUE(s->AddClient({"me", "_INBOX.me", "c1", 1, 5, 3}).ok());
    ASSERT_TRUE(s->AddClient({"gone", "_INBOX.gone", "", 1, 0, 0}).ok());
    ASSERT_TRUE(s->AddClient({"me", "_INBOX.me2", "c2", 1, 5, 3}).ok());  // replaced
    ASSERT_TRUE(s->DeleteClient("gone").ok());
    MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
    for (uint64_t i = 1; i <= 10; ++i) {
      ASSERT_TRUE(m.Store(i, 1000 + static_cast<int64_t>(i),
                          Record(i, "foo", "m" + std::to_string(i), 1000 + static_cast<int64_t>(i)))
                      .ok());
    }
    ASSERT_TRUE(m.Flush().ok());
    SubStore& subs = *(*s->CreateChannel("bar"))->subs;
    SubState a;
    a.client_id = "me";
    a.inbox = "_INBOX.a";
    a.durable_name = "dur";
    a.is_durable = true;
    a.max_in_flight = 10;
    ASSERT_TRUE(subs.CreateSub(a).ok());
    SubState b;
    b.client_id = "me";
    ASSERT_TRUE(subs.CreateSub(b).ok());
    EXPECT_GT(b.id, a.id);
    for (uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(subs.AddSeqPending(a.id, i).ok());
    ASSERT_TRUE(subs.AckSeqPending(a.id, 2).ok());
    ASSERT_TRUE(subs.Flush().ok());
    ASSERT_TRUE(subs.AckSeqPending(a.id, 4).ok());
    ASSERT_TRUE(subs.DeleteSub(b.id).ok());
    ASSERT_TRUE(s->Close().ok());  // flushes the last ack
  }
  auto s = Open({}, /*keep=*/true);
  ASSERT_TRUE(s);
  auto rec = s->Recover();
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  ASSERT_TRUE(rec->has_value());
  const RecoveredState& st = **rec;
  EXPECT_EQ(st.info.cluster_id, "test-cluster");
  EXPECT_EQ(st.info.acks_subs, "_STAN.ack.x");
  ASSERT_EQ(st.clients.size(), 1u);
  EXPECT_EQ(st.clients[0].hb_inbox, "_INBOX.me2");
  EXPECT_EQ(st.clients[0].conn_id, "c2");
  ASSERT_EQ(st.channels.size(), 2u);
  MsgStore& m = *st.channels.at("foo").channel->msgs;
  EXPECT_EQ(m.FirstSequence(), 1u);
  EXPECT_EQ(m.LastSequence(), 10u);
  auto ref = m.Lookup(7);
  ASSERT_TRUE(ref.ok() && ref->found());
  MsgRecord r;
  ASSERT_TRUE(DecodeMsgRecord(ref->record, r));
  EXPECT_EQ(r.data, "m7");
  EXPECT_EQ(ref->timestamp, 1007);
  EXPECT_EQ(*m.GetSequenceFromTimestamp(1005), 5u);
  const auto& subs = st.channels.at("bar").subscriptions;
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].state.durable_name, "dur");
  EXPECT_EQ(subs[0].state.last_sent, 5u);
  EXPECT_EQ(subs[0].pending, (std::vector<uint64_t>{1, 3, 5}));
  // Ids go on from the highest ever given, the deleted one's included.
  SubState c;
  ASSERT_TRUE(st.channels.at("bar").channel->subs->CreateSub(c).ok());
  EXPECT_EQ(c.id, subs[0].state.id + 2);
}

// Lookups of messages no longer in memory read the next ones ahead (one SELECT for many): every
// message comes back right, in order, backwards, and past the limits' removals.
TEST_P(SqlStore, LookupsReadAheadFromTheDatabase) {
  constexpr uint64_t kMsgs = 700;
  {
    auto s = Open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->Init(ClusterInfo("c")).ok());
    MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
    for (uint64_t i = 1; i <= kMsgs; ++i) {
      const auto ts = static_cast<int64_t>(i);
      ASSERT_TRUE(m.Store(i, ts, Record(i, "foo", "m" + std::to_string(i), ts)).ok());
    }
    ASSERT_TRUE(m.Flush().ok());
  }
  auto s = Open({}, /*keep=*/true);
  ASSERT_TRUE(s);
  auto rec = s->Recover();
  ASSERT_TRUE(rec.ok() && rec->has_value());
  MsgStore& m = *(*rec)->channels.at("foo").channel->msgs;
  auto check = [&](uint64_t seq) {
    auto ref = m.Lookup(seq);
    ASSERT_TRUE(ref.ok() && ref->found()) << seq;
    MsgRecord r;
    ASSERT_TRUE(DecodeMsgRecord(ref->record, r));
    EXPECT_EQ(r.data, "m" + std::to_string(seq));
    EXPECT_EQ(ref->timestamp, static_cast<int64_t>(seq));
  };
  for (uint64_t i = 1; i <= kMsgs; ++i) check(i);
  for (uint64_t i = kMsgs; i >= 1; --i) check(i);
  EXPECT_FALSE(m.Lookup(kMsgs + 1)->found());
  // New messages, not yet flushed, are served from memory past what was read ahead.
  for (uint64_t i = kMsgs + 1; i <= kMsgs + 3; ++i) {
    const auto ts = static_cast<int64_t>(i);
    ASSERT_TRUE(m.Store(i, ts, Record(i, "foo", "m" + std::to_string(i), ts)).ok());
  }
  for (uint64_t i = kMsgs - 300; i <= kMsgs + 3; ++i) check(i);
  ASSERT_TRUE(m.Empty().ok());
  EXPECT_FALSE(m.Lookup(5)->found());
}

// What a clustered follower needs: a subscription recorded under the id it is given (the
// leader's) moves the ids handed out later past it, and Drop empties every table.
TEST_P(SqlStore, GivenSubscriptionIdsAndDrop) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Init(ClusterInfo("c")).ok());
  ASSERT_TRUE(s->AddClient({"me", "_INBOX.me", "", 1, 0, 0}).ok());
  ChannelStore& ch = **s->CreateChannel("foo");
  SubState given;
  given.id = 40;
  given.client_id = "me";
  ASSERT_TRUE(ch.subs->UpdateSub(given).ok());
  SubState next;
  next.client_id = "me";
  ASSERT_TRUE(ch.subs->CreateSub(next).ok());
  EXPECT_EQ(next.id, 41u);
  ASSERT_TRUE(ch.msgs->Store(1, 1, Record(1, "foo", "x", 1)).ok());
  ASSERT_TRUE(ch.msgs->Flush().ok());
  ASSERT_TRUE(s->Close().ok());
  s.reset();
  StoreOptions o;
  o.sql.driver = server().driver_name();
  o.sql.source = server().Source();
  ASSERT_TRUE(::gannet::streaming::store::SqlStore::Drop(o.sql).ok());
  auto again = Open({}, /*keep=*/true);
  ASSERT_TRUE(again);
  auto rec = again->Recover();
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  EXPECT_FALSE(rec->has_value());  // no server info, nothing
}

TEST_P(SqlStore, CachingWritesAtFlushNoCachingAtOnce) {
  auto s = Open();
  ASSERT_TRUE(s);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  ASSERT_TRUE(m.Store(1, 1, Record(1, "foo", "x", 1)).ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 0);
  EXPECT_TRUE(m.Lookup(1)->found());  // served from memory before the flush
  ASSERT_TRUE(m.Flush().ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 1);
  s.reset();

  StoreOptions o;
  o.sql.no_caching = true;
  s = Open(o);
  ASSERT_TRUE(s);
  MsgStore& n = *(*s->CreateChannel("foo"))->msgs;
  ASSERT_TRUE(n.Store(1, 1, Record(1, "foo", "x", 1)).ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 1);
  SubStore& subs = *s->LookupChannel("foo")->subs;
  SubState a;
  ASSERT_TRUE(subs.CreateSub(a).ok());
  ASSERT_TRUE(subs.AddSeqPending(a.id, 1).ok());
  // The reference's row of a run without caching: one sequence per row.
  EXPECT_EQ(QueryInt(server(), "SELECT seq FROM SubsPending"), 1);
  ASSERT_TRUE(subs.AckSeqPending(a.id, 1).ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM SubsPending"), 0);
  EXPECT_EQ(QueryInt(server(), "SELECT lastsent FROM Subscriptions"), 1);
}

TEST_P(SqlStore, BulkInsertsAndLimitsReachTheDatabase) {
  StoreOptions o;
  o.sql.bulk_insert_limit = 8;
  o.limits.global.max_msgs = 15;
  auto s = Open(o);
  ASSERT_TRUE(s);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  for (uint64_t i = 1; i <= 21; ++i) {
    ASSERT_TRUE(m.Store(i, static_cast<int64_t>(i), Record(i, "foo", "x", 1)).ok());
  }
  ASSERT_TRUE(m.Flush().ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 15);
  EXPECT_EQ(QueryInt(server(), "SELECT MIN(seq) FROM Messages"), 7);
  for (uint64_t i = 22; i <= 24; ++i) {
    ASSERT_TRUE(m.Store(i, static_cast<int64_t>(i), Record(i, "foo", "x", 1)).ok());
  }
  ASSERT_TRUE(m.Flush().ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 15);
  EXPECT_EQ(QueryInt(server(), "SELECT MIN(seq) FROM Messages"), 10);
  // Every row as the reference writes it: size is the record's length.
  EXPECT_EQ(QueryInt(server(), "SELECT size FROM Messages WHERE seq=24"),
            static_cast<int64_t>(Record(24, "foo", "x", 1).size()));
  // A lower limit at the next start removes the oldest in the database too.
  s->Close();
  s.reset();
  StoreOptions lower;
  lower.limits.global.max_msgs = 5;
  s = Open(lower, /*keep=*/true);
  ASSERT_TRUE(s);
  // Recover needs ServerInfo: without it there is nothing to recover.
  ServerInfo info;
  info.cluster_id = "c";
  ASSERT_TRUE(s->Init(info).ok());
  auto rec = s->Recover();
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->channels.at("foo").channel->msgs->FirstSequence(), 20u);
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 5);
  EXPECT_EQ(QueryInt(server(), "SELECT maxmsgs FROM Channels"), 5);
}

// --sql_max_open_conns: a batch that wrote to several channels commits them in parallel on up
// to N connections (sql_flush_pool.h); N = 1 keeps the store on its one connection. Every
// channel's messages reach the database either way, and the connections opened stay within N.
TEST_P(SqlStore, FlushBatchCommitsChannelsInParallelWithinMaxOpenConns) {
  const std::string count_conns =
      GetParam() == "postgres"
          ? "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
          : "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE()";
  for (int max_conns : {1, 3}) {
    ASSERT_TRUE(server().Truncate().empty());
    const int64_t before = QueryInt(server(), count_conns);  // the query's own, and any other
    StoreOptions o;
    o.sql.max_open_conns = max_conns;
    o.sql.bulk_insert_limit = 4;
    auto s = Open(o);
    ASSERT_TRUE(s);
    std::vector<ChannelStore*> channels;
    for (int c = 0; c < 5; ++c) {
      auto ch = s->CreateChannel("ch" + std::to_string(c));
      ASSERT_TRUE(ch.ok());
      channels.push_back(*ch);
    }
    for (uint64_t round = 0; round < 3; ++round) {
      for (ChannelStore* c : channels) {
        for (uint64_t i = 1; i <= 10; ++i) {
          const uint64_t seq = round * 10 + i;
          ASSERT_TRUE(
              c->msgs->Store(seq, static_cast<int64_t>(seq), Record(seq, c->name, "x", 1)).ok());
        }
      }
      Status flushed = s->FlushBatch(channels);
      ASSERT_TRUE(flushed.ok()) << flushed.message();
    }
    EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 150) << max_conns;
    EXPECT_EQ(QueryInt(server(), "SELECT COUNT(DISTINCT id) FROM Messages"), 5) << max_conns;
    // (A connection just closed may still be counted for a moment: only ever too many.)
    if (max_conns > 1) {
      EXPECT_GT(QueryInt(server(), count_conns) - before, 1) << max_conns;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int64_t opened = QueryInt(server(), count_conns) - before;
    while (opened > max_conns && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      opened = QueryInt(server(), count_conns) - before;
    }
    EXPECT_LE(opened, max_conns);
    // Delivery reads what any connection wrote.
    auto ref = channels[4]->msgs->Lookup(1);
    ASSERT_TRUE(ref.ok());
    EXPECT_EQ(ref->seq, 1u);
    s->Close();
  }
}

// Rows as nats-streaming-server 0.25 writes them, inserted by SQL text (not by our store):
// gannet-streaming recovers them, then writes rows the reference reads the same way.
TEST_P(SqlStore, ReadsAndWritesTheReferencesRows) {
  ASSERT_TRUE(server().Truncate().empty());
  const std::string d = GetParam();
  spb::ServerInfo info;
  info.set_cluster_id("ref-cluster");
  info.set_discovery("_STAN.discover.ref-cluster");
  info.set_publish("_STAN.pub.REF");
  info.set_subscribe("_STAN.sub.REF");
  info.set_unsubscribe("_STAN.unsub.REF");
  info.set_close("_STAN.close.REF");
  info.set_sub_close("_STAN.subclose.REF");
  info.set_acks_subs("_STAN.ack.REF");
  spb::ClientInfo client;
  client.set_id("new-client");
  client.set_hb_inbox("_INBOX.new");
  client.set_protocol(1);
  client.set_ping_interval(5);
  client.set_ping_max_out(3);
  spb::SubState sub;
  sub.set_id(9);
  sub.set_client_id("new-client");
  sub.set_inbox("_INBOX.sub");
  sub.set_ack_inbox("_INBOX.ack");
  sub.set_durable_name("d1");
  sub.set_is_durable(true);
  sub.set_max_in_flight(100);
  sub.set_ack_wait_in_secs(30);
  sub.set_last_sent(5);
  auto msg = [&](uint64_t seq) {
    pb::MsgProto m;
    m.set_sequence(seq);
    m.set_subject("ref.chan");
    m.set_data("payload-" + std::to_string(seq));
    m.set_timestamp(1000000 + static_cast<int64_t>(seq));
    return m.SerializeAsString();
  };
  std::string script =
      "INSERT INTO ServerInfo (id, proto, version) VALUES ('ref-cluster', " +
      Hex(d, info.SerializeAsString()) +
      ", 1);\n"
      // A client of a pre-0.10 run (no proto) and one with its record.
      "INSERT INTO Clients (id, hbinbox) VALUES ('old-client', '_INBOX.old');\n"
      "INSERT INTO Clients (id, hbinbox, proto) VALUES ('new-client', '_INBOX.new', " +
      Hex(d, client.SerializeAsString()) +
      ");\n"
      "INSERT INTO Channels (id, name, maxseq, maxmsgs, maxbytes, maxage) VALUES (3, "
      "'ref.chan', 0, 1000000, 1024000000, 0);\n"
      "INSERT INTO Channels (id, name, maxseq) VALUES (4, 'ref.empty', 12);\n"
      "INSERT INTO Channels (id, name, deleted) VALUES (5, 'ref.deleted', TRUE);\n";
  for (uint64_t seq = 5; seq <= 7; ++seq) {
    const std::string m = msg(seq);
    script += "INSERT INTO Messages VALUES (3, " + std::to_string(seq) + ", " +
              std::to_string(1000000 + seq) + ", " + std::to_string(m.size()) + ", " + Hex(d, m) +
              ");\n";
  }
  const std::string row = d == "postgres" ? "row" : "`row`";
  script += "INSERT INTO Subscriptions (id, subid, lastsent, proto) VALUES (3, 9, 6, " +
            Hex(d, sub.SerializeAsString()) +
            ");\n"
            // Rows of a caching run (JSON arrays of pending and acknowledged sequences) ...
            "INSERT INTO SubsPending (subid, " +
            row + ", lastsent, pending, acks) VALUES (9, 1, 6, " + Hex(d, "[5,6]") +
            ", NULL);\n"
            "INSERT INTO SubsPending (subid, " +
            row + ", lastsent, pending, acks) VALUES (9, 2, 7, " + Hex(d, "[7]") + ", " +
            Hex(d, "[5]") +
            ");\n"
            // ... and of a run without caching (one sequence per row).
            "INSERT INTO SubsPending (subid, " +
            row + ", seq) VALUES (9, 3, 4);\n";
  ASSERT_EQ(server().RunScript(script), "");

  auto s = Open({}, /*keep=*/true);
  ASSERT_TRUE(s);
  auto rec = s->Recover();
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  ASSERT_TRUE(rec->has_value());
  const RecoveredState& st = **rec;
  EXPECT_EQ(st.info.cluster_id, "ref-cluster");
  EXPECT_EQ(st.info.publish, "_STAN.pub.REF");
  ASSERT_EQ(st.clients.size(), 2u);
  std::map<std::string, ClientInfo> clients;
  for (const ClientInfo& c : st.clients) clients[c.id] = c;
  EXPECT_EQ(clients.at("old-client").hb_inbox, "_INBOX.old");
  EXPECT_EQ(clients.at("new-client").ping_max_out, 3);
  ASSERT_EQ(st.channels.size(), 2u);  // the deleted one is not recovered
  MsgStore& m = *st.channels.at("ref.chan").channel->msgs;
  EXPECT_EQ(m.FirstSequence(), 5u);
  EXPECT_EQ(m.LastSequence(), 7u);
  auto ref = m.Lookup(6);
  ASSERT_TRUE(ref.ok() && ref->found());
  MsgRecord r;
  ASSERT_TRUE(DecodeMsgRecord(ref->record, r));
  EXPECT_EQ(r.data, "payload-6");
  EXPECT_EQ(r.subject, "ref.chan");
  MsgStore& e = *st.channels.at("ref.empty").channel->msgs;
  EXPECT_EQ(e.FirstSequence(), 13u);
  EXPECT_EQ(e.LastSequence(), 12u);
  const auto& subs = st.channels.at("ref.chan").subscriptions;
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].state.durable_name, "d1");
  EXPECT_EQ(subs[0].state.last_sent, 7u);
  EXPECT_EQ(subs[0].pending, (std::vector<uint64_t>{4, 6, 7}));

  // Back: a message and a subscription update written by gannet-streaming, as the reference
  // would read them.
  ChannelStore* c = st.channels.at("ref.chan").channel;
  ASSERT_TRUE(c->msgs->Store(8, 1000008, msg(8)).ok());
  ASSERT_TRUE(c->msgs->Flush().ok());
  ASSERT_TRUE(c->subs->AddSeqPending(9, 8).ok());
  ASSERT_TRUE(c->subs->AckSeqPending(9, 4).ok());
  ASSERT_TRUE(c->subs->Flush().ok());
  pb::MsgProto back;
  ASSERT_TRUE(back.ParseFromString(QueryBytes(server(), "SELECT data FROM Messages WHERE seq=8")));
  EXPECT_EQ(back.data(), "payload-8");
  EXPECT_EQ(QueryInt(server(), "SELECT size FROM Messages WHERE seq=8"),
            static_cast<int64_t>(msg(8).size()));
  EXPECT_EQ(QueryBytes(server(), "SELECT pending FROM SubsPending WHERE subid=9"), "[6,7,8]");
  EXPECT_EQ(QueryInt(server(), "SELECT lastsent FROM SubsPending WHERE subid=9"), 8);
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM SubsPending WHERE subid=9"), 1);
}

// The server ends the store's connection (as a database restart or a failover would): the next
// flush reconnects, prepares its statements again and commits.
TEST_P(SqlStore, LostConnectionIsRetried) {
  auto s = Open();
  ASSERT_TRUE(s);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  ASSERT_TRUE(m.Store(1, 1, Record(1, "foo", "a", 1)).ok());
  ASSERT_TRUE(m.Flush().ok());
  auto admin = server().Connect();
  ASSERT_TRUE(admin);
  if (GetParam() == "postgres") {
    ASSERT_TRUE(admin
                    ->Run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname='gannet' AND pid <> pg_backend_pid()")
                    .ok());
  } else {
    ASSERT_TRUE(admin
                    ->Prepare("ids",
                              "SELECT ID FROM information_schema.PROCESSLIST WHERE DB='gannet' AND "
                              "ID <> CONNECTION_ID()")
                    .ok());
    auto ids = admin->Exec("ids", {});
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    ASSERT_GE(ids->rows.size(), 1u);
    for (size_t i = 0; i < ids->rows.size(); ++i) {
      ASSERT_TRUE(admin->Run("KILL " + std::to_string(ids->rows.Int(i, 0))).ok());
    }
  }
  ASSERT_TRUE(m.Store(2, 2, Record(2, "foo", "b", 2)).ok());
  Status flushed = m.Flush();
  EXPECT_TRUE(flushed.ok()) << flushed.message();
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 2);
}

// A flush that gave up may have committed (its COMMIT cut off): the next one inserts only what
// the database does not have. Here the "committed" row is put there by hand, so the first flush
// fails on it and the next one goes past it.
TEST_P(SqlStore, FlushAfterAFailedOneInsertsOnlyWhatIsMissing) {
  auto s = Open();
  ASSERT_TRUE(s);
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  ASSERT_TRUE(m.Store(1, 1, Record(1, "foo", "a", 1)).ok());
  ASSERT_TRUE(m.Flush().ok());
  const int64_t id = QueryInt(server(), "SELECT id FROM Channels WHERE name='foo'");
  ASSERT_EQ(server().RunScript("INSERT INTO Messages (id, seq, timestamp, size, data) VALUES (" +
                               std::to_string(id) + ", 2, 2, 1, " + Hex(GetParam(), "x") + ");"),
            "");
  ASSERT_TRUE(m.Store(2, 2, Record(2, "foo", "b", 2)).ok());
  ASSERT_TRUE(m.Store(3, 3, Record(3, "foo", "c", 3)).ok());
  EXPECT_FALSE(m.Flush().ok());  // sequence 2 is there already
  Status again = m.Flush();
  EXPECT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 3);
  EXPECT_EQ(QueryInt(server(), "SELECT size FROM Messages WHERE seq=2"), 1);  // not replaced
}

// Fault tolerance's fencing: a store opened by the holder of the StoreLock row commits only
// while the row still names it.
TEST_P(SqlStore, FlushFailsOnceTheLockIsAnotherServers) {
  StoreOptions o;
  o.sql.fence_owner = "me";
  auto s = Open(o);
  ASSERT_TRUE(s);
  ASSERT_EQ(server().RunScript("INSERT INTO StoreLock (id, tick) VALUES ('me', 1);"), "");
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  ASSERT_TRUE(m.Store(1, 1, Record(1, "foo", "a", 1)).ok());
  ASSERT_TRUE(m.Flush().ok());
  ASSERT_EQ(server().RunScript("UPDATE StoreLock SET id='other', tick=1;"), "");
  ASSERT_TRUE(m.Store(2, 2, Record(2, "foo", "b", 2)).ok());
  Status flushed = m.Flush();
  EXPECT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find("store lock is held by another server"), std::string::npos)
      << flushed.message();
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 1);
}

// The same without caching: every write is its own transaction behind the row, so a deposed
// active commits no message (nor subscription or client update) once the row names another
// server. The row may carry the session lock's mark (sql_lock.cc).
TEST_P(SqlStore, NoCachingWritesFailOnceTheLockIsAnotherServers) {
  StoreOptions o;
  o.sql.fence_owner = "me";
  o.sql.no_caching = true;
  auto s = Open(o);
  ASSERT_TRUE(s);
  ASSERT_EQ(server().RunScript("INSERT INTO StoreLock (id, tick) VALUES ('me.sl', 1);"), "");
  ChannelStore* c = *s->CreateChannel("foo");
  ASSERT_TRUE(c->msgs->Store(1, 1, Record(1, "foo", "a", 1)).ok());
  SubState sub;
  ASSERT_TRUE(c->subs->CreateSub(sub).ok());
  ASSERT_TRUE(c->subs->AddSeqPending(sub.id, 1).ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 1);
  ASSERT_EQ(server().RunScript("UPDATE StoreLock SET id='other.sl', tick=1;"), "");
  Status stored = c->msgs->Store(2, 2, Record(2, "foo", "b", 2));
  EXPECT_FALSE(stored.ok());
  EXPECT_NE(stored.message().find("store lock is held by another server"), std::string::npos)
      << stored.message();
  EXPECT_FALSE(c->subs->AckSeqPending(sub.id, 1).ok());
  ClientInfo client;
  client.id = "c1";
  client.hb_inbox = "inbox";
  EXPECT_FALSE(s->AddClient(client).ok());
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Messages"), 1);
  EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM Clients"), 0);
}

// Two servers of an FT group starting at the same moment on an empty StoreLock table: exactly
// one owns the lock. (The table has no key, as the reference's: only the lock transaction
// keeps both from inserting a row; on PostgreSQL SELECT ... FOR UPDATE alone let both in.)
TEST_P(SqlStore, TwoServersStartingAtOnceTakeTheLockOnce) {
  StoreOptions o;
  o.type = "SQL";
  o.sql.driver = server().driver_name();
  o.sql.source = server().Source();
  for (int round = 0; round < 10; ++round) {
    ASSERT_EQ(server().Truncate(), "");
    auto a = CreateExclusiveLock(o);
    auto b = CreateExclusiveLock(o);
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(b.ok()) << b.status().message();
    std::atomic<int> arrived{0};
    std::optional<Result<bool>> ra, rb;
    auto attempt = [&arrived](ExclusiveLock& lock, std::optional<Result<bool>>& out) {
      arrived.fetch_add(1);
      while (arrived.load() < 2) std::this_thread::yield();  // both start together
      out.emplace(lock.TryLock(false));
    };
    std::thread ta(attempt, std::ref(**a), std::ref(ra));
    std::thread tb(attempt, std::ref(**b), std::ref(rb));
    ta.join();
    tb.join();
    // The loser sees the winner's row, or (MariaDB) has its insert rolled back as a deadlock.
    int owners = (ra->ok() && **ra ? 1 : 0) + (rb->ok() && **rb ? 1 : 0);
    EXPECT_EQ(owners, 1) << "round " << round << ": " << (ra->ok() ? "" : ra->status().message())
                         << " / " << (rb->ok() ? "" : rb->status().message());
    EXPECT_EQ(QueryInt(server(), "SELECT COUNT(*) FROM StoreLock"), 1) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Sql, SqlStore, ::testing::Values("postgres", "mysql"), DriverName);

}  // namespace
}  // namespace gannet::streaming::store
