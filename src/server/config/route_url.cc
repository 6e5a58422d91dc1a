// Route URLs (options.h): read with Go's url.Parse as the reference's parseURL and
// RoutesFromStr do.
#include <string>

#include "server/config/go_url.h"
#include "server/config/options.h"

namespace gannet {

namespace {

// strings.TrimSpace, for the ASCII white space a config file or a flag can hold.
std::string_view TrimGoSpace(std::string_view s) {
  const char* space = " \t\n\v\f\r";
  size_t b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(space) - b + 1);
}

}  // namespace

std::optional<RouteUrl> ParseRouteUrl(std::string_view text, std::string* error) {
  std::string_view trimmed = TrimGoSpace(text);
  std::string why;
  std::optional<GoUrl> url = ParseGoUrl(trimmed, &why);
  if (!url) {
    if (error) *error = "error parsing route url [" + GoQuote(trimmed) + "]";
    return std::nullopt;
  }
  RouteUrl out;
  out.text.assign(trimmed);
  out.host = url->Hostname();
  std::string port = url->Port();
  if (!port.empty()) {
    std::optional<int64_t> n = GoAtoi(port, &why);
    if (n && *n <= 65535) out.port = static_cast<int>(*n);
  }
  out.user = url->user;
  out.password = url->password;
  return out;
}

bool SameRouteUrl(const RouteUrl& a, const RouteUrl& b) {
  if (a.text == b.text) return true;
  std::string ignored;
  std::optional<GoUrl> x = ParseGoUrl(a.text, &ignored);
  std::optional<GoUrl> y = ParseGoUrl(b.text, &ignored);
  return x && y && x->Key() == y->Key();
}

}  // namespace gannet
