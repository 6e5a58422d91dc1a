// gannet-streaming's command line: the reference's streaming flags (-cid, -st, --dir, the -m*
// limits, -ns, -sc, -hb*, --file_*, --io_*, -SD/-SV/-SDV, TLS to NATS, ...) taken out, every
// other flag left to gannet-server's own parser for the embedded server; then the configuration
// files (the `streaming {}` block of -c, or -sc) with the flags applied over them, as the
// reference's ConfigureOptions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/config/options.h"
#include "streaming/options.h"

namespace gannet::streaming {

struct StreamingCommandLine {
  StreamingOptions streaming;
  CommandLine nats;         // the embedded (or -ns monitoring) NATS server's options
  std::string stan_config;  // -sc FILE
  bool show_help = false;
  bool show_version = false;
  // The error is a bad flag (print the usage), not a bad file.
  bool usage_error = false;
};

// Parses argv into `out`. Returns the error text on failure.
std::optional<std::string> ParseStreamingCommandLine(int argc, char** argv,
                                                     StreamingCommandLine& out);

// The usage text: the streaming options, then gannet-server's.
std::string StreamingUsage();

}  // namespace gannet::streaming
