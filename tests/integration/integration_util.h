// Shared fixture and helpers for the black-box protocol tests. Every test is value-parameterized
// over ServerKind, so each expectation is also checked against the reference nats-server.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "server_process.h"
#include "server_test.h"

namespace gannet::test {

using namespace std::chrono_literals;

// One MSG or HMSG as received by a client.
struct Msg {
  std::string verb;  // "MSG" or "HMSG"
  std::string subject;
  std::string sid;
  std::string reply;    // empty when there is none
  std::string headers;  // HMSG only: the header block, including its final CRLF CRLF
  std::string payload;
};

// A server-to-client byte stream split into messages and the other control lines (+OK, -ERR,
// PING, ...). Fails the test if the stream is malformed or ends in the middle of a message.
struct Parsed {
  std::vector<Msg> msgs;
  std::vector<std::string> lines;  // non-message lines, without CRLF
};
Parsed ParseStream(std::string_view bytes);

// "MSG <subj> <sid> [reply] <n>\r\n<payload>\r\n" as the server must send it.
std::string MsgBytes(std::string_view subject, std::string_view sid, std::string_view reply,
                     std::string_view payload);
// "PUB <subj> [reply] <n>\r\n<payload>\r\n".
std::string PubBytes(std::string_view subject, std::string_view reply, std::string_view payload);

// The connection reaches EOF within the timeout, and everything it received after what the test
// already consumed is exactly `expected` (use "" for a silent close).
::testing::AssertionResult ClosesWith(RawConn& conn, std::string_view expected,
                                      std::chrono::milliseconds timeout = 5s);

// Counts the MSGs arriving on a connection on a thread of its own (answering PINGs) until
// `want` arrived, the connection closed, or two minutes passed. `pace` runs before each read
// (a slow reader sleeps there).
class MessageCounter {
 public:
  MessageCounter(RawConn& conn, int want, std::function<void()> pace = nullptr);
  ~MessageCounter() { Join(); }
  MessageCounter(const MessageCounter&) = delete;
  MessageCounter& operator=(const MessageCounter&) = delete;
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  int count() const { return count_; }
  bool closed() const { return closed_; }

 private:
  std::atomic<int> count_{0};
  std::atomic<bool> closed_{false};
  std::thread thread_;
};

// A protocol test talks raw bytes to the server it started (ServerTest::Start and friends).
class ProtocolTest : public ServerTest {
 protected:
  // gannet-server must also exit cleanly on SIGTERM at the end of the test.
  void TearDown() override;

  // A TCP connection to the server; nothing read yet.
  std::unique_ptr<RawConn> Dial();
  // A connection whose INFO line has been read; `info` receives the parsed JSON.
  std::unique_ptr<RawConn> DialInfo(nlohmann::json* info = nullptr);
  // A connection that has read INFO, sent CONNECT `connect_json`, and whose PING got a PONG with
  // nothing before it (so the CONNECT was accepted). The JSON must not ask for verbose. Note that
  // fields left out keep the reference's defaults: the default JSON leaves pedantic and echo on.
  std::unique_ptr<RawConn> Client(std::string_view connect_json = R"({"verbose":false})");

  // Sends `bytes`, then PING, and returns everything received before the PONG.
  static std::string SendAndFlush(RawConn& conn, std::string_view bytes);
};

}  // namespace gannet::test
