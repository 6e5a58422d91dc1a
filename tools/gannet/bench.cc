// gannet bench: core NATS throughput and latency, as `nats bench` measures them.
//
//   pub/sub:  N publishers (one connection each) split --msgs between them; M subscribers
//             (one connection each) each receive every message (fan-out), or share them with
//             --queue. Publisher rates run from the first publish to the flush after the last;
//             subscriber rates from the first message received to the last.
//   request:  N requesters send --msgs requests in turn, one at a time each, to M in-process
//             repliers in a queue group; every round trip is timed for the percentiles.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "bench_report.h"
#include "cli.h"

namespace gannet::cli {

using client::Connection;
using client::Message;
using client::Status;
namespace {

struct Config {
  std::string subject = "gannet.bench";
  int64_t msgs = 100000;
  int64_t size = 128;
  int64_t pubs = 1;
  int64_t subs = 0;
  bool queue = false;
  bool request = false;
  bool json = false;
  bool csv = false;
  bool progress = true;
  std::chrono::milliseconds timeout{10000};  // give up after this long without progress
  client::Options conn;
};

struct Subscriber {
  Connection nc;
  client::Subscription sub;
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> bad_size{0};
  Clock::time_point first{};
  Clock::time_point last{};
};

bool ConnectAll(const Config& c, int64_t n, const std::string& role, std::vector<Connection>* out) {
  for (int64_t i = 0; i < n; ++i) {
    client::Options o = c.conn;
    o.name = "gannet bench " + role + " " + std::to_string(i + 1);
    auto nc = Connection::Connect(o);
    if (!nc.ok()) {
      std::fprintf(stderr, "gannet bench: cannot connect to %s: %s\n", o.servers[0].c_str(),
                   nc.error().c_str());
      return false;
    }
    out->push_back(std::move(*nc));
  }
  return true;
}

int RunPubSub(const Config& c) {
  std::string payload(static_cast<size_t>(c.size), 'g');
  std::vector<Connection> pub_conns;
  std::vector<std::unique_ptr<Subscriber>> subs;
  // With a queue group the members share the messages; otherwise each gets them all.
  const int64_t per_sub = c.queue ? 0 : c.msgs;
  std::atomic<int64_t> delivered{0};
  for (int64_t i = 0; i < c.subs; ++i) {
    std::vector<Connection> one;
    if (!ConnectAll(c, 1, "sub", &one)) return 1;
    auto s = std::make_unique<Subscriber>();
    s->nc = std::move(one[0]);
    Subscriber* sp = s.get();
    // The clock is read at the first message, every 64th, this subscriber's last and the
    // run's last (gannet-loadgen does the same): a clock read per message costs as much as the
    // rest of the handler.
    const int64_t total = c.queue ? c.msgs : c.msgs * c.subs;
    auto handler = [sp, &delivered, size = c.size, per_sub, total](Message& m) {
      if (static_cast<int64_t>(m.data().size()) != size) sp->bad_size.fetch_add(1);
      int64_t n = sp->received.load(std::memory_order_relaxed) + 1;
      int64_t t = delivered.fetch_add(1, std::memory_order_relaxed) + 1;
      if (n == 1 || (n & 63) == 0 || n == per_sub || t == total) {
        auto now = Clock::now();
        if (n == 1) sp->first = now;
        sp->last = now;
      }
      sp->received.fetch_add(1, std::memory_order_relaxed);
    };
    auto sub = c.queue ? s->nc.QueueSubscribe(c.subject, "gannet-bench", handler)
                       : s->nc.Subscribe(c.subject, handler);
    if (!sub.ok()) {
      std::fprintf(stderr, "gannet bench: subscribe: %s\n", sub.error().c_str());
      return 1;
    }
    // The benchmark must not drop: lift the client-side pending limits.
    sub->SetPendingLimits(int64_t{1} << 40, int64_t{1} << 50);
    s->sub = std::move(*sub);
    if (s->nc.Flush(std::chrono::seconds(10)) != Status::kOk) {
      std::fprintf(stderr, "gannet bench: subscriber flush failed\n");
      return 1;
    }
    subs.push_back(std::move(s));
  }
  if (!ConnectAll(c, c.pubs, "pub", &pub_conns)) return 1;

  const int64_t expected = c.subs == 0 ? 0 : (c.queue ? c.msgs : c.msgs * c.subs);
  std::atomic<int64_t> published{0};
  std::vector<ClientResult> pub_results(static_cast<size_t>(c.pubs));
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  std::string first_error;
  std::mutex err_mu;
  {
    Progress progress(c.progress && !c.json && !c.csv, c.subs ? "sub" : "pub",
                      c.subs ? expected : c.msgs, c.subs ? delivered : published);
    for (int64_t p = 0; p < c.pubs; ++p) {
      int64_t share = c.msgs / c.pubs + (p == 0 ? c.msgs % c.pubs : 0);
      threads.emplace_back([&, p, share] {
        Connection& nc = pub_conns[static_cast<size_t>(p)];
        ClientResult& r = pub_results[static_cast<size_t>(p)];
        r.start = Clock::now();
        for (int64_t i = 0; i < share; ++i) {
          Status st = nc.Publish(c.subject, payload);
          if (st != Status::kOk) {
            errors.fetch_add(1);
            std::lock_guard lk(err_mu);
            if (first_error.empty())
              first_error = std::string("publish: ") + client::StatusText(st);
            break;
          }
          if ((i & 1023) == 1023) published.fetch_add(1024, std::memory_order_relaxed);
        }
        Status st = nc.Flush(std::chrono::seconds(60));
        if (st != Status::kOk) {
          errors.fetch_add(1);
          std::lock_guard lk(err_mu);
          if (first_error.empty()) first_error = std::string("flush: ") + client::StatusText(st);
        }
        r.end = Clock::now();
        r.msgs = share;
        published.fetch_add(share & 1023);
      });
    }
    for (auto& t : threads) t.join();
    // Wait for the subscribers, giving up after --timeout without progress.
    int64_t last_seen = -1;
    auto last_change = Clock::now();
    while (c.subs > 0) {
      int64_t got = delivered.load();
      if (got >= expected) break;
      if (got != last_seen) {
        last_seen = got;
        last_change = Clock::now();
      } else if (Clock::now() - last_change > c.timeout) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling a counter, not a race
    }
  }
  std::vector<ClientResult> sub_results;
  int64_t received = 0;
  int64_t bad_size = 0;
  for (auto& s : subs) {
    s->nc.Close();  // joins the dispatcher: first/last are final
    ClientResult r;
    r.msgs = s->received.load();
    r.start = s->first;
    r.end = s->last;
    received += r.msgs;
    bad_size += s->bad_size.load();
    if (r.msgs > 0) sub_results.push_back(r);
  }
  for (auto& nc : pub_conns) nc.Close();

  GroupStats pg = Summarize(pub_results);
  GroupStats sg = Summarize(sub_results);
  int64_t lost = expected > received ? expected - received : 0;
  bool ok = errors.load() == 0 && lost == 0 && bad_size == 0 && received <= expected;
  const char* mode = c.subs == 0 ? "pub" : (c.queue ? "queue" : (c.subs > 1 ? "fanout" : "pubsub"));
  double headline = c.subs == 0 ? pg.rate : sg.rate;

  if (c.json) {
    std::printf("{\"mode\":\"%s\",\"ok\":%s,\"subject\":\"%s\",\"msgs\":%" PRId64
                ",\"size\":%" PRId64 ",\"pubs\":%" PRId64 ",\"subs\":%" PRId64
                ",\"rate\":%.1f,\"mib_s\":%.2f,\"pub_rate\":%.1f,"
                "\"sub_rate\":%.1f,\"pub_secs\":%.4f,\"sub_secs\":%.4f,\"expected\":%" PRId64
                ",\"received\":%" PRId64 ",\"lost\":%" PRId64 ",\"bad_size\":%" PRId64
                ",\"errors\":%d,\"error\":\"%s\",\"pub_clients\":%s,\"sub_clients\":%s}\n",
                mode, ok ? "true" : "false", c.subject.c_str(), c.msgs, c.size, c.pubs, c.subs,
                headline, MiB(headline, c.size), pg.rate, sg.rate, pg.secs, sg.secs, expected,
                received, lost, bad_size, errors.load(), first_error.c_str(),
                JsonClients(pub_results).c_str(), JsonClients(sub_results).c_str());
    return ok ? 0 : 2;
  }
  if (c.csv) {
    PrintCsv(pub_results, sub_results, c.size);
    return ok ? 0 : 2;
  }
  if (c.subs > 0 && c.pubs > 0) {
    double total = pg.rate + sg.rate;
    std::printf("\nNATS Pub/Sub stats: %s msgs/sec ~ %.2f MiB/sec\n", Commas(total).c_str(),
                MiB(total, c.size));
  } else {
    std::printf("\n");
  }
  if (c.pubs > 0) PrintGroup("Pub", pg, pub_results, c.size);
  if (c.subs > 0) PrintGroup("Sub", sg, sub_results, c.size);
  if (lost > 0) std::printf(" LOST: %s messages\n", Commas(static_cast<double>(lost)).c_str());
  if (bad_size > 0) std::printf(" WRONG SIZE: %" PRId64 " messages\n", bad_size);
  if (!first_error.empty()) std::printf(" ERROR: %s\n", first_error.c_str());
  return ok ? 0 : 2;
}

int RunRequestReply(const Config& c) {
  std::string payload(static_cast<size_t>(c.size), 'g');
  std::vector<Connection> repliers;
  int64_t nrep = std::max<int64_t>(c.subs, 1);
  if (!ConnectAll(c, nrep, "reply", &repliers)) return 1;
  for (auto& r : repliers) {
    Connection* rc = &r;
    auto sub = r.QueueSubscribe(c.subject, "gannet-bench-reply",
                                [rc](Message& m) { rc->Respond(m, m.data()); });
    if (!sub.ok() || r.Flush(std::chrono::seconds(10)) != Status::kOk) {
      std::fprintf(stderr, "gannet bench: replier setup failed\n");
      return 1;
    }
  }
  std::vector<Connection> requesters;
  if (!ConnectAll(c, c.pubs, "request", &requesters)) return 1;
  std::vector<std::vector<double>> lat(static_cast<size_t>(c.pubs));
  std::vector<ClientResult> results(static_cast<size_t>(c.pubs));
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> errors{0};
  std::mutex err_mu;
  std::string first_error;
  {
    Progress progress(c.progress && !c.json && !c.csv, "req", c.msgs, done);
    std::vector<std::thread> threads;
    for (int64_t p = 0; p < c.pubs; ++p) {
      int64_t share = c.msgs / c.pubs + (p == 0 ? c.msgs % c.pubs : 0);
      threads.emplace_back([&, p, share] {
        auto& l = lat[static_cast<size_t>(p)];
        l.reserve(static_cast<size_t>(share));
        ClientResult& r = results[static_cast<size_t>(p)];
        r.start = Clock::now();
        for (int64_t i = 0; i < share; ++i) {
          auto t0 = Clock::now();
          auto rep = requesters[static_cast<size_t>(p)].Request(c.subject, payload, c.timeout);
          auto t1 = Clock::now();
          if (!rep.ok()) {
            errors.fetch_add(1);
            std::lock_guard lk(err_mu);
            if (first_error.empty()) first_error = rep.error();
            continue;
          }
          l.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
          ++r.msgs;
          done.fetch_add(1, std::memory_order_relaxed);
        }
        r.end = Clock::now();
      });
    }
    for (auto& t : threads) t.join();
  }
  for (auto& r : requesters) r.Close();
  for (auto& r : repliers) r.Close();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  double mean = 0;
  for (double v : all) mean += v;
  mean = all.empty() ? 0 : mean / static_cast<double>(all.size());
  GroupStats g = Summarize(results);
  bool ok = errors.load() == 0 && static_cast<int64_t>(all.size()) == c.msgs;
  double p50 = Percentile(all, 50), p90 = Percentile(all, 90), p99 = Percentile(all, 99),
         p999 = Percentile(all, 99.9), mx = all.empty() ? 0 : all.back();
  if (c.json) {
    std::printf("{\"mode\":\"reqrep\",\"ok\":%s,\"subject\":\"%s\",\"requests\":%" PRId64
                ",\"size\":%" PRId64 ",\"pubs\":%" PRId64 ",\"subs\":%" PRId64
                ",\"completed\":%zu,\"errors\":%" PRId64
                ",\"rate\":%.1f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
                "\"max_us\":%.2f,\"mean_us\":%.2f,\"error\":\"%s\",\"clients\":%s}\n",
                ok ? "true" : "false", c.subject.c_str(), c.msgs, c.size, c.pubs, nrep, all.size(),
                errors.load(), g.rate, p50, p90, p99, p999, mx, mean, first_error.c_str(),
                JsonClients(results).c_str());
    return ok ? 0 : 2;
  }
  if (c.csv) {
    PrintCsv(results, {}, c.size);
    return ok ? 0 : 2;
  }
  std::printf("\nNATS Request/Reply stats: %s requests/sec ~ %.2f MiB/sec\n",
              Commas(g.rate).c_str(), MiB(g.rate, c.size));
  if (results.size() > 1) PrintGroup("Requester", g, results, c.size);
  std::printf(" Latency (us): p50 %.1f | p90 %.1f | p99 %.1f | p99.9 %.1f | max %.1f | mean %.1f\n",
              p50, p90, p99, p999, mx, mean);
  if (errors.load() > 0) {
    std::printf(" ERRORS: %" PRId64 " requests failed (first: %s)\n", errors.load(),
                first_error.c_str());
  }
  return ok ? 0 : 2;
}

}  // namespace

int RunBench(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet bench [options] [SUBJECT]\n"
      "  -s, --server URL     server (default $NATS_URL or nats://127.0.0.1:4222)\n"
      "  --user U --password P | --token T   credentials\n"
      "  --msgs N             messages (or requests) in all, split between publishers\n"
      "                       (default 100000; 1k, 1m suffixes)\n"
      "  --size BYTES         payload size (default 128)\n"
      "  --pub N              publishers / requesters, one connection each (default 1)\n"
      "  --sub M              subscribers / repliers, one connection each (default 0;\n"
      "                       with --request, 1)\n"
      "  --queue              subscribers form one queue group: each message reaches one\n"
      "  --request            request/reply: time each round trip (p50 p90 p99 p99.9 max)\n"
      "  --timeout D          give up after D without progress (default 10s)\n"
      "  --json | --csv       machine-readable output\n"
      "  --no-progress        no progress bar\n"
      "exit status: 0 ok, 1 setup failed, 2 messages lost or errors seen\n";
  Args args;
  std::string err;
  std::vector<std::string> with = kConnectOptions;
  for (const char* s : {"msgs", "size", "pub", "sub", "timeout", "subject"}) with.emplace_back(s);
  if (!args.Parse(argc, argv, 2, with, {"queue", "request", "json", "csv", "no-progress", "help"},
                  kConnectAliases, &err)) {
    std::fprintf(stderr, "gannet bench: %s\n", err.c_str());
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  Config c;
  if (args.positional().size() > 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!args.positional().empty()) c.subject = args.positional()[0];
  c.subject = args.Get("subject", c.subject);
  c.request = args.Has("request");
  if (!args.GetCount("msgs", 100000, &c.msgs, &err) || !args.GetCount("size", 128, &c.size, &err) ||
      !args.GetCount("pub", 1, &c.pubs, &err) ||
      !args.GetCount("sub", c.request ? 1 : 0, &c.subs, &err) ||
      !args.GetDuration("timeout", std::chrono::seconds(10), &c.timeout, &err)) {
    std::fprintf(stderr, "gannet bench: %s\n", err.c_str());
    return 2;
  }
  if (c.pubs < 1 || c.msgs < 1) {
    std::fprintf(stderr, "gannet bench: --pub and --msgs must be at least 1\n");
    return 2;
  }
  c.queue = args.Has("queue");
  c.json = args.Has("json");
  c.csv = args.Has("csv");
  c.progress = !args.Has("no-progress");
  c.conn = ConnectOptionsFrom(args, "gannet bench");
  c.conn.pending_msgs_limit = int64_t{1} << 40;
  c.conn.pending_bytes_limit = int64_t{1} << 50;
  if (!c.json && !c.csv) {
    std::printf("Starting Core NATS %s benchmark [subject=%s, msgs=%s, msgsize=%" PRId64
                " B, pubs=%" PRId64 ", subs=%" PRId64 "%s]\n",
                c.request ? "request/reply" : "pub/sub", c.subject.c_str(),
                Commas(static_cast<double>(c.msgs)).c_str(), c.size, c.pubs,
                c.request ? std::max<int64_t>(c.subs, 1) : c.subs, c.queue ? ", queue" : "");
  }
  return c.request ? RunRequestReply(c) : RunPubSub(c);
}

}  // namespace gannet::cli
