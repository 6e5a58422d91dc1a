// Controlling a running server from outside, as nats-server does: `--signal CMD[=PID|PIDFILE]`
// sends it a signal, and the ports file (--ports_file_dir) tells scripts where it listens.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gannet {

// Runs `--signal` (e.g. "reload", "ldm=1234", "quit=/var/run/gannet.pid"): stop → SIGKILL,
// quit → SIGINT, term → SIGTERM, reopen → SIGUSR1, reload → SIGHUP, ldm → SIGUSR2. Without a
// PID, the one running process named `process_name` (other than this one) is signalled.
// Returns the reference's error text on failure (the caller prints "<exe>: <error>").
std::optional<std::string> SendSignalCommand(std::string_view spec,
                                             const std::string& process_name);

// PIDs of the processes named `name` (their /proc/PID/comm), this process excluded.
std::vector<int> FindProcesses(const std::string& name);

// What the ports file holds: the URLs each listener can be reached at.
struct Ports {
  std::vector<std::string> nats;
  std::vector<std::string> monitoring;
  std::vector<std::string> cluster;
  std::vector<std::string> profile;
  std::vector<std::string> websocket;
};

// "scheme://host:port" for a listener; an unspecified host (0.0.0.0, ::, "") becomes one URL
// per address of every interface, as the reference resolves it.
std::vector<std::string> ListenerUrls(std::string_view scheme, const std::string& host, int port);
// The file's JSON (the reference's field names, empty lists left out).
std::string PortsJson(const Ports& ports);
// <dir>/<executable base name>_<pid>.ports
std::string PortsFilePath(const std::string& dir, const std::string& argv0, int pid);

}  // namespace gannet
