// The configuration tokenizer: the inputs of the reference's conf/lex_test.go with the tokens it
// expects, and positions and errors of our own.
#include "conf/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace gannet::conf {
namespace {

// The tokens of `input` as "Key(foo) String(bar) EOF"; brackets as { } [ ]; an error as
// Error(message)@line:col.
std::string Lex(std::string_view input) {
  Lexer lexer(input);
  std::string out;
  for (int i = 0; i < 100000; ++i) {
    const Token token = lexer.Next();
    if (!out.empty()) out += ' ';
    switch (token.kind) {
      case TokenKind::kArrayStart:
        out += '[';
        break;
      case TokenKind::kArrayEnd:
        out += ']';
        break;
      case TokenKind::kMapStart:
        out += '{';
        break;
      case TokenKind::kMapEnd:
        out += '}';
        break;
      case TokenKind::kEof:
        out += "EOF";
        return out;
      case TokenKind::kError:
        out += "Error(" + token.text + ")@" + std::to_string(token.line) + ":" +
               std::to_string(token.column);
        return out;
      default:
        out += std::string(TokenKindName(token.kind)) + "(" + token.text + ")";
    }
  }
  return out + " ...(runaway)";
}

struct LexCase {
  std::string_view input;
  std::string_view tokens;
};

void ExpectAll(const std::vector<LexCase>& cases) {
  for (const LexCase& c : cases) EXPECT_EQ(Lex(c.input), c.tokens) << "input: " << c.input;
}

TEST(ConfLexer, PlainAndSimpleValues) {
  ExpectAll({
      {"foo", "Key(foo) EOF"},
      {"foo = \"bar\"", "Key(foo) String(bar) EOF"},
      {"foo = 'bar'", "Key(foo) String(bar) EOF"},
      {"foo='bar'", "Key(foo) String(bar) EOF"},
      {"foo='bar'\r\n", "Key(foo) String(bar) EOF"},
      {"foo=\t'bar'\t", "Key(foo) String(bar) EOF"},
      {"foo = 'bar\\r\\n  \\t'", "Key(foo) String(bar\\r\\n  \\t) EOF"},
      {"foo = 123", "Key(foo) Integer(123) EOF"},
      {"foo=123\r\n", "Key(foo) Integer(123) EOF"},
      {"foo = -123", "Key(foo) Integer(-123) EOF"},
      {"foo=-123\r\n", "Key(foo) Integer(-123) EOF"},
      {"foo = 22.2", "Key(foo) Float(22.2) EOF"},
      {"foo=22.2\r\n", "Key(foo) Float(22.2) EOF"},
      {"foo = true", "Key(foo) Bool(true) EOF"},
      {"foo=true\r\n", "Key(foo) Bool(true) EOF"},
      {"foo = bar", "Key(foo) String(bar) EOF"},
      {"foo = bar' ", "Key(foo) String(bar) EOF"},
      {"foo = 2016-05-04T18:53:41Z", "Key(foo) DateTime(2016-05-04T18:53:41Z) EOF"},
      {"foo = $bar", "Key(foo) Variable(bar) EOF"},
      {"foo =$bar", "Key(foo) Variable(bar) EOF"},
      {"foo $bar", "Key(foo) Variable(bar) EOF"},
      {"foo = \"\"", "Key(foo) String() EOF"},
      {"foo = ''", "Key(foo) String() EOF"},
  });
}

TEST(ConfLexer, StringsStartingWithNumbers) {
  ExpectAll({
      {"foo = 3xyz", "Key(foo) String(3xyz) EOF"},
      {"foo = 3xyz,", "Key(foo) String(3xyz) EOF"},
      {"foo = 3xyz;", "Key(foo) String(3xyz) EOF"},
      {"\n        foo = 3xyz\n        ", "Key(foo) String(3xyz) EOF"},
      {"\n        map {\n          foo = 3xyz}\n        ",
       "Key(map) { Key(foo) String(3xyz) } EOF"},
      {"\n        map {\n          foo = 3xyz;\n        }",
       "Key(map) { Key(foo) String(3xyz) } EOF"},
      {"\n        map {\n          foo = 3xyz,\n          bar = 4wqs\n        }",
       "Key(map) { Key(foo) String(3xyz) Key(bar) String(4wqs) } EOF"},
      // Durations are strings unless they look like a size.
      {"a = 2s", "Key(a) String(2s) EOF"},
      {"a = 500ms", "Key(a) String(500ms) EOF"},
      {"a = 1h30m", "Key(a) String(1h30m) EOF"},
      {"a = 1m", "Key(a) Integer(1m) EOF"},
  });
}

TEST(ConfLexer, ConvenientIntegers) {
  ExpectAll({
      {"foo = 1k", "Key(foo) Integer(1k) EOF"},
      {"foo = 1K", "Key(foo) Integer(1K) EOF"},
      {"foo = 1m", "Key(foo) Integer(1m) EOF"},
      {"foo = 1M", "Key(foo) Integer(1M) EOF"},
      {"foo = 1g", "Key(foo) Integer(1g) EOF"},
      {"foo = 1G", "Key(foo) Integer(1G) EOF"},
      {"foo = 1MB", "Key(foo) Integer(1MB) EOF"},
      {"foo = 1Gb", "Key(foo) Integer(1Gb) EOF"},
      {"foo = -1m", "Key(foo) Integer(-1m) EOF"},
      {"foo = -1GB ", "Key(foo) Integer(-1GB) EOF"},
      {"foo = 1Ghz", "Key(foo) String(1Ghz) EOF"},
      {"foo = 2Pie", "Key(foo) String(2Pie) EOF"},
      {"foo = 3Mbs,", "Key(foo) String(3Mbs) EOF"},
      {"foo = 4Gb, bar = 5G\xC3\xB8", "Key(foo) Integer(4Gb) Key(bar) String(5G\xC3\xB8) EOF"},
  });
}

TEST(ConfLexer, Escapes) {
  ExpectAll({
      {"foo = \\x65", "Key(foo) String(e) EOF"},
      {"foo = \\xe9", "Key(foo) String(\xe9) EOF"},
      {"\nfoo  = \\t\nbar  = \\r\nbaz  = \\n\nq    = \\\"\nbs   = \\\\\n",
       "Key(foo) String(\t) Key(bar) String(\r) Key(baz) String(\n) Key(q) String(\") "
       "Key(bs) String(\\) EOF"},
      {R"(foo = "\\end")", R"(Key(foo) String(\end) EOF)"},
      {R"(foo = "start\\")", R"(Key(foo) String(start\) EOF)"},
      {R"(foo = \x45\x71)", "Key(foo) String(Eq) EOF"},
      {R"(foo = start\x45\x71)", "Key(foo) String(startEq) EOF"},
      {R"(foo = start\x7Cend)", "Key(foo) String(start|end) EOF"},
      {R"(foo = \x3c\x3eend)", "Key(foo) String(<>end) EOF"},
      {R"(foo = \x3cmiddle\x3E)", "Key(foo) String(<middle>) EOF"},
      {R"(foo = \\true)", R"(Key(foo) String(\true) EOF)"},
      {R"(foo = \\$var)", R"(Key(foo) String(\$var) EOF)"},
      {R"(foo = "a\tb")", "Key(foo) String(a\tb) EOF"},
  });
}

TEST(ConfLexer, BadEscapesAndNumbers) {
  ExpectAll({
      {"foo = xyz\\x\n",
       "Key(foo) Error(Expected two hexadecimal digits after '\\x', but hit end of line)@1:10"},
      {"foo = xyz\\xF\n",
       "Key(foo) Error(Expected two hexadecimal digits after '\\x', but hit end of line)@1:10"},
      {R"(foo = "[\x]")",
       "Key(foo) Error(Expected two hexadecimal digits after '\\x', but got ']\"')@1:9"},
      {R"(foo = "[\xe]")",
       "Key(foo) Error(Expected two hexadecimal digits after '\\x', but got 'e]')@1:9"},
      {R"(foo = \y)",
       "Key(foo) Error(Invalid escape character 'y'. Only the following escape characters are "
       "allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.)@1:7"},
      {"foo = .2", "Key(foo) Error(Floats must start with a digit)@1:7"},
      {"foo = -.2", "Key(foo) Error(Floats must start with a digit, not '.'.)@1:8"},
      {"foo = -x", "Key(foo) Error(Expected a digit but got 'x'.)@1:8"},
      {"foo = 2.x",
       "Key(foo) Error(Floats must have a digit after the '.', but got 'x' instead.)@1:9"},
      {"foo = 20-01-01", "Key(foo) Error(All ISO8601 dates must be in full Zulu form.)@1:9"},
      {"foo = 2016-05-04 18:53:41Z",
       "Key(foo) Error(Expected 'T' in ISO8601 datetime, but found ' ' instead.)@1:17"},
      {"foo = 2016-0x",
       "Key(foo) Error(Expected digit in ISO8601 datetime, but found 'x' instead.)@1:13"},
      {" :foo = 22", "Error(Unexpected key separator ':')@1:2"},
      // A unit after a float is not one: the reference rejects `1.5s` unquoted.
      {"foo = 1.5s",
       "Key(foo) Float(1.5) Error(Expected a top-level value to end with a new line, comment or "
       "EOF, but got 's' instead.)@1:10"},
  });
}

TEST(ConfLexer, Comments) {
  ExpectAll({
      {"# This is a comment", "EOF"},
      {"# This is a comment\r\n", "EOF"},
      {"// This is a comment\r\n", "EOF"},
      {"foo = 123 // This is a comment", "Key(foo) Integer(123) EOF"},
      {"foo=123    # This is a comment", "Key(foo) Integer(123) EOF"},
      {"foo = { # c\n a = 1 // c\n # c\n}", "Key(foo) { Key(a) Integer(1) } EOF"},
  });
}

TEST(ConfLexer, Arrays) {
  ExpectAll({
      {"foo = [1, 2, 3, 'bar']", "Key(foo) [ Integer(1) Integer(2) Integer(3) String(bar) ] EOF"},
      {"foo = [1,2,3,'bar']", "Key(foo) [ Integer(1) Integer(2) Integer(3) String(bar) ] EOF"},
      {"foo = [1, 2,3,'bar']", "Key(foo) [ Integer(1) Integer(2) Integer(3) String(bar) ] EOF"},
      {"\n# top level comment\nfoo = [\n 1, # One\n 2, // Two\n 3 # Three\n 'bar'     ,\n "
       "\"bar\"\n]\n",
       "Key(foo) [ Integer(1) Integer(2) Integer(3) String(bar) String(bar) ] EOF"},
      {"\n# top level comment\nfoo = [\n 1 // foo\n 2\n 3\n 'bar'\n \"bar\"\n]\n",
       "Key(foo) [ Integer(1) Integer(2) Integer(3) String(bar) String(bar) ] EOF"},
      {"listen = [localhost:4222, localhost:4333]",
       "Key(listen) [ String(localhost:4222) String(localhost:4333) ] EOF"},
      // The reference's quirk (checked against nats-server 2.9 -t): a number followed by ']'
      // becomes a string with the ']' in it, so `[1]` is not closed; `[1 ]` is.
      {"a = [1]", "Key(a) [ String(1]) Error(Unexpected EOF processing array.)@1:8"},
      {"a = [1 ]", "Key(a) [ Integer(1) ] EOF"},
      {"a = [1k]", "Key(a) [ String(1k) ] EOF"},  // ']' does not end a size either
      {"a = [1.5]", "Key(a) [ Float(1.5) ] EOF"},
      {"a = []", "Key(a) [ ] EOF"},
      {"a = [[1, 2 ], [3\n]]", "Key(a) [ [ Integer(1) Integer(2) ] [ Integer(3) ] ] EOF"},
  });
  EXPECT_EQ(Lex("a = [1,,2]"),
            "Key(a) [ Integer(1) Error(Unexpected array value terminator ','.)@1:8");
}

TEST(ConfLexer, Maps) {
  ExpectAll({
      {"foo = {ip='127.0.0.1', port = 4242}",
       "Key(foo) { Key(ip) String(127.0.0.1) Key(port) Integer(4242) } EOF"},
      {"\nfoo = {\n  ip = '127.0.0.1' # the IP\n  port= 4242 // the port\n}\n",
       "Key(foo) { Key(ip) String(127.0.0.1) Key(port) Integer(4242) } EOF"},
      {"\nfoo = {\n  host = {\n    ip = '127.0.0.1'\n    port= 4242\n  }\n}\n",
       "Key(foo) { Key(host) { Key(ip) String(127.0.0.1) Key(port) Integer(4242) } } EOF"},
      {"\nfoo  {\n  host  {\n    ip = '127.0.0.1'\n    port= 4242\n  }\n}\n",
       "Key(foo) { Key(host) { Key(ip) String(127.0.0.1) Key(port) Integer(4242) } } EOF"},
      {"foo = {'bar' = 4242}", "Key(foo) { Key(bar) Integer(4242) } EOF"},
      {"foo = {\"bar\" = 4242}", "Key(foo) { Key(bar) Integer(4242) } EOF"},
      {"foo = {'bar-1.2.3' = { port:4242 }}",
       "Key(foo) { Key(bar-1.2.3) { Key(port) Integer(4242) } } EOF"},
      {"\nsystems {\n  allinone {\n    description: \"This is a description.\"\n  }\n}\n",
       "Key(systems) { Key(allinone) { Key(description) String(This is a description.) } } EOF"},
      {"\nauthorization {\n    users = [\n      {user: alice, password: foo}\n      {user: bob,   "
       "password: bar}\n    ]\n    timeout: 0.5\n}\n",
       "Key(authorization) { Key(users) [ { Key(user) String(alice) Key(password) String(foo) } { "
       "Key(user) String(bob) Key(password) String(bar) } ] Key(timeout) Float(0.5) } EOF"},
  });
}

TEST(ConfLexer, KeysAndSeparators) {
  ExpectAll({
      {"foo : 123", "Key(foo) Integer(123) EOF"},
      {"'foo' : 123", "Key(foo) Integer(123) EOF"},
      {"\"foo\" : 123", "Key(foo) Integer(123) EOF"},
      {"' foo' : 123", "Key( foo) Integer(123) EOF"},
      {"\" foo\" : 123", "Key( foo) Integer(123) EOF"},
      {"foo:123", "Key(foo) Integer(123) EOF"},
      {"foo: 123", "Key(foo) Integer(123) EOF"},
      {"foo:  123\r\n", "Key(foo) Integer(123) EOF"},
      {"foo 123", "Key(foo) Integer(123) EOF"},
      {"foo\t123", "Key(foo) Integer(123) EOF"},
      {"foo\t\t123\r\n", "Key(foo) Integer(123) EOF"},
      {"\nfoo = 123;\nbar = 'baz';\nbaz = 'boo'\nmap {\n id = 1;\n}\n",
       "Key(foo) Integer(123) Key(bar) String(baz) Key(baz) String(boo) Key(map) { Key(id) "
       "Integer(1) } EOF"},
      {"foo='1'; bar=2.2; baz=true;",
       "Key(foo) String(1) Key(bar) Float(2.2) Key(baz) Bool(true) EOF"},
  });
}

TEST(ConfLexer, NonQuotedStringsAndBools) {
  ExpectAll({
      {"\nfoo = 123\nbar = baz\nbaz=boo\nmap {\n id:one\n id2 : onetwo\n}\nt true\nf false\ntstr "
       "\"true\"\ntkey = two\nfkey = five # This should be a string\n",
       "Key(foo) Integer(123) Key(bar) String(baz) Key(baz) String(boo) Key(map) { Key(id) "
       "String(one) Key(id2) String(onetwo) } Key(t) Bool(true) Key(f) Bool(false) Key(tstr) "
       "String(true) Key(tkey) String(two) Key(fkey) String(five) EOF"},
      {"a = YES; b = Off; c = oN", "Key(a) Bool(YES) Key(b) Bool(Off) Key(c) Bool(oN) EOF"},
  });
}

TEST(ConfLexer, DanglingQuotesAndBrackets) {
  // The reference reports these at the end of the input; we point at what was left open.
  ExpectAll({
      {"\nlisten: \"localhost:4242\nhttp: localhost:8222\n\n",
       "Key(listen) Error(Unexpected EOF: the double-quoted string opened here is not "
       "closed.)@2:9"},
      {"\nlisten: 'localhost:4242\nhttp: localhost:8222\n\n",
       "Key(listen) Error(Unexpected EOF: the quoted string opened here is not closed.)@2:9"},
      // The last quote opens a key.
      {"\nfoo = \"\nlisten: \"\nhttp: localhost:8222\n\"\n\n",
       "Key(foo) String(\nlisten: ) Key(http) String(localhost:8222) Error(Unexpected EOF "
       "processing double quoted key.)@5:1"},
      {"\nfoo = '\nlisten: '\nhttp: localhost:8222\n'\n\n",
       "Key(foo) String(\nlisten: ) Key(http) String(localhost:8222) Error(Unexpected EOF "
       "processing quoted key.)@5:1"},
      {"\nlisten = 4222\ncluster = {\n\n  foo = bar\n\n",
       "Key(listen) Integer(4222) Key(cluster) { Key(foo) String(bar) Error(Unexpected EOF "
       "processing map.)@7:1"},
      {"\nlisten = 4222\nquote = (\n\n  foo = bar\n\n",
       "Key(listen) Integer(4222) Key(quote) Error(Unexpected EOF processing block.)@3:9"},
      {"a = [1, 2", "Key(a) [ Integer(1) Integer(2) Error(Unexpected EOF processing array.)@1:10"},
      {"a { b = 1 ]",
       "Key(a) { Key(b) Integer(1) Error(Expected a map value terminator \",\" or "
       "a map terminator \"}\", but got ']' instead.)@1:11"},
      {"a [ 1 }",
       "Key(a) [ Integer(1) Error(Expected an array value terminator \",\" or an "
       "array terminator \"]\", but got '}' instead.)@1:7"},
      {"a { ] }", "Key(a) { Error(Unexpected array end ']' processing map.)@1:5"},
      {"a { = }", "Key(a) { Error(Unexpected key separator '='.)@1:5"},
      {"a { b = , }", "Key(a) { Key(b) Error(Unexpected map value terminator \",\".)@1:9"},
      {"a = \n 1", "Key(a) Error(Expected value but found new line)@1:5"},
  });
}

TEST(ConfLexer, Blocks) {
  ExpectAll({
      {"\nnumbers (\n1234567890\n)\n", "Key(numbers) String(\n1234567890\n) EOF"},
      {std::string_view("\nnumbers (\n1234567890\n)\0", 24),
       "Key(numbers) String(\n1234567890\n) Error(Expected a top-level value to end with a new "
       "line, comment or EOF, but got '\\x00' instead.)@4:2"},
      {"\nnumbers (\n  12(34)56\n  (\n    7890\n  )\n)\n",
       "Key(numbers) String(\n  12(34)56\n  (\n    7890\n  )\n) EOF"},
  });
}

TEST(ConfLexer, UnquotedAddresses) {
  ExpectAll({
      {"listen: 127.0.0.1:4222", "Key(listen) String(127.0.0.1:4222) EOF"},
      {"listen: 127.0.0.1", "Key(listen) String(127.0.0.1) EOF"},
      {"listen: apcera.me:80", "Key(listen) String(apcera.me:80) EOF"},
      {"listen: nats.io:-1", "Key(listen) String(nats.io:-1) EOF"},
      {"listen: -1", "Key(listen) Integer(-1) EOF"},
      {"listen: :-1", "Key(listen) String(:-1) EOF"},
      {"listen = :80", "Key(listen) String(:80) EOF"},
      {"routes = [\n nats-route://foo:bar@apcera.me:4245\n]",
       "Key(routes) [ String(nats-route://foo:bar@apcera.me:4245) ] EOF"},
  });
}

TEST(ConfLexer, Includes) {
  ExpectAll({
      {"include \"users.conf\"", "Include(users.conf) EOF"},
      {"include 'users.conf'", "Include(users.conf) EOF"},
      {"include users.conf", "Include(users.conf) EOF"},
      {"INCLUDE users.conf", "Include(users.conf) EOF"},
      {"foo { include users.conf }", "Key(foo) { Include(users.conf) } EOF"},
      {"foo {include users.conf}", "Key(foo) { Include(users.conf) } EOF"},
      {"foo { include 'users.conf' }", "Key(foo) { Include(users.conf) } EOF"},
      {"foo { include \"users.conf\"}", "Key(foo) { Include(users.conf) } EOF"},
      {"include=1", "Key(include) Integer(1) EOF"},  // a keyword only before a space
      {"include = 1",
       "Include(=) Error(Expected a top-level value to end with a new line, "
       "comment or EOF, but got '1' instead.)@1:11"},
      {"include [a]", "Error(Expected include value but found start of an array)@1:9"},
      {"include {a}", "Error(Expected include value but found start of a map)@1:9"},
      {"include 5", "Error(Expected include value but found start of a number)@1:9"},
      {"include \"a.conf", "Error(Unexpected EOF in double quoted include)@1:9"},
  });
}

TEST(ConfLexer, JsonCompatibility) {
  ExpectAll({
      {"\n                        {\n                          \"http_port\": 8223\n             "
       "           }",
       "Key(http_port) Integer(8223) Key(}) EOF"},  // a closing brace alone is a key, ignored
      {"{\"http_port\": 8224,\"port\": 4224}\n",
       "Key(http_port) Integer(8224) Key(port) Integer(4224) EOF"},
      {"{\"http_port\": 8225,\"port\": 4225\n}",
       "Key(http_port) Integer(8225) Key(port) Integer(4225) Key(}) EOF"},
      {"{\"http_port\": 8227,\"port\": 4227,\"write_deadline\": \"1h\",\"cluster\": {\"port\": "
       "6222,\"routes\": [\"nats://127.0.0.1:4222\",\"nats://127.0.0.1:4223\",\"nats://"
       "127.0.0.1:4224\"]}}\n",
       "Key(http_port) Integer(8227) Key(port) Integer(4227) Key(write_deadline) String(1h) "
       "Key(cluster) { Key(port) Integer(6222) Key(routes) [ String(nats://127.0.0.1:4222) "
       "String(nats://127.0.0.1:4223) String(nats://127.0.0.1:4224) ] } EOF"},
  });
}

TEST(ConfLexer, UnicodeSpacesSeparateKeysAsInTheReference) {
  // Go's unicode.IsSpace ends keys and is skipped between them; values end only at ' ' and
  // '\t', so a no-break space stays inside a bare string (checked with nats-server -t).
  ExpectAll({
      {"port\xC2\xA0"
       "4222",
       "Key(port) Integer(4222) EOF"},
      {"a {\xC2\xA0user: x\xE3\x80\x80}", "Key(a) { Key(user) String(x\xE3\x80\x80) } EOF"},
      {"\xE2\x80\xA8port = 1", "Key(port) Integer(1) EOF"},
      {"name: a\xC2\xA0"
       "b",
       "Key(name) String(a\xC2\xA0"
       "b) EOF"},
      {"p\xC2"
       "x = 1",
       "Key(p\xC2"
       "x) Integer(1) EOF"},
  });
}

TEST(ConfLexer, Positions) {
  Lexer lexer("\nfoo = {\n  ip = '127.0.0.1'\n  port= 4242\n}\n");
  const Token key = lexer.Next();
  EXPECT_EQ(key.kind, TokenKind::kKey);
  EXPECT_EQ(key.line, 2);
  EXPECT_EQ(key.column, 1);
  const Token open = lexer.Next();
  EXPECT_EQ(open.kind, TokenKind::kMapStart);
  EXPECT_EQ(open.column, 7);
  const Token ip = lexer.Next();
  EXPECT_EQ(ip.line, 3);
  EXPECT_EQ(ip.column, 3);
  const Token address = lexer.Next();
  EXPECT_EQ(address.line, 3);
  EXPECT_EQ(address.column, 8);  // the opening quote
  lexer.Next();
  const Token port = lexer.Next();
  EXPECT_EQ(port.line, 4);
  EXPECT_EQ(port.column, 9);
}

TEST(ConfLexer, DeepNestingIsRefused) {
  std::string deep = "a = " + std::string(kMaxNesting + 5, '[');
  const std::string tokens = Lex(deep);
  EXPECT_NE(tokens.find("Error(Maps and arrays nested more than 128 levels deep.)"),
            std::string::npos);
  std::string fine = "a = " + std::string(kMaxNesting - 1, '[') + std::string(kMaxNesting - 1, ']');
  EXPECT_EQ(Lex(fine).substr(Lex(fine).size() - 3), "EOF");
}

TEST(ConfLexer, ErrorIsSticky) {
  Lexer lexer("a = [,");
  Token t;
  do {
    t = lexer.Next();
  } while (t.kind != TokenKind::kError);
  EXPECT_EQ(lexer.Next().kind, TokenKind::kError);
  EXPECT_EQ(lexer.Next().kind, TokenKind::kError);
}

}  // namespace
}  // namespace gannet::conf
