#include "auth/password.h"

#include <crypt.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace gannet::auth {

namespace {
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}
}  // namespace

bool IsBcrypt(std::string_view s) {
  return s.size() > 4 && s[0] == '$' && s[1] == '2' &&
         (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') && s[3] == '$';
}

bool PasswordMatches(std::string_view configured, std::string_view given) {
  if (!IsBcrypt(configured)) return ConstantTimeEquals(configured, given);
  // crypt_r needs NUL-terminated strings and a per-call work area (it is large: heap).
  std::string key(given);
  std::string setting(configured);
  if (key.find('\0') != std::string::npos) return false;
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(key.c_str(), setting.c_str(), data.get());
  // Failure is "*0"/"*1" or NULL; a match reproduces the configured hash exactly.
  return out != nullptr && out[0] == '$' && ConstantTimeEquals(out, configured);
}

}  // namespace gannet::auth
