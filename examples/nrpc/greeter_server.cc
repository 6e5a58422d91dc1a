// An nRPC server in C++: implements helloworld.Greeter (greeter.proto) on a Gannet connection.
// Any nRPC client (Go, Python, or greeter_client) can call it.
//   greeter_server [nats://127.0.0.1:4222]
#include <atomic>
#include <csignal>
#include <cstdio>

#include "greeter.nrpc.h"

namespace {

class Greeter : public helloworld::GreeterServer {
 public:
  gannet::nrpc::Result<helloworld::HelloReply> SayHello(
      const gannet::nrpc::Request& call, const helloworld::HelloRequest& request) override {
    if (request.name().empty()) {
      // The caller receives this as an nrpc.Error of type CLIENT.
      return gannet::nrpc::Error{gannet::nrpc::Error::Type::kClient, "name is empty", 0};
    }
    helloworld::HelloReply reply;
    reply.set_message("Hello " + request.name());
    ++greetings_;
    return reply;
  }

  gannet::nrpc::Result<helloworld::HelloReply> SayHelloIn(
      const gannet::nrpc::Request& call, const std::string& language,
      const helloworld::HelloRequest& request) override {
    helloworld::HelloReply reply;
    if (language == "fr") {
      reply.set_message("Bonjour " + request.name());
    } else if (language == "en") {
      reply.set_message("Hello " + request.name());
    } else {
      return gannet::nrpc::Error{gannet::nrpc::Error::Type::kClient, "unknown language " + language,
                                 0};
    }
    ++greetings_;
    return reply;
  }

  gannet::nrpc::Result<helloworld::CountReply> Count(const gannet::nrpc::Request& call) override {
    helloworld::CountReply reply;
    reply.set_greetings(greetings_.load());
    return reply;
  }

 private:
  std::atomic<uint64_t> greetings_{0};
};

}  // namespace

int main(int argc, char** argv) {
  auto nc = gannet::client::Connection::Connect(argc > 1 ? argv[1] : "nats://127.0.0.1:4222");
  if (!nc) {
    std::fprintf(stderr, "connect: %s\n", nc.error().c_str());
    return 1;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  Greeter greeter;
  helloworld::GreeterHandler handler(*nc, greeter);
  if (auto st = handler.Subscribe();
      st != gannet::client::Status::kOk || nc->Flush() != gannet::client::Status::kOk) {
    std::fprintf(stderr, "subscribe: %s\n", gannet::client::StatusText(st));
    return 1;
  }
  std::printf("serving %s\n", helloworld::GreeterHandler::Subject().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  nc->Drain();
  return 0;
}
