// The Streaming server's configuration file: the `streaming {}` block of the file given with -c
// (or -sc), or the streaming keys at the top level of a -sc file, mapped onto StreamingOptions as
// the reference's server/conf.go reads them (same keys and aliases, same type rules).
//
// Keys of features gannet-streaming does not have yet (encryption, partitioning, some of
// clustering's) are refused with a clear message; unknown keys in the block are
// errors, as for gannet-server's own keys.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conf/value.h"
#include "streaming/options.h"

namespace gannet::streaming {

// The streaming keys that may stand at the top level of a file shared with the NATS server
// (the NATS side skips them, see server/config.h SetEmbedderConfigKeys), "streaming" included.
std::vector<std::string> StreamingTopLevelKeys();

// Applies `root`'s streaming options to `opts`: its `streaming` block when it has one (every key
// must be known), else the streaming keys of the top level (other keys belong to the NATS
// server). Errors are "file:line:col: message".
std::optional<std::string> ApplyStreamingConfig(const conf::Value& root, StreamingOptions& opts);

// Checks the clustering options together (and with the store's), and fills the Raft log's
// default path. The error text, if any.
std::optional<std::string> ValidateClusterOptions(StreamingOptions& opts);

// Reads `path` and applies it as above.
std::optional<std::string> LoadStreamingConfig(const std::string& path, StreamingOptions& opts);

}  // namespace gannet::streaming
