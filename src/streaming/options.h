// The Streaming server's options (the reference's server.Options): defaults as
// nats-streaming-server 0.25's, set from the `streaming {}` block (streaming/config.h) and the
// streaming flags (streaming/command_line.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "streaming/store/store.h"

namespace gannet::streaming {

// The nats-streaming-server release whose behaviour gannet-streaming matches (/serverz
// "version", the startup line).
inline constexpr const char* kCompatibleStreamingVersion = "0.25.6";

inline constexpr const char* kDefaultClusterId = "test-cluster";
inline constexpr const char* kDefaultDiscoverPrefix = "_STAN.discover";

// Raft clustering (--clustered, `cluster {}`): the reference's ClusteringOptions.
struct ClusterOptions {
  bool clustered = false;
  std::string node_id;             // --cluster_node_id: a NUID when empty
  bool bootstrap = false;          // --cluster_bootstrap: a one-node cluster to start with
  std::vector<std::string> peers;  // --cluster_peers: the other nodes' ids
  std::string log_path;            // --cluster_log_path: the Raft log (default <dir>/raft)
  bool sync = false;               // --cluster_sync: the store fsync'd too (the Raft log always is)
  bool raft_logging = false;       // --cluster_raft_logging
  // Gannet's own: the host:port the Raft TCP transport listens on (docs/ARCHITECTURE.md says
  // why Raft has its own port); the other nodes learn it over NATS.
  std::string raft_listen = "127.0.0.1:0";
  std::chrono::milliseconds election_timeout{1000};
  std::chrono::milliseconds heartbeat_timeout{100};
  // Raft snapshots: one every `snapshot_threshold` applied entries (Gannet's own flag; the
  // reference leaves hashicorp/raft's 8192), keeping the last `trailing_logs` entries
  // (--cluster_trailing_logs, the reference's flag, whose default is 10240). Lower defaults
  // than the reference's: an entry here is a whole I/O batch (up to ~1 MB at full rate), and
  // libraft keeps the log it has not truncated in memory.
  int64_t snapshot_threshold = 1024;
  int64_t trailing_logs = 512;
};

struct StreamingOptions {
  std::string cluster_id = kDefaultClusterId;
  std::string discover_prefix = kDefaultDiscoverPrefix;
  store::StoreOptions store;  // type, dir, limits, file options

  bool debug = false;  // -SD
  bool trace = false;  // -SV

  // The NATS server to use (-ns): empty embeds one. A comma-separated list fails over.
  std::string nats_server_url;
  // Credentials and TLS for the connection to NATS (embedded: the server's own user or token
  // when it has one).
  std::string username;
  std::string password;
  std::string token;
  bool secure = false;          // TLS without verifying the server
  std::string tls_client_cert;  // -tls_client_cert
  std::string tls_client_key;   // -tls_client_key
  std::string tls_client_ca;    // -tls_client_cacert

  // Server-to-client heartbeats (-hbi, -hbt, -hbf).
  std::chrono::nanoseconds hb_interval = std::chrono::seconds(30);
  std::chrono::nanoseconds hb_timeout = std::chrono::seconds(10);
  int hb_fail_count = 10;

  // The publish I/O loop: at most this many messages per store batch (--io_batch_size), and
  // how long to wait for more before a batch starts, in microseconds (--io_sleep_time).
  int io_batch_size = 1024;
  int64_t io_sleep_time_us = 0;

  // Fault tolerance (--ft_group): servers of the same group share the store; one is active,
  // the others stand by until its lock is free (store/exclusive_lock.h). Empty: standalone.
  std::string ft_group;

  ClusterOptions cluster;

  // An active durable with the same name is replaced rather than refused (--replace_durable).
  bool replace_durable = false;

  // How long the server waits for the old client's heartbeat answer when a client id that is
  // already registered connects again.
  std::chrono::milliseconds dup_cid_timeout{500};
};

}  // namespace gannet::streaming
