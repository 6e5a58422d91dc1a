// Subject transforms: a source pattern with wildcards mapped onto a destination that reuses the
// tokens the wildcards matched, as the reference's account imports do ("foo.*.*" → "bar.$2.$1",
// "{{wildcard(1)}}" in the newer spelling; a trailing ">" carries the rest of the subject).
// The reference's other mapping functions (partition, split, slice) are not built yet and are
// refused when a transform is created.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gannet {

class SubjectTransform {
 public:
  // Builds the transform from `source` (a subject, wildcards allowed) to `destination`, whose
  // "$N" / "{{wildcard(N)}}" tokens stand for the token the N-th '*' of the source matched.
  // Every '*' of the source must be used, and either both or neither end in '>'. Returns
  // nullopt and sets `error` otherwise.
  static std::optional<SubjectTransform> Create(std::string_view source,
                                                std::string_view destination, std::string* error);

  // "foo.*.>" → "foo.$1.>": a pattern's '*' tokens numbered in order, for a destination written
  // with '*' where the reference expects positional placeholders (transformTokenize).
  static std::string NumberWildcards(std::string_view pattern);

  // The destination for `subject`, a literal subject that matches the source pattern.
  void Apply(std::string_view subject, std::string& out) const;

 private:
  struct Part {
    std::string literal;  // used when wildcard < 0
    int wildcard = -1;    // index into the subject's tokens
  };
  std::vector<Part> parts_;
  int tail_from_ = -1;  // the destination ends in '>': append the subject's tokens from here
};

}  // namespace gannet
