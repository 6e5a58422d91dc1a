// gannet stream bench: NATS Streaming throughput and publish-ack latency.
//
//   N publishers (one Streaming connection each) split --msgs between them, asynchronously with
//   up to --window acks outstanding each (or --sync: one at a time). A publisher's rate runs
//   from its first publish to its last PubAck; each publish's ack latency (publish call to ack)
//   goes into the percentiles. M subscribers (one connection each, auto-ack, new messages only)
//   each receive every message: their rate runs from the first message received to the last.
#include <algorithm>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "bench_report.h"
#include "stream.h"

namespace gannet::cli {

namespace stan = client::streaming;

namespace {

struct Config {
  std::string channel = "gannet.bench";
  int64_t msgs = 100000;
  int64_t size = 128;
  int64_t pubs = 1;
  int64_t subs = 0;
  int64_t window = 16384;
  int64_t sub_inflight = 16384;
  bool sync = false;
  bool json = false;
  bool progress = true;
  std::chrono::milliseconds timeout{10000};
  stan::Options conn;
};

// One publisher's run. The ack handlers run on the connection's control thread, one at a
// time: they write latency_us and last_ack, which the publisher reads once `acked` reached
// `share` (the release/acquire on `acked` orders them).
struct Publisher {
  stan::Connection sc;
  int64_t share = 0;
  std::atomic<int64_t>* progress = nullptr;
  std::vector<Clock::time_point> sent;
  std::vector<double> latency_us;
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> failed{0};
  // Atomic: a publish that fails at once is counted from the publisher's thread too.
  std::atomic<Clock::rep> last_ack{0};
  std::mutex mu;  // first_error, and the wake-up at the end
  std::condition_variable cv;
  std::string first_error;
  ClientResult result;

  void Acked(size_t idx, const stan::Outcome& r) {
    auto now = Clock::now();
    latency_us[idx] = std::chrono::duration<double, std::micro>(now - sent[idx]).count();
    last_ack.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    progress->fetch_add(1, std::memory_order_relaxed);
    if (!r.ok()) Failed(r.error());
    if (acked.fetch_add(1, std::memory_order_acq_rel) + 1 == share) {
      std::lock_guard lk(mu);
      cv.notify_all();
    }
  }
  void Failed(const std::string& error) {
    std::lock_guard lk(mu);
    if (failed.fetch_add(1) == 0) first_error = error;
  }
};

struct Subscriber {
  stan::Connection sc;
  stan::Subscription sub;
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> bad_size{0};
  Clock::time_point first{};
  Clock::time_point last{};
};

stan::Connection ConnectRole(const Config& c, const std::string& role, int64_t i) {
  stan::Options o = c.conn;
  o.client_id = c.conn.client_id + "-" + role + "-" + std::to_string(i + 1);
  o.max_pub_acks_in_flight = static_cast<int>(c.window);
  return StreamConnectOrReport(o);
}

void RunPublisher(const Config& c, Publisher& p, const std::string& payload) {
  p.sent.resize(static_cast<size_t>(p.share));
  p.latency_us.resize(static_cast<size_t>(p.share));
  p.result.start = Clock::now();
  for (int64_t i = 0; i < p.share; ++i) {
    auto idx = static_cast<size_t>(i);
    p.sent[idx] = Clock::now();
    if (c.sync) {
      p.Acked(idx, p.sc.Publish(c.channel, payload));
      continue;
    }
    Publisher* pp = &p;  // two words: the handler fits std::function's inline storage
    auto guid = p.sc.PublishAsync(
        c.channel, payload,
        [pp, idx](const std::string&, const stan::Outcome& r) { pp->Acked(idx, r); });
    if (!guid.ok()) p.Acked(idx, stan::Outcome(guid.status(), guid.detail()));
  }
  std::unique_lock lk(p.mu);
  // PubAcks that never come time out in the client (pub_ack_wait), so this ends.
  p.cv.wait(lk, [&] { return p.acked.load(std::memory_order_acquire) >= p.share; });
  p.result.end = Clock::time_point(Clock::duration(p.last_ack.load()));
  p.result.msgs = p.share - p.failed.load();
}

}  // namespace

int RunStreamBench(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet stream bench [options] [CHANNEL]\n"
      "  --msgs N             messages in all, split between publishers (default 100000)\n"
      "  --size BYTES         payload size (default 128)\n"
      "  --pub N              publishers, one Streaming connection each (default 1)\n"
      "  --sub M              subscribers, one connection each, each receiving every message\n"
      "                       (default 0)\n"
      "  --window W           publish acks outstanding per publisher (default 16384)\n"
      "  --sync               publish synchronously: one message at a time per publisher\n"
      "  --max-inflight N     subscribers' max in flight (default 16384)\n"
      "  --timeout D          give up after D without progress (default 10s)\n"
      "  --json               machine-readable output\n"
      "  --no-progress        no progress bar\n"
      "  --cluster-id ID --client-id PREFIX --connect-wait D, -s/--server URL, credentials, TLS\n"
      "exit status: 0 ok, 1 setup failed, 2 messages lost or errors seen\n";
  Args args;
  std::string err;
  if (!args.Parse(
          argc, argv, 3,
          StreamOptionsWith({"msgs", "size", "pub", "sub", "window", "max-inflight", "timeout"}),
          {"sync", "json", "no-progress", "help"}, kConnectAliases, &err)) {
    std::fprintf(stderr, "gannet stream bench: %s\n", err.c_str());
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  if (args.positional().size() > 1) return std::fputs(kUsage, stderr), 2;
  Config c;
  if (!args.positional().empty()) c.channel = args.positional()[0];
  if (!args.GetCount("msgs", 100000, &c.msgs, &err) || !args.GetCount("size", 128, &c.size, &err) ||
      !args.GetCount("pub", 1, &c.pubs, &err) || !args.GetCount("sub", 0, &c.subs, &err) ||
      !args.GetCount("window", 16384, &c.window, &err) ||
      !args.GetCount("max-inflight", 16384, &c.sub_inflight, &err) ||
      !args.GetDuration("timeout", std::chrono::seconds(10), &c.timeout, &err) ||
      !StreamOptionsFrom(args, "bench", &c.conn, &err)) {
    std::fprintf(stderr, "gannet stream bench: %s\n", err.c_str());
    return 2;
  }
  if (c.pubs < 1 || c.msgs < 1 || c.window < 1 || c.sub_inflight < 1 || c.subs < 0) {
    std::fprintf(stderr,
                 "gannet stream bench: --pub, --msgs, --window and --max-inflight must be "
                 "at least 1\n");
    return 2;
  }
  c.sync = args.Has("sync");
  c.json = args.Has("json");
  c.progress = !args.Has("no-progress");
  c.conn.nats_options.pending_msgs_limit = int64_t{1} << 40;
  c.conn.nats_options.pending_bytes_limit = int64_t{1} << 50;
  if (!c.json) {
    std::printf("Starting NATS Streaming benchmark [channel=%s, msgs=%s, msgsize=%" PRId64
                " B, pubs=%" PRId64 ", subs=%" PRId64 ", %s]\n",
                c.channel.c_str(), Commas(static_cast<double>(c.msgs)).c_str(), c.size, c.pubs,
                c.subs, c.sync ? "sync" : ("async, window=" + std::to_string(c.window)).c_str());
  }

  std::string payload(static_cast<size_t>(c.size), 'g');
  std::atomic<int64_t> delivered{0};
  std::mutex done_mu;
  std::condition_variable done_cv;
  const int64_t expected = c.msgs * c.subs;
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (int64_t i = 0; i < c.subs; ++i) {
    auto s = std::make_unique<Subscriber>();
    s->sc = ConnectRole(c, "sub", i);
    if (!s->sc.valid()) return 1;
    Subscriber* sp = s.get();
    auto sub = s->sc.Subscribe(
        c.channel,
        [sp, &delivered, &done_mu, &done_cv, expected, size = c.size](stan::Message& m) {
          auto now = Clock::now();
          if (sp->received.load(std::memory_order_relaxed) == 0) sp->first = now;
          sp->last = now;
          if (static_cast<int64_t>(m.data().size()) != size) sp->bad_size.fetch_add(1);
          sp->received.fetch_add(1, std::memory_order_relaxed);
          if (delivered.fetch_add(1, std::memory_order_relaxed) + 1 == expected) {
            std::lock_guard lk(done_mu);
            done_cv.notify_all();
          }
        },
        stan::SubscriptionOptions().MaxInFlight(static_cast<int>(c.sub_inflight)));
    if (!sub.ok()) {
      std::fprintf(stderr, "gannet stream bench: subscribe: %s\n", sub.error().c_str());
      return 1;
    }
    s->sub = std::move(*sub);
    subs.push_back(std::move(s));
  }
  std::atomic<int64_t> acked{0};  // publishes acknowledged, all publishers
  std::vector<std::unique_ptr<Publisher>> pubs;
  for (int64_t i = 0; i < c.pubs; ++i) {
    auto p = std::make_unique<Publisher>();
    p->sc = ConnectRole(c, "pub", i);
    if (!p->sc.valid()) return 1;
    p->share = c.msgs / c.pubs + (i == 0 ? c.msgs % c.pubs : 0);
    p->progress = &acked;
    pubs.push_back(std::move(p));
  }

  {
    Progress progress(c.progress && !c.json, c.subs ? "sub" : "pub", c.subs ? expected : c.msgs,
                      c.subs ? delivered : acked);
    std::vector<std::thread> threads;
    for (auto& p : pubs) {
      threads.emplace_back([&c, &payload, pp = p.get()] { RunPublisher(c, *pp, payload); });
    }
    for (auto& t : threads) t.join();
    // The subscribers: wait while they make progress.
    std::unique_lock lk(done_mu);
    while (c.subs > 0) {
      int64_t before = delivered.load();
      if (before >= expected) break;
      done_cv.wait_for(lk, c.timeout, [&] { return delivered.load() >= expected; });
      if (delivered.load() == before) break;
    }
  }

  std::vector<ClientResult> pub_results, sub_results;
  std::vector<double> latencies;
  int64_t errors = 0;
  std::string first_error;
  for (auto& p : pubs) {
    pub_results.push_back(p->result);
    errors += p->failed.load();
    if (first_error.empty()) first_error = p->first_error;
    latencies.insert(latencies.end(), p->latency_us.begin(), p->latency_us.end());
    p->sc.Close();
  }
  int64_t received = 0, bad_size = 0;
  for (auto& s : subs) {
    s->sc.Close();  // closes its NATS connection, joining the dispatcher: first/last are final
    ClientResult r;
    r.msgs = s->received.load();
    r.start = s->first;
    r.end = s->last;
    received += r.msgs;
    bad_size += s->bad_size.load();
    if (r.msgs > 0) sub_results.push_back(r);
  }
  std::sort(latencies.begin(), latencies.end());
  double mean = 0;
  for (double v : latencies) mean += v;
  mean = latencies.empty() ? 0 : mean / static_cast<double>(latencies.size());
  double p50 = Percentile(latencies, 50), p90 = Percentile(latencies, 90),
         p99 = Percentile(latencies, 99), p999 = Percentile(latencies, 99.9),
         mx = latencies.empty() ? 0 : latencies.back();
  GroupStats pg = Summarize(pub_results);
  GroupStats sg = Summarize(sub_results);
  int64_t lost = expected > received ? expected - received : 0;
  bool ok = errors == 0 && lost == 0 && bad_size == 0;

  if (c.json) {
    std::printf("{\"mode\":\"stream\",\"ok\":%s,\"channel\":\"%s\",\"msgs\":%" PRId64
                ",\"size\":%" PRId64 ",\"pubs\":%" PRId64 ",\"subs\":%" PRId64
                ",\"sync\":%s,\"window\":%" PRId64
                ",\"pub_rate\":%.1f,\"sub_rate\":%.1f,"
                "\"pub_secs\":%.4f,\"sub_secs\":%.4f,\"expected\":%" PRId64 ",\"received\":%" PRId64
                ",\"lost\":%" PRId64 ",\"bad_size\":%" PRId64 ",\"errors\":%" PRId64
                ",\"ack_p50_us\":%.2f,\"ack_p90_us\":%.2f,\"ack_p99_us\":%.2f,"
                "\"ack_p999_us\":%.2f,\"ack_max_us\":%.2f,\"ack_mean_us\":%.2f,\"pub_clients\":%s,"
                "\"sub_clients\":%s}\n",
                ok ? "true" : "false", c.channel.c_str(), c.msgs, c.size, c.pubs, c.subs,
                c.sync ? "true" : "false", c.window, pg.rate, sg.rate, pg.secs, sg.secs, expected,
                received, lost, bad_size, errors, p50, p90, p99, p999, mx, mean,
                JsonClients(pub_results).c_str(), JsonClients(sub_results).c_str());
    return ok ? 0 : 2;
  }
  std::printf("\n");
  PrintGroup("Pub", pg, pub_results, c.size);
  if (c.subs > 0) PrintGroup("Sub", sg, sub_results, c.size);
  std::printf(
      " Ack latency (us): p50 %.1f | p90 %.1f | p99 %.1f | p99.9 %.1f | max %.1f | "
      "mean %.1f\n",
      p50, p90, p99, p999, mx, mean);
  if (lost > 0) std::printf(" LOST: %s messages\n", Commas(static_cast<double>(lost)).c_str());
  if (bad_size > 0) std::printf(" WRONG SIZE: %" PRId64 " messages\n", bad_size);
  if (errors > 0) {
    std::printf(" ERRORS: %" PRId64 " publishes failed (first: %s)\n", errors, first_error.c_str());
  }
  return ok ? 0 : 2;
}

}  // namespace gannet::cli
