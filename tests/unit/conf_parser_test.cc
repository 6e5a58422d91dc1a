// The configuration parser: the reference's conf/parse_test.go inputs with the trees it expects,
// includes and variables (temporary files, setenv), positions, and bad files with their errors.
#include "conf/parser.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace gannet::conf {
namespace {

// The tree as {key: value, ...} (strings quoted), or "ERROR: file:line:col: message".
std::string Parse(std::string_view text, const ParseOptions& options = {}) {
  ParseResult result = ParseString(text, options);
  if (!result.ok()) return "ERROR: " + result.error->ToString();
  return result.root.ToDebugString();
}

std::string Error(std::string_view text) {
  ParseResult result = ParseString(text);
  if (result.ok()) return "no error: " + result.root.ToDebugString();
  return result.error->ToString();
}

// A temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gannet-conf-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& contents) const {
    std::filesystem::path file = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << contents;
    return file.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ConfParser, SimpleTopLevel) {
  EXPECT_EQ(Parse("foo='1'; bar=2.2; baz=true; boo=22"),
            "{foo: \"1\", bar: 2.2, baz: true, boo: 22}");
}

TEST(ConfParser, Bools) {
  for (const char* text : {"foo=true", "foo=TRUE", "foo=yes", "foo=on", "foo=On", "foo=YES"}) {
    EXPECT_EQ(Parse(text), "{foo: true}") << text;
  }
  for (const char* text : {"foo=false", "foo=FALSE", "foo=no", "foo=off", "foo=Off"}) {
    EXPECT_EQ(Parse(text), "{foo: false}") << text;
  }
  EXPECT_EQ(Parse("foo='true'"), "{foo: \"true\"}");
}

TEST(ConfParser, SimpleAndNestedVariables) {
  EXPECT_EQ(Parse("\n  index = 22\n  foo = $index\n"), "{index: 22, foo: 22}");
  EXPECT_EQ(Parse("\n  index = 22\n  nest {\n    index = 11\n    foo = $index\n  }\n  bar = "
                  "$index\n"),
            "{index: 22, nest: {index: 11, foo: 11}, bar: 22}");
  // Any kind of value, copied; arrays are not scopes, the maps around them are.
  EXPECT_EQ(Parse("m = {a: [1, 2 ]}\nx = $m\nl = [$m]"),
            "{m: {a: [1, 2]}, x: {a: [1, 2]}, l: [{a: [1, 2]}]}");
  EXPECT_EQ(Parse("v = 1\na { b { c = [ { d = $v } ] } }"), "{v: 1, a: {b: {c: [{d: 1}]}}}");
}

TEST(ConfParser, VariableIsMarkedUsed) {
  ParseResult result = ParseString("index = 22\nfoo = $index\nbar = 1");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result.root.Find("index")->used_as_variable());
  EXPECT_FALSE(result.root.Find("bar")->used_as_variable());
  EXPECT_FALSE(result.root.Find("foo")->used_as_variable());
  // The copy takes the position of the reference.
  EXPECT_EQ(result.root.Find("foo")->position().line, 2);
  EXPECT_EQ(result.root.Find("foo")->position().column, 7);
}

TEST(ConfParser, MissingVariable) {
  EXPECT_EQ(Error("foo=$index"),
            "<string>:1:5: variable reference for 'index' on line 1 can not be found");
  // Defined later, or only inside another block: not visible.
  EXPECT_EQ(Error("a = $b\nb = 1"),
            "<string>:1:5: variable reference for 'b' on line 1 can not be found");
  EXPECT_EQ(Error("x { v = 1 }\ny = $v"),
            "<string>:2:5: variable reference for 'v' on line 2 can not be found");
}

TEST(ConfParser, EnvironmentVariables) {
  ::setenv("__GANNET_UNIQ22__", "22", 1);
  EXPECT_EQ(Parse("foo = $__GANNET_UNIQ22__"), "{foo: 22}");
  ::setenv("__GANNET_UNIQ22__", "xyz", 1);
  EXPECT_EQ(Parse("foo = $__GANNET_UNIQ22__"), "{foo: \"xyz\"}");
  ::setenv("__GANNET_UNIQ22__", "3xyz", 1);
  EXPECT_EQ(Parse("foo = $__GANNET_UNIQ22__"), "{foo: \"3xyz\"}");
  ::setenv("__GANNET_UNIQ22__", "3Gyz", 1);
  EXPECT_EQ(Parse("foo = $__GANNET_UNIQ22__"), "{foo: \"3Gyz\"}");
  ::setenv("__GANNET_UNIQ22__", "'3xyz'", 1);
  EXPECT_EQ(Parse("foo = $__GANNET_UNIQ22__"), "{foo: \"3xyz\"}");
  ::setenv("__GANNET_UNIQ22__", "[1, 2, {a: 64MB}]", 1);
  EXPECT_EQ(Parse("foo = $__GANNET_UNIQ22__"), "{foo: [1, 2, {a: 67108864}]}");
  // A block's own key wins over the environment.
  EXPECT_EQ(Parse("__GANNET_UNIQ22__ = 5\nfoo = $__GANNET_UNIQ22__"),
            "{__GANNET_UNIQ22__: 5, foo: 5}");
  ::setenv("__GANNET_UNIQ22__", "\"unterminated", 1);
  EXPECT_EQ(Error("foo = $__GANNET_UNIQ22__"),
            "<string>:1:7: variable reference for '__GANNET_UNIQ22__' on line 1 could not be "
            "parsed: <string>:1:4: Unexpected EOF: the double-quoted string opened here is not "
            "closed.");
  ::unsetenv("__GANNET_UNIQ22__");
  EXPECT_EQ(Error("foo = $__GANNET_UNIQ22__"),
            "<string>:1:7: variable reference for '__GANNET_UNIQ22__' on line 1 can not be "
            "found");
}

TEST(ConfParser, EnvironmentVariablesReferringToEachOther) {
  ParseOptions options;
  options.lookup_env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "A") return "$B";
    if (name == "B") return "7";
    if (name == "LOOP") return "$LOOP";
    return std::nullopt;
  };
  EXPECT_EQ(Parse("x = $A", options), "{x: 7}");
  const std::string loop = Parse("x = $LOOP", options);
  EXPECT_NE(loop.find("more than 8 levels deep"), std::string::npos) << loop;
}

TEST(ConfParser, BcryptIsNotAVariable) {
  EXPECT_EQ(Parse("password: $2a$11$ooo"), "{password: \"$2a$11$ooo\"}");
  EXPECT_EQ(Parse("users = [{user: a, password: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9}]"),
            "{users: [{user: \"a\", password: \"$2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9\"}]}");
}

TEST(ConfParser, ConvenientNumbers) {
  EXPECT_EQ(Parse("\nk = 8k\nkb = 4kb\nki = 3ki\nkib = 4ki\nm = 1m\nmb = 2MB\nmi = 2Mi\nmib = "
                  "64MiB\ng = 2g\ngb = 22GB\ngi = 22Gi\ngib = 22GiB\ntb = 22TB\nti = 22Ti\ntib = "
                  "22TiB\npb = 22PB\npi = 22Pi\npib = 22PiB\n"),
            "{k: 8000, kb: 4096, ki: 3072, kib: 4096, m: 1000000, mb: 2097152, mi: 2097152, "
            "mib: 67108864, g: 2000000000, gb: 23622320128, gi: 23622320128, gib: 23622320128, "
            "tb: 24189255811072, ti: 24189255811072, tib: 24189255811072, pb: "
            "24769797950537728, pi: 24769797950537728, pib: 24769797950537728}");
  EXPECT_EQ(Parse("t = 1t; p = 1P; e = 2e; eb = 1EB; neg = -1k; big = 9223372036854775807"),
            "{t: 1000000000000, p: 1000000000000000, e: 2000000000000000000, eb: "
            "1152921504606846976, neg: -1000, big: 9223372036854775807}");
}

TEST(ConfParser, NumberErrors) {
  EXPECT_EQ(Error("a = 9223372036854775808"),
            "<string>:1:5: integer '9223372036854775808' is out of the range");
  EXPECT_EQ(Error("a = 8EB"), "<string>:1:5: integer '8EB' is out of the range");
  EXPECT_EQ(Error("a = 10e"), "<string>:1:5: integer '10e' is out of the range");
  EXPECT_EQ(Error("a = 1kbb"),
            "<string>:1:5: invalid size suffix in integer '1kbb' (expected k, kb, ki, kib, m, mb, "
            "... up to e, eb, ei, eib)");
  EXPECT_EQ(Parse("a = 1.5; b = -0.25; c = 10.0"), "{a: 1.5, b: -0.25, c: 10.0}");
  const std::string huge = "a = 1" + std::string(400, '0') + ".0";
  EXPECT_NE(Error(huge).find("is out of the range"), std::string::npos);
}

TEST(ConfParser, Samples) {
  EXPECT_EQ(Parse("\nfoo  {\n  host {\n    ip   = '127.0.0.1'\n    port = 4242\n  }\n  servers = "
                  "[ \"a.com\", \"b.com\", \"c.com\"]\n}\n"),
            "{foo: {host: {ip: \"127.0.0.1\", port: 4242}, servers: [\"a.com\", \"b.com\", "
            "\"c.com\"]}}");
  EXPECT_EQ(Parse(R"(
cluster {
  port: 4244

  authorization {
    user: route_user
    password: top_secret
    timeout: 1
  }

  # Routes are actively solicited and connected to from this server.
  # Other servers can connect to us if they supply the correct credentials
  # in their routes definitions from above.

  // Test both styles of comments

  routes = [
    nats-route://foo:bar@apcera.me:4245
    nats-route://foo:bar@apcera.me:4246
  ]
}
)"),
            "{cluster: {port: 4244, authorization: {user: \"route_user\", password: "
            "\"top_secret\", timeout: 1}, routes: [\"nats-route://foo:bar@apcera.me:4245\", "
            "\"nats-route://foo:bar@apcera.me:4246\"]}}");
  EXPECT_EQ(Parse("\nfoo  {\n  expr = '(true == \"false\")'\n  text = 'This is a multi-line\ntext "
                  "block.'\n}\n"),
            "{foo: {expr: \"(true == \\\"false\\\")\", text: \"This is a multi-line\\x0atext "
            "block.\"}}");
  EXPECT_EQ(Parse("\n  array [\n    { abc: 123 }\n    { xyz: \"word\" }\n  ]\n"),
            "{array: [{abc: 123}, {xyz: \"word\"}]}");
  EXPECT_EQ(Parse("\n  now = 2016-05-04T18:53:41Z\n  gmt = false\n\n"),
            "{now: date(2016-05-04T18:53:41Z), gmt: false}");
}

TEST(ConfParser, Datetimes) {
  ParseResult result = ParseString("now = 2016-05-04T18:53:41Z");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result.root.Find("now")->IsDatetime());
  EXPECT_EQ(result.root.Find("now")->AsInteger(), 1462388021);  // seconds since the epoch
  EXPECT_EQ(result.root.Find("now")->AsString(), "2016-05-04T18:53:41Z");
  EXPECT_EQ(Error("d = 2016-13-04T18:53:41Z"),
            "<string>:1:5: expected Zulu formatted DateTime, but got '2016-13-04T18:53:41Z'");
  EXPECT_EQ(Error("d = 2015-02-29T00:00:00Z"),
            "<string>:1:5: expected Zulu formatted DateTime, but got '2015-02-29T00:00:00Z'");
  EXPECT_EQ(Parse("d = 2016-02-29T23:59:59Z"), "{d: date(2016-02-29T23:59:59Z)}");
}

TEST(ConfParser, KeysKeepTheirCaseAndOrder) {
  ParseResult result = ParseString("Port = 1\nmax_PAYLOAD = 2MB\nzeta = 3\nalpha = 4");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.root.ToDebugString(), "{Port: 1, max_PAYLOAD: 2097152, zeta: 3, alpha: 4}");
  EXPECT_EQ(result.root.Find("port"), nullptr);
  ASSERT_NE(result.root.FindIgnoreCase("port"), nullptr);
  EXPECT_EQ(result.root.FindIgnoreCase("PORT")->AsInteger(), 1);
  EXPECT_EQ(result.root.FindIgnoreCase("max_payload")->AsInteger(), 2097152);
  EXPECT_EQ(result.root.FindEntryIgnoreCase("MAX_payload")->key, "max_PAYLOAD");
}

TEST(ConfParser, LaterDefinitionWins) { EXPECT_EQ(Parse("a = 1\nb = 2\na = 3"), "{a: 3, b: 2}"); }

TEST(ConfParser, Positions) {
  ParseResult result = ParseString("\nfoo {\n  bar = [1,\n    'two']\n}\n");
  ASSERT_TRUE(result.ok());
  const MapEntry& foo = result.root.AsMap().at(0);
  EXPECT_EQ(foo.key_position.line, 2);
  EXPECT_EQ(foo.key_position.column, 1);
  EXPECT_EQ(foo.value.position().line, 2);
  EXPECT_EQ(foo.value.position().column, 5);
  const MapEntry& bar = foo.value.AsMap().at(0);
  EXPECT_EQ(bar.key_position.ToString(), "<string>:3:3");
  EXPECT_EQ(bar.value.position().ToString(), "<string>:3:9");
  EXPECT_EQ(bar.value.AsArray().at(0).position().ToString(), "<string>:3:10");
  EXPECT_EQ(bar.value.AsArray().at(1).position().ToString(), "<string>:4:5");
}

TEST(ConfParser, SyntaxForms) {
  EXPECT_EQ(Parse("a = 1\nb: 2\nc 3\nd {e = 4}\nf: {g: 5}\nh = [6, 7 ]\ni [\n 8\n 9\n]"),
            "{a: 1, b: 2, c: 3, d: {e: 4}, f: {g: 5}, h: [6, 7], i: [8, 9]}");
  EXPECT_EQ(Parse("s1 = \"a \\\"q\\\" \\\\ \\x41\"\ns2 = 'raw \\n'\ns3 = bare-word\ns4 = ''"),
            "{s1: \"a \\\"q\\\" \\\\ A\", s2: \"raw \\\\n\", s3: \"bare-word\", s4: \"\"}");
  EXPECT_EQ(Parse("text (\nline one\n  line two\n)\n"),
            "{text: \"\\x0aline one\\x0a  line two\\x0a\"}");
  EXPECT_EQ(Parse("a = {}\nb = []\nc {\n}\n"), "{a: {}, b: [], c: {}}");
  EXPECT_EQ(Parse("foo"), "{}");             // a key alone is ignored, as in the reference
  EXPECT_EQ(Parse("a = 1\n}\n"), "{a: 1}");  // "}" is a key alone
  // In a map, the reference would rename the map to "c": refused.
  EXPECT_EQ(Error("a { b = 1; c }"), "<string>:1:12: Key 'c' has no value.");
  EXPECT_EQ(Parse("a ="), "{a: \"\"}");
  EXPECT_EQ(Parse("{\"port\": 4222, \"cluster\": {\"name\": \"c\"}}"),
            "{port: 4222, cluster: {name: \"c\"}}");
  EXPECT_EQ(Parse("a = 1 # c\n// c\nb = 2 // c"), "{a: 1, b: 2}");
  // The reference's quirk: `[1, 2]` is not closed ("2]" is a string); `[1, 2 ]` is.
  EXPECT_EQ(Error("l = [1, 2]"), "<string>:1:11: Unexpected EOF processing array.");
  EXPECT_EQ(Parse("l = [1, 2 ]\nm = [\"a\", \"b\"]\nn = [1k]\no = [1.5]"),
            "{l: [1, 2], m: [\"a\", \"b\"], n: [\"1k\"], o: [1.5]}");
}

TEST(ConfParser, SyntaxErrorsNamePlaceAndExpectation) {
  EXPECT_EQ(Error("port = 4222\nmax_payload = 1.5s\n"),
            "<string>:2:18: Expected a top-level value to end with a new line, comment or EOF, "
            "but got 's' instead.");
  EXPECT_EQ(Error("cluster {\n  port = 6222\n  routes = [\n    a\n    b\n"),
            "<string>:6:1: Unexpected EOF processing array.");
  EXPECT_EQ(Error("cluster {\n  port = 6222\n"), "<string>:3:1: Unexpected EOF processing map.");
  EXPECT_EQ(Error("a = \"abc\nb = 1\n"),
            "<string>:1:5: Unexpected EOF: the double-quoted string opened here is not closed.");
  EXPECT_EQ(Error("a = 1\n = 2"), "<string>:2:2: Unexpected key separator '='");
  EXPECT_EQ(Error("a = {b = 1 c = 2}"),
            "<string>:1:12: Expected a map value terminator \",\" or a map terminator \"}\", "
            "but got 'c' instead.");
  EXPECT_EQ(Error("a = \"\\q\""),
            "<string>:1:6: Invalid escape character 'q'. Only the following escape characters "
            "are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.");
  // The reference's own "no infinite loop" inputs fail cleanly.
  EXPECT_NE(Error("A@@F\xC3\xB8\xC3\xB8\xC3\xB8\xC3\xB8?\xCB\x9B\xC3\xB8:{\xC3\xB8\xC3\xB8\xC3\xB8"
                  "\xC3\xB8\xCB\x99\xCB\x99")
                .find("Unexpected EOF"),
            std::string::npos);
  EXPECT_NE(Error("include \"9/\xEF\xBF\xBD").find("Unexpected EOF"), std::string::npos);
}

// Inputs whose acceptance was checked with `nats-server -t` (2.9): the reference accepts (or
// rejects, for syntax) exactly these.
TEST(ConfParser, AcceptsAndRejectsAsTheReference) {
  const char* accepted[] = {
      "port = 4222 / \n",
      "port = 4222\n}\n",
      "authorization { user = a / password = b }\n",
      "port: 4222; server_name: x,\n",
      "server_tags: [a, b,]\n",
      "server_tags: [\n a\n b\n]\n",
      "port: 4222 # c\ndebug: true // c\n",
      "authorization {\n user: a\n password: b\n}}\n",
      "authorization = { user = a; password = b; }\n",
      "{ port: 4222 }\n",
      "max_payload = 1kb;\n",
      "port = 4222\r\nauthorization {\r\n  user: a\r\n  password: b\r\n}\r\n",
      "authorization {\n  users = [\n    {user: a, password: b}\n    {user: c, password: d},\n  "
      "]\n}\n",
      "authorization: {\n  users: [\n    {user: a, password: b},{user: c, password: d}\n  ]\n}\n",
      "server_name = 'abc' # x\nport = 1\n",
      "server_name: (\nabc\n)\n",
      "\"port\" 4222\n",
      "port =\t4222\n",
      "authorization { user\n: a\n password: b }\n",
      "server_tags: [ # c\n a, // d\n b ]\n",
      "server_tags: []\n",
      "port: -4222\n",
      "server_name: 1.2.3\n",
      "server_name: 12:30\n",
      "server_tags: [1k]\n",
      "server_tags: [a, 3xyz]\n",
      "server_tags = [1.2.3.4]\n",
  };
  for (const char* text : accepted) EXPECT_EQ(Error(text).rfind("no error", 0), 0u) << text;
  const char* rejected[] = {
      "server_tags: [\"a\", 2]\n",
      "server_tags: [2]\n",
      "server_name = \n",
      "server_name = \"abc\\q\"\n",
      "server_name = foo'bar\n",
      "port = 4222 ]\n",
      "server_tags = [ \"a\" \"b\" ]\n",
      "server_name: $2b$xyz\n",
      "port = 4222 /port = 4223\n",
      "server_name: \"a\"b\n",
      "port\n=\n4222\n",
      "authorization { user: a password: b }\n",
      "server_tags = [a\n,b]\n",
      "max_payload: 1.5MB\n",
      "server_name: 2020-01-01\n",
  };
  for (const char* text : rejected)
    EXPECT_EQ(Error(text).rfind("no error", 0), std::string::npos) << text;
}

TEST(ConfParser, IncludesAreRelativeToTheIncludingFile) {
  TempDir dir;
  dir.Write("includes/passwords.conf",
            "ALICE_PASS: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q\n"
            "BOB_PASS: $2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly\n");
  dir.Write("includes/users.conf",
            "# Users configuration\ninclude ./passwords.conf;\n\nusers = [\n  {user: alice, "
            "password: $ALICE_PASS}\n  {user: bob,   password: $BOB_PASS}\n]\n");
  const std::string main =
      dir.Write("simple.conf",
                "# Cluster configuration\nlisten: 127.0.0.1:4222\n\nauthorization {\n  include "
                "./includes/users.conf\n  timeout: 0.5\n}\n");
  ParseResult result = ParseFile(main);
  ASSERT_TRUE(result.ok()) << result.error->ToString();
  EXPECT_EQ(result.root.ToDebugString(),
            "{listen: \"127.0.0.1:4222\", authorization: {ALICE_PASS: "
            "\"$2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q\", BOB_PASS: "
            "\"$2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly\", users: [{user: "
            "\"alice\", password: "
            "\"$2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q\"}, {user: \"bob\", "
            "password: \"$2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly\"}], "
            "timeout: 0.5}}");
  // Included values know their file.
  const Value* auth = result.root.Find("authorization");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->Find("users")->position().FileName(), dir.path() + "/includes/users.conf");
  EXPECT_EQ(auth->Find("timeout")->position().ToString(), main + ":6:12");
}

TEST(ConfParser, IncludedVariablesAreVisibleAfterTheInclude) {
  TempDir dir;
  dir.Write("includes/passwords.conf", "ALICE_PASS: a1\nBOB_PASS: b2\n");
  const std::string main = dir.Write("main.conf", R"(
authorization {

  include "./includes/passwords.conf"

  CAROL_PASS: foo

  users = [
   {user: alice, password: $ALICE_PASS}
   {user: bob,   password: $BOB_PASS}
   {user: carol, password: $CAROL_PASS}
  ]
}
)");
  ParseResult result = ParseFile(main);
  ASSERT_TRUE(result.ok()) << result.error->ToString();
  const Value* auth = result.root.Find("authorization");
  EXPECT_EQ(auth->Find("ALICE_PASS")->position().line, 1);
  EXPECT_EQ(auth->Find("BOB_PASS")->position().line, 2);
  EXPECT_EQ(auth->Find("CAROL_PASS")->position().line, 6);
  EXPECT_TRUE(auth->Find("ALICE_PASS")->used_as_variable());
  EXPECT_EQ(auth->Find("users")->ToDebugString(),
            "[{user: \"alice\", password: \"a1\"}, {user: \"bob\", password: \"b2\"}, {user: "
            "\"carol\", password: \"foo\"}]");
}

TEST(ConfParser, AnIncludedFileDoesNotSeeTheIncludersVariables) {
  TempDir dir;
  dir.Write("inc.conf", "b = $a\n");
  const std::string main = dir.Write("main.conf", "a = 1\ninclude inc.conf\n");
  ParseResult result = ParseFile(main);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->ToString(),
            dir.path() + "/inc.conf:1:5: variable reference for 'a' on line 1 can not be found " +
                "(included from " + main + ":2:1)");
}

TEST(ConfParser, IncludeErrors) {
  TempDir dir;
  const std::string missing = dir.Write("missing.conf", "port = 1\ninclude nothere.conf\n");
  ParseResult result = ParseFile(missing);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->ToString(),
            missing +
                ":2:1: error parsing include file 'nothere.conf', error opening config "
                "file: open " +
                dir.path() + "/nothere.conf: No such file or directory");

  dir.Write("bad.conf", "x = {\n");
  const std::string outer = dir.Write("outer.conf", "a {\n  include 'bad.conf'\n}\n");
  result = ParseFile(outer);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->ToString(), dir.path() +
                                          "/bad.conf:2:1: Unexpected EOF processing "
                                          "map. (included from " +
                                          outer + ":2:3)");

  const std::string directory = dir.Write("dir.conf", "include .\n");
  result = ParseFile(directory);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error->message.find("is not a regular file"), std::string::npos);

  result = ParseFile(dir.path() + "/absent.conf");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->ToString(), "error opening config file: open " + dir.path() +
                                          "/absent.conf: No such file or directory");
}

TEST(ConfParser, IncludeCyclesAndDepthAreGuarded) {
  TempDir dir;
  const std::string self = dir.Write("self.conf", "a = 1\ninclude self.conf\n");
  ParseResult result = ParseFile(self);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error->message.find("include cycle"), std::string::npos)
      << result.error->ToString();

  dir.Write("b.conf", "include ./sub/../a.conf\n");
  const std::string a = dir.Write("a.conf", "include b.conf\n");
  result = ParseFile(a);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error->message.find("include cycle"), std::string::npos)
      << result.error->ToString();

  // A chain longer than max_include_depth (no cycle).
  for (int i = 0; i < 15; ++i) {
    dir.Write("chain" + std::to_string(i) + ".conf", "k" + std::to_string(i) + " = " +
                                                         std::to_string(i) + "\ninclude chain" +
                                                         std::to_string(i + 1) + ".conf\n");
  }
  dir.Write("chain15.conf", "end = true\n");
  result = ParseFile(dir.path() + "/chain0.conf");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error->message.find("includes nested more than 10 levels deep"),
            std::string::npos)
      << result.error->ToString();
  ParseOptions deeper;
  deeper.max_include_depth = 20;
  result = ParseFile(dir.path() + "/chain0.conf", deeper);
  ASSERT_TRUE(result.ok()) << result.error->ToString();
  EXPECT_EQ(result.root.Find("end")->AsBool(), true);
}

TEST(ConfParser, ExponentialGrowthIsRefused) {
  // Each level doubles: 2^25 values if nothing stopped it.
  std::string text = "a0 = [1, 1 ]\n";
  for (int i = 1; i <= 25; ++i) {
    const std::string prev = "$a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + " = [" + prev + ", " + prev + "]\n";
  }
  const std::string error = Error(text);
  EXPECT_NE(error.find("variable references copy more than 1048576 values"), std::string::npos)
      << error;

  ParseOptions options;
  options.read_file = [](const std::string& path, std::string& contents, std::string&) {
    contents = "# " + std::string(size_t{20} << 20, 'a') + "\nk = 1\n";
    return true;
  };
  const std::string includes = Parse("include a\ninclude b\ninclude c\ninclude d\n", options);
  EXPECT_EQ(includes,
            "ERROR: <string>:4:1: error parsing include file 'd', included files add up to more "
            "than 64 MB");
}

// Found by the fuzzer: nesting was limited per file, so includes multiplied it until the stack
// overflowed. The limit now counts the whole tree, across includes and variables.
TEST(ConfParser, NestingIsLimitedAcrossIncludesAndVariables) {
  ParseOptions options;
  options.read_file = [](const std::string& path, std::string& contents, std::string&) {
    contents.clear();  // 60 maps around the include of the next file
    for (int i = 0; i < 60; ++i) contents += "a {\n";
    contents += "include " + path + "y\n";
    for (int i = 0; i < 60; ++i) contents += "}\n";
    return true;
  };
  const std::string error = Parse("include x\n", options);
  EXPECT_NE(error.find("Maps and arrays nested more than 128 levels deep (counting included "
                       "files and variables)."),
            std::string::npos)
      << error;

  const std::string levels100 = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(
      Error("a = " + levels100 + "\nb = " + std::string(50, '[') + "$a" + std::string(50, ']')),
      "<string>:2:55: variable reference for 'a' on line 2: Maps and arrays nested more "
      "than 128 levels deep (counting included files and variables).");
  EXPECT_EQ(
      Error("a = " + levels100 + "\nb = " + std::string(28, '[') + "$a" + std::string(28, ']'))
          .rfind("no error", 0),
      0u);
}

TEST(ConfParser, ReadFileHook) {
  ParseOptions options;
  options.read_file = [](const std::string& path, std::string& contents, std::string& error) {
    if (path == "virtual/a.conf") {
      contents = "x = 1";
      return true;
    }
    error = "no " + path;
    return false;
  };
  EXPECT_EQ(Parse("include virtual/a.conf\ny = 2", options), "{x: 1, y: 2}");
  EXPECT_EQ(Parse("include virtual/b.conf", options),
            "ERROR: <string>:1:1: error parsing include file 'virtual/b.conf', no virtual/b.conf");
}

}  // namespace
}  // namespace gannet::conf
