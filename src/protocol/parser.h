// The resumable NATS protocol parser: one state machine for every kind of connection.
//
// It takes whatever bytes a read returned — a command split at any byte, or hundreds pipelined
// — and calls the handler once per complete command. Control lines and payloads that lie wholly
// inside the read buffer are passed as views into it (no copy); only a command split across
// reads is copied into the parser's own buffers, bounded by max_control_line and the payload
// size the handler accepted.
//
// The Handler is a template parameter (the Client, a route, a test double), so dispatch is
// direct calls. Every handler method returns false to stop parsing: the connection is closing.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace gannet {

// Which verbs a connection may send to us.
enum class ParserRole : uint8_t {
  kServerForClient,  // we are the server; the peer is a client (PUB, SUB, CONNECT, ...)
  kClientForServer,  // we are a client; the peer is a server (INFO, MSG, HMSG, ...)
  kServerForRoute,   // the peer is another server of the cluster (RS+, RS-, RMSG, HMSG, ...)
};

enum class ParseStatus : uint8_t {
  kOk,              // everything consumed; a partial command may be buffered
  kStopped,         // a handler method returned false
  kUnknownOp,       // not a verb we accept here, or a payload not followed by CRLF
  kMaxControlLine,  // control line longer than the limit
  kBadArguments,    // wrong argument count or sizes: the reference closes without -ERR
};

// Arguments of PUB/HPUB (and MSG/HMSG on the client side, RMSG/HMSG/LMSG from a route).
struct MsgArgs {
  std::string_view subject;
  std::string_view sid;      // MSG/HMSG only
  std::string_view reply;    // empty if none
  int64_t header_size = -1;  // HPUB/HMSG/LMSG only; -1 otherwise
  int64_t total_size = 0;    // payload bytes including headers
  // The size arguments exactly as sent: the reference echoes them verbatim in MSG/HMSG.
  std::string_view header_size_token;
  std::string_view total_size_token;
  // From a route: the account, the queue groups the sender picked this server's members for
  // ("q1 q2 ...", split with SplitArgs; empty if none), and LMSG's origin cluster.
  std::string_view account;
  std::string_view queues;
  std::string_view origin;
};

enum class Verb : uint8_t {
  kNone,
  kConnect,
  kInfo,
  kPub,
  kHpub,
  kSub,
  kUnsub,
  kPing,
  kPong,
  kMsg,
  kHmsg,
  kOk,
  kErr,
  // Route verbs.
  kRsSub,    // RS+ <account> <subject> [<queue> <weight>]
  kRsUnsub,  // RS- <account> <subject> [<queue>]
  kLsSub,    // LS+ <origin> <account> <subject> [<queue> <weight>]
  kLsUnsub,  // LS- <origin> <account> <subject> [<queue>]
  kRmsg,     // RMSG <account> <subject> [+ <reply> | |] [<queue>...] [<reply>] <size>
  kLmsg,     // LMSG <origin> <account> <subject> ... <header size> <size>
  kAsub,     // A+ / A-: a gateway's account interest; accepted and ignored on routes
  kAunsub,
};

namespace parser_detail {
struct VerbSpec {
  const char* name;
  Verb verb;
  bool takes_args;  // needs a space/tab after the verb, then arguments up to the line end
  bool free_args;   // CONNECT/INFO: arguments may follow the verb directly
  bool client_sends;
  bool server_sends;
  bool route_sends;
};
inline constexpr VerbSpec kVerbs[] = {
    {"CONNECT", Verb::kConnect, true, true, true, false, true},
    {"INFO", Verb::kInfo, true, true, true, true, true},
    {"PUB", Verb::kPub, true, false, true, false, false},
    {"HPUB", Verb::kHpub, true, false, true, false, false},
    {"SUB", Verb::kSub, true, false, true, false, false},
    {"UNSUB", Verb::kUnsub, true, false, true, false, false},
    {"PING", Verb::kPing, false, false, true, true, true},
    {"PONG", Verb::kPong, false, false, true, true, true},
    {"MSG", Verb::kMsg, true, false, false, true, false},
    {"HMSG", Verb::kHmsg, true, false, false, true, true},
    {"+OK", Verb::kOk, false, false, true, true, true},
    {"-ERR", Verb::kErr, true, false, true, true, true},
    {"RS+", Verb::kRsSub, true, false, false, false, true},
    {"RS-", Verb::kRsUnsub, true, false, false, false, true},
    {"LS+", Verb::kLsSub, true, false, false, false, true},
    {"LS-", Verb::kLsUnsub, true, false, false, false, true},
    {"RMSG", Verb::kRmsg, true, false, false, false, true},
    {"LMSG", Verb::kLmsg, true, false, false, false, true},
    {"A+", Verb::kAsub, true, false, false, false, true},
    {"A-", Verb::kAunsub, true, false, false, false, true},
};
inline constexpr int kNumVerbs = sizeof(kVerbs) / sizeof(kVerbs[0]);

inline char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// Parses a decimal size as the reference's parseSize: digits only, no sign, no overflow.
inline int64_t ParseSize(std::string_view s) {
  if (s.empty() || s.size() > 9) return -1;  // util.go:parseSize: at most 9 digits
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}
// The first byte at or after p that is <= ' ' (a space, tab, CR, LF or other control byte),
// or end. Eight bytes per step: a subject is usually longer than a few bytes, and a byte loop
// was most of a PUB's parsing.
inline const char* TokenEnd(const char* p, const char* end) {
  static_assert(std::endian::native == std::endian::little, "the lowest byte comes first");
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  while (end - p >= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    // A byte's high bit is set in `found` if the byte is below 0x21 (for bytes under 0x80;
    // ~x drops the others). A borrow only carries upward, so the lowest set bit is exact.
    const uint64_t found = (x - kOnes * 0x21) & ~x & (kOnes * 0x80);
    if (found) return p + (__builtin_ctzll(found) >> 3);
    p += 8;
  }
  while (p<end&& static_cast<unsigned char>(*p)> ' ') ++p;
  return p;
}
}  // namespace parser_detail

// Splits arguments on spaces and tabs (and stray CR/LF, as the reference's splitArg does).
struct SplitArgs {
  static constexpr int kMax = 8;
  int count = 0;  // kMax + 1 means "too many"
  std::string_view arg(int i) const { return std::string_view(starts[i], lens[i]); }

  explicit SplitArgs(std::string_view line) {
    const char* p = line.data();
    const char* end = p + line.size();
    // ' ', '\t', '\r' and '\n' are all <= 0x20: one comparison rejects the common byte.
    auto is_sep = [](char c) {
      return static_cast<unsigned char>(c) <= ' ' &&
             (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    };
    while (p < end) {
      while (p < end && is_sep(*p)) ++p;
      if (p >= end) break;
      const char* start = p;
      while (p < end && !is_sep(*p)) ++p;
      if (count == kMax) {
        count = kMax + 1;
        return;
      }
      starts[count] = start;
      lens[count] = static_cast<size_t>(p - start);
      ++count;
    }
  }

 private:
  // Pointers and lengths apart, and not value-initialized: zeroing per command compiled to a
  // slow block clear, and string_views written as two halves then read whole stalled on
  // store forwarding. Only entries [0, count) are read.
  const char* starts[kMax];
  size_t lens[kMax];
};

// A routed message's arguments, which carry any number of queue names: every token's span,
// inline for the usual few, on the heap only for a line with more than kInline tokens.
class RoutedArgs {
 public:
  static constexpr size_t kInline = 16;
  explicit RoutedArgs(std::string_view line) : line_(line) {
    size_t i = 0;
    const size_t n = line.size();
    auto is_sep = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (i < n) {
      while (i < n && is_sep(line[i])) ++i;
      if (i >= n) break;
      size_t start = i;
      while (i < n && !is_sep(line[i])) ++i;
      Push(start, i);
    }
  }
  size_t count() const { return count_; }
  std::string_view arg(size_t k) const {
    const Span& s = k < kInline ? inline_[k] : heap_[k - kInline];
    return line_.substr(s.start, s.end - s.start);
  }
  // Tokens [first, last] as one view of the line (queue names, kept as sent).
  std::string_view span(size_t first, size_t last) const {
    if (first > last) return {};
    size_t b = (first < kInline ? inline_[first] : heap_[first - kInline]).start;
    size_t e = (last < kInline ? inline_[last] : heap_[last - kInline]).end;
    return line_.substr(b, e - b);
  }

 private:
  struct Span {
    size_t start;
    size_t end;
  };
  void Push(size_t start, size_t end) {
    if (count_ < kInline) {
      inline_[count_] = Span{start, end};
    } else {
      heap_.push_back(Span{start, end});
    }
    ++count_;
  }
  std::string_view line_;
  Span inline_[kInline];
  std::vector<Span> heap_;
  size_t count_ = 0;
};

template <typename Handler>
class Parser {
 public:
  Parser(ParserRole role, size_t max_control_line)
      : role_(role), max_control_line_(max_control_line) {}

  void set_max_control_line(size_t n) { max_control_line_ = n; }
  // True when no command is partially buffered.
  bool idle() const { return state_ == State::kStart; }
  // After Feed returned kStopped: the offset in the data fed where parsing would resume (just
  // past the command whose handler stopped, or at the command BeforeCommand refused). A handler
  // that stops to finish a command asynchronously (a CONNECT whose password is checked on
  // another thread) feeds the rest from there later.
  size_t stopped_at() const { return stopped_at_; }

  ParseStatus Feed(Handler& h, const char* data, size_t len) {
    using namespace parser_detail;
    size_t i = 0;
    while (i < len) {
      switch (state_) {
        case State::kStart: {
          char c = data[i];
          if (!h.BeforeCommand(c)) {
            stopped_at_ = i;
            return ParseStatus::kStopped;
          }
          // Fast path for the verbs of the message path, when the whole verb is here.
          if (len - i >= 5) {
            size_t verb_bytes = 0;
            Verb fast = FastVerb(data + i, verb_bytes);
            const bool routed = role_ == ParserRole::kServerForRoute &&
                                (fast == Verb::kRmsg || fast == Verb::kHmsg);
            if (fast == Verb::kPub || routed) {
              // A whole PUB, RMSG or HMSG in its usual form: one pass, no state machine.
              const size_t line_end =
                  routed ? ScanRouted(data, len, i, fast) : ScanPub(data, len, i);
              if (line_end != 0) {
                verb_ = fast;
                if (!h.OnMsgArgs(fast, msg_)) {
                  stopped_at_ = line_end;
                  return ParseStatus::kStopped;
                }
                const size_t need = static_cast<size_t>(msg_.total_size);
                if (data[line_end + need] != '\r' || data[line_end + need + 1] != '\n') {
                  return ParseStatus::kUnknownOp;
                }
                ParseStatus st = DeliverMessage(h, std::string_view(data + line_end, need));
                if (st != ParseStatus::kOk) return st;
                i = line_end + need + 2;
                break;
              }
            }
            if (fast != Verb::kNone) {
              verb_ = fast;
              i += verb_bytes;
              state_ = State::kArgSpace;
              break;
            }
          }
          verb_len_ = 0;
          candidates_ = AllowedMask();
          state_ = State::kVerb;
          [[fallthrough]];
        }
        case State::kVerb: {
          char c = Upper(data[i]);
          uint32_t next = 0;
          const VerbSpec* done = nullptr;
          for (int v = 0; v < kNumVerbs; ++v) {
            if (!(candidates_ & (1u << v))) continue;
            const char* name = kVerbs[v].name;
            if (name[verb_len_] == c) {
              next |= 1u << v;
              if (name[verb_len_ + 1] == '\0') done = &kVerbs[v];
            }
          }
          if (!next) return ParseStatus::kUnknownOp;
          candidates_ = next;
          ++verb_len_;
          ++i;
          if (done) {
            verb_ = done->verb;
            if (!done->takes_args) {
              state_ = State::kSkipLine;
            } else {
              state_ = done->free_args ? State::kArgSpace : State::kVerbEnd;
            }
          }
          break;
        }
        case State::kVerbEnd:
          if (data[i] != ' ' && data[i] != '\t') return ParseStatus::kUnknownOp;
          state_ = State::kArgSpace;
          ++i;
          break;
        case State::kArgSpace:
          while (i < len && (data[i] == ' ' || data[i] == '\t')) ++i;
          if (i < len) {
            state_ = State::kArgs;
            line_.clear();
          }
          break;
        case State::kArgs: {
          const char* nl = static_cast<const char*>(std::memchr(data + i, '\n', len - i));
          if (!nl) {
            // Split control line: keep what we have, bounded by the limit.
            line_.append(data + i, len - i);
            // A trailing CR may be the line's end: it does not count, as on the complete path.
            size_t counted = line_.size() - (line_.back() == '\r' ? 1 : 0);
            if (counted > LineLimit()) return ParseStatus::kMaxControlLine;
            i = len;
            break;
          }
          size_t end = static_cast<size_t>(nl - data);
          std::string_view line;
          if (line_.empty()) {
            line = std::string_view(data + i, end - i);
          } else {
            line_.append(data + i, end - i);
            line = line_;
          }
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          i = end + 1;
          if (line.size() > LineLimit()) return ParseStatus::kMaxControlLine;
          ParseStatus st = DispatchLine(h, line);
          if (st != ParseStatus::kOk) {
            stopped_at_ = i;
            return st;
          }
          if (state_ == State::kPayload) {
            // Fast path: the whole payload and its CRLF are in this buffer.
            size_t need = static_cast<size_t>(msg_.total_size);
            if (len - i >= need + 2) {
              if (data[i + need] != '\r' || data[i + need + 1] != '\n') {
                return ParseStatus::kUnknownOp;
              }
              st = DeliverMessage(h, std::string_view(data + i, need));
              if (st != ParseStatus::kOk) return st;
              i += need + 2;
              state_ = State::kStart;
            } else if (len - i > need && data[i + need] != '\r') {
              return ParseStatus::kUnknownOp;  // fail as soon as the byte after the payload is
                                               // wrong
            } else {
              // Carry the control line over: the views in msg_ must outlive this buffer.
              if (line.data() != line_.data()) line_.assign(line);
              payload_.clear();
              payload_.reserve(need + 2);
            }
          }
          break;
        }
        case State::kPayload: {
          size_t want = static_cast<size_t>(msg_.total_size) + 2 - payload_.size();
          size_t take = std::min(want, len - i);
          payload_.append(data + i, take);
          i += take;
          if (payload_.size() > static_cast<size_t>(msg_.total_size) &&
              payload_[static_cast<size_t>(msg_.total_size)] != '\r') {
            return ParseStatus::kUnknownOp;
          }
          if (payload_.size() == static_cast<size_t>(msg_.total_size) + 2) {
            size_t n = static_cast<size_t>(msg_.total_size);
            if (payload_[n] != '\r' || payload_[n + 1] != '\n') return ParseStatus::kUnknownOp;
            // Re-split the carried control line so the argument views point into line_.
            ParseStatus st = ParseMsgArgs(line_, verb_);
            if (st != ParseStatus::kOk) return st;
            st = DeliverMessage(h, std::string_view(payload_.data(), n));
            if (st != ParseStatus::kOk) return st;
            state_ = State::kStart;
          }
          break;
        }
        case State::kSkipLine: {
          const char* nl = static_cast<const char*>(std::memchr(data + i, '\n', len - i));
          if (!nl) {
            i = len;
            break;
          }
          i = static_cast<size_t>(nl - data) + 1;
          state_ = State::kStart;
          bool ok = true;
          switch (verb_) {
            case Verb::kPing:
              ok = h.OnPing();
              break;
            case Verb::kPong:
              ok = h.OnPong();
              break;
            case Verb::kOk:
              ok = h.OnOk();
              break;
            default:
              break;
          }
          if (!ok) {
            stopped_at_ = i;
            return ParseStatus::kStopped;
          }
          break;
        }
      }
    }
    // A payload larger than what we keep in the read buffer is copied; bound the line too.
    return ParseStatus::kOk;
  }

 private:
  enum class State : uint8_t { kStart, kVerb, kVerbEnd, kArgSpace, kArgs, kPayload, kSkipLine };

  // A route may send control lines of any length (the reference checks max_control_line for
  // clients only); a bound all the same, so a broken peer cannot make a line grow forever.
  static constexpr size_t kRouteMaxControlLine = size_t{1} << 20;
  size_t LineLimit() const {
    switch (role_) {
      case ParserRole::kServerForClient:
        return max_control_line_;
      case ParserRole::kServerForRoute:
        return std::max(max_control_line_, kRouteMaxControlLine);
      case ParserRole::kClientForServer:
        break;
    }
    return SIZE_MAX;
  }

  // Recognizes the message path's verbs by role — "PUB ", "SUB " from a client, "MSG "
  // from a server, "RMSG ", "HMSG ", "RS+ ", "RS- " from a route — any case, a space or tab
  // after the verb, from at least 5 available bytes. kNone sends the byte-wise path.
  Verb FastVerb(const char* p, size_t& verb_bytes) const {
    auto lower = [](char c) { return static_cast<char>(c | 0x20); };
    auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    char c0 = lower(p[0]), c1 = lower(p[1]), c2 = lower(p[2]);
    verb_bytes = 4;
    switch (role_) {
      case ParserRole::kServerForClient:
        if (is_space(p[3])) {
          if (c0 == 'p' && c1 == 'u' && c2 == 'b') return Verb::kPub;
          if (c0 == 's' && c1 == 'u' && c2 == 'b') return Verb::kSub;
        }
        break;
      case ParserRole::kClientForServer:
        if (is_space(p[3]) && c0 == 'm' && c1 == 's' && c2 == 'g') return Verb::kMsg;
        break;
      case ParserRole::kServerForRoute:
        if (c0 == 'r' && c1 == 's' && is_space(p[3])) {
          if (p[2] == '+') return Verb::kRsSub;
          if (p[2] == '-') return Verb::kRsUnsub;
        }
        if (c1 == 'm' && c2 == 's' && lower(p[3]) == 'g' && is_space(p[4])) {
          verb_bytes = 5;
          if (c0 == 'r') return Verb::kRmsg;
          if (c0 == 'h') return Verb::kHmsg;
        }
        break;
    }
    return Verb::kNone;
  }

  // The arguments of a whole control line in its usual form, found in one pass: one space or
  // tab between arguments, none at the end, the line ending in CRLF within the buffer, at most
  // kMax arguments, within the line limit. `line_end` is the offset just past the CRLF; 0 when
  // the line is anything else (the general path then parses the same bytes from the start).
  struct ScannedLine {
    static constexpr int kMax = 6;
    size_t line_end = 0;
    int n = 0;
    const char* starts[kMax];
    size_t lens[kMax];
    std::string_view arg(int k) const { return std::string_view(starts[k], lens[k]); }
  };
  ScannedLine ScanLine(const char* data, size_t len, size_t args_at) const {
    ScannedLine out;
    const char* p = data + args_at;
    const char* const end = data + len;
    auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (p < end && blank(*p)) ++p;
    const char* const line = p;
    for (;;) {
      const char* start = p;
      p = parser_detail::TokenEnd(p, end);
      if (p == end || p == start || out.n == ScannedLine::kMax) return out;
      out.starts[out.n] = start;
      out.lens[out.n] = static_cast<size_t>(p - start);
      ++out.n;
      if (*p == '\r') break;
      if (!blank(*p)) return out;
      ++p;
    }
    if (end - p < 2 || p[1] != '\n') return out;
    if (static_cast<size_t>(p - line) > LineLimit()) return out;
    out.line_end = static_cast<size_t>(p + 2 - data);
    return out;
  }

  // "PUB <subject> [<reply>] <size>\r\n" at data[i], in the form clients send, with its payload
  // and CRLF wholly in the buffer: fills msg_ as ParseMsgArgs would and returns the offset just
  // past the control line; 0 for anything else (the general path then parses the same bytes,
  // with the same calls and errors). One pass over the line, where the general path reads it
  // twice (memchr, then SplitArgs), and no state changes: a tenth of the server's CPU on a
  // pub-only load.
  size_t ScanPub(const char* data, size_t len, size_t i) {
    const ScannedLine a = ScanLine(data, len, i + 4);  // past "PUB" and its space or tab
    if (a.line_end == 0 || a.n < 2 || a.n > 3) return 0;
    const int64_t size = parser_detail::ParseSize(a.arg(a.n - 1));
    if (size < 0 || len - a.line_end < static_cast<size_t>(size) + 2) return 0;
    msg_.subject = a.arg(0);
    msg_.sid = {};
    msg_.reply = a.n == 3 ? a.arg(1) : std::string_view();
    msg_.header_size = -1;
    msg_.header_size_token = {};
    msg_.total_size = size;
    msg_.total_size_token = a.arg(a.n - 1);
    return a.line_end;
  }

  // The same for a route's RMSG and HMSG without queue groups — "RMSG <account> <subject>
  // [<reply>] <size>", HMSG with <header size> before <size> — the form nearly every routed
  // message has (the general RoutedArgs walk was a third of a receiving node's time).
  size_t ScanRouted(const char* data, size_t len, size_t i, Verb verb) {
    const ScannedLine a = ScanLine(data, len, i + 5);  // past "RMSG"/"HMSG" and its blank
    const bool headers = verb == Verb::kHmsg;
    const int sizes = headers ? 2 : 1;
    if (a.line_end == 0 || a.n < 2 + sizes || a.n > 3 + sizes) return 0;
    const int64_t size = parser_detail::ParseSize(a.arg(a.n - 1));
    const int64_t header_size = headers ? parser_detail::ParseSize(a.arg(a.n - 2)) : -1;
    if (size < 0 || (headers && (header_size < 0 || header_size > size))) return 0;
    if (len - a.line_end < static_cast<size_t>(size) + 2) return 0;
    msg_.account = a.arg(0);
    msg_.subject = a.arg(1);
    msg_.sid = {};
    msg_.reply = a.n == 3 + sizes ? a.arg(2) : std::string_view();
    msg_.queues = {};
    msg_.origin = {};
    msg_.header_size = header_size;
    msg_.header_size_token = headers ? a.arg(a.n - 2) : std::string_view();
    msg_.total_size = size;
    msg_.total_size_token = a.arg(a.n - 1);
    return a.line_end;
  }

  uint32_t AllowedMask() const {
    uint32_t m = 0;
    for (int v = 0; v < parser_detail::kNumVerbs; ++v) {
      const auto& spec = parser_detail::kVerbs[v];
      bool ok = role_ == ParserRole::kServerForClient   ? spec.client_sends
                : role_ == ParserRole::kClientForServer ? spec.server_sends
                                                        : spec.route_sends;
      if (ok) m |= 1u << v;
    }
    return m;
  }

  // Parses PUB/HPUB/MSG/HMSG arguments into msg_ (views into `line`).
  ParseStatus ParseMsgArgs(std::string_view line, Verb verb) {
    using parser_detail::ParseSize;
    if (role_ == ParserRole::kServerForRoute) return ParseRoutedMsgArgs(line, verb);
    SplitArgs a(line);
    // Field by field: assigning MsgArgs{} compiles to a slow block clear.
    msg_.sid = {};
    msg_.reply = {};
    msg_.header_size = -1;
    msg_.header_size_token = {};
    int n = a.count;
    switch (verb) {
      case Verb::kPub:
        if (n != 2 && n != 3) return ParseStatus::kBadArguments;
        msg_.subject = a.arg(0);
        if (n == 3) msg_.reply = a.arg(1);
        msg_.total_size = ParseSize(a.arg(n - 1));
        break;
      case Verb::kHpub:
        if (n != 3 && n != 4) return ParseStatus::kBadArguments;
        msg_.subject = a.arg(0);
        if (n == 4) msg_.reply = a.arg(1);
        msg_.header_size = ParseSize(a.arg(n - 2));
        msg_.total_size = ParseSize(a.arg(n - 1));
        if (msg_.header_size < 0) return ParseStatus::kBadArguments;
        break;
      case Verb::kMsg:
        if (n != 3 && n != 4) return ParseStatus::kBadArguments;
        msg_.subject = a.arg(0);
        msg_.sid = a.arg(1);
        if (n == 4) msg_.reply = a.arg(2);
        msg_.total_size = ParseSize(a.arg(n - 1));
        break;
      case Verb::kHmsg:
        if (n != 4 && n != 5) return ParseStatus::kBadArguments;
        msg_.subject = a.arg(0);
        msg_.sid = a.arg(1);
        if (n == 5) msg_.reply = a.arg(2);
        msg_.header_size = ParseSize(a.arg(n - 2));
        msg_.total_size = ParseSize(a.arg(n - 1));
        if (msg_.header_size < 0) return ParseStatus::kBadArguments;
        break;
      default:
        return ParseStatus::kBadArguments;
    }
    msg_.total_size_token = a.arg(n - 1);
    if (msg_.header_size >= 0) msg_.header_size_token = a.arg(n - 2);
    if (msg_.total_size < 0) return ParseStatus::kBadArguments;
    if (msg_.header_size > msg_.total_size) return ParseStatus::kBadArguments;
    return ParseStatus::kOk;
  }

  // RMSG, HMSG and LMSG from a route (route.go processRoutedMsgArgs and friends):
  //   RMSG <acc> <subj> [<reply>] <size>
  //   RMSG <acc> <subj> + <reply> <queue>... <size>      RMSG <acc> <subj> | <queue>... <size>
  //   HMSG: the same with <header size> before <size>; LMSG: <origin> first, always a header
  //   size.
  ParseStatus ParseRoutedMsgArgs(std::string_view line, Verb verb) {
    using parser_detail::ParseSize;
    RoutedArgs a(line);
    msg_.sid = {};
    msg_.reply = {};
    msg_.queues = {};
    msg_.origin = {};
    msg_.header_size = -1;
    msg_.header_size_token = {};
    const bool lmsg = verb == Verb::kLmsg;
    const bool headers = verb == Verb::kHmsg || lmsg;
    const size_t first = lmsg ? 1 : 0;     // the account's index
    const size_t sizes = headers ? 2 : 1;  // trailing size tokens
    const size_t n = a.count();
    if (n < first + 2 + sizes) return ParseStatus::kBadArguments;
    if (lmsg) msg_.origin = a.arg(0);
    msg_.account = a.arg(first);
    msg_.subject = a.arg(first + 1);
    const size_t middle = n - first - 2 - sizes;  // tokens between the subject and the sizes
    if (middle == 1) {
      msg_.reply = a.arg(first + 2);
    } else if (middle >= 2) {
      std::string_view indicator = a.arg(first + 2);
      if (indicator == "+") {
        if (middle < 3) return ParseStatus::kBadArguments;
        msg_.reply = a.arg(first + 3);
        msg_.queues = a.span(first + 4, n - sizes - 1);
      } else if (indicator == "|") {
        msg_.queues = a.span(first + 3, n - sizes - 1);
      } else {
        return ParseStatus::kBadArguments;
      }
    }
    msg_.total_size_token = a.arg(n - 1);
    msg_.total_size = ParseSize(msg_.total_size_token);
    if (headers) {
      msg_.header_size_token = a.arg(n - 2);
      msg_.header_size = ParseSize(msg_.header_size_token);
      if (msg_.header_size < 0) return ParseStatus::kBadArguments;
    }
    if (msg_.total_size < 0 || msg_.header_size > msg_.total_size) {
      return ParseStatus::kBadArguments;
    }
    return ParseStatus::kOk;
  }

  // RS+/LS+ and RS-/LS-: [<origin>] <account> <subject> [<queue> [<weight>]].
  ParseStatus DispatchRouteSub(Handler& h, std::string_view line, bool sub, bool origin) {
    SplitArgs a(line);
    const int off = origin ? 1 : 0;
    const int n = a.count - off;
    std::string_view queue;
    int64_t weight = 0;
    if (sub) {
      if (n == 4) {
        queue = a.arg(off + 2);
        weight = parser_detail::ParseSize(a.arg(off + 3));
        if (weight < 0) return ParseStatus::kBadArguments;
      } else if (n != 2) {
        return ParseStatus::kBadArguments;
      }
    } else {
      if (n == 3) {
        queue = a.arg(off + 2);
      } else if (n != 2) {
        return ParseStatus::kBadArguments;
      }
    }
    bool ok = true;
    if constexpr (requires { h.OnRouteSub(line, line, line, line, weight); }) {
      std::string_view o = origin ? a.arg(0) : std::string_view();
      ok = sub ? h.OnRouteSub(o, a.arg(off), a.arg(off + 1), queue, weight)
               : h.OnRouteUnsub(o, a.arg(off), a.arg(off + 1), queue);
    }
    state_ = State::kStart;
    return ok ? ParseStatus::kOk : ParseStatus::kStopped;
  }

  ParseStatus DispatchLine(Handler& h, std::string_view line) {
    bool ok = true;
    switch (verb_) {
      case Verb::kConnect:
        ok = h.OnConnect(line);
        break;
      case Verb::kInfo:
        ok = h.OnInfo(line);
        break;
      case Verb::kErr:
        ok = h.OnErr(line);
        break;
      case Verb::kSub: {
        SplitArgs a(line);
        if (a.count == 2) {
          ok = h.OnSub(a.arg(0), std::string_view(), a.arg(1));
        } else if (a.count == 3) {
          ok = h.OnSub(a.arg(0), a.arg(1), a.arg(2));
        } else {
          return ParseStatus::kBadArguments;
        }
        break;
      }
      case Verb::kUnsub: {
        SplitArgs a(line);
        if (a.count == 1) {
          ok = h.OnUnsub(a.arg(0), -1);
        } else if (a.count == 2) {
          // An unparsable max reads as -1, which unsubscribes at once (as the reference).
          ok = h.OnUnsub(a.arg(0), parser_detail::ParseSize(a.arg(1)));
        } else {
          return ParseStatus::kBadArguments;
        }
        break;
      }
      case Verb::kRsSub:
      case Verb::kRsUnsub:
      case Verb::kLsSub:
      case Verb::kLsUnsub:
        return DispatchRouteSub(h, line, verb_ == Verb::kRsSub || verb_ == Verb::kLsSub,
                                verb_ == Verb::kLsSub || verb_ == Verb::kLsUnsub);
      case Verb::kAsub:
      case Verb::kAunsub:
        break;  // a gateway's account interest: nothing for a route to do (as the reference)
      case Verb::kPub:
      case Verb::kHpub:
      case Verb::kMsg:
      case Verb::kHmsg:
      case Verb::kRmsg:
      case Verb::kLmsg: {
        ParseStatus st = ParseMsgArgs(line, verb_);
        if (st != ParseStatus::kOk) return st;
        if (!h.OnMsgArgs(verb_, msg_)) return ParseStatus::kStopped;
        state_ = State::kPayload;
        return ParseStatus::kOk;
      }
      default:
        break;
    }
    state_ = State::kStart;
    return ok ? ParseStatus::kOk : ParseStatus::kStopped;
  }

  ParseStatus DeliverMessage(Handler& h, std::string_view payload) {
    return h.OnMsg(verb_, msg_, payload) ? ParseStatus::kOk : ParseStatus::kStopped;
  }

  ParserRole role_;
  size_t max_control_line_;
  size_t stopped_at_ = 0;
  State state_ = State::kStart;
  Verb verb_ = Verb::kNone;
  uint32_t candidates_ = 0;
  int verb_len_ = 0;
  MsgArgs msg_;
  std::string line_;     // control line carried across reads
  std::string payload_;  // payload (+CRLF) carried across reads
};

}  // namespace gannet
