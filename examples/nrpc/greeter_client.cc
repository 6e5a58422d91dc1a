// An nRPC client in C++: calls helloworld.Greeter (greeter.proto), served by greeter_server or
// by any nRPC server.
//   greeter_client NAME [LANGUAGE] [nats://127.0.0.1:4222]
#include <cstdio>

#include "greeter.nrpc.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: greeter_client NAME [LANGUAGE] [URL]\n");
    return 2;
  }
  auto nc = gannet::client::Connection::Connect(argc > 3 ? argv[3] : "nats://127.0.0.1:4222");
  if (!nc) {
    std::fprintf(stderr, "connect: %s\n", nc.error().c_str());
    return 1;
  }
  helloworld::GreeterClient greeter(*nc);
  helloworld::HelloRequest request;
  request.set_name(argv[1]);
  auto reply = argc > 2 ? greeter.SayHelloIn(argv[2], request) : greeter.SayHello(request);
  if (!reply) {
    // An nrpc.Error from the server ("CLIENT error: ..."), or no answer (timeout, no responders).
    std::fprintf(stderr, "%s\n", reply.error().c_str());
    return 1;
  }
  std::printf("%s\n", reply->message().c_str());
  auto count = greeter.Count();
  if (count) std::printf("greetings so far: %llu\n", (unsigned long long)count->greetings());
  return 0;
}
