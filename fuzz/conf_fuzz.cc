// libFuzzer target for the configuration language (conf/lexer.h, conf/parser.h,
// conf/duration.h). The input is a configuration text; it is
//   - tokenized to the end: the lexer must stop (at most a few tokens per input byte) with an
//     end or an error, and positions must stay inside the input;
//   - parsed, with `include` answered from memory (every path reads the input itself, so
//     includes nest until the depth guard) and `$NAME` from a fixed fake environment (which
//     refers to itself, to exercise the guard), never the real files or environment;
//   - every value of the tree is then looked at: durations, route URLs, case-insensitive
//     lookups, the debug rendering. Parsing the same input twice must give the same tree or
//     error;
//   - the tree is mapped onto the server's Options as `-c` does (server/config/config.cc,
//     config_auth.cc, config_cluster.cc, config_tls.cc: authorization, accounts, tls,
//     cluster, ...), which must end in success or an error with a message, and the options
//     checked (ValidateOptions).
// Any mismatch aborts.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "conf/duration.h"
#include "conf/lexer.h"
#include "conf/parser.h"
#include "server/config/config.h"

namespace {

using gannet::conf::Lexer;
using gannet::conf::ParseOptions;
using gannet::conf::ParseResult;
using gannet::conf::Token;
using gannet::conf::TokenKind;
using gannet::conf::Value;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "conf_fuzz: %s\n", what);
    std::abort();
  }
}

void CheckLexer(std::string_view text) {
  Lexer lexer(text);
  size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  const size_t max_tokens = 3 * text.size() + 3;
  for (size_t n = 0;; ++n) {
    Check(n <= max_tokens, "lexer does not stop");
    const Token token = lexer.Next();
    Check(token.line >= 1 && static_cast<size_t>(token.line) <= lines, "token line out of range");
    Check(token.column >= 1 && static_cast<size_t>(token.column) <= text.size() + 1,
          "token column out of range");
    if (token.kind == TokenKind::kEof || token.kind == TokenKind::kError) {
      const Token again = lexer.Next();
      Check(again.kind == token.kind && again.text == token.text, "lexer end is not sticky");
      return;
    }
  }
}

void Visit(const Value& value, int depth) {
  Check(depth < 100000, "runaway tree");
  (void)gannet::conf::ToDuration("field", value);
  switch (value.kind()) {
    case gannet::conf::Kind::kArray:
      for (const Value& item : value.AsArray()) Visit(item, depth + 1);
      break;
    case gannet::conf::Kind::kMap:
      for (const auto& entry : value.AsMap()) {
        Check(value.FindIgnoreCase(entry.key) != nullptr, "key not found ignoring case");
        Check(value.Find(entry.key) == &entry.value, "key found elsewhere");
        Visit(entry.value, depth + 1);
      }
      break;
    case gannet::conf::Kind::kString: {
      std::string error;
      (void)gannet::conf::ParseGoDuration(value.AsString(), &error);
      // Every string as a route URL (Go's url.Parse): a value, or an error with a message.
      if (!gannet::ParseRouteUrl(value.AsString(), &error)) Check(!error.empty(), "url error");
      break;
    }
    default:
      break;
  }
}

std::string Render(const ParseResult& result) {
  return result.ok() ? result.root.ToDebugString() : "E" + result.error->ToString();
}

// The tree mapped onto Options, as -c does. Not for inputs naming files (tls { cert_file,
// key_file, ca_file }): the mapping loads those, and the fuzzer must not read the machine's
// files (a /dev/zero would never end).
void MapOntoOptions(const std::string& text, const gannet::conf::Value& root, bool strict) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("_file") != std::string::npos) return;
  gannet::Options opts;
  std::vector<std::string> warnings;
  auto error = gannet::OptionsFromConfig(root, opts, warnings, strict);
  if (error) {
    Check(!error->empty(), "mapping error without a message");
  } else {
    (void)gannet::ValidateOptions(opts);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  CheckLexer(text);

  ParseOptions options;
  options.max_include_depth = 3;
  options.lookup_env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "N") return "42";
    if (name == "S") return "a string";
    if (name == "M") return "{a: 1, b: [x, y ]}";
    if (name == "LOOP") return "$LOOP";
    if (name == "BAD") return "\"unterminated";
    return std::nullopt;
  };
  options.read_file = [&text](const std::string& path, std::string& contents, std::string& error) {
    if (!path.empty() && path.back() == 'x') {
      error = "no such file";
      return false;
    }
    contents = text;
    return true;
  };

  const ParseResult first = gannet::conf::ParseString(text, options);
  if (first.ok()) {
    Check(first.root.IsMap(), "root is not a map");
    Visit(first.root, 0);
    MapOntoOptions(text, first.root, size % 2 == 0);
  } else {
    Check(!first.error->message.empty(), "error without a message");
  }
  const ParseResult second = gannet::conf::ParseString(text, options);
  Check(Render(first) == Render(second), "two parses differ");
  return 0;
}
