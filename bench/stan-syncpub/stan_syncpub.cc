// gannet-stan-syncpub: P synchronous publishers, each publishing one message at a time and
// waiting for its PubAck before the next (Connection::Publish), spread over C Streaming
// connections (default one each), for a fixed number of messages. Reports messages per second
// and the publish latency percentiles. With the FILE store and file_sync, the rate shows
// whether publishes share fsyncs (group commit) or pay one each.
//
//   gannet-stan-syncpub [-s URL] [--cluster ID] [--channel NAME] [--msgs N] [--size B]
//                       [--pubs P] [--conns C]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gannet/client/streaming.h"

namespace stan = gannet::client::streaming;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string url = "nats://127.0.0.1:4222";
  std::string cluster = "test-cluster";
  std::string channel = "syncpub";
  long msgs = 100000;
  int size = 16;
  int pubs = 100;
  int conns = 0;  // 0: one per publisher
};

bool ParseArgs(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "-s" || k == "--server") {
      a.url = val();
    } else if (k == "--cluster") {
      a.cluster = val();
    } else if (k == "--channel") {
      a.channel = val();
    } else if (k == "--msgs") {
      a.msgs = std::atol(val());
    } else if (k == "--size") {
      a.size = std::atoi(val());
    } else if (k == "--pubs") {
      a.pubs = std::atoi(val());
    } else if (k == "--conns") {
      a.conns = std::atoi(val());
    } else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      return false;
    }
  }
  if (a.conns <= 0 || a.conns > a.pubs) a.conns = a.pubs;
  return a.msgs > 0 && a.pubs > 0 && a.size >= 0;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()));
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: gannet-stan-syncpub [-s URL] [--cluster ID] [--channel NAME] [--msgs N] "
                 "[--size B] [--pubs P] [--conns C]\n");
    return 2;
  }
  std::vector<stan::Connection> conns;
  for (int c = 0; c < a.conns; ++c) {
    stan::Options o;
    o.cluster_id = a.cluster;
    o.client_id = "syncpub-" + std::to_string(c);
    o.nats_options.servers = {a.url};
    auto sc = stan::Connection::Connect(o);
    if (!sc) {
      std::fprintf(stderr, "connect %d: %s\n", c, sc.error().c_str());
      return 1;
    }
    conns.push_back(std::move(*sc));
  }
  const std::string payload(static_cast<size_t>(a.size), 'x');
  std::vector<std::vector<double>> lat(static_cast<size_t>(a.pubs));
  std::atomic<long> next{0};
  std::atomic<long> failed{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int p = 0; p < a.pubs; ++p) {
    threads.emplace_back([&, p] {
      stan::Connection& sc = conns[static_cast<size_t>(p % a.conns)];
      auto& l = lat[static_cast<size_t>(p)];
      // The publishers take the messages from one counter: all stay busy until the end.
      while (next.fetch_add(1, std::memory_order_relaxed) < a.msgs) {
        auto t0 = Clock::now();
        auto r = sc.Publish(a.channel, payload);
        l.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!r) failed.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "sync publish: %ld msgs of %d B, %d publishers on %d connection(s): %.0f msg/s "
      "(%.3f s), %ld failed; latency us p50 %.0f p90 %.0f p99 %.0f max %.0f\n",
      a.msgs, a.size, a.pubs, a.conns, static_cast<double>(a.msgs) / secs, secs, failed.load(),
      Percentile(all, 50), Percentile(all, 90), Percentile(all, 99), all.empty() ? 0 : all.back());
  for (auto& sc : conns) sc.Close();
  return failed.load() == 0 ? 0 : 1;
}
