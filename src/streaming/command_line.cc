// gannet-streaming's command line (see command_line.h).
#include "streaming/command_line.h"

#include <cctype>
#include <functional>
#include <map>

#include "conf/duration.h"
#include "conf/parser.h"
#include "server/config/config.h"
#include "streaming/config.h"

namespace gannet::streaming {

namespace {

using Override = std::function<void(StreamingOptions&)>;

std::optional<bool> ParseBool(std::string t) {
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "true" || t == "t" || t == "1") return true;
  if (t == "false" || t == "f" || t == "0") return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInt(const std::string& v) {
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used != v.size()) return std::nullopt;
    return n;
  } catch (...) {
    return std::nullopt;
  }
}

// A size as the reference reads -mb and the file sizes: a number, or "1KB", "10MB", ... parsed
// by the configuration language.
std::optional<int64_t> ParseSize(const std::string& v) {
  conf::ParseResult r = conf::ParseString("bytes: " + v);
  if (!r.ok()) return std::nullopt;
  const conf::Value* b = r.root.Find("bytes");
  if (!b || !b->IsInteger()) return std::nullopt;
  return b->AsInteger();
}

// --cluster_peers a,b,c (spaces around the names ignored, empty names dropped).
std::vector<std::string> SplitPeers(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t end = v.find(',', start);
    if (end == std::string::npos) end = v.size();
    std::string p = v.substr(start, end - start);
    while (!p.empty() && p.front() == ' ') p.erase(p.begin());
    while (!p.empty() && p.back() == ' ') p.pop_back();
    if (!p.empty()) out.push_back(p);
    start = end + 1;
  }
  return out;
}

struct Flag {
  enum Kind { kString, kInt, kSize, kDuration, kBool, kNotYet } kind;
  std::function<void(StreamingOptions&, const std::string&, int64_t, std::chrono::nanoseconds,
                     bool)>
      apply;
};

#define STR(expr)                                                                               \
  Flag {                                                                                        \
    Flag::kString, [](StreamingOptions& o, const std::string& v, int64_t, auto, bool) { expr; } \
  }
#define INT(expr)                                                                            \
  Flag {                                                                                     \
    Flag::kInt, [](StreamingOptions& o, const std::string&, int64_t v, auto, bool) { expr; } \
  }
#define SIZE(expr)                                                                            \
  Flag {                                                                                      \
    Flag::kSize, [](StreamingOptions& o, const std::string&, int64_t v, auto, bool) { expr; } \
  }
#define DUR(expr)                                                         \
  Flag {                                                                  \
    Flag::kDuration, [](StreamingOptions& o, const std::string&, int64_t, \
                        std::chrono::nanoseconds v, bool) { expr; }       \
  }
#define BOOL(expr)                                                                            \
  Flag {                                                                                      \
    Flag::kBool, [](StreamingOptions& o, const std::string&, int64_t, auto, bool v) { expr; } \
  }

const std::map<std::string, Flag>& Flags() {
  static const std::map<std::string, Flag> flags = {
      {"cid", STR(o.cluster_id = v)},
      {"st", STR(o.store.type = v)},
      {"dir", STR(o.store.dir = v)},
      {"mc", INT(o.store.limits.max_channels = v)},
      {"msu", INT(o.store.limits.global.max_subscriptions = v)},
      {"mm", INT(o.store.limits.global.max_msgs = v)},
      {"mb", SIZE(o.store.limits.global.max_bytes = v)},
      {"ma", DUR(o.store.limits.global.max_age = v)},
      {"mi", DUR(o.store.limits.global.max_inactivity = v)},
      {"ns", STR(o.nats_server_url = v)},
      {"hbi", DUR(o.hb_interval = v)},
      {"hbt", DUR(o.hb_timeout = v)},
      {"hbf", INT(o.hb_fail_count = static_cast<int>(v))},
      {"SD", BOOL(o.debug = v)},
      {"SV", BOOL(o.trace = v)},
      {"SDV", BOOL(o.debug = o.trace = v)},
      {"secure", BOOL(o.secure = v)},
      {"tls_client_cert", STR(o.tls_client_cert = v)},
      {"tls_client_key", STR(o.tls_client_key = v)},
      {"tls_client_cacert", STR(o.tls_client_ca = v)},
      {"io_batch_size", INT(o.io_batch_size = static_cast<int>(v))},
      {"io_sleep_time", INT(o.io_sleep_time_us = v)},
      {"replace_durable", BOOL(o.replace_durable = v)},
      {"ft_group", STR(o.ft_group = v)},
      {"clustered", BOOL(o.cluster.clustered = v)},
      {"cluster_node_id", STR(o.cluster.node_id = v)},
      {"cluster_bootstrap", BOOL(o.cluster.bootstrap = v)},
      {"cluster_peers", STR(o.cluster.peers = SplitPeers(v))},
      {"cluster_log_path", STR(o.cluster.log_path = v)},
      {"cluster_sync", BOOL(o.cluster.sync = v)},
      {"cluster_raft_logging", BOOL(o.cluster.raft_logging = v)},
      {"cluster_raft_listen", STR(o.cluster.raft_listen = v)},
      {"cluster_snapshot_threshold", INT(o.cluster.snapshot_threshold = v)},
      {"cluster_trailing_logs", INT(o.cluster.trailing_logs = v)},
      {"file_compact_enabled", BOOL(o.store.file.compact_enabled = v)},
      {"file_compact_frag", INT(o.store.file.compact_fragmentation = static_cast<int>(v))},
      {"file_compact_interval", INT(o.store.file.compact_interval = static_cast<int>(v))},
      {"file_compact_min_size", SIZE(o.store.file.compact_min_file_size = v)},
      {"file_buffer_size", SIZE(o.store.file.buffer_size = v)},
      {"file_crc", BOOL(o.store.file.do_crc = v)},
      {"file_crc_poly", INT(o.store.file.crc_polynomial = v)},
      {"file_sync", BOOL(o.store.file.do_sync = v)},
      {"file_slice_max_msgs", INT(o.store.file.slice_max_msgs = v)},
      {"file_slice_max_bytes", SIZE(o.store.file.slice_max_bytes = v)},
      {"file_slice_max_age", DUR(o.store.file.slice_max_age = v)},
      {"file_slice_archive_script", STR(o.store.file.slice_archive_script = v)},
      {"file_fds_limit", INT(o.store.file.file_descriptors_limit = v)},
      {"file_parallel_recovery", INT(o.store.file.parallel_recovery = static_cast<int>(v))},
      {"file_read_buffer_size", SIZE(o.store.file.read_buffer_size = v)},
      {"file_auto_sync", DUR(o.store.file.auto_sync = v)},
      {"file_truncate_bad_eof", BOOL(o.store.file.truncate_unexpected_eof = v)},
      {"sql_driver", STR(o.store.sql.driver = v)},
      {"sql_source", STR(o.store.sql.source = v)},
      {"sql_no_caching", BOOL(o.store.sql.no_caching = v)},
      {"sql_max_open_conns", INT(o.store.sql.max_open_conns = static_cast<int>(v))},
      {"sql_bulk_insert_limit", INT(o.store.sql.bulk_insert_limit = static_cast<int>(v))},
  };
  return flags;
}

#undef STR
#undef INT
#undef SIZE
#undef DUR
#undef BOOL

const std::map<std::string, std::string>& Aliases() {
  static const std::map<std::string, std::string> aliases = {
      {"cluster_id", "cid"},  {"store", "st"},          {"max_channels", "mc"},
      {"max_subs", "msu"},    {"max_msgs", "mm"},       {"max_bytes", "mb"},
      {"max_age", "ma"},      {"max_inactivity", "mi"}, {"nats_server", "ns"},
      {"hb_interval", "hbi"}, {"hb_timeout", "hbt"},    {"hb_fail_count", "hbf"},
      {"stan_debug", "SD"},   {"stan_trace", "SV"},     {"stan_config", "sc"},
  };
  return aliases;
}

// Flags of the reference for features gannet-streaming does not have yet: refused.
bool NotYet(const std::string& name) {
  static const char* kNotYet[] = {
      "cluster_log_cache_size", "cluster_log_snapshots", "encrypt",          "encryption_cipher",
      "encryption_key",         "syslog_name",           "nats_credentials", "nkey_seed_file",
  };
  for (const char* n : kNotYet) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> ParseStreamingCommandLine(int argc, char** argv,
                                                     StreamingCommandLine& out) {
  std::vector<std::string> nats_args{argv[0]};
  std::vector<Override> overrides;
  bool has_nats_config = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      nats_args.push_back(arg);
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (auto a = Aliases().find(name); a != Aliases().end()) name = a->second;
    if (name == "c" || name == "config") has_nats_config = true;
    if (NotYet(name)) {
      out.usage_error = false;
      return "flag -" + name + " is not supported yet by gannet-streaming";
    }
    if (name == "sc") {
      if (!value) {
        if (i + 1 >= argc) {
          out.usage_error = true;
          return "flag needs an argument: -sc";
        }
        value = argv[++i];
      }
      out.stan_config = *value;
      continue;
    }
    auto f = Flags().find(name);
    if (f == Flags().end()) {
      nats_args.push_back(arg);  // gannet-server's, with its value if it takes one
      continue;
    }
    const Flag& flag = f->second;
    std::string text;
    if (flag.kind == Flag::kBool) {
      bool v = true;
      if (value) {
        auto b = ParseBool(*value);
        if (!b) {
          out.usage_error = true;
          return "invalid boolean value \"" + *value + "\" for -" + name;
        }
        v = *b;
      }
      auto apply = flag.apply;
      overrides.push_back([apply, v](StreamingOptions& o) { apply(o, {}, 0, {}, v); });
      continue;
    }
    if (!value) {
      if (i + 1 >= argc) {
        out.usage_error = true;
        return "flag needs an argument: -" + name;
      }
      value = argv[++i];
    }
    int64_t n = 0;
    std::chrono::nanoseconds d{0};
    if (flag.kind == Flag::kInt || flag.kind == Flag::kSize) {
      auto parsed = flag.kind == Flag::kInt ? ParseInt(*value) : ParseSize(*value);
      if (!parsed) {
        out.usage_error = true;
        return "invalid value \"" + *value + "\" for flag -" + name + ": parse error";
      }
      n = *parsed;
    } else if (flag.kind == Flag::kDuration) {
      std::string err;
      auto parsed = conf::ParseGoDuration(*value, &err);
      if (!parsed) {
        out.usage_error = true;
        std::string msg = "invalid value \"" + *value;
        msg += "\" for flag -" + name;
        msg += ": " + err;
        return msg;
      }
      d = *parsed;
    }
    auto apply = flag.apply;
    std::string v = *value;
    overrides.push_back([apply, v, n, d](StreamingOptions& o) { apply(o, v, n, d, false); });
  }

  // As the reference: one file given serves both; -c is the NATS server's, -sc the streaming
  // server's (and the NATS server's too when there is no -c).
  if (!out.stan_config.empty() && !has_nats_config) {
    nats_args.push_back("-c");
    nats_args.push_back(out.stan_config);
  }
  SetEmbedderConfigKeys(StreamingTopLevelKeys());
  std::vector<char*> nargv;
  nargv.reserve(nats_args.size());
  for (std::string& s : nats_args) nargv.push_back(s.data());
  if (auto err = ParseCommandLine(static_cast<int>(nargv.size()), nargv.data(), out.nats)) {
    out.usage_error = !out.nats.config_error && err->find("not supported yet") == std::string::npos;
    return err;
  }
  out.show_help = out.nats.show_help;
  out.show_version = out.nats.show_version;
  const std::string stan_file =
      out.stan_config.empty() ? out.nats.options.config_file : out.stan_config;
  if (!stan_file.empty()) {
    if (auto err = LoadStreamingConfig(stan_file, out.streaming)) return err;
  }
  for (const auto& apply : overrides) apply(out.streaming);
  std::string& st = out.streaming.store.type;
  for (char& c : st) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (st != "MEMORY" && st != "FILE" && st != "SQL") return "unsupported store type: " + st;
  if (out.streaming.io_batch_size <= 0) out.streaming.io_batch_size = 1;
  if (auto err = ValidateClusterOptions(out.streaming)) return err;
  return std::nullopt;
}

std::string StreamingUsage() {
  return std::string(R"(Usage: gannet-streaming [options]

Streaming Server Options:
    -cid, --cluster_id  <string>      Cluster ID (default: test-cluster)
    -st,  --store <string>            Store type: MEMORY|FILE|SQL (default: MEMORY)
          --dir <string>              For FILE store type, this is the root directory
    -mc,  --max_channels <int>        Max number of channels (0 for unlimited)
    -msu, --max_subs <int>            Max number of subscriptions per channel (0 for unlimited)
    -mm,  --max_msgs <int>            Max number of messages per channel (0 for unlimited)
    -mb,  --max_bytes <size>          Max messages total size per channel (0 for unlimited)
    -ma,  --max_age <duration>        Max duration a message can be stored ("0s" for unlimited)
    -mi,  --max_inactivity <duration> Max inactivity (no new message, no subscription) after
                                      which a channel can be garbage collected (0 for unlimited)
    -ns,  --nats_server <string>      Connect to this external NATS Server URL (embedded otherwise)
    -sc,  --stan_config <string>      Streaming server configuration file
    -hbi, --hb_interval <duration>    Interval at which server sends heartbeat to a client
    -hbt, --hb_timeout <duration>     How long server waits for a heartbeat response
    -hbf, --hb_fail_count <int>       Number of failed heartbeats before server closes the client
          --io_batch_size <int>       Max number of messages stored per I/O batch (default: 1024)
          --io_sleep_time <int>       Microseconds to wait for more messages to batch (default: 0)
          --replace_durable <bool>    Replace the existing durable subscription instead of
                                      reporting a duplicate durable error
          --ft_group <string>         Name of this server's fault tolerance group (FILE or SQL
                                      store shared with the group's other servers)

Streaming Server Clustering Options:
    --clustered <bool>                   Run the server in a clustered configuration
    --cluster_node_id <string>           ID of the node within the cluster (a NUID by default)
    --cluster_bootstrap <bool>           Bootstrap the cluster as a single node (then add nodes)
    --cluster_peers <string, ...>        Comma-separated list of the other nodes' IDs
    --cluster_log_path <string>          Directory of the Raft log (default: <dir>/.raft;
                                         SQL store without --dir: <cluster id>/<node id>)
    --cluster_sync <bool>                Fsync the FILE store at each batch too (the Raft
                                         log is fsync'd on each append in any case; an SQL
                                         store commits each batch)
    --cluster_raft_logging <bool>        Enable logging from the Raft library
    --cluster_raft_listen <host:port>    Gannet: where this node's Raft transport listens
                                         (default 127.0.0.1 and a free port)
    --cluster_trailing_logs <int>        Raft entries kept in the log after a snapshot (default: 512)
    --cluster_snapshot_threshold <int>   Gannet: a Raft snapshot every this many entries
                                         (default: 1024)

Streaming Server File Store Options:
    --file_compact_enabled <bool>        Enable file compaction
    --file_compact_frag <int>            File fragmentation threshold for compaction
    --file_compact_interval <int>        Minimum interval (in seconds) between file compactions
    --file_compact_min_size <size>       Minimum file size for compaction
    --file_buffer_size <size>            File buffer size (in bytes)
    --file_crc <bool>                    Enable file CRC-32 checksum
    --file_crc_poly <int>                Polynomial used to make the table used for CRC-32
    --file_sync <bool>                   Enable File.Sync on Flush
    --file_slice_max_msgs <int>          Maximum number of messages per file slice
    --file_slice_max_bytes <size>        Maximum file slice size - including index file
    --file_slice_max_age <duration>      Maximum file slice duration
    --file_slice_archive_script <string> Path to script to use to archive a file slice
    --file_fds_limit <int>               Store will try to use no more file descriptors than this
    --file_parallel_recovery <int>       On startup, number of channels recovered in parallel
    --file_truncate_bad_eof <bool>       Truncate files with an unexpected EOF on recovery

Streaming Server SQL Store Options:
    --sql_driver <string>            Name of the SQL Driver ("mysql" or "postgres")
    --sql_source <string>            Datasource used when opening an SQL connection to the database
    --sql_no_caching <bool>          Enable/Disable caching for improved performance
    --sql_max_open_conns <int>       Maximum number of opened connections to the database
    --sql_bulk_insert_limit <int>    Maximum number of messages stored with a single SQL "INSERT"
                                     statement (0: one INSERT per message, in one transaction)

Streaming Server TLS Options (the connection to NATS):
    -secure <bool>                   Use a TLS connection to the NATS server without
                                     verification; weaker than specifying certificates.
    -tls_client_key <string>         Client key for the streaming server
    -tls_client_cert <string>        Client certificate for the streaming server
    -tls_client_cacert <string>      Client certificate CA for the streaming server

Streaming Server Logging Options:
    -SD, --stan_debug=<bool>         Enable STAN debugging output
    -SV, --stan_trace=<bool>         Trace the raw STAN protocol
    -SDV                             Debug and trace STAN

Embedded NATS Server Options (gannet-server's):
)") + UsageText();
}

}  // namespace gannet::streaming
