// Copies of connection state taken for monitoring: one connection (open or closed), and a
// request that each worker answers with its own connections' copies from its own thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gannet {

struct SubSnapshot {
  std::string subject;
  std::string queue;
  std::string sid;
  uint64_t msgs = 0;
  uint64_t max = 0;
  uint64_t cid = 0;
};

struct ConnSnapshot {
  using WallClock = std::chrono::system_clock;
  uint64_t cid = 0;
  std::string ip;
  int port = 0;
  WallClock::time_point start;
  WallClock::time_point last_activity;
  std::optional<WallClock::time_point> stop;  // closed connections only
  std::string reason;                         // closed connections only
  int64_t rtt_ns = 0;
  int64_t pending_bytes = 0;
  uint64_t in_msgs = 0;
  uint64_t out_msgs = 0;
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  uint32_t num_subs = 0;
  std::string name;
  std::string lang;
  std::string version;
  std::string tls_version;  // "1.3"; empty without TLS
  std::string tls_cipher;
  std::string user;               // the user name it authenticated with, if any
  std::string account;            // the account it belongs to
  std::vector<SubSnapshot> subs;  // filled when asked for (always for closed connections)
};

// Totals a worker adds up for /varz and /subsz: its open connections' counters, the counters
// its closed connections left behind, and its match cache's figures.
struct WorkerTotals {
  uint64_t in_msgs = 0;
  uint64_t in_bytes = 0;
  uint64_t out_msgs = 0;
  uint64_t out_bytes = 0;
  uint64_t cache_entries = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t max_fanout = 0;    // over the cached match results
  uint64_t total_fanout = 0;  // summed over the cached match results

  void Add(const WorkerTotals& o) {
    in_msgs += o.in_msgs;
    in_bytes += o.in_bytes;
    out_msgs += o.out_msgs;
    out_bytes += o.out_bytes;
    cache_entries += o.cache_entries;
    cache_hits += o.cache_hits;
    cache_misses += o.cache_misses;
    max_fanout = std::max(max_fanout, o.max_fanout);
    total_fanout += o.total_fanout;
  }
};

// Posted to every worker; each appends its part on its own thread and counts down. The poster
// waits (with a deadline) on `done`. Shared ownership: a worker may answer after the poster
// gave up waiting.
struct SnapshotRequest {
  bool want_conns = false;
  bool want_subs = false;
  uint64_t only_cid = 0;  // 0: every connection

  std::mutex mu;
  std::condition_variable done;
  size_t workers_left = 0;
  std::vector<ConnSnapshot> conns;
  WorkerTotals totals;
};

}  // namespace gannet
