// The list of servers a connection may use: those configured and those the cluster told us
// of (INFO connect_urls), with each one's reconnect bookkeeping. Not synchronized: the
// connection guards it with its mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/client/status.h"

namespace gannet::client::detail {

struct ServerUrl {
  std::string scheme = "nats";
  std::string host = "127.0.0.1";
  int port = 4222;
  std::string user;  // from nats://user:password@host
  std::string password;
  std::string token;        // from nats://token@host
  bool discovered = false;  // learned from connect_urls
  int failed_attempts = 0;  // since the last successful connect to it
  std::chrono::steady_clock::time_point last_attempt{};

  // "nats://host:port", without credentials: what events and logs show.
  std::string ToString() const;
  bool SameAddress(const ServerUrl& o) const { return host == o.host && port == o.port; }
};

// Parses "nats://[user:password@|token@]host[:port]", "host:port", "host", with IPv6 hosts in
// brackets ("[::1]:4222"). tls:// is accepted as a scheme; the connection refuses it until TLS
// is supported.
Result<ServerUrl> ParseServerUrl(std::string_view url);

class ServerPool {
 public:
  // Adds every comma-separated URL of every entry; fails on the first bad one.
  Status AddConfigured(const std::vector<std::string>& entries, std::string* error);
  // Adds "host:port" URLs from INFO connect_urls that are not known yet; returns how many.
  int AddDiscovered(const std::vector<std::string>& urls, uint64_t seed, bool randomize);
  void Shuffle(uint64_t seed);

  // The server to try next for a reconnect: the current one moves to the end of the list
  // (or is dropped once it has failed more than max_attempts times; -1: never), and the first
  // is returned. nullptr when the list is empty.
  ServerUrl* NextForReconnect(int max_attempts);
  ServerUrl* current() { return current_ < servers_.size() ? &servers_[current_] : nullptr; }
  void set_current(size_t i) { current_ = i; }
  std::vector<ServerUrl>& servers() { return servers_; }
  std::vector<std::string> Urls() const;

 private:
  std::vector<ServerUrl> servers_;
  size_t current_ = 0;
};

}  // namespace gannet::client::detail
