#include "server/process_control.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace gannet {
namespace {

TEST(PortsFile, JsonAndPath) {
  Ports p;
  p.nats = {"nats://127.0.0.1:4222"};
  p.monitoring = {"http://127.0.0.1:8222"};
  EXPECT_EQ(PortsJson(p),
            R"({"nats":["nats://127.0.0.1:4222"],"monitoring":["http://127.0.0.1:8222"]})");
  EXPECT_EQ(PortsJson(Ports()), "{}");
  EXPECT_EQ(PortsFilePath("/tmp/", "/usr/bin/gannet-server", 42), "/tmp/gannet-server_42.ports");
  EXPECT_EQ(PortsFilePath("run", "gannet-server", 7), "run/gannet-server_7.ports");
}

TEST(PortsFile, ListenerUrls) {
  EXPECT_EQ(ListenerUrls("nats", "127.0.0.1", 4222),
            (std::vector<std::string>{"nats://127.0.0.1:4222"}));
  EXPECT_EQ(ListenerUrls("nats", "::1", 4222), (std::vector<std::string>{"nats://[::1]:4222"}));
  // Unspecified: every interface address, loopback among them.
  auto all = ListenerUrls("http", "0.0.0.0", 8222);
  EXPECT_NE(std::find(all.begin(), all.end(), "http://127.0.0.1:8222"), all.end());
}

TEST(SignalCommand, ErrorsAsTheReference) {
  EXPECT_EQ(SendSignalCommand("frob", "gannet-no-such-process"), "unknown signal \"frob\"");
  EXPECT_EQ(SendSignalCommand("reload", "gannet-no-such-process"),
            "no gannet-no-such-process processes running");
  EXPECT_EQ(SendSignalCommand("reload=abc", "x"), "invalid pid: abc");
  EXPECT_EQ(SendSignalCommand("reload=1=2", "x"), "invalid signal parameters: [2]");
  EXPECT_EQ(SendSignalCommand("reload=1=2=3", "x"), "invalid signal parameters: [2 3]");
}

TEST(SignalCommand, SignalsByPidAndPidFile) {
  for (bool via_file : {false, true}) {
    pid_t child = fork();
    if (child == 0) {
      pause();
      _exit(0);
    }
    std::string target = std::to_string(child);
    std::string file = "/tmp/gannet-signal-test-" + std::to_string(getpid()) + ".pid";
    if (via_file) {
      std::ofstream(file) << child;  // no newline, as PID files are written
      target = file;
    }
    EXPECT_EQ(SendSignalCommand("term=" + target, "x"), std::nullopt);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGTERM);
    std::remove(file.c_str());
  }
}

}  // namespace
}  // namespace gannet
