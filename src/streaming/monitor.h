// The Streaming monitoring endpoints, with the reference's fields and types:
// /streaming (links), /streaming/serverz, /streaming/storez, /streaming/clientsz (?subs=1,
// ?client=ID, offset, limit) and /streaming/channelsz (?subs=1, ?channel=NAME, offset, limit),
// and the streaming figures appended to /metrics.
//
// Served by the embedded gannet-server's monitor (Server::AddMonitorRoute), or, with -ns, by an
// HTTP listener of its own. Handlers run on the HTTP thread and read the state through the
// server's loop (StreamingServer's monitoring calls).
#pragma once

#include <memory>
#include <string>

#include "server/monitor/http_server.h"
#include "streaming/server.h"

namespace gannet::streaming {

class StreamingMonitor {
 public:
  explicit StreamingMonitor(StreamingServer& server) : server_(server) {}

  // /streaming and below (the path without the monitor's base path).
  HttpResponse Handle(const HttpRequest& r);
  // Prometheus text: nss_* gauges and counters, per channel where it makes sense.
  std::string Metrics();

  // -ns: an HTTP listener of its own on host:port (port 0: any). Error text on failure.
  std::string StartHttp(const std::string& host, int port);
  int http_port() const { return http_ ? http_->port() : 0; }
  void Stop();

 private:
  HttpResponse Root();
  HttpResponse Serverz(const HttpRequest& r);
  HttpResponse Storez(const HttpRequest& r);
  HttpResponse Clientsz(const HttpRequest& r);
  HttpResponse Channelsz(const HttpRequest& r);

  StreamingServer& server_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace gannet::streaming
