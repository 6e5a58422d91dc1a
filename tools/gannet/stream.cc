// gannet stream pub | sub: NATS Streaming from the command line (and `bench`, stream_bench.cc).
#include "stream.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <random>

#include "cli.h"

namespace gannet::cli {

namespace stan = client::streaming;

namespace {

const char* kStreamUsage =
    "usage: gannet stream COMMAND [options]\n"
    "\n"
    "NATS Streaming (gannet-streaming, nats-streaming-server):\n"
    "  pub CHANNEL [MSG]   publish and wait for the server's acknowledgement\n"
    "  sub CHANNEL         print a channel's messages (--all, --seq N, --since D, --last,\n"
    "                      --durable NAME, --queue Q)\n"
    "  bench [CHANNEL]     measure publish and publish+subscribe rates and ack latency\n"
    "\n"
    "Each takes --cluster-id ID (default test-cluster), --client-id ID (default a generated\n"
    "one), --connect-wait D (default 2s), --ping-interval D and --ping-max-out N (the\n"
    "connection is lost after N unanswered pings; default 5s and 88), and the NATS connection\n"
    "options of `gannet pub` (-s/--server URL, --user/--password, --token, TLS).\n";

int Usage(const char* text) {
  std::fputs(text, stderr);
  return 2;
}

}  // namespace

std::vector<std::string> StreamOptionsWith(std::vector<std::string> extra) {
  std::vector<std::string> v = kConnectOptions;
  for (const char* s :
       {"cluster-id", "client-id", "connect-wait", "ping-interval", "ping-max-out"}) {
    v.emplace_back(s);
  }
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

std::string GeneratedClientId(const std::string& role) {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", rd());
  return "gannet-" + role + "-" + buf;
}

bool StreamOptionsFrom(const Args& args, const std::string& role, stan::Options* out,
                       std::string* error) {
  stan::Options& o = *out;
  o.nats_options = ConnectOptionsFrom(args, "gannet stream " + role);
  o.cluster_id = args.Get("cluster-id", "test-cluster");
  o.client_id = args.Get("client-id", GeneratedClientId(role));
  std::chrono::milliseconds wait;
  if (!args.GetDuration("connect-wait", std::chrono::seconds(2), &wait, error)) return false;
  o.connect_wait = wait;
  std::chrono::milliseconds ping;
  int64_t max_out = 0;
  if (!args.GetDuration("ping-interval", std::chrono::seconds(5), &ping, error) ||
      !args.GetCount("ping-max-out", 88, &max_out, error)) {
    return false;
  }
  if (ping < std::chrono::seconds(1) || max_out < 1) {
    *error = "--ping-interval must be at least 1s and --ping-max-out at least 1";
    return false;
  }
  o.ping_interval = std::chrono::duration_cast<std::chrono::seconds>(ping);
  o.ping_max_out = static_cast<int>(max_out);
  o.on_connection_lost = [](const std::string& why) {
    std::fprintf(stderr, "%s Connection lost: %s\n", TimeStamp().c_str(), why.c_str());
  };
  return true;
}

stan::Connection StreamConnectOrReport(const stan::Options& o) {
  auto sc = stan::Connection::Connect(o);
  if (!sc.ok()) {
    std::string servers;
    for (const auto& s : o.nats_options.servers) servers += (servers.empty() ? "" : ", ") + s;
    std::fprintf(stderr, "gannet: cannot connect to streaming cluster '%s' at %s: %s\n",
                 o.cluster_id.c_str(), servers.c_str(), sc.error().c_str());
    return stan::Connection();
  }
  return std::move(*sc);
}

int RunStreamPub(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet stream pub [options] CHANNEL [MESSAGE]\n"
      "  --count N            publish N messages (default 1)\n"
      "  --async              publish without waiting for each ack (all are awaited at the end)\n"
      "  --quiet              print nothing on success\n"
      "  --cluster-id ID --client-id ID --connect-wait D, -s/--server URL, credentials, TLS\n"
      "Without MESSAGE, standard input is sent when it is not a terminal.\n";
  Args args;
  std::string err;
  if (!args.Parse(argc, argv, 3, StreamOptionsWith({"count"}), {"async", "quiet", "help"},
                  kConnectAliases, &err)) {
    std::fprintf(stderr, "gannet stream pub: %s\n", err.c_str());
    return Usage(kUsage);
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  if (args.positional().empty() || args.positional().size() > 2) return Usage(kUsage);
  int64_t count;
  stan::Options opts;
  if (!args.GetCount("count", 1, &count, &err) || !StreamOptionsFrom(args, "pub", &opts, &err)) {
    std::fprintf(stderr, "gannet stream pub: %s\n", err.c_str());
    return 2;
  }
  std::string channel = args.positional()[0];
  std::string body;
  if (args.positional().size() == 2) {
    body = args.positional()[1];
  } else if (!isatty(0)) {
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto sc = StreamConnectOrReport(opts);
  if (!sc.valid()) return 1;
  std::mutex mu;
  std::condition_variable cv;
  int64_t acked = 0;
  std::string first_error;
  for (int64_t i = 0; i < count; ++i) {
    if (args.Has("async")) {
      auto guid = sc.PublishAsync(channel, body, [&](const std::string&, const stan::Outcome& r) {
        std::lock_guard lk(mu);
        if (!r.ok() && first_error.empty()) first_error = r.error();
        ++acked;
        cv.notify_all();
      });
      if (!guid.ok()) {
        std::fprintf(stderr, "gannet stream pub: publish failed: %s\n", guid.error().c_str());
        return 1;
      }
      continue;
    }
    auto r = sc.Publish(channel, body);
    if (!r.ok()) {
      std::fprintf(stderr, "gannet stream pub: publish failed: %s\n", r.error().c_str());
      return 1;
    }
  }
  if (args.Has("async")) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return acked == count; });
    if (!first_error.empty()) {
      std::fprintf(stderr, "gannet stream pub: publish failed: %s\n", first_error.c_str());
      return 1;
    }
  }
  if (!args.Has("quiet")) {
    if (count == 1) {
      std::printf("%s Published %zu bytes to channel \"%s\"\n", TimeStamp().c_str(), body.size(),
                  channel.c_str());
    } else {
      std::printf("%s Published %lld messages of %zu bytes to channel \"%s\"\n",
                  TimeStamp().c_str(), static_cast<long long>(count), body.size(), channel.c_str());
    }
  }
  auto closed = sc.Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "gannet stream pub: close: %s\n", closed.error().c_str());
    return 1;
  }
  return 0;
}

int RunStreamSub(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet stream sub [options] CHANNEL\n"
      "Where to start (default: new messages only):\n"
      "  --all                every message the channel holds\n"
      "  --seq N              from sequence N\n"
      "  --since D            messages of the last D (e.g. 30s, 5m, 1h)\n"
      "  --last               from the last message stored\n"
      "Options:\n"
      "  --durable NAME       a durable subscription: resumes where the last one of that name\n"
      "                       (and client id) stopped; kept on the server when this exits\n"
      "  --queue Q            join queue group Q: each message reaches one member\n"
      "  --count N            exit after N messages\n"
      "  --max-inflight N     unacknowledged messages the server sends ahead (default 1024)\n"
      "  --ack-wait D         redelivery after D without an ack (default 30s)\n"
      "  --unsubscribe        on exit remove the (durable) subscription instead of closing it\n"
      "  --raw                print only the payloads\n"
      "  --cluster-id ID --client-id ID --connect-wait D, -s/--server URL, credentials, TLS\n";
  Args args;
  std::string err;
  if (!args.Parse(argc, argv, 3,
                  StreamOptionsWith(
                      {"seq", "since", "durable", "queue", "count", "max-inflight", "ack-wait"}),
                  {"all", "last", "raw", "unsubscribe", "help"}, kConnectAliases, &err)) {
    std::fprintf(stderr, "gannet stream sub: %s\n", err.c_str());
    return Usage(kUsage);
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  if (args.positional().size() != 1) return Usage(kUsage);
  int starts = (args.Has("all") ? 1 : 0) + (args.Has("seq") ? 1 : 0) + (args.Has("since") ? 1 : 0) +
               (args.Has("last") ? 1 : 0);
  if (starts > 1) {
    std::fprintf(stderr,
                 "gannet stream sub: --all, --seq, --since and --last exclude each other\n");
    return 2;
  }
  int64_t count = 0, seq = 0, inflight = 0;
  std::chrono::milliseconds since{0}, ack_wait{0};
  stan::Options opts;
  if (!args.GetCount("count", 0, &count, &err) || !args.GetCount("seq", 0, &seq, &err) ||
      !args.GetCount("max-inflight", 1024, &inflight, &err) ||
      !args.GetDuration("since", std::chrono::milliseconds(0), &since, &err) ||
      !args.GetDuration("ack-wait", std::chrono::seconds(30), &ack_wait, &err) ||
      !StreamOptionsFrom(args, "sub", &opts, &err)) {
    std::fprintf(stderr, "gannet stream sub: %s\n", err.c_str());
    return 2;
  }
  if (args.Has("seq") && seq < 1) {
    std::fprintf(stderr, "gannet stream sub: --seq must be at least 1\n");
    return 2;
  }
  stan::SubscriptionOptions so;
  so.durable_name = args.Get("durable");
  so.max_in_flight = static_cast<int>(inflight);
  so.ack_wait = std::chrono::duration_cast<std::chrono::seconds>(ack_wait);
  if (args.Has("all")) so.DeliverAllAvailable();
  if (args.Has("last")) so.StartWithLastReceived();
  if (args.Has("seq")) so.StartAtSequence(static_cast<uint64_t>(seq));
  if (args.Has("since")) so.StartAtTimeDelta(since);

  StopSignal stop;
  // A lost connection ends the command (status 1): nothing more can arrive.
  std::atomic<bool> lost{false};
  auto report_lost = opts.on_connection_lost;
  opts.on_connection_lost = [&](const std::string& why) {
    report_lost(why);
    lost = true;
    stop.Notify();
  };
  auto sc = StreamConnectOrReport(opts);
  if (!sc.valid()) return 1;
  const bool raw = args.Has("raw");
  std::atomic<int64_t> n{0};
  // Acks are manual: a message is acknowledged once printed, so the ones that arrive after
  // --count is reached stay unacknowledged, for the next durable or queue member to get.
  so.manual_acks = true;
  auto handler = [&](stan::Message& m) {
    int64_t i = n.fetch_add(1) + 1;
    if (count > 0 && i > count) return;
    if (raw) {
      std::fwrite(m.data().data(), 1, m.data().size(), stdout);
      std::fputc('\n', stdout);
    } else {
      std::printf("[#%lld] Received on \"%s\" seq %llu%s\n%s\n\n", static_cast<long long>(i),
                  m.channel().c_str(), static_cast<unsigned long long>(m.sequence()),
                  m.redelivered() ? " (redelivered)" : "", m.data().c_str());
    }
    std::fflush(stdout);
    m.Ack();
    if (count > 0 && i == count) stop.Notify();
  };
  std::string channel = args.positional()[0];
  std::string queue = args.Get("queue");
  auto sub = queue.empty() ? sc.Subscribe(channel, handler, so)
                           : sc.QueueSubscribe(channel, queue, handler, so);
  if (!sub.ok()) {
    std::fprintf(stderr, "gannet stream sub: subscribe: %s\n", sub.error().c_str());
    return 1;
  }
  // On stderr, so that --raw output is the payloads alone.
  std::fprintf(stderr, "%s Subscribing on channel \"%s\"%s%s\n", TimeStamp().c_str(),
               channel.c_str(), queue.empty() ? "" : (" in queue group " + queue).c_str(),
               so.durable_name.empty() ? "" : (" as durable " + so.durable_name).c_str());
  stop.Wait();
  if (lost) return 1;
  auto done = args.Has("unsubscribe") ? sub->Unsubscribe() : sub->Close();
  if (!done.ok() && !sc.IsClosed()) {
    std::fprintf(stderr, "gannet stream sub: %s\n", done.error().c_str());
  }
  auto closed = sc.Close();
  return closed.ok() ? 0 : 1;
}

int RunStream(int argc, char** argv) {
  if (argc < 3) return Usage(kStreamUsage);
  std::string cmd = argv[2];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") return std::fputs(kStreamUsage, stdout), 0;
  if (cmd == "pub" || cmd == "publish") return RunStreamPub(argc, argv);
  if (cmd == "sub" || cmd == "subscribe") return RunStreamSub(argc, argv);
  if (cmd == "bench") return RunStreamBench(argc, argv);
  std::fprintf(stderr, "gannet stream: unknown command '%s'\n\n", cmd.c_str());
  return Usage(kStreamUsage);
}

}  // namespace gannet::cli
