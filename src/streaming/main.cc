// gannet-streaming: the NATS Streaming server, embedding gannet-server (one process, one port;
// every gannet-server flag and config key works) or using an external NATS (-ns URL).
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "base/logger.h"
#include "server/config/options.h"
#include "server/process_control.h"
#include "server/server.h"
#include "streaming/command_line.h"
#include "streaming/log.h"
#include "streaming/monitor.h"
#include "streaming/server.h"

using namespace gannet;
using namespace gannet::streaming;

namespace {

// How the streaming server reaches the embedded NATS server: loopback when it listens on every
// address, with the server's own user or token, and TLS when the server requires it.
NatsLinkOptions EmbeddedLink(const Options& nats, const StreamingOptions& so, int port) {
  NatsLinkOptions l;
  std::string host = nats.host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "::1";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  l.urls.push_back((nats.tls.configured ? "tls://" : "nats://") + host + ":" +
                   std::to_string(port));
  l.user = so.username.empty() ? nats.authorization.username : so.username;
  l.password = so.password.empty() ? nats.authorization.password : so.password;
  l.token = so.token.empty() ? nats.authorization.token : so.token;
  // Our own server on loopback: its certificate need not name 127.0.0.1, so it is verified
  // only against a CA given for this connection.
  l.secure = nats.tls.configured || so.secure;
  l.tls_ca_file = so.tls_client_ca;
  l.tls_cert_file = so.tls_client_cert;
  l.tls_key_file = so.tls_client_key;
  return l;
}

NatsLinkOptions ExternalLink(const StreamingOptions& so) {
  NatsLinkOptions l;
  std::string urls = so.nats_server_url;
  size_t start = 0;
  while (start <= urls.size()) {
    size_t comma = urls.find(',', start);
    std::string u =
        urls.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!u.empty() && u.front() == ' ') u.erase(u.begin());
    while (!u.empty() && u.back() == ' ') u.pop_back();
    if (!u.empty()) l.urls.push_back(u);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  l.user = so.username;
  l.password = so.password;
  l.token = so.token;
  l.secure = so.secure || !so.tls_client_ca.empty() || !so.tls_client_cert.empty();
  l.tls_ca_file = so.tls_client_ca;
  l.tls_cert_file = so.tls_client_cert;
  l.tls_key_file = so.tls_client_key;
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  SetProcessArgs(argv);
  StreamingCommandLine cl;
  if (auto err = ParseStreamingCommandLine(argc, argv, cl)) {
    std::fprintf(stderr, "gannet-streaming: %s\n", err->c_str());
    if (cl.usage_error) std::printf("\n%s\n", StreamingUsage().c_str());
    return 1;
  }
  if (cl.show_help) {
    std::printf("\n%s\n", StreamingUsage().c_str());
    return 0;
  }
  if (cl.show_version) {
    std::printf(
        "gannet-streaming: v%s (compatible with nats-streaming-server v%s, nats-server v%s)\n",
        GANNET_VERSION, kCompatibleStreamingVersion, kCompatibleNatsVersion);
    return 0;
  }
  if (!cl.nats.signal.empty()) {
    if (auto err = SendSignalCommand(cl.nats.signal, "gannet-streaming")) {
      std::fprintf(stderr, "gannet-streaming: %s\n", err->c_str());
      return 1;
    }
    return 0;
  }
  Options& nopts = cl.nats.options;
  StreamingOptions& sopts = cl.streaming;
  const bool embedded = sopts.nats_server_url.empty();
  if (embedded) {
    if (auto err = ValidateOptions(nopts)) {
      std::fprintf(stderr, "gannet-streaming: %s\n", err->c_str());
      return 1;
    }
  }
  if (cl.nats.check_config) {
    std::printf("gannet-streaming: configuration file %s is valid\n", nopts.config_file.c_str());
    return 0;
  }
  if (!Logger::Get().Configure(nopts.log_file, nopts.logtime, nopts.debug, nopts.trace)) {
    std::fprintf(stderr, "gannet-streaming: cannot open log file %s: %s\n", nopts.log_file.c_str(),
                 std::strerror(errno));
    return 1;
  }
  for (const auto& w : cl.nats.warnings) LOG_WARN("%s", w.c_str());

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);

  StreamingServer ss(sopts);
  StreamingMonitor monitor(ss);
  std::unique_ptr<Server> nats;
  auto fail = [&](const std::string& err) {
    STAN_FATAL("Failed to start: %s", err.c_str());
    ss.Shutdown();
    monitor.Stop();
    if (nats) nats->Shutdown();
    return 1;
  };
  if (std::string err = ss.Open(); !err.empty()) return fail(err);

  NatsLinkOptions link;
  if (embedded) {
    nats = std::make_unique<Server>(nopts);
    nats->AddMonitorRoute("/streaming",
                          [&monitor](const HttpRequest& r) { return monitor.Handle(r); });
    nats->AddMetricsSource([&monitor] { return monitor.Metrics(); });
    if (!nats->Start()) return fail("unable to start the NATS server");
    link = EmbeddedLink(nopts, sopts, nats->port());
  } else {
    link = ExternalLink(sopts);
    const int port = nopts.https_port != 0 ? nopts.https_port : nopts.http_port;
    if (port != 0) {
      std::string host = nopts.http_host.empty() ? nopts.host : nopts.http_host;
      if (std::string err = monitor.StartHttp(host, port < 0 ? 0 : port); !err.empty()) {
        return fail("can't listen to the monitor port: " + err);
      }
    }
  }
  link.name = "_NSS-" + sopts.cluster_id + "-general";
  if (std::string err = ss.Start(link); !err.empty()) return fail(err);

  if (!nopts.pid_file.empty()) {
    std::ofstream pid(nopts.pid_file);
    pid << getpid();
  }
  std::string ports_file;
  if (!nopts.ports_file_dir.empty() && nats) {
    Ports ports;
    ports.nats = ListenerUrls(nopts.tls.configured ? "tls" : "nats", nopts.host, nats->port());
    if (nats->monitor_port() > 0) {
      const std::string& mhost = nopts.http_host.empty() ? nopts.host : nopts.http_host;
      ports.monitoring =
          ListenerUrls(nopts.https_port != 0 ? "https" : "http", mhost, nats->monitor_port());
    }
    ports_file = PortsFilePath(nopts.ports_file_dir, argv[0], getpid());
    std::ofstream f(ports_file);
    f << PortsJson(ports);
  }

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (sig == SIGUSR1) {
      LOG_INFO("Reopening log file");
      Logger::Get().Reopen();
      continue;
    }
    if (sig == SIGUSR2) {
      // Lame duck mode would close the streaming server's own connection first: not offered.
      LOG_WARN("Lame duck mode is not supported by gannet-streaming, signal ignored");
      continue;
    }
    if (sig == SIGHUP) {
      // Reload is for the embedded NATS server only, as the reference.
      if (!nats) continue;
      Options next;
      std::vector<std::string> warnings;
      std::optional<std::string> err = ReloadOptions(cl.nats, next, warnings);
      if (!err) err = nats->Reload(std::move(next));
      if (err) LOG_ERROR("Failed to reload server configuration: %s", err->c_str());
    }
  }
  ss.Shutdown();
  monitor.Stop();
  if (nats) {
    LOG_INFO("Initiating Shutdown...");
    nats->Shutdown();
  }
  if (!nopts.pid_file.empty()) unlink(nopts.pid_file.c_str());
  if (!ports_file.empty()) unlink(ports_file.c_str());
  LOG_INFO("Server Exiting..");
  return 0;
}
