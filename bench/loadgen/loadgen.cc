// gannet-loadgen: drives a NATS server through the official C client and reports throughput
// (measured where the messages arrive) or request/reply latency.
//
//   gannet-loadgen --mode pub     --msgs N --size S   publish N messages, then flush
//   gannet-loadgen --mode pubsub  ...                 1 publisher -> 1 subscriber
//   gannet-loadgen --mode fanout  --subs 4 ...        1 publisher -> 4 subscribers (each gets all)
//   gannet-loadgen --mode queue   --subs 4 ...        1 publisher -> 1 queue group of 4 members
//   gannet-loadgen --mode reqrep  --msgs N ...        sequential request/reply, latency percentiles
//
// Every publisher and subscriber has its own connection. Subscribers are asynchronous with
// unlimited client-side pending limits, so the client library never drops; anything that does
// not arrive (server-side slow-consumer cuts, bugs) is reported as lost, and the exit status
// is 2. Payloads carry a sequence number so duplicates and reordering are reported too.

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Config {
  std::string url = "nats://127.0.0.1:4222";
  std::string mode = "pubsub";
  std::string subject = "bench.subject";
  int64_t msgs = -1;  // -1: mode default
  int size = 16;
  int subs = 4;
  int warmup = 1000;      // reqrep only
  double timeout = 10;    // seconds without progress before declaring the rest lost
  double max_secs = 300;  // publishing stops after this long
  int iobuf = 0;          // C client I/O buffer size, 0 = library default (32 KB)
  bool json = false;
  std::string tls_ca;  // TLS: trust this CA and check the server's name "localhost"
};

[[noreturn]] void Usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: gannet-loadgen [options]\n"
               "  --url URL        server (default nats://127.0.0.1:4222)\n"
               "  --tls-ca FILE    connect with TLS, trusting this CA (name: localhost)\n"
               "  --mode M         pub | pubsub | fanout | queue | reqrep (default pubsub)\n"
               "  --msgs N         messages (default 1000000; reqrep: 20000 requests)\n"
               "  --size BYTES     payload size (default 16)\n"
               "  --subs K         subscribers for fanout / queue members (default 4)\n"
               "  --subject S      subject (default bench.subject)\n"
               "  --warmup N       reqrep: unmeasured requests first (default 1000)\n"
               "  --timeout SEC    give up after SEC seconds without progress (default 10)\n"
               "  --max-secs SEC   stop publishing after SEC seconds (default 300)\n"
               "  --iobuf BYTES    C client read/write buffer size (default: library's 32 KB)\n"
               "  --json           one line of JSON instead of text\n"
               "exit status: 0 ok, 1 usage/connect error, 2 messages lost or errors seen\n");
  std::exit(code);
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string val;
    auto eq = a.find('=');
    std::string_view key = a.substr(0, eq);
    bool has_inline = eq != std::string_view::npos;
    auto need = [&]() -> std::string {
      if (has_inline) return std::string(a.substr(eq + 1));
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", argv[i]);
        Usage(1);
      }
      return argv[++i];
    };
    auto num = [&]() -> int64_t {
      std::string s = need();
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (end == s.c_str() || *end != '\0' || v < 0) {
        std::fprintf(stderr, "bad number for %.*s: %s\n", int(key.size()), key.data(), s.c_str());
        Usage(1);
      }
      return v;
    };
    if (key == "--url") {
      c.url = need();
    } else if (key == "--tls-ca") {
      c.tls_ca = need();
    } else if (key == "--mode") {
      c.mode = need();
    } else if (key == "--subject") {
      c.subject = need();
    } else if (key == "--msgs") {
      c.msgs = num();
    } else if (key == "--size") {
      c.size = int(num());
    } else if (key == "--subs") {
      c.subs = int(num());
    } else if (key == "--warmup") {
      c.warmup = int(num());
    } else if (key == "--iobuf") {
      c.iobuf = int(num());
    } else if (key == "--timeout") {
      c.timeout = std::atof(need().c_str());
    } else if (key == "--max-secs") {
      c.max_secs = std::atof(need().c_str());
    } else if (key == "--json") {
      c.json = true;
    } else if (key == "-h" || key == "--help") {
      Usage(0);
    } else {
      std::fprintf(stderr, "unknown argument: %s\n", argv[i]);
      Usage(1);
    }
  }
  if (c.mode != "pub" && c.mode != "pubsub" && c.mode != "fanout" && c.mode != "queue" &&
      c.mode != "reqrep") {
    std::fprintf(stderr, "unknown mode: %s\n", c.mode.c_str());
    Usage(1);
  }
  if (c.msgs < 0) c.msgs = c.mode == "reqrep" ? 20000 : 1000000;
  if (c.mode == "pubsub") c.subs = 1;
  if ((c.mode == "fanout" || c.mode == "queue") && c.subs < 1) Usage(1);
  if (c.msgs < 1 || c.timeout <= 0 || c.max_secs <= 0) Usage(1);
  return c;
}

// Asynchronous trouble reported by the client library (slow consumer, disconnects).
struct Trouble {
  std::atomic<int64_t> async_errors{0};
  std::atomic<int64_t> closed{0};
  std::mutex mu;
  std::string first;

  void Note(const std::string& what) {
    std::lock_guard lock(mu);
    if (first.empty()) first = what;
  }
};
Trouble g_trouble;

void OnAsyncError(natsConnection*, natsSubscription*, natsStatus err, void*) {
  g_trouble.async_errors.fetch_add(1, std::memory_order_relaxed);
  g_trouble.Note(std::string("async error: ") + natsStatus_GetText(err));
}

void OnClosed(natsConnection*, void*) {
  g_trouble.closed.fetch_add(1, std::memory_order_relaxed);
  g_trouble.Note("connection closed by server or network");
}

// Our own closes at the end of a run are not trouble.
std::atomic<bool> g_closing{false};
void OnClosedGuarded(natsConnection* nc, void* closure) {
  if (!g_closing.load()) OnClosed(nc, closure);
}

struct Conn {
  natsConnection* nc = nullptr;
  ~Conn() {
    if (nc != nullptr) {
      g_closing = true;
      natsConnection_Destroy(nc);
    }
  }
};

bool g_connect_failed = false;

bool Connect(const Config& cfg, const char* name, bool send_asap, Conn* out) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, cfg.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(opts, name);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, false);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 5000);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, OnAsyncError, nullptr);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, OnClosedGuarded, nullptr);
  // A server that stops reading must fail the run, not hang the publisher in write().
  if (s == NATS_OK) s = natsOptions_SetWriteDeadline(opts, int64_t(cfg.timeout * 1000));
  if (s == NATS_OK && send_asap) s = natsOptions_SetSendAsap(opts, true);
  if (s == NATS_OK && cfg.iobuf > 0) s = natsOptions_SetIOBufSize(opts, cfg.iobuf);
  if (s == NATS_OK && !cfg.tls_ca.empty()) {
    s = natsOptions_SetSecure(opts, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(opts, cfg.tls_ca.c_str());
    if (s == NATS_OK) s = natsOptions_SetExpectedHostname(opts, "localhost");
  }
  if (s == NATS_OK) s = natsConnection_Connect(&out->nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    std::fprintf(stderr, "gannet-loadgen: connect to %s failed: %s\n", cfg.url.c_str(),
                 natsStatus_GetText(s));
    out->nc = nullptr;
    g_connect_failed = true;
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Throughput modes.

struct SubStats {
  natsSubscription* sub = nullptr;
  int size = 0;
  // Written only by this subscription's delivery thread; read by main after the run (or racily
  // for progress, hence atomics with relaxed ordering).
  std::atomic<int64_t> count{0};
  std::atomic<int64_t> first_ns{0};
  std::atomic<int64_t> last_ns{0};
  int64_t last_seq = -1;
  std::atomic<int64_t> out_of_order{0};  // duplicates or reordering
  std::atomic<int64_t> bad_size{0};
  // When to read the clock (the same rule as `gannet bench`): at the first message, every 64th,
  // this subscription's last (`expected`, 0 in a queue group) and the run's last.
  int64_t expected = 0;
  std::atomic<int64_t>* total = nullptr;
  int64_t total_expected = 0;
};

void OnMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* st = static_cast<SubStats*>(closure);
  int len = natsMsg_GetDataLength(msg);
  if (len != st->size) {
    st->bad_size.fetch_add(1, std::memory_order_relaxed);
  } else if (len >= 8) {
    int64_t seq;
    std::memcpy(&seq, natsMsg_GetData(msg), sizeof seq);
    if (seq <= st->last_seq) st->out_of_order.fetch_add(1, std::memory_order_relaxed);
    st->last_seq = seq;
  }
  int64_t n = st->count.load(std::memory_order_relaxed) + 1;
  int64_t t = st->total->fetch_add(1, std::memory_order_relaxed) + 1;
  if (n == 1 || (n & 63) == 0 || n == st->expected || t == st->total_expected) {
    int64_t now = NowNs();
    if (n == 1) st->first_ns.store(now, std::memory_order_relaxed);
    st->last_ns.store(now, std::memory_order_relaxed);
  }
  st->count.fetch_add(1, std::memory_order_release);
  natsMsg_Destroy(msg);
}

struct Result {
  std::string mode;
  int64_t msgs = 0;
  int size = 0;
  int subs = 0;
  // Throughput.
  double pub_secs = 0;   // first publish -> flush returned
  double sub_secs = 0;   // first message received -> last message received (all subscribers)
  int64_t expected = 0;  // deliveries expected at the subscribers
  int64_t received = 0;
  int64_t out_of_order = 0;
  int64_t bad_size = 0;
  int64_t per_sub_min = 0, per_sub_max = 0;
  // Latency.
  int64_t errors = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
  double elapsed = 0;
  std::string error;
};

bool RunThroughput(const Config& cfg, Result* r) {
  const bool pub_only = cfg.mode == "pub";
  const int nsubs = pub_only ? 0 : cfg.subs;
  r->subs = nsubs;

  std::vector<Conn> sub_conns(nsubs);
  std::vector<std::unique_ptr<SubStats>> stats;
  std::atomic<int64_t> total_received{0};
  for (int i = 0; i < nsubs; ++i) {
    if (!Connect(cfg, "gannet-loadgen-sub", false, &sub_conns[i])) return false;
    auto st = std::make_unique<SubStats>();
    st->size = cfg.size;
    st->expected = cfg.mode == "queue" ? 0 : cfg.msgs;
    st->total = &total_received;
    st->total_expected = cfg.mode == "queue" ? cfg.msgs : cfg.msgs * nsubs;
    natsStatus s;
    if (cfg.mode == "queue") {
      s = natsConnection_QueueSubscribe(&st->sub, sub_conns[i].nc, cfg.subject.c_str(),
                                        "bench-group", OnMsg, st.get());
    } else {
      s = natsConnection_Subscribe(&st->sub, sub_conns[i].nc, cfg.subject.c_str(), OnMsg, st.get());
    }
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(st->sub, -1, -1);
    // The PONG proves the server has registered the subscription before anything is published.
    if (s == NATS_OK) s = natsConnection_FlushTimeout(sub_conns[i].nc, 5000);
    if (s != NATS_OK) {
      r->error = std::string("subscribe failed: ") + natsStatus_GetText(s);
      return false;
    }
    stats.push_back(std::move(st));
  }

  Conn pub;
  if (!Connect(cfg, "gannet-loadgen-pub", false, &pub)) return false;

  std::vector<char> payload(cfg.size, 'x');
  int64_t t0 = NowNs();
  const int64_t deadline = t0 + int64_t(cfg.max_secs * 1e9);
  natsStatus s = NATS_OK;
  for (int64_t i = 0; i < cfg.msgs && s == NATS_OK; ++i) {
    if (cfg.size >= 8) std::memcpy(payload.data(), &i, sizeof i);
    s = natsConnection_Publish(pub.nc, cfg.subject.c_str(), payload.data(), cfg.size);
    // A lost connection already fails the run; do not keep a stalled publisher going.
    if ((i & 1023) == 1023) {
      if (g_trouble.closed.load(std::memory_order_relaxed) > 0) {
        r->error = "a connection was closed during the run; publishing stopped";
        break;
      }
      if (NowNs() > deadline) {
        r->error = "publishing took longer than --max-secs; stopped";
        break;
      }
    }
  }
  if (s == NATS_OK) s = natsConnection_FlushTimeout(pub.nc, int64_t(cfg.timeout * 1000) + 60000);
  int64_t t1 = NowNs();
  if (s != NATS_OK && r->error.empty()) {
    r->error = std::string("publish failed: ") + natsStatus_GetText(s);
  }
  r->pub_secs = double(t1 - t0) / 1e9;

  // Wait for every delivery, or for progress to stop for cfg.timeout seconds.
  const int64_t per_sub = cfg.msgs;
  r->expected = cfg.mode == "queue" ? cfg.msgs : per_sub * nsubs;
  auto total = [&] {
    int64_t n = 0;
    for (auto& st : stats) n += st->count.load(std::memory_order_acquire);
    return n;
  };
  int64_t last_total = -1;
  int64_t last_progress = NowNs();
  while (nsubs > 0) {
    int64_t n = total();
    if (n >= r->expected) break;
    int64_t now = NowNs();
    if (n != last_total) {
      last_total = n;
      last_progress = now;
    } else if (now - last_progress > int64_t(cfg.timeout * 1e9) ||
               (g_trouble.closed.load() > 0 && now - last_progress > 500'000'000)) {
      break;  // no progress for --timeout seconds (half a second once a connection is gone)
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Anything past the expected count (duplicates) has a moment to show up.
  if (nsubs > 0 && total() >= r->expected) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  int64_t first = INT64_MAX, last = 0;
  r->per_sub_min = INT64_MAX;
  for (auto& st : stats) {
    int64_t c = st->count.load(std::memory_order_acquire);
    r->received += c;
    r->per_sub_min = std::min(r->per_sub_min, c);
    r->per_sub_max = std::max(r->per_sub_max, c);
    r->out_of_order += st->out_of_order.load();
    r->bad_size += st->bad_size.load();
    if (c > 0) {
      first = std::min(first, st->first_ns.load());
      last = std::max(last, st->last_ns.load());
    }
  }
  if (nsubs == 0) r->per_sub_min = 0;
  r->sub_secs = last > first ? double(last - first) / 1e9 : 0;

  g_closing = true;
  for (auto& st : stats) {
    natsSubscription_Unsubscribe(st->sub);
    natsSubscription_Destroy(st->sub);
  }
  return r->error.empty();
}

// ---------------------------------------------------------------------------------------------
// Request/reply latency.

void OnRequest(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  const char* reply = natsMsg_GetReply(msg);
  if (reply != nullptr) {
    natsConnection_Publish(nc, reply, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  }
  natsMsg_Destroy(msg);
}

bool RunReqRep(const Config& cfg, Result* r) {
  Conn responder, requester;
  // The responder sends each reply at once instead of waiting for the flusher thread.
  if (!Connect(cfg, "gannet-loadgen-responder", true, &responder)) return false;
  if (!Connect(cfg, "gannet-loadgen-requester", true, &requester)) return false;
  natsSubscription* sub = nullptr;
  natsStatus s =
      natsConnection_Subscribe(&sub, responder.nc, cfg.subject.c_str(), OnRequest, nullptr);
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(responder.nc, 5000);
  if (s != NATS_OK) {
    r->error = std::string("subscribe failed: ") + natsStatus_GetText(s);
    return false;
  }

  std::vector<char> payload(cfg.size, 'x');
  const int64_t timeout_ms = int64_t(cfg.timeout * 1000);
  std::vector<double> lat_us;
  lat_us.reserve(cfg.msgs);
  int64_t t0 = 0;
  for (int64_t i = -cfg.warmup; i < cfg.msgs; ++i) {
    if (i == 0) t0 = NowNs();
    natsMsg* reply = nullptr;
    int64_t a = NowNs();
    natsStatus rs = natsConnection_Request(&reply, requester.nc, cfg.subject.c_str(),
                                           payload.data(), cfg.size, timeout_ms);
    int64_t b = NowNs();
    if (rs != NATS_OK || natsMsg_GetDataLength(reply) != cfg.size) {
      ++r->errors;
      if (r->error.empty()) r->error = std::string("request: ") + natsStatus_GetText(rs);
      if (rs == NATS_CONNECTION_CLOSED) {
        natsMsg_Destroy(reply);
        break;
      }
    } else if (i >= 0) {
      lat_us.push_back(double(b - a) / 1e3);
    }
    natsMsg_Destroy(reply);
  }
  r->elapsed = double(NowNs() - t0) / 1e9;
  r->expected = cfg.msgs;
  r->received = int64_t(lat_us.size());
  g_closing = true;
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);

  if (lat_us.empty()) return false;
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) {
    // Nearest-rank percentile.
    size_t rank = size_t(p / 100.0 * double(lat_us.size()) + 0.999999);
    rank = std::clamp<size_t>(rank, 1, lat_us.size());
    return lat_us[rank - 1];
  };
  r->p50 = pct(50);
  r->p90 = pct(90);
  r->p99 = pct(99);
  r->p999 = pct(99.9);
  r->max = lat_us.back();
  double sum = 0;
  for (double v : lat_us) sum += v;
  r->mean = sum / double(lat_us.size());
  return r->errors == 0;
}

// ---------------------------------------------------------------------------------------------
// Output.

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

void Print(const Config& cfg, const Result& r, bool ok) {
  const int64_t lost = std::max<int64_t>(0, r.expected - r.received);
  std::string err = r.error;
  {
    std::lock_guard lock(g_trouble.mu);
    if (err.empty()) err = g_trouble.first;
  }
  const int64_t async_errors = g_trouble.async_errors.load();
  const int64_t closed = g_trouble.closed.load();

  if (cfg.mode == "reqrep") {
    double rate = r.elapsed > 0 ? double(r.received) / r.elapsed : 0;
    if (cfg.json) {
      std::printf("{\"mode\":\"reqrep\",\"ok\":%s,\"requests\":%" PRId64
                  ",\"size\":%d,\"completed\":%" PRId64 ",\"errors\":%" PRId64
                  ",\"rate\":%.1f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
                  "\"max_us\":%.2f,\"mean_us\":%.2f,\"error\":\"%s\"}\n",
                  ok ? "true" : "false", r.expected, cfg.size, r.received, r.errors, rate, r.p50,
                  r.p90, r.p99, r.p999, r.max, r.mean, JsonEscape(err).c_str());
    } else {
      std::printf("reqrep %s: %" PRId64 " requests of %d bytes, %" PRId64 " errors\n",
                  cfg.url.c_str(), r.received, cfg.size, r.errors);
      std::printf("  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
                  r.p50, r.p90, r.p99, r.p999, r.max, r.mean);
      std::printf("  %.0f requests/s\n", rate);
      if (!err.empty()) std::printf("  ERROR: %s\n", err.c_str());
    }
    return;
  }

  const bool pub_only = cfg.mode == "pub";
  const double pub_rate = r.pub_secs > 0 ? double(cfg.msgs) / r.pub_secs : 0;
  // The headline rate: for pub, what the server accepted (publish through flush); otherwise
  // messages delivered to subscribers per second, summed over subscribers, first to last arrival.
  double rate = pub_rate;
  if (!pub_only) rate = r.sub_secs > 0 ? double(r.received) / r.sub_secs : 0;
  const double mb_s = rate * cfg.size / 1e6;
  if (cfg.json) {
    std::printf("{\"mode\":\"%s\",\"ok\":%s,\"msgs\":%" PRId64
                ",\"size\":%d,\"subs\":%d,\"rate\":%.1f,\"mb_s\":%.2f,"
                "\"pub_rate\":%.1f,\"pub_secs\":%.4f,\"sub_secs\":%.4f,\"expected\":%" PRId64
                ",\"received\":%" PRId64 ",\"lost\":%" PRId64 ",\"out_of_order\":%" PRId64
                ",\"bad_size\":%" PRId64 ",\"per_sub_min\":%" PRId64 ",\"per_sub_max\":%" PRId64
                ",\"async_errors\":%" PRId64 ",\"closed\":%" PRId64 ",\"error\":\"%s\"}\n",
                cfg.mode.c_str(), ok ? "true" : "false", cfg.msgs, cfg.size, r.subs, rate, mb_s,
                pub_rate, r.pub_secs, r.sub_secs, r.expected, r.received, lost, r.out_of_order,
                r.bad_size, r.per_sub_min, r.per_sub_max, async_errors, closed,
                JsonEscape(err).c_str());
    return;
  }
  std::printf("%s %s: %" PRId64 " msgs of %d bytes", cfg.mode.c_str(), cfg.url.c_str(), cfg.msgs,
              cfg.size);
  if (!pub_only) std::printf(", %d subscriber(s)", r.subs);
  std::printf("\n  publisher: %.0f msgs/s (%.3f s incl. flush)\n", pub_rate, r.pub_secs);
  if (!pub_only) {
    std::printf("  delivered: %.0f msgs/s, %.1f MB/s (%" PRId64 "/%" PRId64
                " msgs in %.3f s, first to last arrival)\n",
                rate, mb_s, r.received, r.expected, r.sub_secs);
    if (r.subs > 1) {
      std::printf("  per subscriber: min %" PRId64 " max %" PRId64 "\n", r.per_sub_min,
                  r.per_sub_max);
    }
    if (lost > 0) std::printf("  LOST: %" PRId64 " messages\n", lost);
    if (r.out_of_order > 0) std::printf("  OUT OF ORDER/DUPLICATE: %" PRId64 "\n", r.out_of_order);
    if (r.bad_size > 0) std::printf("  WRONG SIZE: %" PRId64 "\n", r.bad_size);
  }
  if (!err.empty()) std::printf("  ERROR: %s\n", err.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg = ParseArgs(argc, argv);
  if (nats_Open(-1) != NATS_OK) {
    std::fprintf(stderr, "gannet-loadgen: nats_Open failed\n");
    return 1;
  }
  Result r;
  r.mode = cfg.mode;
  r.msgs = cfg.msgs;
  r.size = cfg.size;
  bool ok = cfg.mode == "reqrep" ? RunReqRep(cfg, &r) : RunThroughput(cfg, &r);
  if (g_connect_failed) {
    nats_Close();
    return 1;  // already reported
  }
  const bool clean = ok && r.received >= r.expected && r.out_of_order == 0 && r.bad_size == 0 &&
                     g_trouble.async_errors.load() == 0 && g_trouble.closed.load() == 0;
  Print(cfg, r, clean);
  std::fflush(stdout);
  nats_Close();
  return clean ? 0 : 2;
}
