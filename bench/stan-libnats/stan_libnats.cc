// gannet-stan-libnats: Streaming publishers on libnats' stanConnection_* API, to compare with
// Gannet's Streaming client on the same server: one asynchronous publisher with up to --window
// PubAcks in flight (stanConnection_PublishAsync), or --sync-pubs P synchronous publishers on
// one connection each (stanConnection_Publish from P threads).
//
//   gannet-stan-libnats [-s URL] [--cluster ID] [--channel NAME] [--msgs N] [--size B]
//                       [--window W] [--sync-pubs P]
#define NATS_HAS_STREAMING 1
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string url = "nats://127.0.0.1:4222";
  std::string cluster = "test-cluster";
  std::string channel = "libnats";
  long msgs = 1000000;
  int size = 16;
  int window = 16384;
  int sync_pubs = 0;
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
    } else if (k == "--window") {
      a.window = std::atoi(val());
    } else if (k == "--sync-pubs") {
      a.sync_pubs = std::atoi(val());
    } else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      return false;
    }
  }
  return a.msgs > 0 && a.size >= 0 && a.window > 0 && a.sync_pubs >= 0;
}

stanConnection* Connect(const Args& a, const std::string& id, int window) {
  stanConnOptions* opts = nullptr;
  stanConnection* sc = nullptr;
  natsStatus s = stanConnOptions_Create(&opts);
  if (s == NATS_OK) s = stanConnOptions_SetURL(opts, a.url.c_str());
  if (s == NATS_OK) s = stanConnOptions_SetMaxPubAcksInflight(opts, window, 1.0f);
  if (s == NATS_OK) s = stanConnection_Connect(&sc, a.cluster.c_str(), id.c_str(), opts);
  stanConnOptions_Destroy(opts);
  if (s != NATS_OK) {
    std::fprintf(stderr, "connect %s: %s\n", id.c_str(), natsStatus_GetText(s));
    return nullptr;
  }
  return sc;
}

struct AsyncState {
  std::atomic<long> acked{0};
  std::atomic<long> failed{0};
  long total = 0;
  std::mutex mu;
  std::condition_variable cv;
};

void OnAck(const char*, const char* error, void* closure) {
  auto* st = static_cast<AsyncState*>(closure);
  if (error != nullptr) st->failed.fetch_add(1);
  if (st->acked.fetch_add(1) + 1 == st->total) {
    std::lock_guard lk(st->mu);
    st->cv.notify_all();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: gannet-stan-libnats [-s URL] [--cluster ID] [--channel NAME] [--msgs N] "
                 "[--size B] [--window W] [--sync-pubs P]\n");
    return 2;
  }
  const std::string payload(static_cast<size_t>(a.size), 'x');
  long failed = 0;
  if (a.sync_pubs == 0) {
    stanConnection* sc = Connect(a, "libnats-pub", a.window);
    if (sc == nullptr) return 1;
    AsyncState st;
    st.total = a.msgs;
    auto start = Clock::now();
    for (long i = 0; i < a.msgs; ++i) {
      natsStatus s = stanConnection_PublishAsync(sc, a.channel.c_str(), payload.data(),
                                                 static_cast<int>(payload.size()), OnAck, &st);
      if (s != NATS_OK) OnAck(nullptr, natsStatus_GetText(s), &st);
    }
    {
      std::unique_lock lk(st.mu);
      st.cv.wait(lk, [&] { return st.acked.load() >= a.msgs; });
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    failed = st.failed.load();
    std::printf(
        "libnats async publish: %ld msgs of %d B, window %d: %.0f msg/s (%.3f s), %ld "
        "failed\n",
        a.msgs, a.size, a.window, static_cast<double>(a.msgs) / secs, secs, failed);
    stanConnection_Close(sc);
    stanConnection_Destroy(sc);
  } else {
    std::vector<stanConnection*> conns;
    for (int p = 0; p < a.sync_pubs; ++p) {
      stanConnection* sc = Connect(a, "libnats-sync-" + std::to_string(p), a.window);
      if (sc == nullptr) return 1;
      conns.push_back(sc);
    }
    std::atomic<long> next{0};
    std::atomic<long> bad{0};
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int p = 0; p < a.sync_pubs; ++p) {
      threads.emplace_back([&, p] {
        while (next.fetch_add(1, std::memory_order_relaxed) < a.msgs) {
          if (stanConnection_Publish(conns[static_cast<size_t>(p)], a.channel.c_str(),
                                     payload.data(), static_cast<int>(payload.size())) != NATS_OK) {
            bad.fetch_add(1);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    failed = bad.load();
    std::printf(
        "libnats sync publish: %ld msgs of %d B, %d publishers on %d connections: %.0f "
        "msg/s (%.3f s), %ld failed\n",
        a.msgs, a.size, a.sync_pubs, a.sync_pubs, static_cast<double>(a.msgs) / secs, secs, failed);
    for (auto* sc : conns) {
      stanConnection_Close(sc);
      stanConnection_Destroy(sc);
    }
  }
  nats_Close();
  return failed == 0 ? 0 : 1;
}
