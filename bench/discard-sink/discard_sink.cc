// gannet-discard-sink: the read-and-discard ceiling as a process of its own (bench/compare runs
// it beside the two servers): a listener that answers the NATS handshake and PINGs and throws
// everything else away (bench/common/discard_sink.h).
//
//   gannet-discard-sink [-a 127.0.0.1] -p PORT [--relay | --frames]
// --relay: instead of discarding, forward each PUB to the connections subscribed to its subject
// (bench/common/relay_sink.h): the delivery ceiling for the pubsub, fan-out and fan-in rows.
// --frames: read frame by frame and skip payloads by their size instead of scanning every byte
// (DiscardSink::Mode::kFrames): the least CPU per large message, the floor of a 1 KB pub-only.
// Prints "Server is ready" once listening (as both servers do), runs until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <memory>

#include "../common/discard_sink.h"
#include "../common/relay_sink.h"

int main(int argc, char** argv) {
  int port = 0;
  bool relay = false;
  auto mode = gannet::bench::DiscardSink::Mode::kScan;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-p" || a == "--port") && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if ((a == "-a" || a == "--addr") && i + 1 < argc) {
      ++i;  // always 127.0.0.1
    } else if (a == "--relay") {
      relay = true;
    } else if (a == "--frames") {
      mode = gannet::bench::DiscardSink::Mode::kFrames;
    } else {
      std::fprintf(stderr,
                   "usage: gannet-discard-sink [-a 127.0.0.1] -p PORT [--relay | --frames]\n");
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts: only sigwait sees them
  std::unique_ptr<gannet::bench::DiscardSink> sink;
  std::unique_ptr<gannet::bench::RelaySink> relay_sink;
  int listening = 0;
  if (relay) {
    relay_sink = std::make_unique<gannet::bench::RelaySink>(port);
    listening = relay_sink->port();
  } else {
    sink = std::make_unique<gannet::bench::DiscardSink>(port, mode);
    listening = sink->port();
  }
  std::printf("Listening on 127.0.0.1:%d\nServer is ready\n", listening);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  std::_Exit(0);  // connection threads may be blocked in recv(); nothing to clean up
}
