#include "server/process_control.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gannet {

namespace {

std::optional<int> ParsePid(const std::string& s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  int pid = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

std::string ReadFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream f(path);
  if (!f) return fallback;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<int> FindProcesses(const std::string& name) {
  std::vector<int> pids;
  DIR* d = opendir("/proc");
  if (!d) return pids;
  const int self = getpid();
  while (dirent* e = readdir(d)) {
    auto pid = ParsePid(e->d_name);
    if (!pid || *pid == self) continue;
    std::string comm = ReadFileOr("/proc/" + std::string(e->d_name) + "/comm", "");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    // comm holds at most 15 characters of the name.
    if (!comm.empty() && comm == name.substr(0, 15)) pids.push_back(*pid);
  }
  closedir(d);
  return pids;
}

std::optional<std::string> SendSignalCommand(std::string_view spec,
                                             const std::string& process_name) {
  std::string command(spec);
  std::string pid_text;
  if (size_t eq = command.find('='); eq != std::string::npos) {
    pid_text = command.substr(eq + 1);
    command.resize(eq);
    if (size_t more = pid_text.find('='); more != std::string::npos) {
      // The reference prints the extra parts as a Go list: [a b].
      std::string extra = pid_text.substr(more + 1);
      std::replace(extra.begin(), extra.end(), '=', ' ');
      return "invalid signal parameters: [" + extra + "]";
    }
    // A PID file's contents, if it names one (as the reference: a path that can be read).
    pid_text = ReadFileOr(pid_text, pid_text);
  }
  int sig;
  if (command == "stop") {
    sig = SIGKILL;
  } else if (command == "quit") {
    sig = SIGINT;
  } else if (command == "term") {
    sig = SIGTERM;
  } else if (command == "reopen") {
    sig = SIGUSR1;
  } else if (command == "reload") {
    sig = SIGHUP;
  } else if (command == "ldm") {
    sig = SIGUSR2;
  } else {
    return "unknown signal \"" + command + "\"";
  }
  int pid;
  if (pid_text.empty()) {
    std::vector<int> pids = FindProcesses(process_name);
    if (pids.empty()) return "no " + process_name + " processes running";
    if (pids.size() > 1) {
      std::string err = "multiple " + process_name + " processes running:";
      for (int p : pids) err += "\n" + std::to_string(p);
      return err;
    }
    pid = pids[0];
  } else {
    auto parsed = ParsePid(pid_text);
    if (!parsed) return "invalid pid: " + pid_text;
    pid = *parsed;
  }
  if (kill(pid, sig) != 0) return std::string(std::strerror(errno));
  return std::nullopt;
}

std::vector<std::string> ListenerUrls(std::string_view scheme, const std::string& host, int port) {
  std::vector<std::string> urls;
  auto add = [&](const std::string& ip, bool v6) {
    urls.push_back(std::string(scheme) + "://" + (v6 ? "[" + ip + "]" : ip) + ":" +
                   std::to_string(port));
  };
  if (!host.empty() && host != "0.0.0.0" && host != "::" && host != "[::]") {
    add(host, host.find(':') != std::string::npos);
    return urls;
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return urls;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !(a->ifa_flags & IFF_UP)) continue;
    char buf[INET6_ADDRSTRLEN];
    if (a->ifa_addr->sa_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
      if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf))) add(buf, false);
    } else if (a->ifa_addr->sa_family == AF_INET6 && host != "0.0.0.0") {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf))) add(buf, true);
    }
  }
  freeifaddrs(list);
  return urls;
}

std::string PortsJson(const Ports& ports) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  auto put = [&](const char* key, const std::vector<std::string>& v) {
    if (!v.empty()) j[key] = v;
  };
  put("nats", ports.nats);
  put("monitoring", ports.monitoring);
  put("cluster", ports.cluster);
  put("profile", ports.profile);
  put("websocket", ports.websocket);
  return j.dump();
}

std::string PortsFilePath(const std::string& dir, const std::string& argv0, int pid) {
  std::string base = argv0.substr(argv0.rfind('/') == std::string::npos ? 0 : argv0.rfind('/') + 1);
  std::string d = dir;
  if (!d.empty() && d.back() == '/') d.pop_back();
  return d + "/" + base + "_" + std::to_string(pid) + ".ports";
}

}  // namespace gannet
