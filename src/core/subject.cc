// Subject syntax rules (see subject.h).
#include "core/subject.h"

namespace gannet {

namespace {
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
}  // namespace

bool IsValidSubject(std::string_view subject) {
  if (subject.empty()) return false;
  bool saw_full_wildcard = false;
  TokenIterator it(subject);
  std::string_view token;
  while (it.Next(token)) {
    if (token.empty() || saw_full_wildcard) return false;
    for (char c : token) {
      if (IsSpace(c)) return false;
    }
    if (token == kFullWildcard) saw_full_wildcard = true;
  }
  return true;
}

bool SubjectHasWildcard(std::string_view subject) {
  TokenIterator it(subject);
  std::string_view token;
  while (it.Next(token)) {
    if (token == kSingleWildcard || token == kFullWildcard) return true;
  }
  return false;
}

bool IsValidLiteralSubject(std::string_view subject) {
  // As the reference's: no empty token, no wildcard token; characters are not checked.
  if (subject.empty()) return false;
  TokenIterator it(subject);
  std::string_view token;
  while (it.Next(token)) {
    if (token.empty() || token == kSingleWildcard || token == kFullWildcard) return false;
  }
  return true;
}

bool SubjectMatchesPattern(std::string_view literal, std::string_view pattern) {
  TokenIterator lit(literal), pat(pattern);
  std::string_view lt, pt;
  for (;;) {
    bool has_pat = pat.Next(pt);
    bool has_lit = lit.Next(lt);
    if (!has_pat) return !has_lit;
    if (pt == kFullWildcard) return has_lit;
    if (!has_lit) return false;
    if (pt != kSingleWildcard && pt != lt) return false;
  }
}

bool SubjectsIntersect(std::string_view a, std::string_view b) {
  TokenIterator ia(a), ib(b);
  std::string_view ta, tb;
  for (;;) {
    bool has_a = ia.Next(ta);
    bool has_b = ib.Next(tb);
    if (!has_a || !has_b) return has_a == has_b;
    if (ta == kFullWildcard || tb == kFullWildcard) return true;
    if (ta != kSingleWildcard && tb != kSingleWildcard && ta != tb) return false;
  }
}

int CountTokens(std::string_view subject) {
  int n = 1;
  for (char c : subject) n += (c == kTokenSeparator);
  return n;
}

}  // namespace gannet
