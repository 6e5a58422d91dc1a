// Shared fixture and helpers for the black-box protocol tests.
#include "integration_util.h"

#include <sys/wait.h>

#include <cstdio>

namespace gannet::test {

namespace {

std::vector<std::string> SplitArgs(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

size_t ToSize(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) {
    Fail("bad size in server output: '" + s + "'");
  }
  return std::stoul(s);
}

// Escapes CR/LF and non-printables so byte streams read well in failure messages.
std::string Printable(std::string_view bytes, size_t max = 2000) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > max) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace

Parsed ParseStream(std::string_view bytes) {
  Parsed out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t eol = bytes.find("\r\n", pos);
    if (eol == std::string_view::npos) Fail("unterminated line: " + Printable(bytes.substr(pos)));
    std::string_view line = bytes.substr(pos, eol - pos);
    pos = eol + 2;
    bool is_msg = line.starts_with("MSG ");
    bool is_hmsg = line.starts_with("HMSG ");
    if (!is_msg && !is_hmsg) {
      out.lines.emplace_back(line);
      continue;
    }
    std::vector<std::string> args = SplitArgs(line);
    Msg m;
    m.verb = args[0];
    size_t hdr = 0;
    size_t total = 0;
    if (is_msg && (args.size() == 4 || args.size() == 5)) {
      m.subject = args[1];
      m.sid = args[2];
      if (args.size() == 5) m.reply = args[3];
      total = ToSize(args.back());
    } else if (is_hmsg && (args.size() == 5 || args.size() == 6)) {
      m.subject = args[1];
      m.sid = args[2];
      if (args.size() == 6) m.reply = args[3];
      hdr = ToSize(args[args.size() - 2]);
      total = ToSize(args.back());
      if (hdr > total) Fail("HMSG header size > total: " + std::string(line));
    } else {
      Fail("malformed message line: " + Printable(line));
    }
    if (bytes.size() < pos + total + 2) Fail("truncated payload after: " + Printable(line));
    m.headers = std::string(bytes.substr(pos, hdr));
    m.payload = std::string(bytes.substr(pos + hdr, total - hdr));
    if (bytes.substr(pos + total, 2) != "\r\n") {
      Fail("payload not followed by CRLF after: " + Printable(line));
    }
    pos += total + 2;
    out.msgs.push_back(std::move(m));
  }
  return out;
}

std::string MsgBytes(std::string_view subject, std::string_view sid, std::string_view reply,
                     std::string_view payload) {
  std::string out = "MSG " + std::string(subject) + " " + std::string(sid) + " ";
  if (!reply.empty()) out += std::string(reply) + " ";
  out += std::to_string(payload.size()) + "\r\n" + std::string(payload) + "\r\n";
  return out;
}

std::string PubBytes(std::string_view subject, std::string_view reply, std::string_view payload) {
  std::string out = "PUB " + std::string(subject) + " ";
  if (!reply.empty()) out += std::string(reply) + " ";
  out += std::to_string(payload.size()) + "\r\n" + std::string(payload) + "\r\n";
  return out;
}

::testing::AssertionResult ClosesWith(RawConn& conn, std::string_view expected,
                                      std::chrono::milliseconds timeout) {
  bool closed = conn.WaitClosed(timeout);
  const std::string& got = conn.pending();
  if (closed && got == expected) return ::testing::AssertionSuccess();
  auto r = ::testing::AssertionFailure();
  if (!closed) r << "connection still open after " << timeout.count() << "ms; ";
  r << "expected exactly \"" << Printable(expected) << "\" then EOF; got \"" << Printable(got)
    << "\"";
  return r;
}

void ProtocolTest::TearDown() {
  for (const auto& s : servers()) {
    if (s->kind() != ServerKind::kGannet || !s->Running()) continue;
    int status = s->Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "gannet-server did not exit cleanly on SIGTERM (status " << status << ")";
  }
  ServerTest::TearDown();
}

std::unique_ptr<RawConn> ProtocolTest::Dial() {
  auto conn = std::make_unique<RawConn>();
  if (!conn->Connect(server().port())) {
    Fail("cannot connect to port " + std::to_string(server().port()));
  }
  return conn;
}

std::unique_ptr<RawConn> ProtocolTest::DialInfo(nlohmann::json* info) {
  auto conn = Dial();
  std::string line = conn->ReadLine();
  if (!line.starts_with("INFO ")) Fail("expected INFO, got \"" + Printable(line) + "\"");
  if (info) *info = nlohmann::json::parse(line.substr(5));
  return conn;
}

std::unique_ptr<RawConn> ProtocolTest::Client(std::string_view connect_json) {
  auto conn = DialInfo();
  conn->Send("CONNECT " + std::string(connect_json) + "\r\n");
  std::string got = conn->Flush();
  if (!got.empty()) {
    Fail("CONNECT " + std::string(connect_json) + " answered with \"" + Printable(got) + "\"");
  }
  return conn;
}

std::string ProtocolTest::SendAndFlush(RawConn& conn, std::string_view bytes) {
  if (!conn.Send(bytes)) return "<send failed>";
  return conn.Flush();
}

MessageCounter::MessageCounter(RawConn& conn, int want, std::function<void()> pace)
    : thread_([this, &conn, want, pace] {
        std::string buf;
        size_t skip = 0;
        char chunk[65536];
        auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
        while (count_ < want && std::chrono::steady_clock::now() < deadline) {
          if (pace) pace();
          ssize_t n = ::read(conn.fd(), chunk, sizeof chunk);
          if (n <= 0) {
            closed_ = true;
            return;
          }
          buf.append(chunk, static_cast<size_t>(n));
          size_t at = 0;
          for (;;) {
            if (skip > 0) {
              size_t k = std::min(skip, buf.size() - at);
              skip -= k;
              at += k;
              if (skip > 0) break;
              ++count_;
              continue;
            }
            size_t eol = buf.find("\r\n", at);
            if (eol == std::string::npos) break;
            std::string line = buf.substr(at, eol - at);
            at = eol + 2;
            if (line.rfind("MSG ", 0) == 0) {
              // The payload size is the last argument.
              skip = std::stoul(line.substr(line.rfind(' ') + 1)) + 2;
            } else if (line == "PING") {
              conn.Send("PONG\r\n");
            }
          }
          buf.erase(0, at);
        }
      }) {}

}  // namespace gannet::test
