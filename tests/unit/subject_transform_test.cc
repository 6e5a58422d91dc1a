// Subject transforms (core/subject_transform): the reference's import mappings, "$N" and
// "{{wildcard(N)}}" placeholders and a trailing '>', with its errors.
#include <gtest/gtest.h>

#include "core/subject_transform.h"

namespace gannet {
namespace {

std::string Map(std::string_view source, std::string_view dest, std::string_view subject) {
  std::string error;
  auto t = SubjectTransform::Create(source, dest, &error);
  if (!t) return "error: " + error;
  std::string out;
  t->Apply(subject, out);
  return out;
}

TEST(SubjectTransform, Placeholders) {
  EXPECT_EQ(Map("orders.*.*", "o.$2.$1", "orders.1.2"), "o.2.1");
  EXPECT_EQ(Map("orders.*.*", "o.{{wildcard(2)}}.{{wildcard(1)}}", "orders.a.b"), "o.b.a");
  EXPECT_EQ(Map("a.*", "b.$1.c", "a.x"), "b.x.c");
  EXPECT_EQ(Map("a.*.>", "b.$1.>", "a.x.y.z"), "b.x.y.z");
  EXPECT_EQ(Map("a.>", "b.>", "a.x"), "b.x");
  EXPECT_EQ(Map("a.b", "c", "a.b"), "c");
  // "$" followed by something other than a number is a literal token, as in the reference.
  EXPECT_EQ(Map("a.*", "$x.$1", "a.y"), "$x.y");
}

TEST(SubjectTransform, NumberWildcards) {
  EXPECT_EQ(SubjectTransform::NumberWildcards("one.*.two.*.>"), "one.$1.two.$2.>");
  EXPECT_EQ(SubjectTransform::NumberWildcards("plain"), "plain");
}

TEST(SubjectTransform, Errors) {
  EXPECT_EQ(Map("orders.*.*", "o.$3", "x"),
            "error: invalid mapping destination: wildcard index out of range in $3: [3]");
  EXPECT_EQ(Map("orders.*.*", "o.$1", "x"),
            "error: invalid mapping destination: not using all of the token wildcard(s) in o.$1");
  EXPECT_EQ(Map("a.>", "b", "x"), "error: invalid subject");  // '>' on one side only
  EXPECT_EQ(Map("a.*", "b.*", "x"), "error: invalid subject");
  EXPECT_EQ(Map("a..b", "b", "x"), "error: invalid subject");
  EXPECT_EQ(Map("a.*", "{{partition(3,1)}}", "x"),
            "error: mapping function {{partition(3,1)}} is not supported yet by gannet-server");
}

}  // namespace
}  // namespace gannet
