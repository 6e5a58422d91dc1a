// gannet-stan-pubload: a load generator for Streaming servers. It speaks the Streaming protocol
// itself (ConnectRequest, PubMsg, PubAck, SubscriptionRequest, Ack) over Gannet's client library,
// so that the server, not a client library, is what is measured: async publishers with a window
// of PubAcks in flight (like a client's MaxPubAcksInflight), optionally one subscriber that acks
// everything, reporting messages per second.
//
//   gannet-stan-pubload [-s URL] [--cluster ID] [--msgs N] [--size B] [--pubs P] [--window W]
//                       [--sub] [--channel NAME] [--per-pub-channel]
//
// --per-pub-channel: publisher p publishes on NAME.p (one channel each) instead of NAME.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gannet/client.h"
#include "streaming/proto/protocol.pb.h"

using namespace gannet;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string url = "nats://127.0.0.1:4222";
  std::string cluster = "test-cluster";
  std::string channel = "bench";
  long msgs = 1000000;
  int size = 16;
  int pubs = 1;
  long window = 16384;
  bool sub = false;
  bool per_pub_channel = false;
};

// A Streaming session on one NATS connection: connect, then the server's subjects.
struct Session {
  client::Connection nc;
  streaming::pb::ConnectResponse info;
  std::string client_id;
  std::string conn_id;
  client::Subscription hb;

  std::string Open(const Args& a, const std::string& id) {
    auto c = client::Connection::Connect(a.url);
    if (!c) return c.error();
    nc = std::move(c).value();
    client_id = id;
    conn_id = nc.NewInbox();
    streaming::pb::ConnectRequest req;
    req.set_client_id(id);
    req.set_heartbeat_inbox(nc.NewInbox());
    req.set_protocol(1);
    req.set_conn_id(conn_id);
    req.set_ping_interval(5);
    req.set_ping_max_out(88);
    client::Connection self = nc;
    auto h = nc.Subscribe(req.heartbeat_inbox(),
                          [self](client::Message& m) mutable { self.Respond(m, ""); });
    if (!h) return h.error();
    hb = std::move(h).value();
    auto r =
        nc.Request("_STAN.discover." + a.cluster, req.SerializeAsString(), std::chrono::seconds(2));
    if (!r) return "connect request: " + r.error();
    if (!info.ParseFromArray(r->data().data(), static_cast<int>(r->data().size()))) {
      return "connect response does not parse";
    }
    return info.error();
  }
  void Close() {
    streaming::pb::CloseRequest req;
    req.set_client_id(client_id);
    nc.Request(info.close_requests(), req.SerializeAsString(), std::chrono::seconds(2));
    nc.Close();
  }
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
    } else if (k == "--window") {
      a.window = std::atol(val());
    } else if (k == "--sub") {
      a.sub = true;
    } else if (k == "--per-pub-channel") {
      a.per_pub_channel = true;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      return false;
    }
  }
  return a.msgs > 0 && a.pubs > 0 && a.window > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: gannet-stan-pubload [-s URL] [--cluster ID] [--msgs N] [--size B] "
                 "[--pubs P] [--window W] [--sub] [--channel NAME] [--per-pub-channel]\n");
    return 2;
  }
  // The subscriber first, so that it sees every message.
  Session subscriber;
  std::atomic<long> received{0};
  client::Subscription delivery;
  if (a.sub) {
    if (std::string err = subscriber.Open(a, "pubload-sub"); !err.empty()) {
      std::fprintf(stderr, "subscriber: %s\n", err.c_str());
      return 1;
    }
    std::string inbox = subscriber.nc.NewInbox();
    std::string ack_inbox;
    auto ackp = std::make_shared<std::string>();
    client::Connection snc = subscriber.nc;
    std::string channel = a.channel;
    auto d =
        subscriber.nc.Subscribe(inbox, [&received, snc, ackp, channel](client::Message& m) mutable {
          streaming::pb::MsgProto msg;
          msg.ParseFromArray(m.data().data(), static_cast<int>(m.data().size()));
          streaming::pb::Ack ack;
          ack.set_subject(channel);
          ack.set_sequence(msg.sequence());
          snc.Publish(*ackp, ack.SerializeAsString());
          received.fetch_add(1, std::memory_order_relaxed);
        });
    if (!d) return 1;
    delivery = std::move(d).value();
    streaming::pb::SubscriptionRequest sr;
    sr.set_client_id("pubload-sub");
    sr.set_subject(a.channel);
    sr.set_inbox(inbox);
    sr.set_max_in_flight(16384);
    sr.set_ack_wait_in_secs(30);
    auto r = subscriber.nc.Request(subscriber.info.sub_requests(), sr.SerializeAsString(),
                                   std::chrono::seconds(2));
    streaming::pb::SubscriptionResponse resp;
    if (!r || !resp.ParseFromArray(r->data().data(), static_cast<int>(r->data().size())) ||
        !resp.error().empty()) {
      std::fprintf(stderr, "subscribe failed\n");
      return 1;
    }
    *ackp = resp.ack_inbox();
  }

  const long per_pub = a.msgs / a.pubs;
  std::vector<Session> pubs(static_cast<size_t>(a.pubs));
  for (int p = 0; p < a.pubs; ++p) {
    if (std::string err = pubs[static_cast<size_t>(p)].Open(a, "pubload-" + std::to_string(p));
        !err.empty()) {
      std::fprintf(stderr, "publisher %d: %s\n", p, err.c_str());
      return 1;
    }
  }
  const std::string payload(static_cast<size_t>(a.size), 'x');
  auto start = Clock::now();
  std::vector<std::thread> threads;
  // PubAck latency: a server acknowledges one publisher's messages in order, so the n-th PubAck
  // is message n's (from its Publish to its PubAck, the time in the window included).
  std::vector<std::vector<int64_t>> latency_ns(static_cast<size_t>(a.pubs),
                                               std::vector<int64_t>(static_cast<size_t>(per_pub)));
  for (int p = 0; p < a.pubs; ++p) {
    threads.emplace_back([&, p] {
      Session& s = pubs[static_cast<size_t>(p)];
      std::vector<int64_t>& lat = latency_ns[static_cast<size_t>(p)];
      std::atomic<long> acked{0};
      std::mutex mu;
      std::condition_variable cv;
      const std::string ack_inbox = s.nc.NewInbox();
      // The publisher waits with `window` acks outstanding, so a wake-up every `step` acks
      // (step <= window) always comes while it waits.
      const long step = std::min(512L, a.window);
      auto acks = s.nc.Subscribe(ack_inbox, [&](client::Message&) {
        long n = acked.fetch_add(1, std::memory_order_relaxed) + 1;
        if (n <= per_pub) {
          auto& l = lat[static_cast<size_t>(n - 1)];
          l = Clock::now().time_since_epoch().count() - l;
        }
        if (n % step == 0 || n == per_pub) {
          std::lock_guard lk(mu);
          cv.notify_one();
        }
      });
      if (!acks) return;
      const std::string channel =
          a.per_pub_channel ? a.channel + "." + std::to_string(p) : a.channel;
      const std::string subject = s.info.pub_prefix() + "." + channel;
      streaming::pb::PubMsg pm;
      pm.set_client_id(s.client_id);
      pm.set_conn_id(s.conn_id);
      pm.set_subject(channel);
      pm.set_data(payload);
      std::string buf;
      const std::string guid_base = s.nc.NewInbox().substr(7) + ".";
      for (long i = 0; i < per_pub; ++i) {
        if (i - acked.load(std::memory_order_relaxed) >= a.window) {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return i - acked.load() < a.window; });
        }
        pm.set_guid(guid_base + std::to_string(i));
        buf.clear();
        pm.SerializeToString(&buf);
        lat[static_cast<size_t>(i)] = Clock::now().time_since_epoch().count();
        s.nc.Publish(subject, buf, ack_inbox);
      }
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return acked.load() >= per_pub; });
    });
  }
  for (auto& t : threads) t.join();
  double pub_secs = std::chrono::duration<double>(Clock::now() - start).count();
  const long total = per_pub * a.pubs;
  std::printf("publish: %ld msgs of %d B, %d publisher(s), window %ld: %.0f msg/s (%.3f s)\n",
              total, a.size, a.pubs, a.window, static_cast<double>(total) / pub_secs, pub_secs);
  {
    std::vector<int64_t> all;
    for (auto& l : latency_ns) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double q) {
      return all.empty()
                 ? 0.0
                 : static_cast<double>(all[static_cast<size_t>(q * (all.size() - 1))]) / 1e6;
    };
    std::printf("PubAck latency ms: p50 %.2f p90 %.2f p99 %.2f max %.2f\n", pct(0.5), pct(0.9),
                pct(0.99), pct(1.0));
  }
  if (a.sub) {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (received.load() < total && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("received: %ld msgs: %.0f msg/s (%.3f s)\n", received.load(),
                static_cast<double>(received.load()) / secs, secs);
    subscriber.Close();
  }
  for (auto& s : pubs) s.Close();
  return 0;
}
