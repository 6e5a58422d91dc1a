// The streaming configuration block (see config.h).
#include "streaming/config.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <type_traits>

#include "conf/duration.h"
#include "conf/parser.h"
#include "streaming/store/limits.h"

namespace gannet::streaming {

namespace {

using conf::MapEntry;
using conf::Value;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool OneOf(const std::string& key, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return key == n; });
}

// Go's reflect kind names, for the reference's type error text.
const char* GoKind(const Value& v) {
  switch (v.kind()) {
    case conf::Kind::kString:
      return "string";
    case conf::Kind::kInteger:
      return "int64";
    case conf::Kind::kFloat:
      return "float64";
    case conf::Kind::kBool:
      return "bool";
    case conf::Kind::kDatetime:
      return "struct";
    case conf::Kind::kArray:
      return "slice";
    case conf::Kind::kMap:
      return "map";
  }
  return "invalid";
}

class Mapper {
 public:
  explicit Mapper(StreamingOptions& o) : o_(o) {}
  std::optional<std::string> error;

  bool Fail(const conf::Position& pos, const std::string& message) {
    if (!error) error = pos.ToString() + ": " + message;
    return false;
  }
  bool Expect(const MapEntry& e, conf::Kind kind, const char* want) {
    if (e.value.kind() == kind) return true;
    return Fail(e.value.position(), "parameter \"" + e.key + "\" value is expected to be " + want +
                                        ", got " + GoKind(e.value));
  }
  bool String(const MapEntry& e, std::string& out) {
    if (!Expect(e, conf::Kind::kString, "string")) return false;
    out = e.value.AsString();
    return true;
  }
  bool Bool(const MapEntry& e, bool& out) {
    if (!Expect(e, conf::Kind::kBool, "bool")) return false;
    out = e.value.AsBool();
    return true;
  }
  bool Int(const MapEntry& e, int64_t& out) {
    if (!Expect(e, conf::Kind::kInteger, "int64")) return false;
    out = e.value.AsInteger();
    return true;
  }
  bool Int(const MapEntry& e, int& out) {
    int64_t v = 0;
    if (!Int(e, v)) return false;
    if (v < INT32_MIN || v > INT32_MAX) {
      return Fail(e.value.position(), "parameter \"" + e.key + "\" value is out of range");
    }
    out = static_cast<int>(v);
    return true;
  }
  // Durations are strings in Go's syntax, as the reference's time.ParseDuration reads them.
  bool Duration(const MapEntry& e, std::chrono::nanoseconds& out) {
    if (!Expect(e, conf::Kind::kString, "string")) return false;
    std::string err;
    auto d = conf::ParseGoDuration(e.value.AsString(), &err);
    if (!d) return Fail(e.value.position(), err);
    out = *d;
    return true;
  }
  bool Map(const MapEntry& e, const char* what) {
    if (e.value.IsMap()) return true;
    return Fail(e.value.position(),
                std::string("expected ") + what + " to be a map/struct, got " + GoKind(e.value));
  }
  bool NotYet(const MapEntry& e) {
    return Fail(e.key_position, "\"" + e.key + "\" is not supported yet by gannet-streaming");
  }
  bool Unknown(const MapEntry& e) {
    if (e.value.used_as_variable()) return true;
    return Fail(e.key_position, "unknown field \"" + e.key + "\"");
  }

  // One streaming key; `known` is set when the key is a streaming key at all.
  bool Top(const MapEntry& e, bool& known);
  bool Tls(const Value& block);
  bool StoreLimits(const Value& block);
  bool ChannelLimits(const MapEntry& e, const std::string& key, store::ChannelLimits& cl,
                     bool global, bool& known);
  bool PerChannel(const Value& block);
  bool FileOptions(const Value& block);
  bool SqlOptions(const Value& block);
  bool Cluster(const Value& block);

 private:
  StreamingOptions& o_;
};

bool Mapper::Top(const MapEntry& e, bool& known) {
  const std::string key = Lower(e.key);
  known = true;
  if (OneOf(key, {"id", "cid", "cluster_id"})) return String(e, o_.cluster_id);
  if (key == "discover_prefix") return String(e, o_.discover_prefix);
  if (OneOf(key, {"st", "store_type", "store", "storetype"})) {
    std::string st;
    if (!String(e, st)) return false;
    for (char& c : st) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (st != "FILE" && st != "MEMORY" && st != "SQL") {
      return Fail(e.value.position(), "unknown store type: " + e.value.AsString());
    }
    o_.store.type = st;
    return true;
  }
  if (OneOf(key, {"dir", "datastore"})) return String(e, o_.store.dir);
  if (OneOf(key, {"sd", "stan_debug"})) return Bool(e, o_.debug);
  if (OneOf(key, {"sv", "stan_trace"})) return Bool(e, o_.trace);
  if (OneOf(key, {"ns", "nats_server", "nats_server_url"})) return String(e, o_.nats_server_url);
  if (key == "secure") return Bool(e, o_.secure);
  if (key == "tls") return Map(e, "TLS") && Tls(e.value);
  if (OneOf(key, {"limits", "store_limits", "storelimits"})) {
    return Map(e, "store limits") && StoreLimits(e.value);
  }
  if (OneOf(key, {"file", "file_options"})) return Map(e, "file options") && FileOptions(e.value);
  if (OneOf(key, {"sql", "sql_options"})) return Map(e, "SQL options") && SqlOptions(e.value);
  if (OneOf(key, {"hbi", "hb_interval", "server_to_client_hb_interval"})) {
    return Duration(e, o_.hb_interval);
  }
  if (OneOf(key, {"hbt", "hb_timeout", "server_to_client_hb_timeout"})) {
    return Duration(e, o_.hb_timeout);
  }
  if (OneOf(key, {"hbf", "hb_fail_count", "server_to_client_hb_fail_count"})) {
    return Int(e, o_.hb_fail_count);
  }
  if (key == "replace_durable") return Bool(e, o_.replace_durable);
  if (key == "io_batch_size") return Int(e, o_.io_batch_size);
  if (key == "io_sleep_time") return Int(e, o_.io_sleep_time_us);
  if (OneOf(key, {"user", "username"})) return String(e, o_.username);
  if (key == "password") return String(e, o_.password);
  if (key == "token") return String(e, o_.token);
  if (key == "partitioning" || key == "encrypt") {
    bool on = false;
    if (!Bool(e, on)) return false;
    return on ? NotYet(e) : true;
  }
  if (OneOf(key, {"ft_group", "ft_group_name"})) return String(e, o_.ft_group);
  if (key == "cluster") return Map(e, "cluster") && Cluster(e.value);
  if (OneOf(key, {"encryption_cipher", "encryption_key", "nkey_seed_file", "credentials",
                  "syslog_name"})) {
    return NotYet(e);
  }
  known = false;
  return true;
}

bool Mapper::Tls(const Value& block) {
  for (const MapEntry& e : block.AsMap()) {
    const std::string key = Lower(e.key);
    bool ok;
    if (key == "client_cert") {
      ok = String(e, o_.tls_client_cert);
    } else if (key == "client_key") {
      ok = String(e, o_.tls_client_key);
    } else if (key == "client_ca" || key == "client_cacert") {
      ok = String(e, o_.tls_client_ca);
    } else {
      ok = Unknown(e);
    }
    if (!ok) return false;
  }
  return true;
}

bool Mapper::ChannelLimits(const MapEntry& e, const std::string& key, store::ChannelLimits& cl,
                           bool global, bool& known) {
  known = true;
  // A per-channel 0 means "unlimited" in the file; in ChannelLimits it means "inherit".
  auto fix = [&](auto& v) {
    using T = std::remove_reference_t<decltype(v)>;
    if (!global && v == T{}) v = T(-1);
  };
  bool ok = true;
  if (OneOf(key, {"msu", "max_subs", "max_subscriptions", "maxsubscriptions"})) {
    ok = Int(e, cl.max_subscriptions);
    fix(cl.max_subscriptions);
  } else if (OneOf(key, {"mm", "max_msgs", "maxmsgs", "max_count", "maxcount"})) {
    ok = Int(e, cl.max_msgs);
    fix(cl.max_msgs);
  } else if (OneOf(key, {"mb", "max_bytes", "maxbytes"})) {
    ok = Int(e, cl.max_bytes);
    fix(cl.max_bytes);
  } else if (OneOf(key, {"ma", "max_age", "maxage"})) {
    ok = Duration(e, cl.max_age);
    if (!global && cl.max_age.count() == 0) cl.max_age = std::chrono::nanoseconds(-1);
  } else if (OneOf(key, {"mi", "max_inactivity", "maxinactivity"})) {
    ok = Duration(e, cl.max_inactivity);
    if (!global && cl.max_inactivity.count() == 0) cl.max_inactivity = std::chrono::nanoseconds(-1);
  } else {
    known = false;
  }
  return ok;
}

bool Mapper::StoreLimits(const Value& block) {
  for (const MapEntry& e : block.AsMap()) {
    const std::string key = Lower(e.key);
    bool ok;
    if (OneOf(key, {"mc", "max_channels", "maxchannels"})) {
      ok = Int(e, o_.store.limits.max_channels);
    } else if (OneOf(key, {"channels", "channels_limits", "channelslimits", "per_channel",
                           "per_channel_limits"})) {
      ok = Map(e, "per channel limits") && PerChannel(e.value);
    } else {
      bool known = false;
      ok = ChannelLimits(e, key, o_.store.limits.global, true, known);
      if (ok && !known) ok = Unknown(e);
    }
    if (!ok) return false;
  }
  return true;
}

bool Mapper::PerChannel(const Value& block) {
  for (const MapEntry& ch : block.AsMap()) {
    if (!Map(ch, "channel limits")) return false;
    if (!store::IsChannelNameValid(ch.key, true)) {
      return Fail(ch.key_position, "invalid channel name \"" + ch.key + "\"");
    }
    store::ChannelLimits cl{};
    for (const MapEntry& e : ch.value.AsMap()) {
      bool known = false;
      if (!ChannelLimits(e, Lower(e.key), cl, false, known)) return false;
      if (!known && !Unknown(e)) return false;
    }
    o_.store.limits.per_channel[ch.key] = cl;
  }
  return true;
}

bool Mapper::SqlOptions(const Value& block) {
  store::SqlStoreOptions& q = o_.store.sql;
  for (const MapEntry& e : block.AsMap()) {
    const std::string key = Lower(e.key);
    bool ok;
    if (key == "driver") {
      ok = String(e, q.driver);
    } else if (key == "source") {
      ok = String(e, q.source);
    } else if (key == "no_caching") {
      ok = Bool(e, q.no_caching);
    } else if (key == "max_open_conns") {
      ok = Int(e, q.max_open_conns);
    } else if (key == "bulk_insert_limit") {
      ok = Int(e, q.bulk_insert_limit);
    } else {
      ok = Unknown(e);
    }
    if (!ok) return false;
  }
  return true;
}

bool Mapper::Cluster(const Value& block) {
  ClusterOptions& c = o_.cluster;
  // A `cluster {}` block turns clustering on, as the reference's.
  c.clustered = true;
  for (const MapEntry& e : block.AsMap()) {
    const std::string key = Lower(e.key);
    bool ok = true;
    if (key == "node_id") {
      ok = String(e, c.node_id);
    } else if (key == "bootstrap") {
      ok = Bool(e, c.bootstrap);
    } else if (key == "peers") {
      c.peers.clear();
      if (e.value.IsArray()) {
        for (const Value& v : e.value.AsArray()) {
          if (!v.IsString()) return Fail(v.position(), "peers must be strings");
          c.peers.push_back(v.AsString());
        }
      } else {
        std::string one;
        ok = String(e, one);
        if (ok && !one.empty()) c.peers.push_back(one);
      }
    } else if (key == "log_path") {
      ok = String(e, c.log_path);
    } else if (key == "sync") {
      ok = Bool(e, c.sync);
    } else if (key == "raft_logging") {
      ok = Bool(e, c.raft_logging);
    } else if (key == "raft_listen") {
      ok = String(e, c.raft_listen);
    } else if (key == "trailing_logs") {
      ok = Int(e, c.trailing_logs);
    } else if (key == "snapshot_threshold") {
      ok = Int(e, c.snapshot_threshold);
    } else if (key == "raft_election_timeout" || key == "raft_heartbeat_timeout") {
      std::chrono::nanoseconds d{0};
      ok = Duration(e, d);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
      (key == "raft_election_timeout" ? c.election_timeout : c.heartbeat_timeout) = ms;
    } else if (OneOf(key, {"raft_lease_timeout", "raft_commit_timeout"})) {
      std::chrono::nanoseconds ignored{0};  // hashicorp/raft's knobs: libraft has no such timer
      ok = Duration(e, ignored);
    } else if (OneOf(key, {"log_cache_size", "log_snapshots", "allow_add_remove_node",
                           "proceed_on_restore_failure", "bolt_free_list_sync",
                           "bolt_free_list_map", "nodes_connections"})) {
      ok = NotYet(e);
    } else {
      ok = Unknown(e);
    }
    if (!ok) return false;
  }
  return true;
}

bool Mapper::FileOptions(const Value& block) {
  store::FileStoreOptions& f = o_.store.file;
  for (const MapEntry& e : block.AsMap()) {
    const std::string key = Lower(e.key);
    bool ok;
    if (OneOf(key, {"compact", "compact_enabled"})) {
      ok = Bool(e, f.compact_enabled);
    } else if (OneOf(key, {"compact_frag", "compact_fragmentation"})) {
      ok = Int(e, f.compact_fragmentation);
    } else if (key == "compact_interval") {
      ok = Int(e, f.compact_interval);
    } else if (key == "compact_min_size") {
      ok = Int(e, f.compact_min_file_size);
    } else if (key == "buffer_size") {
      ok = Int(e, f.buffer_size);
    } else if (OneOf(key, {"crc", "do_crc"})) {
      ok = Bool(e, f.do_crc);
    } else if (key == "crc_poly") {
      ok = Int(e, f.crc_polynomial);
    } else if (OneOf(key, {"sync", "do_sync", "sync_on_flush"})) {
      ok = Bool(e, f.do_sync);
    } else if (OneOf(key, {"slice_max_msgs", "slice_max_count", "slice_msgs", "slice_count"})) {
      ok = Int(e, f.slice_max_msgs);
    } else if (OneOf(key, {"slice_max_bytes", "slice_max_size", "slice_bytes", "slice_size"})) {
      ok = Int(e, f.slice_max_bytes);
    } else if (OneOf(key, {"slice_max_age", "slice_age", "slice_max_time", "slice_time_limit"})) {
      ok = Duration(e, f.slice_max_age);
    } else if (OneOf(key, {"slice_archive_script", "slice_archive", "slice_script"})) {
      ok = String(e, f.slice_archive_script);
    } else if (OneOf(key, {"file_descriptors_limit", "fds_limit"})) {
      ok = Int(e, f.file_descriptors_limit);
    } else if (key == "parallel_recovery") {
      ok = Int(e, f.parallel_recovery);
    } else if (key == "read_buffer_size") {
      ok = Int(e, f.read_buffer_size);
    } else if (key == "auto_sync") {
      ok = Duration(e, f.auto_sync);
    } else if (OneOf(key, {"truncate_bad_eof", "truncate_unexpected_eof"})) {
      ok = Bool(e, f.truncate_unexpected_eof);
    } else {
      ok = Unknown(e);
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> StreamingTopLevelKeys() {
  return {"streaming",
          "id",
          "cid",
          "cluster_id",
          "discover_prefix",
          "st",
          "store_type",
          "store",
          "storetype",
          "dir",
          "datastore",
          "sd",
          "stan_debug",
          "sv",
          "stan_trace",
          "ns",
          "nats_server",
          "nats_server_url",
          "secure",
          "limits",
          "store_limits",
          "storelimits",
          "file",
          "file_options",
          "sql",
          "sql_options",
          "hbi",
          "hb_interval",
          "server_to_client_hb_interval",
          "hbt",
          "hb_timeout",
          "server_to_client_hb_timeout",
          "hbf",
          "hb_fail_count",
          "server_to_client_hb_fail_count",
          "ft_group",
          "ft_group_name",
          "partitioning",
          "replace_durable",
          "encrypt",
          "encryption_cipher",
          "encryption_key",
          "io_batch_size",
          "io_sleep_time"};
}

std::optional<std::string> ApplyStreamingConfig(const Value& root, StreamingOptions& opts) {
  Mapper m(opts);
  const MapEntry* block = nullptr;
  for (const MapEntry& e : root.AsMap()) {
    if (Lower(e.key) == "streaming") block = &e;
  }
  if (block) {
    if (!block->value.IsMap()) {
      return block->value.position().ToString() +
             ": expected streaming section to be a map/struct, got " + GoKind(block->value);
    }
    for (const MapEntry& e : block->value.AsMap()) {
      bool known = false;
      if (!m.Top(e, known)) return m.error;
      if (!known && !m.Unknown(e)) return m.error;
    }
    return std::nullopt;
  }
  // No block: the streaming keys of the top level; the others (and `tls`, which is the NATS
  // server's there) are the NATS server's.
  for (const MapEntry& e : root.AsMap()) {
    if (Lower(e.key) == "tls") continue;
    bool known = false;
    if (!m.Top(e, known)) return m.error;
  }
  return std::nullopt;
}

std::optional<std::string> ValidateClusterOptions(StreamingOptions& opts) {
  ClusterOptions& c = opts.cluster;
  if (!c.clustered) return std::nullopt;
  if (!opts.ft_group.empty()) return "cannot use fault tolerance with clustering (--ft_group)";
  if (opts.store.type == "MEMORY") return "clustering requires a FILE or SQL store";
  if (c.bootstrap && !c.peers.empty()) {
    return "cannot bootstrap the cluster (--cluster_bootstrap) and give its peers "
           "(--cluster_peers) at the same time";
  }
  if (c.node_id.empty() && !c.peers.empty()) {
    return "--cluster_node_id is required with --cluster_peers";
  }
  if (c.log_path.empty() && opts.store.dir.empty()) {
    // An SQL store with no --dir: the reference's default, <cluster id>/<node id> in the
    // current directory (each node has a database of its own, and a Raft log on disk).
    c.log_path = opts.cluster_id + (c.node_id.empty() ? "" : "/" + c.node_id);
  } else if (c.log_path.empty()) {
    // <dir>/.raft: no channel can be named ".raft" (a channel "raft" keeps its files in
    // <dir>/raft, and deleting it would delete a log kept there). A node whose log is in the
    // earlier default, <dir>/raft, keeps it there.
    std::error_code ec;
    const bool old_layout = std::filesystem::exists(opts.store.dir + "/raft/metadata1", ec) &&
                            !std::filesystem::exists(opts.store.dir + "/.raft", ec);
    c.log_path = opts.store.dir + (old_layout ? "/raft" : "/.raft");
  }
  if (c.snapshot_threshold < 1 || c.snapshot_threshold > UINT32_MAX) {
    return "--cluster_snapshot_threshold must be between 1 and 4294967295";
  }
  if (c.trailing_logs < 0 || c.trailing_logs > UINT32_MAX) {
    return "--cluster_trailing_logs must be between 0 and 4294967295";
  }
  return std::nullopt;
}

std::optional<std::string> LoadStreamingConfig(const std::string& path, StreamingOptions& opts) {
  conf::ParseResult parsed = conf::ParseFile(path);
  if (!parsed.ok()) return parsed.error->ToString();
  return ApplyStreamingConfig(parsed.root, opts);
}

}  // namespace gannet::streaming
