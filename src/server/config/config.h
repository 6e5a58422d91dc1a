// The configuration file (-c): the reference's language (src/conf) mapped onto Options, key by
// key as nats-server's opts.go reads them. Unknown keys are errors, as in the reference.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conf/value.h"
#include "server/config/options.h"

namespace gannet {

// Reads `path` into `opts`. Errors are "file:line:col: message"; warnings (a bare number of
// seconds for a duration, a plaintext password) are appended to `warnings`, or are errors
// when `strict` (-t checks a file as the reference's pedantic mode does).
std::optional<std::string> LoadConfig(const std::string& path, Options& opts,
                                      std::vector<std::string>& warnings, bool strict = false);

// Top-level keys that a program embedding the server reads from the same file itself
// (gannet-streaming's `streaming {}` block, as nats-streaming-server shares nats-server's
// file): skipped here instead of refused as unknown fields. Set once at startup, before any
// file is read.
void SetEmbedderConfigKeys(std::vector<std::string> keys);

// The mapping step of LoadConfig alone: a parsed configuration tree onto `opts`.
std::optional<std::string> OptionsFromConfig(const conf::Value& root, Options& opts,
                                             std::vector<std::string>& warnings,
                                             bool strict = false);

}  // namespace gannet
