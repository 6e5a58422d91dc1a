// One generation of the running configuration: the options, the Authenticator built from them
// and the INFO line's fixed part. Immutable once published. The server starts with one; each
// config reload (server/reload.h) publishes a new one, which every worker takes over on its own
// thread. Whoever still refers into an older generation (a client's permissions, a worker's
// cached options) holds a shared_ptr to it; see docs/ARCHITECTURE.md on how long they live.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/authenticator.h"
#include "server/config/options.h"

namespace gannet {

class TlsContext;

class ServerConfig {
 public:
  // `opts.server_name` must be set (the server id when not configured).
  ServerConfig(Options opts, const std::string& server_id);
  ServerConfig(const ServerConfig&) = delete;
  ServerConfig& operator=(const ServerConfig&) = delete;

  const Options& options() const { return options_; }
  const Authenticator& authenticator() const { return authenticator_; }
  // When this generation was loaded (/varz config_load_time).
  std::chrono::system_clock::time_point load_time() const { return load_time_; }

  // The INFO line for a new client (with its id and address, and the nonce NKEY users sign
  // when there is one; tls_required and tls_verify from the connection's TLS context),
  // CRLF-terminated. `tail`: JSON fields that follow (the cluster's: ",\"cluster\":...").
  // `max_payload` >= 0: the client's own (its account's limit is lower), as the reference.
  std::string ClientInfo(uint64_t cid, const std::string& client_ip, std::string_view nonce = {},
                         const TlsContext* tls = nullptr, std::string_view tail = {},
                         int64_t max_payload = -1) const;

 private:
  const Options options_;
  const Authenticator authenticator_;  // refers to options_
  std::string info_prefix_;            // INFO JSON up to auth_required (tls fields come next)
  std::string info_limits_;            // INFO JSON from max_payload on
  std::chrono::system_clock::time_point load_time_;
};

}  // namespace gannet
