// The `gannet stream` commands' shared pieces: their options and connecting to a Streaming
// server through gannet::streaming_client.
#pragma once

#include <string>
#include <vector>

#include "cli.h"
#include "gannet/client/streaming.h"

namespace gannet::cli {

// kConnectOptions, the Streaming ones (cluster-id, client-id, connect-wait), then `extra`.
std::vector<std::string> StreamOptionsWith(std::vector<std::string> extra);
// "gannet-<role>-<8 random hex digits>".
std::string GeneratedClientId(const std::string& role);
// Streaming options from the flags; false with *error set on a bad value.
bool StreamOptionsFrom(const Args& args, const std::string& role, client::streaming::Options* out,
                       std::string* error);
// Connects or prints a clear error naming the cluster id and server; invalid on failure.
client::streaming::Connection StreamConnectOrReport(const client::streaming::Options& o);

}  // namespace gannet::cli
