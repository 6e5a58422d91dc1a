// The names in a client certificate that verify_and_map maps to a user, in the reference's order
// (auth.go checkClientTLSCertSubject). Filled from the certificate by the TLS layer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gannet {

struct PeerCertNames {
  std::vector<std::string> emails;
  std::vector<std::string> dns_names;
  std::vector<std::string> uris;
  std::string subject;  // RFC 2253 order and escaping, as Go's RDNSequence.String()
  std::vector<std::string> subject_rdns;  // "TYPE=value", for order-insensitive DN matching
  bool has_cert = false;
};

// Splits a DN such as "CN=alice, O=Acme" into "TYPE=value" parts (types upper-cased), or
// nullopt if it does not parse as a DN.
std::optional<std::vector<std::string>> ParseDn(std::string_view dn);

}  // namespace gannet
