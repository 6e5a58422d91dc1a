// One generation of the running configuration (see server_config.h).
#include "server/server_config.h"

#include <cstdio>

#include "server/tls_context.h"

namespace gannet {

namespace {

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

ServerConfig::ServerConfig(Options opts, const std::string& server_id)
    : options_(std::move(opts)),
      authenticator_(options_),
      load_time_(std::chrono::system_clock::now()) {
  // Field order and omissions as the reference's Info struct.
  info_prefix_ = "INFO {\"server_id\":\"" + server_id + "\",\"server_name\":\"" +
                 JsonEscape(options_.server_name) + "\",\"version\":\"" + kCompatibleNatsVersion +
                 "\",\"proto\":1,\"host\":\"" + JsonEscape(options_.host) +
                 "\",\"port\":" + std::to_string(options_.port) +
                 ",\"headers\":" + (options_.no_header_support ? "false" : "true");
  if (authenticator_.advertise_auth_required()) info_prefix_ += ",\"auth_required\":true";
  info_limits_ = ",\"max_payload\":" + std::to_string(options_.max_payload);
}

std::string ServerConfig::ClientInfo(uint64_t cid, const std::string& client_ip,
                                     std::string_view nonce, const TlsContext* tls) const {
  std::string info = info_prefix_;
  if (tls) {
    info += tls->verify() ? ",\"tls_required\":true,\"tls_verify\":true" : ",\"tls_required\":true";
  }
  info += info_limits_;
  info += ",\"client_id\":";
  info += std::to_string(cid);
  info += ",\"client_ip\":\"";
  info += JsonEscape(client_ip);
  info += '"';
  if (!nonce.empty()) {
    info += ",\"nonce\":\"";
    info.append(nonce);  // base64url: nothing to escape
    info += '"';
  }
  info += "} \r\n";
  return info;
}

}  // namespace gannet
