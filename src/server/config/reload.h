// Config reload (SIGHUP, --signal reload): which options may change on a running server, as the
// reference's reload.go diffOptions decides, and the "Reloaded: ..." lines it logs. Applying a
// reload is Server::Reload (reload.cc); the path it travels is in docs/ARCHITECTURE.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "server/config/options.h"

namespace gannet {

// What a reload changes.
struct ReloadChanges {
  // The reference's notices ("Reloaded: debug = true", ...), in its order (its Options
  // struct's field order).
  std::vector<std::string> notices;
  bool logging = false;  // debug, trace, logtime or log_file: the logger is configured again
  bool pid_file = false;
  bool ports_file_dir = false;
  bool tls = false;  // tls {} configured before or after: the TLS context is made again
};

// Compares the running options with a reload's. Fails, naming the first option (in the
// reference's field order and with its field name) that a running server cannot change:
// "config reload not supported for Port: old=4222, new=4223".
std::optional<std::string> DiffOptions(const Options& current, const Options& next,
                                       ReloadChanges& changes);

}  // namespace gannet
