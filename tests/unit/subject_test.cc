// Unit tests of subject syntax (core/subject.h).
#include "core/subject.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace gannet {
namespace {

TEST(SubjectTest, ValidSubjects) {
  for (std::string_view s : {"foo",
                             "foo.bar",
                             "foo.bar.baz",
                             "*",
                             ">",
                             "foo.*",
                             "*.foo",
                             "foo.*.bar",
                             "foo.>",
                             "*.>",
                             "*.*.*",
                             "foo*",
                             "*foo",
                             "foo>",
                             "f*o.b>r",
                             ">>",
                             "**",
                             "a.**.b",
                             "$SYS.REQ",
                             "_INBOX.x1Y2",
                             "foo-bar_baz",
                             "\xc3\xa9t\xc3\xa9",
                             "a.b.c.d.e.f.g.h.i.j.k"}) {
    EXPECT_TRUE(IsValidSubject(s)) << s;
  }
}

TEST(SubjectTest, InvalidSubjects) {
  for (std::string_view s :
       {"",         ".",        "..",       "foo..bar", ".foo",  "foo.",     ".foo.",
        "foo.bar.", ">.a",      ">.>",      "a.>.b",    "a.>.*", "foo bar",  "foo\tbar",
        "foo\rbar", "foo\nbar", "foo\fbar", " foo",     "foo ",  "foo. bar", "\t"}) {
    EXPECT_FALSE(IsValidSubject(s)) << "'" << s << "'";
  }
}

TEST(SubjectTest, LiteralSubjects) {
  // Characters are not checked, as in the reference (sublist.go:IsValidLiteralSubject).
  for (std::string_view s :
       {"foo", "foo.bar", "foo*", "foo>", "**", ">>", "a.b*.c", "*a.b>", "foo bar", "a\fb"}) {
    EXPECT_TRUE(IsValidLiteralSubject(s)) << s;
  }
  for (std::string_view s :
       {"*", ">", "foo.*", "foo.>", "*.foo", "a.*.b", "", "foo..bar", ".foo", "foo.", ">.a"}) {
    EXPECT_FALSE(IsValidLiteralSubject(s)) << "'" << s << "'";
  }
}

TEST(SubjectTest, HasWildcard) {
  EXPECT_TRUE(SubjectHasWildcard("*"));
  EXPECT_TRUE(SubjectHasWildcard(">"));
  EXPECT_TRUE(SubjectHasWildcard("foo.*"));
  EXPECT_TRUE(SubjectHasWildcard("foo.>"));
  EXPECT_TRUE(SubjectHasWildcard("*.foo"));
  EXPECT_TRUE(SubjectHasWildcard("a.*.b"));
  EXPECT_FALSE(SubjectHasWildcard("foo"));
  EXPECT_FALSE(SubjectHasWildcard("foo*"));
  EXPECT_FALSE(SubjectHasWildcard("foo>"));
  EXPECT_FALSE(SubjectHasWildcard("a.*b.c"));
  EXPECT_FALSE(SubjectHasWildcard(">>"));
  EXPECT_FALSE(SubjectHasWildcard(""));
}

TEST(SubjectTest, MatchesPattern) {
  struct Case {
    std::string_view literal, pattern;
    bool match;
  };
  const std::vector<Case> cases = {
      {"foo", "foo", true},
      {"foo", "bar", false},
      {"foo.bar", "foo.bar", true},
      {"foo.bar", "foo", false},
      {"foo", "foo.bar", false},
      {"foo.bar", "foo.*", true},
      {"foo", "foo.*", false},
      {"foo.bar.baz", "foo.*", false},
      {"foo.bar", "*.bar", true},
      {"foo.bar", "*.*", true},
      {"foo", "*.*", false},
      {"foo", "*", true},
      {"foo.bar", "*", false},
      {"foo.bar.baz", "foo.*.baz", true},
      {"foo.bar.qux", "foo.*.baz", false},
      {"foo", "foo.>", false},  // '>' needs at least one token
      {"foo.bar", "foo.>", true},
      {"foo.bar.baz", "foo.>", true},
      {"foo", ">", true},
      {"foo.bar", ">", true},
      {"a.b.c", "*.b.>", true},
      {"a.b", "*.b.>", false},
      {"a.x.c", "*.b.>", false},
      {"foo*", "*", true},
      {"foo*", "foo*", true},  // a literal token containing '*'
      {"foox", "foo*", false},
      {"foo", "foo*", false},
      {"foo.bar", "foo>", false},
      {"foo>", "foo>", true},
      {"fooo.bar", "foo.*", false},
      {"fo.bar", "foo.*", false},
      {"Foo", "foo", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(SubjectMatchesPattern(c.literal, c.pattern), c.match)
        << c.literal << " ~ " << c.pattern;
  }
}

TEST(SubjectTest, CountTokens) {
  EXPECT_EQ(CountTokens("foo"), 1);
  EXPECT_EQ(CountTokens("foo.bar"), 2);
  EXPECT_EQ(CountTokens("a.b.c.>"), 4);
  EXPECT_EQ(CountTokens("foo..bar"), 3);
  EXPECT_EQ(CountTokens(""), 1);
}

TEST(SubjectTest, TokenIteratorKeepsEmptyTokens) {
  auto tokens = [](std::string_view s) {
    std::vector<std::string> out;
    TokenIterator it(s);
    std::string_view t;
    while (it.Next(t)) out.emplace_back(t);
    return out;
  };
  EXPECT_EQ(tokens("a.b.c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(tokens("a..b"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(tokens(".a"), (std::vector<std::string>{"", "a"}));
  EXPECT_EQ(tokens("a."), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(tokens(""), (std::vector<std::string>{""}));
  EXPECT_EQ(tokens("*.>"), (std::vector<std::string>{"*", ">"}));
}

}  // namespace
}  // namespace gannet
