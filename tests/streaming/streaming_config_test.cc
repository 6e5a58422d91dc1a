// The streaming configuration block and command line: keys and aliases, per-channel limits,
// type errors in the reference's words, flags over the file, refused features.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "conf/parser.h"
#include "streaming/command_line.h"
#include "streaming/config.h"

namespace gannet::streaming {
namespace {

std::optional<std::string> Apply(const std::string& text, StreamingOptions& o) {
  conf::ParseResult r = conf::ParseString(text);
  EXPECT_TRUE(r.ok()) << (r.error ? r.error->ToString() : "");
  return ApplyStreamingConfig(r.root, o);
}

TEST(StreamingConfig, BlockKeysAndAliases) {
  StreamingOptions o;
  auto err = Apply(R"(
    port: 4222
    streaming {
      cid: "my-cluster"
      store: "memory"
      sd: true
      hb_interval: "10s"
      hbt: "2s"
      hb_fail_count: 3
      replace_durable: true
      store_limits {
        mc: 50
        max_msgs: 10
        max_bytes: 1MB
        max_age: "1h"
        max_subs: 7
        max_inactivity: "30m"
        channels { "foo.>": { max_msgs: 0 }, "bar": { max_age: "1s" } }
      }
      file_options { buffer_size: 4MB, sync: false, slice_max_age: "1h", fds_limit: 10 }
    }
  )",
                   o);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(o.cluster_id, "my-cluster");
  EXPECT_EQ(o.store.type, "MEMORY");
  EXPECT_TRUE(o.debug);
  EXPECT_EQ(o.hb_interval, std::chrono::seconds(10));
  EXPECT_EQ(o.hb_timeout, std::chrono::seconds(2));
  EXPECT_EQ(o.hb_fail_count, 3);
  EXPECT_TRUE(o.replace_durable);
  EXPECT_EQ(o.store.limits.max_channels, 50);
  EXPECT_EQ(o.store.limits.global.max_msgs, 10);
  EXPECT_EQ(o.store.limits.global.max_bytes, 1024 * 1024);
  EXPECT_EQ(o.store.limits.global.max_age, std::chrono::hours(1));
  EXPECT_EQ(o.store.limits.global.max_subscriptions, 7);
  EXPECT_EQ(o.store.limits.global.max_inactivity, std::chrono::minutes(30));
  // A per-channel 0 means unlimited (-1 until the limits are built).
  EXPECT_EQ(o.store.limits.per_channel.at("foo.>").max_msgs, -1);
  EXPECT_EQ(o.store.limits.per_channel.at("bar").max_age, std::chrono::seconds(1));
  EXPECT_EQ(o.store.file.buffer_size, 4 * 1024 * 1024);
  EXPECT_FALSE(o.store.file.do_sync);
  EXPECT_EQ(o.store.file.file_descriptors_limit, 10);
}

TEST(StreamingConfig, TopLevelKeysWithoutABlock) {
  StreamingOptions o;
  auto err = Apply("port: 4222\ncluster_id: top\nmax_payload: 100\n", o);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(o.cluster_id, "top");
}

TEST(StreamingConfig, Errors) {
  StreamingOptions o;
  auto err = Apply("streaming { hbf: \"x\" }", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("parameter \"hbf\" value is expected to be int64, got string"),
            std::string::npos)
      << *err;
  err = Apply("streaming { hbi: \"10 parsecs\" }", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("time: unknown unit"), std::string::npos) << *err;
  err = Apply("streaming { store: \"paper\" }", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("unknown store type: paper"), std::string::npos) << *err;
  err = Apply("streaming { sql_options { driver: postgres, dsn: x } }", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("unknown field \"dsn\""), std::string::npos) << *err;
  err = Apply("streaming { cluster { node_id: a, color: red } }", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("unknown field \"color\""), std::string::npos) << *err;
  err = Apply("streaming { cluster { log_cache_size: 10 } }", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("not supported yet"), std::string::npos) << *err;
  err = Apply("streaming { store_limits { channels { \"a..b\": {} } } }", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("invalid channel name \"a..b\""), std::string::npos) << *err;
  err = Apply("streaming: 5", o);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("expected streaming section to be a map/struct"), std::string::npos);
}

std::optional<std::string> ParseArgs(std::vector<std::string> args, StreamingCommandLine& cl) {
  args.insert(args.begin(), "gannet-streaming");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseStreamingCommandLine(static_cast<int>(argv.size()), argv.data(), cl);
}

TEST(StreamingCommandLine, StreamingAndNatsFlagsSplit) {
  StreamingCommandLine cl;
  auto err = ParseArgs({"-p",
                        "5222",
                        "-cid",
                        "c1",
                        "-st",
                        "file",
                        "--dir",
                        "/tmp/x",
                        "-mm",
                        "5",
                        "-mb",
                        "2KB",
                        "-ma",
                        "1m",
                        "--max_inactivity=10s",
                        "-SDV",
                        "-m",
                        "8333",
                        "--hb_interval",
                        "3s",
                        "--file_sync=false",
                        "--io_batch_size",
                        "10",
                        "-ns",
                        "nats://h:1"},
                       cl);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(cl.nats.options.port, 5222);
  EXPECT_EQ(cl.nats.options.http_port, 8333);
  const StreamingOptions& o = cl.streaming;
  EXPECT_EQ(o.cluster_id, "c1");
  EXPECT_EQ(o.store.type, "FILE");
  EXPECT_EQ(o.store.dir, "/tmp/x");
  EXPECT_EQ(o.store.limits.global.max_msgs, 5);
  EXPECT_EQ(o.store.limits.global.max_bytes, 2048);
  EXPECT_EQ(o.store.limits.global.max_age, std::chrono::minutes(1));
  EXPECT_EQ(o.store.limits.global.max_inactivity, std::chrono::seconds(10));
  EXPECT_TRUE(o.debug);
  EXPECT_TRUE(o.trace);
  EXPECT_EQ(o.hb_interval, std::chrono::seconds(3));
  EXPECT_FALSE(o.store.file.do_sync);
  EXPECT_EQ(o.io_batch_size, 10);
  EXPECT_EQ(o.nats_server_url, "nats://h:1");
}

TEST(StreamingCommandLine, FlagsOverTheFileAndRefusals) {
  char tmpl[] = "/tmp/gannet-streaming-cl-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  std::ofstream(tmpl)
      << "port: 6222\nstreaming { cluster_id: fromfile, store_limits { max_msgs: 9 } }\n";
  StreamingCommandLine cl;
  auto err = ParseArgs({"-c", tmpl, "-mm", "3"}, cl);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(cl.nats.options.port, 6222);
  EXPECT_EQ(cl.streaming.cluster_id, "fromfile");
  EXPECT_EQ(cl.streaming.store.limits.global.max_msgs, 3);  // the flag wins
  StreamingCommandLine sc;
  err = ParseArgs({"-sc", tmpl}, sc);  // -sc alone serves the NATS server too
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(sc.nats.options.port, 6222);
  EXPECT_EQ(sc.streaming.store.limits.global.max_msgs, 9);
  ::unlink(tmpl);

  StreamingCommandLine bad;
  err = ParseArgs({"--clustered"}, bad);
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "clustering requires a FILE or SQL store");
  StreamingCommandLine clustered;
  err = ParseArgs(
      {"--clustered", "-st", "FILE", "--dir", "/tmp/s", "--cluster_node_id", "a", "--cluster_peers",
       "b, c", "--cluster_raft_logging", "--cluster_log_path", "/tmp/r"},
      clustered);
  ASSERT_FALSE(err) << *err;
  EXPECT_TRUE(clustered.streaming.cluster.clustered);
  EXPECT_EQ(clustered.streaming.cluster.node_id, "a");
  EXPECT_EQ(clustered.streaming.cluster.peers, (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(clustered.streaming.cluster.raft_logging);
  EXPECT_EQ(clustered.streaming.cluster.log_path, "/tmp/r");
  // An SQL store clusters too; without --dir its Raft log is the reference's default.
  StreamingCommandLine sql;
  err = ParseArgs({"--clustered", "-st", "SQL", "--sql_driver", "postgres", "--sql_source",
                   "dbname=a", "-cid", "c1", "--cluster_node_id", "a", "--cluster_peers", "b"},
                  sql);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(sql.streaming.cluster.log_path, "c1/a");
  StreamingCommandLine bad2;
  err = ParseArgs({"-mm", "lots"}, bad2);
  ASSERT_TRUE(err);
  EXPECT_TRUE(bad2.usage_error);
  StreamingCommandLine bad3;
  err = ParseArgs({"-st", "paper"}, bad3);
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "unsupported store type: PAPER");
}

// The SQL store's options, from the flags and from `sql_options {}` (the reference's keys),
// the flags winning.
TEST(StreamingConfig, SqlOptions) {
  StreamingOptions o;
  auto err = Apply(
      "streaming { store: sql, sql_options { driver: mysql, source: \"u@tcp(h:1)/db\", "
      "no_caching: true, max_open_conns: 7, bulk_insert_limit: 100 } }",
      o);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(o.store.type, "SQL");
  EXPECT_EQ(o.store.sql.driver, "mysql");
  EXPECT_EQ(o.store.sql.source, "u@tcp(h:1)/db");
  EXPECT_TRUE(o.store.sql.no_caching);
  EXPECT_EQ(o.store.sql.max_open_conns, 7);
  EXPECT_EQ(o.store.sql.bulk_insert_limit, 100);

  StreamingCommandLine sc;
  err = ParseArgs(
      {"-st", "sql", "--sql_driver", "postgres", "--sql_source", "dbname=x",
       "--sql_no_caching=false", "--sql_max_open_conns", "3", "--sql_bulk_insert_limit", "50"},
      sc);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(sc.streaming.store.type, "SQL");
  EXPECT_EQ(sc.streaming.store.sql.driver, "postgres");
  EXPECT_EQ(sc.streaming.store.sql.source, "dbname=x");
  EXPECT_FALSE(sc.streaming.store.sql.no_caching);
  EXPECT_EQ(sc.streaming.store.sql.max_open_conns, 3);
  EXPECT_EQ(sc.streaming.store.sql.bulk_insert_limit, 50);
}

TEST(StreamingConfig, FtGroup) {
  StreamingOptions o;
  auto err = Apply("streaming { ft_group: \"east\" }", o);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(o.ft_group, "east");
  StreamingCommandLine sc;
  err = ParseArgs({"--ft_group", "west", "-st", "file", "--dir", "/tmp/x"}, sc);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(sc.streaming.ft_group, "west");
}

}  // namespace
}  // namespace gannet::streaming
