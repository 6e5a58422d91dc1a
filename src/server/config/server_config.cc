// One generation of the running configuration (see server_config.h).
#include "server/config/server_config.h"

#include "base/strings.h"

#include <cstdio>

#include "server/conn/tls_context.h"

namespace gannet {

ServerConfig::ServerConfig(Options opts, const std::string& server_id)
    : options_(std::move(opts)),
      authenticator_(options_.authorization, options_.tls.verify_and_map),
      load_time_(std::chrono::system_clock::now()) {
  // Field order and omissions as the reference's Info struct.
  info_prefix_ = "INFO {\"server_id\":\"" + server_id + "\",\"server_name\":\"" +
                 JsonEscaped(options_.server_name) + "\",\"version\":\"" + kCompatibleNatsVersion +
                 "\",\"proto\":1,\"host\":\"" + JsonEscaped(options_.host) +
                 "\",\"port\":" + std::to_string(options_.port) +
                 ",\"headers\":" + (options_.no_header_support ? "false" : "true");
  if (authenticator_.advertise_auth_required()) info_prefix_ += ",\"auth_required\":true";
  info_limits_ = ",\"max_payload\":" + std::to_string(options_.max_payload);
}

std::string ServerConfig::ClientInfo(uint64_t cid, const std::string& client_ip,
                                     std::string_view nonce, const TlsContext* tls,
                                     std::string_view tail, int64_t max_payload) const {
  std::string info = info_prefix_;
  if (tls) {
    info += tls->verify() ? ",\"tls_required\":true,\"tls_verify\":true" : ",\"tls_required\":true";
  }
  if (max_payload >= 0 && max_payload != options_.max_payload) {
    info += ",\"max_payload\":" + std::to_string(max_payload);
  } else {
    info += info_limits_;
  }
  info += ",\"client_id\":";
  info += std::to_string(cid);
  info += ",\"client_ip\":\"";
  info += JsonEscaped(client_ip);
  info += '"';
  if (!nonce.empty()) {
    info += ",\"nonce\":\"";
    info.append(nonce);  // base64url: nothing to escape
    info += '"';
  }
  info.append(tail);
  info += "} \r\n";
  return info;
}

}  // namespace gannet
