// gannet: the command-line tool for NATS (and Gannet) users.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli.h"

namespace {

const char* kUsage =
    "usage: gannet COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  pub SUBJECT [MSG]        publish a message\n"
    "  sub SUBJECT              print the messages of a subject (--queue Q to share them)\n"
    "  request SUBJECT [MSG]    send a request and print the reply\n"
    "  reply SUBJECT RESPONSE   answer requests on a subject (a service)\n"
    "  bench [SUBJECT]          measure throughput and latency\n"
    "  stream pub|sub|bench     NATS Streaming: publish with acks, replay and durable\n"
    "                           subscriptions, benchmark (gannet stream --help)\n"
    "  server list|info|ping    the cluster's servers, over the system account\n"
    "  server report connections|accounts\n"
    "                           every connection, or the traffic per account\n"
    "\n"
    "Each command takes -s/--server URL (default $NATS_URL, else nats://127.0.0.1:4222),\n"
    "--user/--password or --token, --help, and for TLS (or a tls:// URL) --tlsca FILE,\n"
    "--tlscert FILE --tlskey FILE (a client certificate) and --tlsname NAME (the name the\n"
    "server's certificate must carry, if not the URL's host).\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace gannet::cli;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "-v" || cmd == "--version" || cmd == "version") {
    std::printf("gannet %s\n", GANNET_VERSION);
    return 0;
  }
  if (cmd == "pub" || cmd == "publish") return RunPub(argc, argv);
  if (cmd == "sub" || cmd == "subscribe") return RunSub(argc, argv);
  if (cmd == "request" || cmd == "req") return RunRequest(argc, argv);
  if (cmd == "reply") return RunReply(argc, argv);
  if (cmd == "bench") return RunBench(argc, argv);
  if (cmd == "stream") return RunStream(argc, argv);
  if (cmd == "server") return RunServer(argc, argv);
  std::fprintf(stderr, "gannet: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
