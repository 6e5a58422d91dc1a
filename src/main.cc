// gannet-server: command line, logging, PID file, signals; the server itself is in server/.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/logger.h"
#include "server/config/options.h"
#include "server/process_control.h"
#include "server/server.h"

using namespace gannet;

int main(int argc, char** argv) {
  CommandLine cl;
  if (auto err = ParseCommandLine(argc, argv, cl)) {
    if (cl.config_error || err->find("not supported yet") != std::string::npos) {
      std::fprintf(stderr, "gannet-server: %s\n", err->c_str());
      return 1;
    }
    // A flag that does not parse: as Go's flag package in the reference, the error on stderr,
    // the usage on stdout, and exit status 0.
    std::fprintf(stderr, "%s\n", err->c_str());
    std::printf("\n%s\n", UsageText());
    return 0;
  }
  if (cl.show_help) {
    std::printf("\n%s\n", UsageText());
    return 0;
  }
  if (cl.show_version) {
    std::printf("gannet-server: v%s (compatible with nats-server v%s)\n", GANNET_VERSION,
                kCompatibleNatsVersion);
    return 0;
  }
  if (!cl.signal.empty()) {
    // --signal: act on a running server, as the reference does, and exit.
    if (auto err = SendSignalCommand(cl.signal, "gannet-server")) {
      std::fprintf(stderr, "gannet-server: %s\n", err->c_str());
      return 1;
    }
    return 0;
  }
  Options& opts = cl.options;
  if (auto err = ValidateOptions(opts)) {
    std::fprintf(stderr, "gannet-server: %s\n", err->c_str());
    return 1;
  }
  if (cl.check_config) {
    std::printf("gannet-server: configuration file %s is valid\n", opts.config_file.c_str());
    return 0;
  }
  if (!Logger::Get().Configure(opts.log_file, opts.logtime, opts.debug, opts.trace)) {
    std::fprintf(stderr, "gannet-server: cannot open log file %s: %s\n", opts.log_file.c_str(),
                 std::strerror(errno));
    return 1;
  }
  for (const auto& w : cl.warnings) LOG_WARN("%s", w.c_str());

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Output buffers of 64 KB to a few hundred KB circulate between threads; keep them in the
  // heap (no mmap/munmap and fresh-page faults per buffer) and do not trim the heap eagerly.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);

  Server server(opts);
  if (!server.Start()) return 1;
  if (!opts.pid_file.empty()) {
    std::ofstream pid(opts.pid_file);
    pid << getpid();
  }
  // The ports file (--ports_file_dir), written at startup and when a reload moves it.
  auto write_ports_file = [&](const std::string& dir) -> std::string {
    if (dir.empty()) return {};
    Ports ports;
    ports.nats = ListenerUrls(opts.tls.configured ? "tls" : "nats", opts.host, server.port());
    if (server.monitor_port() > 0) {
      const std::string& mhost = opts.http_host.empty() ? opts.host : opts.http_host;
      ports.monitoring =
          ListenerUrls(opts.https_port != 0 ? "https" : "http", mhost, server.monitor_port());
    }
    std::string path = PortsFilePath(dir, argv[0], getpid());
    std::ofstream f(path);
    f << PortsJson(ports);
    if (!f) LOG_ERROR("Error writing ports file (%s): %s", path.c_str(), std::strerror(errno));
    return path;
  };
  std::string ports_file = write_ports_file(opts.ports_file_dir);

  // Lame duck mode runs on its own thread; when it has closed every client it interrupts
  // this loop, which then shuts down as for SIGINT.
  std::thread lame_duck;
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGINT) {
      LOG_DEBUG("Trapped \"interrupt\" signal");
      break;
    }
    if (sig == SIGTERM) {
      LOG_DEBUG("Trapped \"terminated\" signal");
      // As the reference: a SIGTERM does not cut short a lame duck mode in progress. Nor one
      // just asked for: Kubernetes sends SIGTERM right after the preStop hook's SIGUSR2, maybe
      // before the lame duck thread has started.
      if (server.in_lame_duck_mode() || lame_duck.joinable()) continue;
      break;
    }
    if (sig == SIGUSR2) {
      LOG_DEBUG("Trapped \"user defined signal 2\" signal");
      if (!lame_duck.joinable()) {
        lame_duck = std::thread([&server] {
          server.LameDuckMode();
          kill(getpid(), SIGINT);
        });
      }
      continue;
    }
    if (sig == SIGUSR1) {
      LOG_INFO("Reopening log file");
      Logger::Get().Reopen();
      continue;
    }
    if (sig == SIGHUP) {
      LOG_DEBUG("Trapped \"hangup\" signal");
      // Config reload: the file again, the flags over it; the old configuration stays in
      // force if anything is wrong with the new one.
      Options next;
      std::vector<std::string> warnings;
      std::optional<std::string> err = ReloadOptions(cl, next, warnings);
      std::string old_ports_dir = server.config()->options().ports_file_dir;
      if (!err) err = server.Reload(std::move(next));
      if (err) {
        LOG_ERROR("Failed to reload server configuration: %s", err->c_str());
        continue;
      }
      // The file's warnings are not logged again, as the reference.
      const std::string ports_dir = server.config()->options().ports_file_dir;
      if (ports_dir != old_ports_dir) {
        if (!ports_file.empty()) unlink(ports_file.c_str());
        ports_file = write_ports_file(ports_dir);
      }
      continue;
    }
    LOG_WARN("Signal %d not supported yet, ignored", sig);
  }
  if (lame_duck.joinable()) {
    server.InterruptLameDuck();
    lame_duck.join();
  }
  LOG_INFO("Initiating Shutdown...");
  server.Shutdown();
  // The PID file a reload may have moved.
  const std::string pid_file = server.config()->options().pid_file;
  if (!pid_file.empty()) unlink(pid_file.c_str());
  if (!ports_file.empty() && unlink(ports_file.c_str()) != 0) {
    LOG_ERROR("Error cleaning up ports file %s: %s", ports_file.c_str(), std::strerror(errno));
  }
  LOG_INFO("Server Exiting..");
  return 0;
}
