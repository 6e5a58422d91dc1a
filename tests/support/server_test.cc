// The fixture that starts servers for a test and stops them at its end.
#include "server_test.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace gannet::test {

using namespace std::chrono_literals;

void Fail(const std::string& why) { throw std::runtime_error(why); }

TempDir::TempDir() {
  char tmpl[] = "/tmp/gannet-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Fail("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(const std::string& name, std::string_view content) {
  std::string file = path_ + "/" + name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) Fail("cannot write " + file);
  return file;
}

void ServerTest::TearDown() {
  for (auto& s : servers_) s->Stop();
  if (HasFailure()) {
    for (auto& s : servers_) {
      std::string out = s->Output();
      if (out.size() > 4000) out = "..." + out.substr(out.size() - 4000);
      std::cerr << "---- " << ServerKindName(s->kind()) << " output (tail) ----\n"
                << out << "\n---- end ----\n";
    }
  }
  servers_.clear();
  config_dir_.reset();
}

ServerProcess& ServerTest::Launch(std::unique_ptr<ServerProcess> server) {
  servers_.push_back(std::move(server));
  ServerProcess& s = *servers_.back();
  if (!s.Start()) {
    Fail(std::string("server did not start: ") + ServerBinary(kind()) + "\n" + s.Output());
  }
  return s;
}

ServerProcess& ServerTest::Start(std::vector<std::string> args) {
  return Launch(std::make_unique<ServerProcess>(kind(), std::move(args)));
}

ServerProcess& ServerTest::StartOnConfigPort(int port, std::vector<std::string> args) {
  auto server = std::make_unique<ServerProcess>(kind(), std::move(args));
  server->UsePortFromConfig(port);
  return Launch(std::move(server));
}

ServerProcess& ServerTest::StartWithConfig(std::string_view config, std::vector<std::string> args) {
  if (!config_dir_) config_dir_ = std::make_unique<TempDir>();
  std::string name = "server" + std::to_string(servers_.size()) + ".conf";
  args.insert(args.begin(), {"-c", config_dir_->Write(name, config)});
  return Start(std::move(args));
}

ServerProcess& ServerTest::server() {
  if (servers_.empty()) Fail("server not started");
  return *servers_.back();
}

std::string ServerTest::RunToExit(const std::vector<std::string>& args, int* status) {
  ServerProcess p(kind(), args);
  p.Start(2s);  // returns false: no port ever opens
  int stopped = p.Stop();
  if (status) *status = stopped;
  return p.Output();
}

std::string ServerKindParamName(const ::testing::TestParamInfo<ServerKind>& info) {
  return ServerKindName(info.param);
}

}  // namespace gannet::test
