#include "core/subject_transform.h"

#include <charconv>

#include "core/subject.h"

namespace gannet {
namespace {

std::vector<std::string_view> Tokens(std::string_view subject) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= subject.size(); ++i) {
    if (i == subject.size() || subject[i] == '.') {
      out.push_back(subject.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// A destination token naming a wildcard: "$N" or "{{wildcard(N)}}" → N; 0 for a literal
// token; -1 (and `error`) for a mapping function this transform does not do.
int PlaceholderIndex(std::string_view token, std::string* error) {
  auto number = [](std::string_view digits) {
    int n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    return (ec == std::errc() && end == digits.data() + digits.size() && n > 0) ? n : 0;
  };
  if (token.size() > 1 && token[0] == '$') return number(token.substr(1));  // else a literal
  if (token.size() > 4 && token.starts_with("{{") && token.ends_with("}}")) {
    std::string_view inner = Trim(token.substr(2, token.size() - 4));
    if (inner.starts_with("wildcard(") && inner.ends_with(")")) {
      int n = number(Trim(inner.substr(9, inner.size() - 10)));
      if (n > 0) return n;
      *error = "invalid mapping destination: invalid argument in " + std::string(token);
      return -1;
    }
    *error = "mapping function " + std::string(token) + " is not supported yet by gannet-server";
    return -1;
  }
  return 0;
}

}  // namespace

std::optional<SubjectTransform> SubjectTransform::Create(std::string_view source,
                                                         std::string_view destination,
                                                         std::string* error) {
  if (!IsValidSubject(source) || !IsValidSubject(destination)) {
    *error = "invalid subject";
    return std::nullopt;
  }
  std::vector<std::string_view> src = Tokens(source);
  std::vector<std::string_view> dst = Tokens(destination);
  bool src_tail = src.back() == ">";
  bool dst_tail = dst.back() == ">";
  std::vector<int> wildcard_positions;  // the source token index of each '*', in order
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == "*") wildcard_positions.push_back(static_cast<int>(i));
  }
  if (src_tail != dst_tail) {
    *error = "invalid subject";
    return std::nullopt;
  }
  SubjectTransform t;
  std::vector<bool> used(wildcard_positions.size(), false);
  for (size_t i = 0; i < dst.size(); ++i) {
    if (dst_tail && i + 1 == dst.size()) break;
    if (dst[i] == "*") {
      *error = "invalid subject";  // the reference: no '*' in a destination
      return std::nullopt;
    }
    int n = PlaceholderIndex(dst[i], error);
    if (n < 0) return std::nullopt;
    if (n == 0) {
      t.parts_.push_back(Part{std::string(dst[i]), -1});
      continue;
    }
    if (static_cast<size_t>(n) > wildcard_positions.size()) {
      *error = "invalid mapping destination: wildcard index out of range in " +
               std::string(dst[i]) + ": [" + std::to_string(n) + "]";
      return std::nullopt;
    }
    used[static_cast<size_t>(n - 1)] = true;
    t.parts_.push_back(Part{{}, wildcard_positions[static_cast<size_t>(n - 1)]});
  }
  for (bool u : used) {
    if (!u) {
      *error = "invalid mapping destination: not using all of the token wildcard(s) in " +
               std::string(destination);
      return std::nullopt;
    }
  }
  if (dst_tail) t.tail_from_ = static_cast<int>(src.size()) - 1;
  return t;
}

std::string SubjectTransform::NumberWildcards(std::string_view pattern) {
  std::string out;
  int n = 0;
  for (std::string_view token : Tokens(pattern)) {
    if (!out.empty()) out += '.';
    if (token == "*") {
      out += '$';
      out += std::to_string(++n);
    } else {
      out.append(token);
    }
  }
  return out;
}

void SubjectTransform::Apply(std::string_view subject, std::string& out) const {
  std::vector<std::string_view> tokens = Tokens(subject);
  out.clear();
  for (const Part& p : parts_) {
    if (!out.empty()) out += '.';
    if (p.wildcard < 0) {
      out.append(p.literal);
    } else if (static_cast<size_t>(p.wildcard) < tokens.size()) {
      out.append(tokens[static_cast<size_t>(p.wildcard)]);
    }
  }
  if (tail_from_ >= 0) {
    for (size_t i = static_cast<size_t>(tail_from_); i < tokens.size(); ++i) {
      if (!out.empty()) out += '.';
      out.append(tokens[i]);
    }
  }
}

}  // namespace gannet
