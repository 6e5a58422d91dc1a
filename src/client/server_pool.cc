#include "client/server_pool.h"

#include <algorithm>
#include <charconv>
#include <random>

namespace gannet::client::detail {

std::string ServerUrl::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ServerUrl> ParseServerUrl(std::string_view url) {
  ServerUrl u;
  auto bad = [&](const char* why) {
    return Result<ServerUrl>(Status::kInvalidArgument,
                             std::string(why) + " in server URL '" + std::string(url) + "'");
  };
  std::string_view s = url;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return bad("empty");
  size_t scheme_end = s.find("://");
  if (scheme_end != std::string_view::npos) {
    u.scheme = std::string(s.substr(0, scheme_end));
    std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    if (u.scheme != "nats" && u.scheme != "tls") return bad("unsupported scheme");
    s.remove_prefix(scheme_end + 3);
  }
  // Path or query parts are not meaningful for NATS; ignore a trailing '/'.
  if (size_t slash = s.find('/'); slash != std::string_view::npos) s = s.substr(0, slash);
  if (size_t at = s.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = s.substr(0, at);
    s.remove_prefix(at + 1);
    if (size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      u.user = std::string(userinfo.substr(0, colon));
      u.password = std::string(userinfo.substr(colon + 1));
    } else {
      u.token = std::string(userinfo);
    }
  }
  std::string_view port;
  bool bracketed = !s.empty() && s.front() == '[';
  if (bracketed) {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    u.host = std::string(s.substr(1, close - 1));
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("bad port");
      port = rest.substr(1);
    }
  } else {
    size_t colon = s.rfind(':');
    if (colon != std::string_view::npos) {
      u.host = std::string(s.substr(0, colon));
      port = s.substr(colon + 1);
    } else {
      u.host = std::string(s);
    }
  }
  if (u.host.empty()) return bad("missing host");
  // A name or an IPv4 address, or (bracketed above) an IPv6 address: nothing that would print
  // back as a different URL.
  for (char c : u.host) {
    auto uc = static_cast<unsigned char>(c);
    if (uc <= ' ' || uc >= 0x7f || c == '[' || c == ']' || c == '@' || c == '/') {
      return bad("bad host");
    }
    if (c == ':' && !bracketed) return bad("bad host");
  }
  if (!port.empty()) {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p <= 0 || p > 65535) {
      return bad("bad port");
    }
    u.port = p;
  }
  return u;
}

Status ServerPool::AddConfigured(const std::vector<std::string>& entries, std::string* error) {
  for (const auto& entry : entries) {
    std::string_view rest = entry;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view one = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      auto u = ParseServerUrl(one);
      if (!u.ok()) {
        if (error) *error = u.detail();
        return u.status();
      }
      servers_.push_back(std::move(*u));
    }
  }
  return Status::kOk;
}

int ServerPool::AddDiscovered(const std::vector<std::string>& urls, uint64_t seed, bool randomize) {
  std::vector<ServerUrl> added;
  for (const auto& s : urls) {
    auto u = ParseServerUrl(s);
    if (!u.ok()) continue;
    bool known = std::any_of(servers_.begin(), servers_.end(),
                             [&](const ServerUrl& k) { return k.SameAddress(*u); });
    known = known || std::any_of(added.begin(), added.end(),
                                 [&](const ServerUrl& k) { return k.SameAddress(*u); });
    if (known) continue;
    u->discovered = true;
    added.push_back(std::move(*u));
  }
  if (randomize && added.size() > 1) {
    std::mt19937_64 rng(seed);
    std::shuffle(added.begin(), added.end(), rng);
  }
  // Appended after the known ones, so the current server's index stays valid.
  for (auto& a : added) servers_.push_back(std::move(a));
  return static_cast<int>(added.size());
}

void ServerPool::Shuffle(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::shuffle(servers_.begin(), servers_.end(), rng);
  current_ = 0;
}

ServerUrl* ServerPool::NextForReconnect(int max_attempts) {
  if (servers_.empty()) return nullptr;
  if (current_ < servers_.size()) {
    ServerUrl cur = std::move(servers_[current_]);
    servers_.erase(servers_.begin() + static_cast<std::ptrdiff_t>(current_));
    if (max_attempts < 0 || cur.failed_attempts < max_attempts) {
      servers_.push_back(std::move(cur));
    }
  }
  if (servers_.empty()) return nullptr;
  current_ = 0;
  return &servers_[0];
}

std::vector<std::string> ServerPool::Urls() const {
  std::vector<std::string> out;
  out.reserve(servers_.size());
  for (const auto& s : servers_) out.push_back(s.ToString());
  return out;
}

}  // namespace gannet::client::detail
