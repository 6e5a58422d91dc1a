// tls { ... } blocks (config_tls.h), after the reference's opts.go parseTLS.
#include "server/config/config_tls.h"

#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "conf/duration.h"
#include "server/config/config_auth.h"
#include "server/conn/tls_context.h"

namespace gannet {

namespace {

std::string Fail(const conf::Position& pos, const std::string& message) {
  return pos.ToString() + ": " + message;
}

// The reference's text for a value of the wrong type where it asserts one (a Go panic that
// its config reader turns into an error).
std::string WrongType(const conf::Value& v, const char* want) {
  return std::string("interface conversion: interface {} is ") + GoTypeName(v) + ", not " + want;
}

// cipher_suites, curve_preferences, pinned_certs: an array of strings.
std::optional<std::string> ReadList(const conf::MapEntry& e, std::vector<std::string>& out) {
  out.clear();
  for (const conf::Value& item : e.value.AsArray()) {
    if (!item.IsString()) return Fail(item.position(), WrongType(item, "string"));
    out.push_back(item.AsString());
  }
  return std::nullopt;
}

std::optional<std::string> ReadField(const conf::MapEntry& e, TlsBlockKind kind, TlsConfig& tls) {
  const std::string key = AsciiLower(e.key);
  const conf::Value& v = e.value;
  const conf::Position& at = e.key_position;
  auto filename = [&](std::string& out) -> std::optional<std::string> {
    if (!v.IsString()) {
      return Fail(at, "error parsing tls config, expected '" + key + "' to be filename");
    }
    out = v.AsString();
    return std::nullopt;
  };
  auto boolean = [&](bool& out) -> std::optional<std::string> {
    if (!v.IsBool()) {
      return Fail(at, "error parsing tls config, expected '" + key + "' to be a boolean");
    }
    out = v.AsBool();
    return std::nullopt;
  };
  if (key == "cert_file") return filename(tls.cert_file);
  if (key == "key_file") return filename(tls.key_file);
  if (key == "ca_file") return filename(tls.ca_file);
  if (key == "insecure") return boolean(tls.insecure);
  if (key == "verify") return boolean(tls.verify);
  if (key == "verify_and_map" || key == "verify_cert_and_check_known_urls") {
    bool on = false;
    if (auto err = boolean(on)) return err;
    if (key == "verify_and_map") {
      tls.verify_and_map = on;
    } else {
      if (on && kind == TlsBlockKind::kClient) {
        return Fail(at, "verify_cert_and_check_known_urls not supported in this context");
      }
      tls.verify_cert_and_check_known_urls = on;
    }
    if (on) tls.verify = true;
    return std::nullopt;
  }
  if (key == "cipher_suites" || key == "curve_preferences") {
    const bool ciphers = key == "cipher_suites";
    if (!v.IsArray()) return Fail(at, WrongType(v, "[]interface {}"));
    if (v.AsArray().empty()) {
      return Fail(at, "error parsing tls config, '" + key + "' cannot be empty");
    }
    std::vector<std::string>& list = ciphers ? tls.cipher_suites : tls.curve_preferences;
    if (auto err = ReadList(e, list)) return err;
    for (size_t i = 0; i < list.size(); ++i) {
      if (ciphers && !IsKnownCipherSuite(list[i])) {
        return Fail(v.AsArray()[i].position(), "unrecognized cipher " + list[i]);
      }
      if (!ciphers && !IsKnownCurve(list[i])) {
        return Fail(v.AsArray()[i].position(), "unrecognized curve preference " + list[i]);
      }
    }
    return std::nullopt;
  }
  if (key == "timeout") {
    if (v.IsInteger() || v.IsFloat()) {
      double secs = v.IsFloat() ? v.AsFloat() : static_cast<double>(v.AsInteger());
      tls.timeout = std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
      return std::nullopt;
    }
    if (!v.IsString()) return Fail(at, "error parsing tls config, 'timeout' wrong type");
    std::string why;
    auto d = conf::ParseGoDuration(v.AsString(), &why);
    if (!d) return Fail(at, "error parsing tls config, 'timeout' " + why);
    tls.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    return std::nullopt;
  }
  if (key == "connection_rate_limit") {
    if (!v.IsInteger()) {
      return Fail(at, "error parsing tls config, 'connection_rate_limit' wrong type");
    }
    // The reference limits the rate of client TLS handshakes only; in cluster {} it reads the
    // value and ignores it.
    if (kind == TlsBlockKind::kClient) {
      return Fail(at, "\"connection_rate_limit\" is not supported yet by gannet-server");
    }
    return std::nullopt;
  }
  if (key == "pinned_certs") {
    if (!v.IsArray()) {
      return Fail(at,
                  "error parsing tls config, expected 'pinned_certs' to be a list of "
                  "hex-encoded sha256 of DER encoded SubjectPublicKeyInfo");
    }
    if (auto err = ReadList(e, tls.pinned_certs)) return err;
    for (size_t i = 0; i < tls.pinned_certs.size(); ++i) {
      std::string& pin = tls.pinned_certs[i];
      pin = AsciiLower(pin);
      bool hex = pin.size() == 64 && std::all_of(pin.begin(), pin.end(), [](char ch) {
                   return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
                 });
      if (!hex) {
        return Fail(v.AsArray()[i].position(),
                    "error parsing tls config, 'pinned_certs' key " + pin +
                        " does not look like hex-encoded sha256 of DER encoded "
                        "SubjectPublicKeyInfo");
      }
    }
    return std::nullopt;
  }
  return Fail(at, "error parsing tls config, unknown field [" + Quoted(e.key) + "]");
}

}  // namespace

std::optional<std::string> ReadTlsBlock(const conf::MapEntry& entry, TlsBlockKind kind,
                                        TlsConfig& tls) {
  tls.configured = true;
  for (const conf::MapEntry& e : entry.value.AsMap()) {
    if (auto err = ReadField(e, kind, tls)) return err;
  }
  if (tls.timeout <= std::chrono::milliseconds::zero()) tls.timeout = std::chrono::seconds(2);
  // Certificates, keys and the CA are loaded now, so a bad one is an error at the block (as the
  // reference's GenTLSConfig in its config pass; `-t` sees it too).
  std::string error;
  if (!TlsContext::Create(tls, error)) return Fail(entry.key_position, error);
  return std::nullopt;
}

}  // namespace gannet
