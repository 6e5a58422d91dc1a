// A tls { ... } block of a config file (the top level's for clients and HTTPS monitoring,
// cluster {}'s for routes) read as the reference's parseTLS and GenTLSConfig, with its texts.
#pragma once

#include <optional>
#include <string>

#include "conf/value.h"
#include "server/config/options.h"

namespace gannet {

enum class TlsBlockKind {
  kClient,  // the top level's: verify_cert_and_check_known_urls is refused
  kRoute,   // cluster {}'s
};

// Reads the block of `entry` into `tls` (configured) and loads its certificate, key and CA, as
// the reference does while reading the file. Returns the first error, "file:line:col: message".
std::optional<std::string> ReadTlsBlock(const conf::MapEntry& entry, TlsBlockKind kind,
                                        TlsConfig& tls);

}  // namespace gannet
