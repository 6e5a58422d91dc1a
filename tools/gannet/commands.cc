// gannet pub | sub | request | reply: the everyday commands, with the nats tool's output.
#include <unistd.h>
#include <atomic>
#include <condition_variable>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli.h"

namespace gannet::cli {

using client::Headers;
using client::Message;
using client::Status;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> With(std::vector<std::string> extra) {
  std::vector<std::string> v = kConnectOptions;
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

bool ParseHeaders(const Args& args, Headers* h, std::string* error) {
  for (const auto& kv : args.All("header")) {
    size_t colon = kv.find(':');
    if (colon == std::string::npos || colon == 0) {
      *error = "bad --header '" + kv + "': expected Key:Value";
      return false;
    }
    std::string value = kv.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    h->Add(kv.substr(0, colon), value);
  }
  return true;
}

int Usage(const char* text) {
  std::fputs(text, stderr);
  return 2;
}

void PrintMessage(int64_t n, const Message& m, bool raw) {
  if (raw) {
    std::fwrite(m.data().data(), 1, m.data().size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return;
  }
  std::printf("[#%lld] Received on \"%.*s\"", static_cast<long long>(n),
              static_cast<int>(m.subject().size()), m.subject().data());
  if (!m.reply().empty()) {
    std::printf(" with reply \"%.*s\"", static_cast<int>(m.reply().size()), m.reply().data());
  }
  std::printf("\n");
  if (m.status() != 0)
    std::printf("Status: %d %s\n", m.status(), m.headers().description().c_str());
  for (const auto& [k, v] : m.headers().entries()) std::printf("%s: %s\n", k.c_str(), v.c_str());
  if (m.has_headers()) std::printf("\n");
  std::fwrite(m.data().data(), 1, m.data().size(), stdout);
  std::printf("\n\n");
  std::fflush(stdout);
}

}  // namespace

int RunPub(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet pub [options] SUBJECT [MESSAGE]\n"
      "  -s, --server URL     server(s), comma-separated (default $NATS_URL or "
      "nats://127.0.0.1:4222)\n"
      "  --user U --password P | --token T   credentials\n"
      "  --count N            publish N messages (default 1)\n"
      "  --reply SUBJECT      reply subject\n"
      "  -H, --header K:V     a header (repeatable)\n"
      "  --quiet              print nothing on success\n"
      "Without MESSAGE, standard input is sent when it is not a terminal.\n";
  Args args;
  std::string err;
  if (!args.Parse(argc, argv, 2, With({"count", "reply", "header"}), {"quiet", "help"},
                  {{'s', "server"}, {'H', "header"}}, &err)) {
    std::fprintf(stderr, "gannet pub: %s\n", err.c_str());
    return Usage(kUsage);
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  if (args.positional().empty() || args.positional().size() > 2) return Usage(kUsage);
  int64_t count;
  Headers headers;
  if (!args.GetCount("count", 1, &count, &err) || !ParseHeaders(args, &headers, &err)) {
    std::fprintf(stderr, "gannet pub: %s\n", err.c_str());
    return 2;
  }
  std::string subject = args.positional()[0];
  std::string body;
  if (args.positional().size() == 2) {
    body = args.positional()[1];
  } else if (!isatty(0)) {
    // No MESSAGE: what is piped in (a terminal means an empty message, not a wait).
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto nc = ConnectOrReport(ConnectOptionsFrom(args, "gannet pub"));
  if (!nc.valid()) return 1;
  std::string reply = args.Get("reply");
  for (int64_t i = 0; i < count; ++i) {
    Status st = headers.empty() ? nc.Publish(subject, body, reply)
                                : nc.Publish(subject, headers, body, reply);
    if (st != Status::kOk) {
      std::fprintf(stderr, "gannet pub: publish failed: %s\n", client::StatusText(st));
      return 1;
    }
  }
  Status st = nc.Flush(std::chrono::seconds(10));
  if (st != Status::kOk) {
    std::fprintf(stderr, "gannet pub: flush failed: %s %s\n", client::StatusText(st),
                 nc.last_error().c_str());
    return 1;
  }
  if (!args.Has("quiet")) {
    if (count == 1) {
      std::printf("%s Published %zu bytes to \"%s\"\n", TimeStamp().c_str(), body.size(),
                  subject.c_str());
    } else {
      std::printf("%s Published %lld messages of %zu bytes to \"%s\"\n", TimeStamp().c_str(),
                  static_cast<long long>(count), body.size(), subject.c_str());
    }
  }
  nc.Close();
  return 0;
}

int RunSub(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet sub [options] SUBJECT\n"
      "  -s, --server URL     server(s) (default $NATS_URL or nats://127.0.0.1:4222)\n"
      "  --user U --password P | --token T   credentials\n"
      "  --queue Q            join queue group Q\n"
      "  --count N            exit after N messages\n"
      "  --raw                print only the payloads\n";
  Args args;
  std::string err;
  if (!args.Parse(argc, argv, 2, With({"queue", "count"}), {"raw", "help"}, kConnectAliases,
                  &err)) {
    std::fprintf(stderr, "gannet sub: %s\n", err.c_str());
    return Usage(kUsage);
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  if (args.positional().size() != 1) return Usage(kUsage);
  int64_t count;
  if (!args.GetCount("count", 0, &count, &err)) {
    std::fprintf(stderr, "gannet sub: %s\n", err.c_str());
    return 2;
  }
  StopSignal stop;
  std::atomic<bool> exiting{false};
  auto opts = ConnectOptionsFrom(args, "gannet sub");
  opts.on_disconnected = [&exiting] {
    if (!exiting) std::fprintf(stderr, "%s Disconnected\n", TimeStamp().c_str());
  };
  opts.on_reconnected = [](const std::string& url) {
    std::fprintf(stderr, "%s Reconnected to %s\n", TimeStamp().c_str(), url.c_str());
  };
  opts.on_error = [](Status st, const std::string& d) {
    std::fprintf(stderr, "%s Error: %s %s\n", TimeStamp().c_str(), client::StatusText(st),
                 d.c_str());
  };
  opts.on_closed = [&stop] { stop.Notify(); };
  opts.max_reconnect_attempts = -1;
  auto nc = ConnectOrReport(opts);
  if (!nc.valid()) return 1;
  std::string subject = args.positional()[0];
  bool raw = args.Has("raw");
  int64_t n = 0;
  auto sub = nc.QueueSubscribe(subject, args.Get("queue"), [&](Message& m) {
    PrintMessage(++n, m, raw);
    if (count > 0 && n >= count) stop.Notify();
  });
  if (!sub.ok()) {
    std::fprintf(stderr, "gannet sub: subscribe failed: %s\n", sub.error().c_str());
    return 1;
  }
  if (count > 0) sub->AutoUnsubscribe(count);
  if (nc.Flush(std::chrono::seconds(5)) != Status::kOk) {
    std::fprintf(stderr, "gannet sub: subscription not confirmed: %s\n", nc.last_error().c_str());
    return 1;
  }
  // On stderr, so that --raw output stays payloads only.
  std::fprintf(stderr, "%s Subscribing on %s%s\n", TimeStamp().c_str(), subject.c_str(),
               args.Has("queue") ? (" in group " + args.Get("queue")).c_str() : "");
  stop.Wait();
  exiting = true;
  nc.Close();
  return 0;
}

int RunRequest(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet request [options] SUBJECT [MESSAGE]\n"
      "  -s, --server URL     server(s) (default $NATS_URL or nats://127.0.0.1:4222)\n"
      "  --user U --password P | --token T   credentials\n"
      "  --timeout D          how long to wait for the reply (default 2s)\n"
      "  -H, --header K:V     a header (repeatable)\n"
      "  --raw                print only the reply's payload\n"
      "MESSAGE defaults to empty.\n";
  Args args;
  std::string err;
  if (!args.Parse(argc, argv, 2, With({"timeout", "header"}), {"raw", "help"},
                  {{'s', "server"}, {'H', "header"}}, &err)) {
    std::fprintf(stderr, "gannet request: %s\n", err.c_str());
    return Usage(kUsage);
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  if (args.positional().empty() || args.positional().size() > 2) return Usage(kUsage);
  std::chrono::milliseconds timeout;
  Headers headers;
  if (!args.GetDuration("timeout", std::chrono::seconds(2), &timeout, &err) ||
      !ParseHeaders(args, &headers, &err)) {
    std::fprintf(stderr, "gannet request: %s\n", err.c_str());
    return 2;
  }
  auto nc = ConnectOrReport(ConnectOptionsFrom(args, "gannet request"));
  if (!nc.valid()) return 1;
  std::string subject = args.positional()[0];
  std::string body = args.positional().size() == 2 ? args.positional()[1] : "";
  bool raw = args.Has("raw");
  if (!raw)
    std::fprintf(stderr, "%s Sending request on \"%s\"\n", TimeStamp().c_str(), subject.c_str());
  auto start = Clock::now();
  auto r = headers.empty() ? nc.Request(subject, body, timeout)
                           : nc.Request(subject, headers, body, timeout);
  auto rtt = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!r.ok()) {
    std::fprintf(stderr, "gannet request: %s\n", r.error().c_str());
    return 1;
  }
  if (raw) {
    std::fwrite(r->data().data(), 1, r->data().size(), stdout);
    std::fputc('\n', stdout);
  } else {
    std::fprintf(stderr, "%s Received with rtt %.3fms\n", TimeStamp().c_str(), rtt);
    for (const auto& [k, v] : r->headers().entries()) std::printf("%s: %s\n", k.c_str(), v.c_str());
    if (r->has_headers()) std::printf("\n");
    std::fwrite(r->data().data(), 1, r->data().size(), stdout);
    std::printf("\n");
  }
  nc.Close();
  return 0;
}

int RunReply(int argc, char** argv) {
  static const char* kUsage =
      "usage: gannet reply [options] SUBJECT RESPONSE\n"
      "  -s, --server URL     server(s) (default $NATS_URL or nats://127.0.0.1:4222)\n"
      "  --user U --password P | --token T   credentials\n"
      "  --queue Q            queue group (default NATS-RPLY-22, as the nats tool)\n"
      "  --count N            exit after answering N requests\n"
      "  --echo               answer with the request's own payload instead\n"
      "  --quiet              do not print the requests\n";
  Args args;
  std::string err;
  if (!args.Parse(argc, argv, 2, With({"queue", "count"}), {"echo", "quiet", "help"},
                  kConnectAliases, &err)) {
    std::fprintf(stderr, "gannet reply: %s\n", err.c_str());
    return Usage(kUsage);
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  bool echo = args.Has("echo");
  if (args.positional().size() != (echo ? 1u : 2u)) return Usage(kUsage);
  int64_t count;
  if (!args.GetCount("count", 0, &count, &err)) {
    std::fprintf(stderr, "gannet reply: %s\n", err.c_str());
    return 2;
  }
  StopSignal stop;
  auto opts = ConnectOptionsFrom(args, "gannet reply");
  opts.max_reconnect_attempts = -1;
  opts.on_closed = [&stop] { stop.Notify(); };
  auto nc = ConnectOrReport(opts);
  if (!nc.valid()) return 1;
  std::string subject = args.positional()[0];
  std::string response = echo ? "" : args.positional()[1];
  std::string queue = args.Get("queue", "NATS-RPLY-22");
  bool quiet = args.Has("quiet");
  int64_t n = 0;
  auto sub = nc.QueueSubscribe(subject, queue, [&](Message& m) {
    ++n;
    if (!quiet) PrintMessage(n, m, false);
    if (!m.reply().empty()) nc.Respond(m, echo ? m.data() : std::string_view(response));
    if (count > 0 && n >= count) {
      nc.Flush(std::chrono::seconds(2));
      stop.Notify();
    }
  });
  if (!sub.ok()) {
    std::fprintf(stderr, "gannet reply: subscribe failed: %s\n", sub.error().c_str());
    return 1;
  }
  if (count > 0) sub->AutoUnsubscribe(count);
  if (nc.Flush(std::chrono::seconds(5)) != Status::kOk) {
    std::fprintf(stderr, "gannet reply: subscription not confirmed: %s\n", nc.last_error().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s Listening on \"%s\" in group \"%s\"\n", TimeStamp().c_str(),
               subject.c_str(), queue.c_str());
  stop.Wait();
  nc.Close();
  return 0;
}

}  // namespace gannet::cli
