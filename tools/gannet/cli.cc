#include "cli.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

namespace gannet::cli {

const std::vector<std::string> kConnectOptions = {
    "server",          "user",  "password", "token",  "name",
    "connect-timeout", "tlsca", "tlscert",  "tlskey", "tlsname"};
const std::map<char, std::string> kConnectAliases = {{'s', "server"}};

bool Args::Parse(int argc, char** argv, int first, const std::vector<std::string>& with_value,
                 const std::vector<std::string>& flags, const std::map<char, std::string>& aliases,
                 std::string* error) {
  auto contains = [](const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v) {
      if (x == s) return true;
    }
    return false;
  };
  bool only_positional = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (only_positional || a.size() < 2 || a[0] != '-' || a == "-") {
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name;
    std::string value;
    bool inline_value = false;
    if (a[1] == '-') {
      name = a.substr(2);
    } else if (a.size() == 2 && aliases.count(a[1])) {
      name = aliases.at(a[1]);
    } else {
      name = a.substr(1);  // Go style: -server
    }
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (contains(flags, name)) {
      values_.emplace(name, inline_value ? value : "true");
      continue;
    }
    if (!contains(with_value, name)) {
      *error = "unknown option: " + a;
      return false;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        *error = "option --" + name + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    values_.emplace(name, value);
  }
  return true;
}

std::string Args::Get(const std::string& name, const std::string& def) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return def;
  return std::prev(range.second)->second;  // the last one wins
}

std::vector<std::string> Args::All(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

bool Args::GetCount(const std::string& name, int64_t def, int64_t* out, std::string* error) const {
  if (!Has(name)) {
    *out = def;
    return true;
  }
  std::string s = Get(name);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string suffix = end ? end : "";
  double mult = 1;
  if (suffix == "k" || suffix == "K") {
    mult = 1e3;
  } else if (suffix == "m" || suffix == "M") {
    mult = 1e6;
  } else if (!suffix.empty() || end == s.c_str()) {
    *error = "bad number for --" + name + ": " + s;
    return false;
  }
  if (v < 0) {
    *error = "--" + name + " must not be negative";
    return false;
  }
  *out = static_cast<int64_t>(v * mult);
  return true;
}

bool Args::GetDuration(const std::string& name, std::chrono::milliseconds def,
                       std::chrono::milliseconds* out, std::string* error) const {
  if (!Has(name)) {
    *out = def;
    return true;
  }
  std::string s = Get(name);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit = end ? end : "";
  double ms;
  if (unit.empty() || unit == "s") {
    ms = v * 1000;
  } else if (unit == "ms") {
    ms = v;
  } else if (unit == "m") {
    ms = v * 60000;
  } else if (unit == "h") {
    ms = v * 3600000;
  } else if (unit == "us" || unit == "µs") {
    ms = v / 1000;
  } else {
    *error = "bad duration for --" + name + ": " + s;
    return false;
  }
  if (end == s.c_str() || v < 0) {
    *error = "bad duration for --" + name + ": " + s;
    return false;
  }
  *out = std::chrono::milliseconds(static_cast<int64_t>(ms));
  return true;
}

client::Options ConnectOptionsFrom(const Args& args, const std::string& default_name) {
  client::Options o;
  std::string server = args.Get("server");
  if (server.empty()) {
    const char* env = std::getenv("NATS_URL");
    server = env && *env ? env : "nats://127.0.0.1:4222";
  }
  o.servers.push_back(server);
  o.user = args.Get("user");
  o.password = args.Get("password");
  o.token = args.Get("token");
  o.name = args.Get("name", default_name);
  // TLS, with the nats tool's flag names: a tls:// URL, or any of these, asks for it.
  o.tls_ca_file = args.Get("tlsca");
  o.tls_cert_file = args.Get("tlscert");
  o.tls_key_file = args.Get("tlskey");
  o.tls_expected_hostname = args.Get("tlsname");
  o.secure = !o.tls_ca_file.empty() || !o.tls_cert_file.empty();
  std::string why;
  std::chrono::milliseconds t;
  if (args.GetDuration("connect-timeout", std::chrono::seconds(2), &t, &why)) {
    o.connect_timeout = t;
  }
  return o;
}

client::Connection ConnectOrReport(const client::Options& opts) {
  auto nc = client::Connection::Connect(opts);
  if (!nc.ok()) {
    std::string servers;
    for (const auto& s : opts.servers) servers += (servers.empty() ? "" : ", ") + s;
    std::fprintf(stderr, "gannet: cannot connect to %s: %s\n", servers.c_str(), nc.error().c_str());
    return client::Connection();
  }
  return std::move(*nc);
}

std::string TimeStamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  return buf;
}

StopSignal::StopSignal() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

void StopSignal::Notify() {
  std::lock_guard lk(mu_);
  done_ = true;
  cv_.notify_all();
}

void StopSignal::Wait() {
  std::thread sig([this] {
    int s = 0;
    sigwait(&set_, &s);
    Notify();
  });
  {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return done_; });
  }
  // Wake the signal thread if we ended by Notify.
  pthread_kill(sig.native_handle(), SIGTERM);
  sig.join();
}

}  // namespace gannet::cli
