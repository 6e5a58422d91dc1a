// A first Gannet client: a service, a request to it, and a message with headers.
//
//   gannet-hello [URL]      (default $NATS_URL, else nats://127.0.0.1:4222)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gannet/client.h"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  namespace gc = gannet::client;
  std::string url = argc > 1 ? argv[1] : (std::getenv("NATS_URL") ? std::getenv("NATS_URL") : "");
  gc::Options opts;
  if (!url.empty()) opts.servers = {url};
  opts.name = "gannet-hello";
  auto nc = gc::Connection::Connect(opts);
  if (!nc) {
    std::fprintf(stderr, "connect: %s\n", nc.error().c_str());
    return 1;
  }
  std::printf("connected to %s (%s %s)\n", nc->connected_url().c_str(),
              nc->server_info().server_name.c_str(), nc->server_info().version.c_str());

  // A service: answers "greet.<name>" with a greeting. Callbacks run on the connection's
  // dispatcher thread; calling back into the connection from there is safe.
  gc::Connection& conn = *nc;
  auto svc = conn.Subscribe("greet.*", [&conn](gc::Message& m) {
    std::string name(m.subject().substr(m.subject().rfind('.') + 1));
    conn.Respond(m, "hello, " + name);
  });
  if (!svc) {
    std::fprintf(stderr, "subscribe: %s\n", svc.error().c_str());
    return 1;
  }

  auto reply = conn.Request("greet.world", "", 2s);
  if (!reply) {
    std::fprintf(stderr, "request: %s\n", reply.error().c_str());
    return 1;
  }
  std::printf("reply: %.*s\n", static_cast<int>(reply->data().size()), reply->data().data());

  // Headers travel with a message; a synchronous subscription reads it back.
  auto inbox = conn.SubscribeSync("events.created");
  gc::Headers h;
  h.Add("Source", "gannet-hello");
  conn.Publish("events.created", h, "{\"id\":1}");
  auto ev = inbox->NextMessage(2s);
  if (!ev) {
    std::fprintf(stderr, "next message: %s\n", ev.error().c_str());
    return 1;
  }
  std::printf("event from %.*s: %.*s\n", static_cast<int>(ev->headers().Get("Source").size()),
              ev->headers().Get("Source").data(), static_cast<int>(ev->data().size()),
              ev->data().data());

  // Drain: stop interest, let in-flight messages be handled, flush, close.
  return conn.Drain(5s) == gc::Status::kOk ? 0 : 1;
}
