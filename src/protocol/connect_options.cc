// CONNECT JSON parsing (see connect_options.h).
#include "protocol/connect_options.h"

#include <nlohmann/json.hpp>

namespace gannet {

std::optional<std::string> ParseConnectOptions(std::string_view json, ConnectOptions& opts) {
  nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (doc.is_discarded()) return std::string("invalid JSON in CONNECT");
  if (doc.is_null()) return std::nullopt;  // "null" unmarshals to nothing, as in Go
  if (!doc.is_object()) return std::string("CONNECT arguments must be a JSON object");

  std::optional<std::string> error;
  auto set_bool = [&](const nlohmann::json& v, bool& field, const std::string& key) {
    if (v.is_null()) return;
    if (!v.is_boolean()) {
      error = "json: cannot unmarshal into Go struct field " + key + " of type bool";
      return;
    }
    field = v.get<bool>();
  };
  auto set_string = [&](const nlohmann::json& v, std::string& field, const std::string& key) {
    if (v.is_null()) return;
    if (!v.is_string()) {
      error = "json: cannot unmarshal into Go struct field " + key + " of type string";
      return;
    }
    field = v.get<std::string>();
  };
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    std::string key = it.key();
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto& v = it.value();
    if (key == "verbose")
      set_bool(v, opts.verbose, key);
    else if (key == "pedantic")
      set_bool(v, opts.pedantic, key);
    else if (key == "tls_required")
      set_bool(v, opts.tls_required, key);
    else if (key == "echo")
      set_bool(v, opts.echo, key);
    else if (key == "headers")
      set_bool(v, opts.headers, key);
    else if (key == "no_responders")
      set_bool(v, opts.no_responders, key);
    else if (key == "new_account")
      set_bool(v, opts.new_account, key);
    else if (key == "auth_token")
      set_string(v, opts.auth_token, key);
    else if (key == "user")
      set_string(v, opts.user, key);
    else if (key == "pass")
      set_string(v, opts.pass, key);
    else if (key == "name")
      set_string(v, opts.name, key);
    else if (key == "lang")
      set_string(v, opts.lang, key);
    else if (key == "version")
      set_string(v, opts.version, key);
    else if (key == "sig")
      set_string(v, opts.sig, key);
    else if (key == "jwt")
      set_string(v, opts.jwt, key);
    else if (key == "nkey")
      set_string(v, opts.nkey, key);
    else if (key == "account")
      set_string(v, opts.account, key);
    else if (key == "protocol") {
      if (v.is_null()) continue;
      if (!v.is_number_integer()) {
        error = "json: cannot unmarshal into Go struct field protocol of type int";
      } else {
        opts.protocol = v.get<int64_t>();
      }
    }
  }
  return error;
}

}  // namespace gannet
