// libFuzzer target for the protocol parser (protocol/parser.h) in the server's role, and for
// ParseConnectOptions (protocol/connect_options.h) on every CONNECT's arguments. Built twice:
// parser_fuzz reads what a client sends, route_fuzz (GANNET_FUZZ_ROUTE) what a cluster peer
// sends (RS+, RS-, LS+, LS-, RMSG, HMSG, LMSG, with their accounts and queue lists).
//
// Input layout: the first byte picks where the rest is split into two reads (0 → before the
// first byte, 255 → after the last); the rest is what a client sends. Each input is parsed
//   (a) as one read,
//   (b) as two reads split at that position,
//   (c) one byte per read (inputs up to kMaxBytewise bytes),
// every read from a heap buffer of exactly its size that is freed as soon as Feed returns, so
// ASan reports any read past a buffer or any view the parser keeps into an earlier read. The
// three runs must make exactly the same handler calls and end with the same status; a mismatch
// aborts.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/connect_options.h"
#include "protocol/parser.h"

namespace {

using gannet::ConnectOptions;
using gannet::MsgArgs;
using gannet::Parser;
using gannet::ParserRole;
using gannet::ParseStatus;
using gannet::Verb;

#ifdef GANNET_FUZZ_ROUTE
constexpr ParserRole kRole = ParserRole::kServerForRoute;
#else
constexpr ParserRole kRole = ParserRole::kServerForClient;
#endif

// Small limits, so the fuzzer reaches them.
constexpr size_t kMaxControlLine = 256;
constexpr int64_t kMaxPayload = 4096;  // the handler refuses larger, as the server does
constexpr size_t kMaxBytewise = 2048;

// Records every call into one string. Behaves like the server's Client where that matters to
// the parser: refuses payloads over the maximum and stops on -ERR from a client.
struct FuzzHandler {
  std::string log;

  void Put(std::string_view s) { log.append(s); }
  void PutNum(int64_t n) { log += std::to_string(n); }
  bool End(bool ok = true) {
    log += '\x1e';
    return ok;
  }
  void PutArgs(Verb verb, const MsgArgs& a) {
    PutNum(static_cast<int>(verb));
    Put("|");
    Put(a.subject);
    Put("|");
    Put(a.sid);
    Put("|");
    Put(a.reply);
    Put("|");
    PutNum(a.header_size);
    Put("|");
    Put(a.header_size_token);
    Put("|");
    PutNum(a.total_size);
    Put("|");
    Put(a.total_size_token);
    Put("|");
    Put(a.account);
    Put("|");
    Put(a.queues);
    Put("|");
    Put(a.origin);
  }

  bool BeforeCommand(char c) {
    log += '<';
    log += c;
    return true;
  }
  bool OnConnect(std::string_view json) {
    Put("CONNECT ");
    Put(json);
    ConnectOptions opts;
    std::optional<std::string> err = gannet::ParseConnectOptions(json, opts);
    if (err) {
      Put(" error: ");
      Put(*err);
    } else {
      for (bool b : {opts.verbose, opts.pedantic, opts.tls_required, opts.echo, opts.headers,
                     opts.no_responders, opts.new_account}) {
        log += b ? '1' : '0';
      }
      PutNum(opts.protocol);
      for (const std::string* s :
           {&opts.auth_token, &opts.user, &opts.pass, &opts.name, &opts.lang, &opts.version,
            &opts.sig, &opts.jwt, &opts.nkey, &opts.account}) {
        Put("|");
        Put(*s);
      }
    }
    return End();
  }
  bool OnInfo(std::string_view args) {
    Put("INFO ");
    Put(args);
    return End();
  }
  bool OnErr(std::string_view text) {
    Put("ERR ");
    Put(text);
    return End(false);
  }
  bool OnOk() {
    Put("OK");
    return End();
  }
  bool OnPing() {
    Put("PING");
    return End();
  }
  bool OnPong() {
    Put("PONG");
    return End();
  }
  bool OnSub(std::string_view subject, std::string_view queue, std::string_view sid) {
    Put("SUB ");
    Put(subject);
    Put("|");
    Put(queue);
    Put("|");
    Put(sid);
    return End();
  }
  bool OnUnsub(std::string_view sid, int64_t max) {
    Put("UNSUB ");
    Put(sid);
    Put("|");
    PutNum(max);
    return End();
  }
  bool OnRouteSub(std::string_view origin, std::string_view account, std::string_view subject,
                  std::string_view queue, int64_t weight) {
    Put("RS+ ");
    for (std::string_view v : {origin, account, subject, queue}) {
      Put(v);
      Put("|");
    }
    PutNum(weight);
    if (weight < 0) {
      std::fprintf(stderr, "parser passed a negative queue weight\n");
      std::abort();
    }
    return End();
  }
  bool OnRouteUnsub(std::string_view origin, std::string_view account, std::string_view subject,
                    std::string_view queue) {
    Put("RS- ");
    for (std::string_view v : {origin, account, subject, queue}) {
      Put(v);
      Put("|");
    }
    return End();
  }
  bool OnMsgArgs(Verb verb, const MsgArgs& a) {
    Put("ARGS ");
    PutArgs(verb, a);
    if (a.total_size < 0 || a.header_size > a.total_size) {
      std::fprintf(stderr, "parser passed inconsistent sizes\n");
      std::abort();
    }
    return End(a.total_size <= kMaxPayload);
  }
  bool OnMsg(Verb verb, const MsgArgs& a, std::string_view payload) {
    Put("MSG ");
    PutArgs(verb, a);
    if (payload.size() != static_cast<size_t>(a.total_size)) {
      std::fprintf(stderr, "payload size %zu != announced %lld\n", payload.size(),
                   static_cast<long long>(a.total_size));
      std::abort();
    }
    Put("|");
    Put(payload);
    return End();
  }
};

struct Outcome {
  ParseStatus status = ParseStatus::kOk;
  std::string log;
  size_t end = 0;  // input consumed by the reads fed: where the last read ended
};

// Feeds `data` as reads of the given sizes (the last read takes the rest).
template <typename NextSize>
Outcome Run(const uint8_t* data, size_t size, NextSize next_size) {
  Parser<FuzzHandler> parser(kRole, kMaxControlLine);
  FuzzHandler h;
  Outcome out;
  size_t pos = 0;
  do {
    size_t n = std::min(next_size(), size - pos);
    auto buf = std::make_unique<char[]>(n);  // exactly n bytes: ASan sees any overread
    if (n) std::memcpy(buf.get(), data + pos, n);
    out.status = parser.Feed(h, buf.get(), n);
    pos += n;
  } while (out.status == ParseStatus::kOk && pos < size);
  out.log = std::move(h.log);
  out.end = pos;
  return out;
}

const char* Name(ParseStatus st) {
  switch (st) {
    case ParseStatus::kOk:
      return "kOk";
    case ParseStatus::kStopped:
      return "kStopped";
    case ParseStatus::kUnknownOp:
      return "kUnknownOp";
    case ParseStatus::kMaxControlLine:
      return "kMaxControlLine";
    case ParseStatus::kBadArguments:
      return "kBadArguments";
  }
  return "?";
}

void Check(const uint8_t* data, size_t size, const Outcome& whole, const Outcome& other,
           const char* how) {
  if (whole.status == other.status && whole.log == other.log) return;
  std::fprintf(stderr, "parser outcome depends on how the input is split (%s):\n", how);
  std::fprintf(stderr, "  one read: %s, log %zu bytes\n", Name(whole.status), whole.log.size());
  std::fprintf(stderr, "  %s: %s, log %zu bytes\n", how, Name(other.status), other.log.size());
  size_t i = 0;
  while (i < whole.log.size() && i < other.log.size() && whole.log[i] == other.log[i]) ++i;
  std::fprintf(stderr, "  logs differ at byte %zu; the %s run stopped at input byte %zu\n", i, how,
               other.end);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t split = (size - 1) * data[0] / 255;
  ++data;
  --size;

  Outcome whole = Run(data, size, [&] { return size; });
  bool first = true;
  Outcome two = Run(data, size, [&] {
    bool f = first;
    first = false;
    return f ? split : size;
  });
  Check(data, size, whole, two, "two reads");
  if (size <= kMaxBytewise) {
    Outcome bytes = Run(data, size, [] { return size_t{1}; });
    Check(data, size, whole, bytes, "one byte per read");
  }
  return 0;
}
