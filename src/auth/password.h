// Configured passwords: plain text, or a bcrypt hash ($2a$, $2b$, $2y$) checked with Debian's
// libcrypt, as the reference accepts both.
#pragma once

#include <string_view>

namespace gannet::auth {

bool IsBcrypt(std::string_view configured);
// Whether `given` (from CONNECT) matches `configured`. Plain text is compared in constant
// time; a bcrypt hash is recomputed with its own salt and cost.
bool PasswordMatches(std::string_view configured, std::string_view given);

}  // namespace gannet::auth
