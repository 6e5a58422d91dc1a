// Go's net/url.Parse, net.SplitHostPort and strconv.Atoi, as far as the reference reads route
// URLs, `--cluster` and listen addresses with them: the same inputs accepted, the same error
// texts (Go 1.19, which nats-server 2.9.10 is built with).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gannet {

// A URL as Go's url.Parse leaves it (the fields the reference looks at).
struct GoUrl {
  std::string scheme;  // lower case
  std::string opaque;  // "scheme:opaque" URLs (no "//"): everything after the colon
  bool has_user = false;
  std::string user;  // unescaped
  bool has_password = false;
  std::string password;  // unescaped
  std::string host;      // "host:port" as written (IPv6 in brackets), unescaped
  std::string path;      // unescaped
  bool force_query = false;
  std::string raw_query;
  std::string fragment;  // unescaped

  // url.Hostname() and url.Port(): the host without brackets and the port text ("" if none).
  std::string Hostname() const;
  std::string Port() const;
  // The parts that make two URLs equal for reflect.DeepEqual (the reference's urlsAreEqual).
  std::string Key() const;
};

// Go's strconv.Quote of an ASCII or UTF-8 string (the %q of the reference's messages).
std::string GoQuote(std::string_view s);

// url.Parse. On failure returns nothing and sets `error` to Go's text, e.g.
// `parse "nats://a b:1": invalid character " " in host name`.
std::optional<GoUrl> ParseGoUrl(std::string_view text, std::string* error);

// net.SplitHostPort: "host:port", "[v6]:port". On failure sets `error` to Go's text, e.g.
// "address 127.0.0.1: missing port in address".
bool GoSplitHostPort(std::string_view hostport, std::string& host, std::string& port,
                     std::string* error);

// strconv.Atoi: an optional sign and decimal digits. On failure sets `error`, e.g.
// `strconv.Atoi: parsing "abc": invalid syntax`. `function` names the Go function in the text
// (strconv.Atoi, strconv.ParseInt).
std::optional<int64_t> GoAtoi(std::string_view s, std::string* error,
                              std::string_view function = "strconv.Atoi");

// The reference's parseHostPort (util.go), used for `advertise` and `client_advertise`:
// "host:port" or "host" (then `default_port`); a port of 0 or -1 is `default_port`. On failure
// sets `error` to Go's text ("no hostport specified", `strconv.Atoi: parsing "x": invalid
// syntax`, "address a:b:c: too many colons in address").
bool GoParseHostPort(std::string_view hostport, int default_port, std::string& host, int& port,
                     std::string* error);

}  // namespace gannet
