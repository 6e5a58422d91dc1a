// Lame duck mode (SIGUSR2): stop accepting, tell the clients that take INFO updates, then
// close everyone after the grace period and exit. Against both servers.
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "integration_util.h"

namespace gannet::test {
namespace {

using LameDuckTest = ProtocolTest;

// The shortest the reference allows: 30 s, of which 1 s grace; a few clients are then closed
// about a second apart.
constexpr std::string_view kConfig =
    "lame_duck_grace_period: \"1s\"\nlame_duck_duration: \"30s\"\n";

TEST_P(LameDuckTest, InfoThenCloseThenExit) {
  auto& s = StartWithConfig(kConfig);
  // Takes INFO updates: protocol 1, and its first PING answered.
  RawConn modern;
  ASSERT_TRUE(modern.Connect(s.port()));
  std::string info = modern.ReadLine();
  ASSERT_TRUE(info.starts_with("INFO ")) << info;
  modern.Send("CONNECT {\"verbose\":false,\"protocol\":1}\r\nSUB x 1\r\n");
  ASSERT_EQ(modern.Flush(), "");
  // Does not: protocol 0.
  RawConn old;
  ASSERT_TRUE(old.Connect(s.port()));
  old.ReadLine();
  old.Send("CONNECT {\"verbose\":false,\"protocol\":0}\r\n");
  ASSERT_EQ(old.Flush(), "");

  s.Signal(SIGUSR2);
  // The same INFO as at connect, with "ldm":true at the end.
  std::string expected = info.substr(0, info.rfind('}')) + ",\"ldm\":true} ";
  EXPECT_EQ(modern.ReadLine(), expected);
  // Still served during the grace period.
  old.Send("PUB x 2\r\nhi\r\n");
  EXPECT_EQ(modern.ReadUntil("hi\r\n"), "MSG x 1 2\r\nhi\r\n");
  // No new clients.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    RawConn probe;
    refused = !probe.Connect(s.port(), 200ms) || probe.ReadLine(200ms).empty();
  }
  EXPECT_TRUE(refused) << "still accepting in lame duck mode";
  // Everyone is closed after the grace period, and the server exits by itself.
  EXPECT_TRUE(ClosesWith(modern, "", 10s));
  EXPECT_TRUE(ClosesWith(old, "", 10s));
  deadline = std::chrono::steady_clock::now() + 10s;
  while (s.Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polling the child's state
  }
  ASSERT_FALSE(s.Running()) << "the server did not exit after lame duck mode";
  int status = s.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::string out = s.Output();
  EXPECT_NE(out.find("Entering lame duck mode, stop accepting new clients"), std::string::npos);
  EXPECT_NE(out.find("Closing existing clients"), std::string::npos) << out;
}

// Kubernetes stops a pod so: the preStop hook signals lame duck mode and returns, then the
// kubelet sends SIGTERM at once. The SIGTERM must not cut short the lame duck mode, even if it
// is handled before the lame duck thread has started. Gannet's guarantee: the reference also
// starts lame duck mode asynchronously, so this is not asserted of it.
TEST_P(LameDuckTest, SigtermRightAfterSigusr2DoesNotCutItShort) {
  if (kind() != ServerKind::kGannet) GTEST_SKIP() << "asserted of gannet-server only";
  auto& s = StartWithConfig(kConfig);
  RawConn c;
  ASSERT_TRUE(c.Connect(s.port()));
  std::string info = c.ReadLine();
  ASSERT_TRUE(info.starts_with("INFO ")) << info;
  c.Send("CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
  ASSERT_EQ(c.Flush(), "");
  s.Signal(SIGUSR2);
  s.Signal(SIGTERM);
  std::string ldm = c.ReadLine();
  EXPECT_NE(ldm.find("\"ldm\":true"), std::string::npos) << ldm;
  EXPECT_TRUE(ClosesWith(c, "", 10s));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polling the child's state
  }
  ASSERT_FALSE(s.Running());
  int status = s.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(s.Output().find("Closing existing clients"), std::string::npos) << s.Output();
}

TEST_P(LameDuckTest, WithoutClientsExitsAtOnce) {
  auto& s = StartWithConfig(kConfig);
  s.Signal(SIGUSR2);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polling the child's state
  }
  EXPECT_FALSE(s.Running());
}

TEST_P(LameDuckTest, DurationUnderThirtySecondsIsRefused) {
  TempDir dir;
  std::string path = dir.Write("ldm.conf", "lame_duck_duration: \"3s\"\n");
  ServerProcess s(kind(), {"-c", path, "-t"});
  s.Start(3s);  // it exits at once: no port ever opens
  s.Stop();
  EXPECT_NE(s.Output().find("invalid lame_duck_duration of 3s, minimum is 30 seconds"),
            std::string::npos)
      << s.Output();
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(LameDuckTest);

}  // namespace
}  // namespace gannet::test
