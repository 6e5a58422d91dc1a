// Go's url.Parse, net.SplitHostPort and strconv.Atoi (see go_url.h), written after Go 1.19's
// net/url/url.go, net/ipsock.go and strconv/atoi.go.
#include "server/config/go_url.h"

#include <cstdio>

namespace gannet {

namespace {

enum class Encoding { kPath, kUserPassword, kHost, kZone, kFragment };

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
unsigned char Unhex(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned char>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned char>(c - 'a' + 10);
  return static_cast<unsigned char>(c - 'A' + 10);
}

bool OneOf(unsigned char c, std::string_view set) {
  return c != 0 && set.find(static_cast<char>(c)) != std::string_view::npos;
}

// url.go shouldEscape, for the encodings Parse uses.
bool ShouldEscape(unsigned char c, Encoding mode) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return false;
  // A host's sub-delims, plus ':' for the port, '[' ']' for IPv6 and '<' '>' '"'.
  if ((mode == Encoding::kHost || mode == Encoding::kZone) && OneOf(c, "!$&'()*+,;=:[]<>\"")) {
    return false;
  }
  if (OneOf(c, "-_.~")) return false;  // unreserved
  if (OneOf(c, "$&+,/:;=?@")) {        // reserved
    switch (mode) {
      case Encoding::kPath:
        return c == '?';
      case Encoding::kUserPassword:
        return OneOf(c, "@/?:");
      case Encoding::kFragment:
        return false;
      default:
        break;
    }
  }
  if (mode == Encoding::kFragment && OneOf(c, "!()*")) return false;
  return true;
}

// url.go unescape: the decoded text, or an error ("invalid URL escape ..." or "invalid
// character ... in host name").
bool Unescape(std::string_view s, Encoding mode, std::string& out, std::string* error) {
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) {
        std::string_view bad = s.substr(i, 3);
        *error = "invalid URL escape " + GoQuote(bad);
        return false;
      }
      if (mode == Encoding::kHost && Unhex(s[i + 1]) < 8 && s.substr(i, 3) != "%25") {
        *error = "invalid URL escape " + GoQuote(s.substr(i, 3));
        return false;
      }
      if (mode == Encoding::kZone) {
        unsigned char v = static_cast<unsigned char>(Unhex(s[i + 1]) << 4 | Unhex(s[i + 2]));
        if (s.substr(i, 3) != "%25" && v != ' ' && ShouldEscape(v, Encoding::kHost)) {
          *error = "invalid URL escape " + GoQuote(s.substr(i, 3));
          return false;
        }
      }
      i += 3;
      continue;
    }
    if ((mode == Encoding::kHost || mode == Encoding::kZone) &&
        static_cast<unsigned char>(c) < 0x80 && ShouldEscape(static_cast<unsigned char>(c), mode)) {
      *error = "invalid character " + GoQuote(s.substr(i, 1)) + " in host name";
      return false;
    }
    ++i;
  }
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out += static_cast<char>(Unhex(s[i + 1]) << 4 | Unhex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return true;
}

bool ValidOptionalPort(std::string_view port) {
  if (port.empty()) return true;
  if (port[0] != ':') return false;
  for (char c : port.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// url.go parseHost.
bool ParseHost(std::string_view host, std::string& out, std::string* error) {
  if (!host.empty() && host[0] == '[') {
    size_t i = host.rfind(']');
    if (i == std::string_view::npos) {
      *error = "missing ']' in host";
      return false;
    }
    std::string_view colon_port = host.substr(i + 1);
    if (!ValidOptionalPort(colon_port)) {
      *error = "invalid port " + GoQuote(colon_port) + " after host";
      return false;
    }
    size_t zone = host.substr(0, i).find("%25");
    if (zone != std::string_view::npos) {
      std::string h1, h2, h3;
      if (!Unescape(host.substr(0, zone), Encoding::kHost, h1, error) ||
          !Unescape(host.substr(zone, i - zone), Encoding::kZone, h2, error) ||
          !Unescape(host.substr(i), Encoding::kHost, h3, error)) {
        return false;
      }
      out = h1 + h2 + h3;
      return true;
    }
  } else if (size_t i = host.rfind(':'); i != std::string_view::npos) {
    std::string_view colon_port = host.substr(i);
    if (!ValidOptionalPort(colon_port)) {
      *error = "invalid port " + GoQuote(colon_port) + " after host";
      return false;
    }
  }
  return Unescape(host, Encoding::kHost, out, error);
}

bool ValidUserinfo(std::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) continue;
    // Any other byte, non-ASCII ones included (Go checks runes), is refused.
    if (!OneOf(c, "-._:~!$&'()*+,;=%@")) return false;
  }
  return true;
}

// url.go parseAuthority.
bool ParseAuthority(std::string_view authority, GoUrl& url, std::string* error) {
  size_t at = authority.rfind('@');
  std::string_view host_part = at == std::string_view::npos ? authority : authority.substr(at + 1);
  if (!ParseHost(host_part, url.host, error)) return false;
  if (at == std::string_view::npos) return true;
  std::string_view userinfo = authority.substr(0, at);
  if (!ValidUserinfo(userinfo)) {
    *error = "net/url: invalid userinfo";
    return false;
  }
  url.has_user = true;
  size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    return Unescape(userinfo, Encoding::kUserPassword, url.user, error);
  }
  url.has_password = true;
  return Unescape(userinfo.substr(0, colon), Encoding::kUserPassword, url.user, error) &&
         Unescape(userinfo.substr(colon + 1), Encoding::kUserPassword, url.password, error);
}

// url.go getScheme.
bool GetScheme(std::string_view raw, std::string& scheme, std::string_view& rest,
               std::string* error) {
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        *error = "missing protocol scheme";
        return false;
      }
      scheme.assign(raw.substr(0, i));
      rest = raw.substr(i + 1);
      return true;
    }
    break;
  }
  rest = raw;
  return true;
}

// url.go parse (viaRequest false).
bool Parse(std::string_view raw, GoUrl& url, std::string* error) {
  for (char c : raw) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      *error = "net/url: invalid control character in URL";
      return false;
    }
  }
  if (raw == "*") {
    url.path = "*";
    return true;
  }
  std::string_view rest;
  if (!GetScheme(raw, url.scheme, rest, error)) return false;
  for (char& c : url.scheme) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!rest.empty() && rest.back() == '?' && rest.find('?') == rest.size() - 1) {
    url.force_query = true;
    rest.remove_suffix(1);
  } else if (size_t q = rest.find('?'); q != std::string_view::npos) {
    url.raw_query.assign(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  if (rest.empty() || rest[0] != '/') {
    if (!url.scheme.empty()) {
      url.opaque.assign(rest);
      return true;
    }
    std::string_view segment = rest.substr(0, rest.find('/'));
    if (segment.find(':') != std::string_view::npos) {
      *error = "first path segment in URL cannot contain colon";
      return false;
    }
  }
  if ((!url.scheme.empty() || !rest.starts_with("///")) && rest.starts_with("//")) {
    std::string_view authority = rest.substr(2);
    rest = {};
    if (size_t slash = authority.find('/'); slash != std::string_view::npos) {
      rest = authority.substr(slash);
      authority = authority.substr(0, slash);
    }
    if (!ParseAuthority(authority, url, error)) return false;
  }
  return Unescape(rest, Encoding::kPath, url.path, error);
}

}  // namespace

std::string GoUrl::Hostname() const {
  std::string_view h = host;
  if (size_t colon = h.rfind(':');
      colon != std::string_view::npos && ValidOptionalPort(h.substr(colon))) {
    h = h.substr(0, colon);
  }
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return std::string(h);
}

std::string GoUrl::Port() const {
  std::string_view h = host;
  if (size_t colon = h.rfind(':');
      colon != std::string_view::npos && ValidOptionalPort(h.substr(colon))) {
    return std::string(h.substr(colon + 1));
  }
  return {};
}

std::string GoUrl::Key() const {
  std::string key;
  for (const std::string* part :
       {&scheme, &opaque, &user, &password, &host, &path, &raw_query, &fragment}) {
    key += std::to_string(part->size()) + ":" + *part;
  }
  key += has_user ? 'u' : '-';
  key += has_password ? 'p' : '-';
  key += force_query ? 'q' : '-';
  return key;
}

std::string GoQuote(std::string_view s) {
  static constexpr std::string_view kEscaped = "\"\\\a\b\f\n\r\t\v";
  static constexpr std::string_view kLetters = "\"\\abfnrtv";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (size_t k = kEscaped.find(static_cast<char>(c)); c != 0 && k != std::string_view::npos) {
      out += '\\';
      out += kLetters[k];
      continue;
    }
    if (c < 0x80) {
      if (c < ' ' || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
      continue;
    }
    // A well-formed UTF-8 sequence is printed as it is; any other byte as \x.
    size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len - 1;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += '"';
  return out;
}

std::optional<GoUrl> ParseGoUrl(std::string_view text, std::string* error) {
  std::string_view without_fragment = text;
  std::string_view fragment;
  bool has_fragment = false;
  if (size_t hash = text.find('#'); hash != std::string_view::npos) {
    without_fragment = text.substr(0, hash);
    fragment = text.substr(hash + 1);
    has_fragment = true;
  }
  GoUrl url;
  std::string why;
  if (!Parse(without_fragment, url, &why)) {
    *error = "parse " + GoQuote(without_fragment) + ": " + why;
    return std::nullopt;
  }
  if (has_fragment && !fragment.empty() &&
      !Unescape(fragment, Encoding::kFragment, url.fragment, &why)) {
    *error = "parse " + GoQuote(text) + ": " + why;
    return std::nullopt;
  }
  return url;
}

bool GoSplitHostPort(std::string_view hostport, std::string& host, std::string& port,
                     std::string* error) {
  auto fail = [&](const char* why) {
    *error = hostport.empty() ? std::string(why) : "address " + std::string(hostport) + ": " + why;
    return false;
  };
  size_t i = hostport.rfind(':');
  if (i == std::string_view::npos) return fail("missing port in address");
  size_t j = 0, k = 0;
  if (hostport[0] == '[') {
    size_t end = hostport.find(']');
    if (end == std::string_view::npos) return fail("missing ']' in address");
    if (end + 1 == hostport.size()) return fail("missing port in address");
    if (end + 1 != i) {
      return fail(hostport[end + 1] == ':' ? "too many colons in address"
                                           : "missing port in address");
    }
    host.assign(hostport.substr(1, end - 1));
    j = 1;
    k = end + 1;
  } else {
    host.assign(hostport.substr(0, i));
    if (host.find(':') != std::string::npos) return fail("too many colons in address");
  }
  if (hostport.substr(j).find('[') != std::string_view::npos) {
    return fail("unexpected '[' in address");
  }
  if (hostport.substr(k).find(']') != std::string_view::npos) {
    return fail("unexpected ']' in address");
  }
  port.assign(hostport.substr(i + 1));
  return true;
}

std::optional<int64_t> GoAtoi(std::string_view s, std::string* error, std::string_view function) {
  auto fail = [&](const char* why) {
    *error = std::string(function) + ": parsing " + GoQuote(s) + ": " + why;
    return std::nullopt;
  };
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return fail("invalid syntax");
  uint64_t value = 0;
  bool overflow = false;
  for (char c : digits) {
    if (c < '0' || c > '9') return fail("invalid syntax");
    if (value > (UINT64_MAX - 9) / 10) overflow = true;
    if (!overflow) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (overflow || value > limit) return fail("value out of range");
  return negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
}

bool GoParseHostPort(std::string_view hostport, int default_port, std::string& host, int& port,
                     std::string* error) {
  if (hostport.empty()) {
    *error = "no hostport specified";
    return false;
  }
  std::string h, p;
  if (!GoSplitHostPort(hostport, h, p, error)) {
    if (error->find("missing port") == std::string::npos) return false;
    std::string with_port = std::string(hostport) + ":" + std::to_string(default_port);
    if (!GoSplitHostPort(with_port, h, p, error)) return false;
  }
  auto trim = [](std::string_view s) {
    const char* space = " \t\n\v\f\r";
    size_t b = s.find_first_not_of(space);
    if (b == std::string_view::npos) return std::string_view();
    return s.substr(b, s.find_last_not_of(space) - b + 1);
  };
  std::optional<int64_t> n = GoAtoi(trim(p), error);
  if (!n) return false;
  port = *n == 0 || *n == -1 ? default_port : static_cast<int>(*n);
  host.assign(trim(h));
  return true;
}

}  // namespace gannet
