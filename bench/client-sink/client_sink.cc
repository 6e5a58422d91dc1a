// gannet-client-sink: how fast can a client publish? Gannet's client against the official C
// client (libnats), each publishing to a sink: an in-process server that sends INFO, answers
// PINGs and throws everything else away. The sink is far cheaper than a real server, so the
// figure is the client's own publish rate. Runs alternate between the two clients; the median
// of the runs is reported, with the publishing thread's CPU time per message (user and kernel:
// the send calls and the loopback delivery they run), which a busy machine disturbs less than
// the rate.
//
//   gannet-client-sink [--msgs N] [--size BYTES] [--runs R] [--json] [--threads N]
//
// --threads N: N threads publish on the one connection (msgs/N each), to see what the
// connection's lock costs under contention; the CPU figure is then all of them together.
#include <arpa/inet.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../common/discard_sink.h"
#include "gannet/client.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Run {
  double rate;    // msgs/s
  double cpu_ns;  // the publishing thread's CPU time per message
};

double ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Runs `loop(n)` on `threads` threads (n = msgs / threads each; the first also the remainder),
// all publishing on the same connection, then `flush()`. CPU: all publishing threads together.
template <class Loop, class FlushFn>
Run Timed(int threads, int64_t msgs, Loop loop, FlushFn flush) {
  std::atomic<int64_t> cpu_ns{0};
  auto body = [&](int64_t n) {
    double c0 = ThreadCpuNs();
    loop(n);
    cpu_ns += static_cast<int64_t>(ThreadCpuNs() - c0);
  };
  auto start = Clock::now();
  if (threads <= 1) {
    body(msgs);
  } else {
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      int64_t n = msgs / threads + (t == 0 ? msgs % threads : 0);
      ts.emplace_back(body, n);
    }
    for (auto& t : ts) t.join();
  }
  double flush_c0 = ThreadCpuNs();
  flush();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = static_cast<double>(cpu_ns.load()) + (ThreadCpuNs() - flush_c0);
  return {static_cast<double>(msgs) / secs, cpu / static_cast<double>(msgs)};
}

Run RunGannet(const std::string& url, int64_t msgs, const std::string& payload, int threads) {
  auto nc = gannet::client::Connection::Connect(url);
  if (!nc.ok()) {
    std::fprintf(stderr, "gannet client: %s\n", nc.error().c_str());
    std::exit(1);
  }
  Run r = Timed(
      threads, msgs,
      [&](int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          if (nc->Publish("bench.sink", payload) != gannet::client::Status::kOk) std::exit(1);
        }
      },
      [&] {
        if (nc->Flush(std::chrono::seconds(60)) != gannet::client::Status::kOk) std::exit(1);
      });
  nc->Close();
  return r;
}

Run RunLibnats(const std::string& url, int64_t msgs, const std::string& payload, int threads) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) {
    std::fprintf(stderr, "libnats: connect failed\n");
    std::exit(1);
  }
  Run r = Timed(
      threads, msgs,
      [&](int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          if (natsConnection_Publish(nc, "bench.sink", payload.data(),
                                     static_cast<int>(payload.size())) != NATS_OK) {
            std::exit(1);
          }
        }
      },
      [&] {
        if (natsConnection_FlushTimeout(nc, 60000) != NATS_OK) std::exit(1);
      });
  natsConnection_Destroy(nc);
  return r;
}

double Median(std::vector<Run> runs, double Run::*field) {
  std::vector<double> v;
  for (const Run& r : runs) v.push_back(r.*field);
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t msgs = 2000000;
  int64_t size = 16;
  int runs = 5;
  int threads = 1;  // publishing threads sharing the one connection
  bool json = false;
  std::string only;  // "gannet" or "libnats": run one client (for profiling)
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--msgs") {
      msgs = std::atoll(next());
    } else if (a == "--size") {
      size = std::atoll(next());
    } else if (a == "--runs") {
      runs = std::atoi(next());
    } else if (a == "--threads") {
      threads = std::max(1, std::atoi(next()));
    } else if (a == "--only") {
      only = next();
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr,
                   "usage: gannet-client-sink [--msgs N] [--size BYTES] [--runs R] [--json] "
                   "[--only gannet|libnats] [--threads N]\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  gannet::bench::DiscardSink sink(0, gannet::bench::DiscardSink::Mode::kFrames);
  std::string url = "nats://127.0.0.1:" + std::to_string(sink.port());
  std::string payload(static_cast<size_t>(size), 'x');
  std::vector<Run> gannet, libnats;
  if (!only.empty()) {
    for (int r = 0; r < runs; ++r) {
      Run run = only == "gannet" ? RunGannet(url, msgs, payload, threads)
                                 : RunLibnats(url, msgs, payload, threads);
      std::printf("%s: %.0f msgs/s %.1f cpu-ns/msg\n", only.c_str(), run.rate, run.cpu_ns);
    }
    return 0;
  }
  for (int r = 0; r < runs; ++r) {
    if (r % 2 == 0) {
      gannet.push_back(RunGannet(url, msgs, payload, threads));
      libnats.push_back(RunLibnats(url, msgs, payload, threads));
    } else {
      libnats.push_back(RunLibnats(url, msgs, payload, threads));
      gannet.push_back(RunGannet(url, msgs, payload, threads));
    }
  }
  if (!json) {
    std::printf("runs (msgs/s):\n");
    for (size_t i = 0; i < gannet.size(); ++i) {
      std::printf("  %zu: gannet %.0f (%.1f ns)  libnats %.0f (%.1f ns)  (%s first)\n", i + 1,
                  gannet[i].rate, gannet[i].cpu_ns, libnats[i].rate, libnats[i].cpu_ns,
                  i % 2 == 0 ? "gannet" : "libnats");
    }
  }
  double g = Median(gannet, &Run::rate), l = Median(libnats, &Run::rate);
  double gc = Median(gannet, &Run::cpu_ns), lc = Median(libnats, &Run::cpu_ns);
  if (json) {
    std::printf(
        "{\"msgs\":%lld,\"size\":%lld,\"runs\":%d,\"gannet_rate\":%.0f,\"libnats_rate\":%.0f,"
        "\"ratio\":%.3f,\"gannet_cpu_ns\":%.1f,\"libnats_cpu_ns\":%.1f,\"threads\":%d}\n",
        static_cast<long long>(msgs), static_cast<long long>(size), runs, g, l, g / l, gc, lc,
        threads);
  } else {
    std::printf(
        "publish to a sink, %lld msgs of %lld B, %d publishing thread(s), median of %d runs:\n",
        static_cast<long long>(msgs), static_cast<long long>(size), threads, runs);
    std::printf(
        "  gannet client: %12.0f msgs/s  %6.1f publisher cpu ns/msg\n"
        "  libnats:       %12.0f msgs/s  %6.1f publisher cpu ns/msg\n"
        "  ratio:         %12.2f         %6.2f\n",
        g, gc, l, lc, g / l, lc / gc);
  }
  nats_Close();
  return 0;
}
