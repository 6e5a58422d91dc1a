// Subject syntax: validation and tokenizing, as the reference's sublist.go defines them.
#pragma once

#include <string_view>

namespace gannet {

inline constexpr char kTokenSeparator = '.';
inline constexpr std::string_view kSingleWildcard = "*";
inline constexpr std::string_view kFullWildcard = ">";

// A subject for SUB: non-empty tokens, no whitespace, '>' only as the last token.
// '*' and '>' are wildcards only as whole tokens ("foo*" is a literal token).
bool IsValidSubject(std::string_view subject);
// A subject for PUB (pedantic check): no empty token and no wildcard token.
bool IsValidLiteralSubject(std::string_view subject);
// True if the subject has a '*' or '>' token.
bool SubjectHasWildcard(std::string_view subject);
// Does a literal subject match a (possibly wildcard) pattern?
bool SubjectMatchesPattern(std::string_view literal, std::string_view pattern);
// Could some literal subject match both patterns (wildcards on either side)?
bool SubjectsIntersect(std::string_view a, std::string_view b);
// Number of tokens.
int CountTokens(std::string_view subject);

// Iterates over the '.'-separated tokens of a subject without allocating.
class TokenIterator {
 public:
  explicit TokenIterator(std::string_view subject) : rest_(subject), done_(false) {}
  // Writes the next token and returns true, or returns false at the end.
  bool Next(std::string_view& token) {
    if (done_) return false;
    size_t dot = rest_.find(kTokenSeparator);
    if (dot == std::string_view::npos) {
      token = rest_;
      done_ = true;
    } else {
      token = rest_.substr(0, dot);
      rest_.remove_prefix(dot + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool done_;
};

}  // namespace gannet
