// The fixture every suite that starts a server derives from: a test parameterized over
// ServerKind that starts servers of its kind (with flags or a config file, on free ports) and
// stops them at its end; and the macros that run such a suite against both servers.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server_process.h"

namespace gannet::test {

// Aborts the current test with a fatal failure. Usable from helpers that return values (where
// ASSERT_* cannot be used): GoogleTest reports the exception as a failure of the test.
[[noreturn]] void Fail(const std::string& why);

// Temporary directory removed at destruction, with every file in it (also those a server wrote
// there: pid and ports files).
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
};

class ServerTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  // Stops the servers still running (ServerProcess fails the test on a sanitizer report), and
  // shows the tail of each server's output if the test failed.
  void TearDown() override;

  ServerKind kind() const { return GetParam(); }
  // Starts a server of the test's kind on a free port with the given extra arguments; it runs
  // until it is stopped or the test ends. Fails the test if it does not start.
  ServerProcess& Start(std::vector<std::string> args = {});
  // Writes `config` to a temporary file and starts a server with "-c FILE" plus `args`.
  ServerProcess& StartWithConfig(std::string_view config, std::vector<std::string> args = {});
  // Starts a server with `args` (which name a config file) on `port`, which that file sets: no
  // -a/-p flags are added.
  ServerProcess& StartOnConfigPort(int port, std::vector<std::string> args);
  // The server started last.
  ServerProcess& server();
  // Every server the test started, in order.
  const std::vector<std::unique_ptr<ServerProcess>>& servers() const { return servers_; }

  // Runs the server binary with `args`, which must make it exit by itself (an error, -t):
  // returns what it printed, and its wait status in `*status`.
  std::string RunToExit(const std::vector<std::string>& args, int* status = nullptr);

 private:
  ServerProcess& Launch(std::unique_ptr<ServerProcess> server);

  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::unique_ptr<TempDir> config_dir_;
};

// Name generator for INSTANTIATE_TEST_SUITE_P: "gannet" / "nats_server".
std::string ServerKindParamName(const ::testing::TestParamInfo<ServerKind>& info);

}  // namespace gannet::test

// Runs a ServerTest suite against both servers: Servers/<Suite>.<Test>/gannet and
// Servers/<Suite>.<Test>/nats_server. The sanitizer builds skip the nats_server runs of these
// (the Makefile's SANITIZER_SKIP, ^Servers/.*/nats_server).
#define GANNET_INSTANTIATE_FOR_BOTH_SERVERS(suite) \
  GANNET_INSTANTIATE_FOR_BOTH_SERVERS_AS(Servers, suite)
// The same, named BothServers/<Suite>.<Test>/...: the sanitizer builds run these against both
// servers, for suites whose own code under test (the client library, the gannet tool) runs
// whichever server it talks to.
#define GANNET_INSTANTIATE_FOR_BOTH_SERVERS_SANITIZED(suite) \
  GANNET_INSTANTIATE_FOR_BOTH_SERVERS_AS(BothServers, suite)

#define GANNET_INSTANTIATE_FOR_BOTH_SERVERS_AS(prefix, suite)                          \
  INSTANTIATE_TEST_SUITE_P(prefix, suite,                                              \
                           ::testing::Values(::gannet::test::ServerKind::kGannet,      \
                                             ::gannet::test::ServerKind::kNatsServer), \
                           ::gannet::test::ServerKindParamName)
