// The CONNECT JSON a client sends, read as the reference reads it (encoding/json into
// ClientOpts): keys matched case-insensitively, unknown keys ignored, a wrong type an error,
// and fields left out keeping their defaults (verbose, pedantic and echo default to true).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gannet {

struct ConnectOptions {
  bool verbose = true;
  bool pedantic = true;
  bool tls_required = false;
  bool echo = true;
  bool headers = false;
  bool no_responders = false;
  bool new_account = false;
  int64_t protocol = 0;
  std::string auth_token;
  std::string user;
  std::string pass;
  std::string name;
  std::string lang;
  std::string version;
  std::string sig;
  std::string jwt;
  std::string nkey;
  std::string account;
};

// Parses `json` over `opts` (fields present overwrite, others keep their values).
// Returns an error message when the JSON is invalid or a field has the wrong type.
std::optional<std::string> ParseConnectOptions(std::string_view json, ConnectOptions& opts);

}  // namespace gannet
