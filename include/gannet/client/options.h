// How a Connection connects, reconnects and reports. Defaults are those of the reference
// clients (nats.go, libnats), so a program ported from them behaves the same.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gannet/client/status.h"

namespace gannet::client {

using std::chrono::milliseconds;

struct Options {
  // Server URLs: "nats://[user:password@|token@]host[:port]", "host:port" or "host". An entry
  // may hold several URLs separated by commas. Empty means nats://127.0.0.1:4222.
  std::vector<std::string> servers;
  // Try the servers in random order (initially and on every reconnect), as the reference
  // clients do, so that a fleet of clients spreads over a cluster.
  bool randomize = true;

  // Sent in CONNECT.
  std::string name;
  std::string user;
  std::string password;
  std::string token;
  bool verbose = false;
  bool pedantic = false;
  bool echo = true;           // receive our own messages on our subscriptions
  bool headers = true;        // use HPUB/HMSG when the server supports them
  bool no_responders = true;  // have requests fail fast with kNoResponders

  // TLS. A connection is encrypted when its URL is tls://, when `secure` is set, or when the
  // server requires it (INFO tls_required); the client then verifies the server's certificate
  // against tls_ca_file (else the system's CAs) and the URL's host (or tls_expected_hostname).
  // A client certificate (tls_cert_file, tls_key_file; PEM) is sent to servers that ask.
  bool secure = false;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_expected_hostname;
  bool tls_skip_verify = false;  // accept any server certificate: for tests only

  milliseconds connect_timeout{2000};
  // Keep trying the list when the first connect fails (the connection starts reconnecting
  // instead of Connect failing).
  bool retry_on_failed_connect = false;

  // Reconnection.
  bool allow_reconnect = true;
  int max_reconnect_attempts = 60;     // per server; -1: forever
  milliseconds reconnect_wait{2000};   // between two attempts at the same server
  milliseconds reconnect_jitter{100};  // plus up to this much, random
  // Publishes made while reconnecting are kept (up to this many bytes) and sent once
  // connected again; beyond it Publish returns kBufferFull.
  size_t reconnect_buffer_size = 8 * 1024 * 1024;

  // Keepalive: a PING every ping_interval; the server is declared dead after max_pings_out
  // PINGs without a PONG.
  milliseconds ping_interval{120000};
  int max_pings_out = 2;

  // Per-subscription bounds on messages received but not yet handed to the application.
  // Beyond them messages are dropped and a kSlowConsumer error is reported.
  int64_t pending_msgs_limit = 65536;
  int64_t pending_bytes_limit = 64 * 1024 * 1024;

  // Publishes are queued and written by the connection's I/O thread; a publisher waits when
  // this many bytes are queued (back-pressure instead of unbounded memory).
  size_t max_queued_bytes = 8 * 1024 * 1024;

  std::string inbox_prefix = "_INBOX";

  // Events, called on the connection's event thread (not the one that runs message
  // callbacks), in the order they happened. They may call into the connection.
  std::function<void()> on_disconnected;
  std::function<void(const std::string& url)> on_reconnected;
  std::function<void()> on_closed;
  // An asynchronous error: a slow consumer (with the subscription's subject as detail), an
  // -ERR from the server, a reconnect attempt that failed.
  std::function<void(Status, const std::string& detail)> on_error;
  // The server told us of other servers of its cluster (INFO connect_urls); they were added to
  // the list. The argument is the whole list now known.
  std::function<void(const std::vector<std::string>& servers)> on_discovered_servers;
  // The server entered lame duck mode and will soon close us.
  std::function<void()> on_lame_duck;
};

}  // namespace gannet::client
