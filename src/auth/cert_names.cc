// Distinguished names for verify_and_map (see cert_names.h).
#include "auth/cert_names.h"

#include <algorithm>

#include "base/strings.h"

namespace gannet {

std::optional<std::vector<std::string>> ParseDn(std::string_view dn) {
  std::vector<std::string> parts;
  std::string current;
  auto finish = [&]() -> bool {
    std::string part = TrimSpace(current);
    current.clear();
    auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    std::string type = TrimSpace(std::string_view(part).substr(0, eq));
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    parts.push_back(type + "=" + TrimSpace(std::string_view(part).substr(eq + 1)));
    return true;
  };
  for (size_t i = 0; i < dn.size(); ++i) {
    char c = dn[i];
    if (c == '\\' && i + 1 < dn.size()) {
      current += dn[++i];
    } else if (c == ',' || c == '+' || c == ';') {
      if (!finish()) return std::nullopt;
    } else {
      current += c;
    }
  }
  if (!finish()) return std::nullopt;
  return parts;
}

}  // namespace gannet
