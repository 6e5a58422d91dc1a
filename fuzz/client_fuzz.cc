// libFuzzer target for what the client library reads from a server:
//   - the protocol stream in the client's role (protocol/parser.h, kClientForServer): parsed as
//     one read and one byte per read, the two must make the same handler calls;
//   - HMSG header blocks (Headers::Parse): what parses must serialize and parse back equal, and
//     a Message built from it must hand back exactly its parts;
//   - server URLs, as INFO connect_urls brings them (ParseServerUrl): what parses must print
//     and parse back to the same address.
// Any mismatch aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "client/server_pool.h"
#include "gannet/client/headers.h"
#include "gannet/client/message.h"
#include "protocol/parser.h"

namespace {

using gannet::MsgArgs;
using gannet::Parser;
using gannet::ParserRole;
using gannet::ParseStatus;
using gannet::Verb;
using gannet::client::Headers;
using gannet::client::Message;

constexpr size_t kMaxBytewise = 2048;

struct Recorder {
  std::string log;
  bool BeforeCommand(char) { return true; }
  bool OnConnect(std::string_view) { return false; }
  bool OnInfo(std::string_view s) { return Put("I", s); }
  bool OnErr(std::string_view s) { return Put("E", s); }
  bool OnOk() { return Put("+", ""); }
  bool OnPing() { return Put("PI", ""); }
  bool OnPong() { return Put("PO", ""); }
  bool OnSub(std::string_view, std::string_view, std::string_view) { return false; }
  bool OnUnsub(std::string_view, int64_t) { return false; }
  bool OnMsgArgs(Verb, const MsgArgs& a) { return a.total_size <= 65536; }
  bool OnMsg(Verb verb, const MsgArgs& a, std::string_view payload) {
    std::string_view hdr;
    std::string_view data = payload;
    if (verb == Verb::kHmsg) {
      hdr = payload.substr(0, static_cast<size_t>(a.header_size));
      data = payload.substr(hdr.size());
    }
    Message m(a.subject, a.reply, hdr, data);
    if (m.subject() != a.subject || m.reply() != a.reply || m.header_block() != hdr ||
        m.data() != data) {
      std::abort();
    }
    Put("M", a.subject);
    Put("", a.sid);
    Put("", a.reply);
    return Put("", payload);
  }
  bool Put(std::string_view tag, std::string_view s) {
    log.append(tag);
    log += std::to_string(s.size());
    log += ':';
    log.append(s);
    return true;
  }
};

std::string Run(std::string_view in, bool bytewise, ParseStatus* status) {
  Recorder r;
  Parser<Recorder> p(ParserRole::kClientForServer, 4096);
  *status = ParseStatus::kOk;
  size_t step = bytewise ? 1 : in.size();
  for (size_t i = 0; i < in.size() && *status == ParseStatus::kOk; i += step) {
    size_t n = std::min(step, in.size() - i);
    // A heap copy freed right after Feed: ASan catches a view kept into an earlier read.
    std::unique_ptr<char[]> buf(new char[n]);
    std::memcpy(buf.get(), in.data() + i, n);
    *status = p.Feed(r, buf.get(), n);
  }
  return r.log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  ParseStatus whole_status;
  std::string whole = Run(in, false, &whole_status);
  if (size <= kMaxBytewise) {
    ParseStatus byte_status;
    std::string bytes = Run(in, true, &byte_status);
    if (bytes != whole || byte_status != whole_status) std::abort();
  }

  Headers h;
  if (Headers::Parse(in, h)) {
    Headers back;
    if (!Headers::Parse(h.Serialize(), back) || !(back == h)) std::abort();
    if (h.WireSize() != h.Serialize().size()) std::abort();
  }

  auto url = gannet::client::detail::ParseServerUrl(in);
  if (url.ok()) {
    auto again = gannet::client::detail::ParseServerUrl(url->ToString());
    if (!again.ok() || !again->SameAddress(*url)) std::abort();
  }
  return 0;
}
