// Operating a running server from outside: --signal and the ports file, against both servers.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "integration_util.h"

namespace gannet::test {
namespace {

class ProcessControlTest : public ProtocolTest {
 protected:
  // Runs the server binary with `args` (no server started) and returns its exit status; what it
  // printed is stored in `err`.
  int RunBinary(const std::vector<std::string>& args, std::string* err) {
    return RunServerCommand(kind(), args, err);
  }
  // Waits (bounded) for the server process to be gone.
  bool WaitExited(ServerProcess& s, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (s.Running()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);  // polling the child's state
    }
    return true;
  }
  TempDir dir_;
};

TEST_P(ProcessControlTest, SignalQuitThroughPidFile) {
  std::string pid_file = dir_.path() + "/server.pid";
  auto& s = Start({"-P", pid_file});
  std::string err;
  EXPECT_EQ(RunBinary({"--signal", "quit=" + pid_file}, &err), 0) << err;
  EXPECT_TRUE(WaitExited(s));
}

TEST_P(ProcessControlTest, SignalByPid) {
  auto& s = Start();
  std::string err;
  EXPECT_EQ(RunBinary({"-sl", "term=" + std::to_string(s.pid())}, &err), 0) << err;
  EXPECT_TRUE(WaitExited(s));
}

TEST_P(ProcessControlTest, SignalErrors) {
  std::string err;
  EXPECT_EQ(RunBinary({"--signal", "frob=1"}, &err), 1);
  EXPECT_NE(err.find("unknown signal \"frob\""), std::string::npos) << err;
  EXPECT_EQ(RunBinary({"--signal", "reload=notapid"}, &err), 1);
  EXPECT_NE(err.find("invalid pid: notapid"), std::string::npos) << err;
}

TEST_P(ProcessControlTest, BadFlagPrintsUsageAndExitsZero) {
  std::string err;
  EXPECT_EQ(RunBinary({"--bogus"}, &err), 0);
  EXPECT_NE(err.find("flag provided but not defined: -bogus"), std::string::npos) << err;
  EXPECT_EQ(RunBinary({"-p", "abc"}, &err), 0);
  EXPECT_NE(err.find("invalid value \"abc\" for flag -p: parse error"), std::string::npos) << err;
}

TEST_P(ProcessControlTest, PortsFile) {
  int mport = FreeTcpPort();
  auto& s = Start({"-m", std::to_string(mport), "--ports_file_dir", dir_.path()});
  std::string base = ServerBinary(kind());
  base = base.substr(base.rfind('/') + 1);
  std::string path = dir_.path() + "/" + base + "_" + std::to_string(s.pid()) + ".ports";
  // The reference writes the file from a goroutine once its listeners are up: wait for it.
  std::string content;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    content = ss.str();
    if (!content.empty() && content.back() == '}') break;
    std::this_thread::sleep_for(5ms);  // polling for the file
  }
  auto j = nlohmann::json::parse(content, nullptr, false);
  ASSERT_TRUE(j.is_object()) << path << ": " << content;
  EXPECT_EQ(j["nats"], nlohmann::json::array({"nats://127.0.0.1:" + std::to_string(s.port())}));
  EXPECT_EQ(j["monitoring"], nlohmann::json::array({"http://127.0.0.1:" + std::to_string(mport)}));
  s.Stop();
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the ports file outlived the server";
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(ProcessControlTest);

}  // namespace
}  // namespace gannet::test
