// A first NATS Streaming client: publish with acknowledgements, replay a channel from its
// start, resume a durable subscription.
//
//   gannet-stan-hello [URL] [CLUSTER_ID]   (defaults nats://127.0.0.1:4222, test-cluster)
//   (start a server with: gannet-streaming)
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include "gannet/client/streaming.h"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  namespace stan = gannet::client::streaming;
  stan::Options opts;
  opts.client_id = "stan-hello";
  if (argc > 1) opts.nats_options.servers = {argv[1]};
  if (argc > 2) opts.cluster_id = argv[2];
  opts.on_connection_lost = [](const std::string& why) {
    std::fprintf(stderr, "connection lost: %s\n", why.c_str());
  };
  auto sc = stan::Connection::Connect(opts);
  if (!sc) {
    std::fprintf(stderr, "connect: %s\n", sc.error().c_str());
    return 1;
  }

  // Synchronous: returns once the server has stored the message.
  auto r = sc->Publish("greetings", "hello");
  if (!r) {
    std::fprintf(stderr, "publish: %s\n", r.error().c_str());
    return 1;
  }
  // Asynchronous: the ack handler runs on the connection's control thread.
  std::mutex mu;
  std::condition_variable cv;
  int acked = 0;
  for (int i = 0; i < 3; ++i) {
    auto guid =
        sc->PublishAsync("greetings", "hello again " + std::to_string(i),
                         [&](const std::string& guid, const stan::Outcome& result) {
                           std::lock_guard lk(mu);
                           if (!result)
                             std::fprintf(stderr, "%s: %s\n", guid.c_str(), result.error().c_str());
                           ++acked;
                           cv.notify_all();
                         });
    if (!guid) return std::fprintf(stderr, "publish: %s\n", guid.error().c_str()), 1;
  }
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return acked == 3; });
  }

  // Replay everything the channel holds; a durable remembers what it has seen, so running this
  // program again prints only the new messages. Handlers run on the NATS dispatcher thread.
  int seen = 0;
  auto sub = sc->Subscribe(
      "greetings",
      [&](stan::Message& m) {
        std::printf("[%llu] %s%s\n", static_cast<unsigned long long>(m.sequence()),
                    m.data().c_str(), m.redelivered() ? " (redelivered)" : "");
        m.Ack();  // manual acks: the message is done only once this is called
        std::lock_guard lk(mu);
        ++seen;
        cv.notify_all();
      },
      stan::SubscriptionOptions().DeliverAllAvailable().Durable("hello").ManualAcks());
  if (!sub) {
    std::fprintf(stderr, "subscribe: %s\n", sub.error().c_str());
    return 1;
  }
  {
    std::unique_lock lk(mu);
    cv.wait_for(lk, 2s, [&] { return seen >= 4; });
  }
  // Close keeps the durable on the server (Unsubscribe would forget it), then unregister.
  sub->Close();
  auto closed = sc->Close();
  if (!closed) std::fprintf(stderr, "close: %s\n", closed.error().c_str());
  return closed ? 0 : 1;
}
