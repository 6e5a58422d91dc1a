// The `cluster { ... }` block of a config file read into Options::cluster, as the reference's
// opts.go parseCluster does, with its error and warning texts and positions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conf/value.h"
#include "server/config/options.h"

namespace gannet {

// Applies `cluster { name, listen | host/port, advertise, no_advertise, connect_retries, routes,
// authorization { user, password, timeout }, tls {}, permissions { import, export } }`.
// Errors come back as "file:line:col: message", several joined by newlines as the reference
// lists them (its warnings first). Warnings ("Duplicate route entry detected", permissions in
// the authorization block) are appended to `warnings`, or are errors when `strict` (-t).
std::optional<std::string> ApplyCluster(const conf::MapEntry& entry, Options& opts,
                                        std::vector<std::string>& warnings, bool strict);

}  // namespace gannet
