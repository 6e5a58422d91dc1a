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

namespace gannet::test {

using namespace std::chrono_literals;

// Aborts the current test with a fatal failure. Usable from helpers that return values (where
// ASSERT_* cannot be used): GoogleTest reports the exception as a failure of the test.
[[noreturn]] void Fail(const std::string& why);

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

// Temporary directory removed (with its files) at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes a file in the directory and returns its path.
  std::string Write(const std::string& name, std::string_view content);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

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

class ProtocolTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  void TearDown() override;

  ServerKind kind() const { return GetParam(); }
  // Starts the server under test on a free port with the given extra arguments.
  ServerProcess& Start(std::vector<std::string> args = {});
  // Writes `config` to a temporary file and starts the server with "-c FILE" plus `args`.
  ServerProcess& StartWithConfig(std::string_view config, std::vector<std::string> args = {});
  // Starts the server with `args` (which name a config file) on `port`, which that file sets:
  // no -a/-p flags are added.
  ServerProcess& StartOnConfigPort(int port, std::vector<std::string> args);
  ServerProcess& server();

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

 private:
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<TempDir> tmp_;
};

// Name generator for INSTANTIATE_TEST_SUITE_P: "gannet" / "nats_server".
std::string ServerKindParamName(const ::testing::TestParamInfo<ServerKind>& info);

}  // namespace gannet::test

// Instantiates a ProtocolTest-derived suite for both servers.
#define GANNET_INSTANTIATE_FOR_BOTH_SERVERS(suite)                                     \
  INSTANTIATE_TEST_SUITE_P(Servers, suite,                                             \
                           ::testing::Values(::gannet::test::ServerKind::kGannet,      \
                                             ::gannet::test::ServerKind::kNatsServer), \
                           ::gannet::test::ServerKindParamName)
