// The tokenizer of the nats-server configuration language (the syntax of conf/lex.go): keys,
// values, the brackets of maps and arrays, `include` directives and `$variable` references.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gannet::conf {

enum class TokenKind {
  kEof,
  kError,  // text is the message; nothing follows
  kKey,
  kString,
  kBool,      // text as written (true, On, NO...)
  kInteger,   // text as written, with a size suffix if any (1k, 64MiB, -2)
  kFloat,     // text as written
  kDatetime,  // 2016-05-04T18:53:41Z
  kVariable,  // text is the name, without the '$'
  kInclude,   // text is the path as written
  kArrayStart,
  kArrayEnd,
  kMapStart,
  kMapEnd,
};

const char* TokenKindName(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string text;
  int line = 1;    // 1-based
  int column = 1;  // 1-based, in bytes
};

// Nesting of maps and arrays deeper than this is refused (the tree is walked recursively).
inline constexpr size_t kMaxNesting = 128;

// Pull tokenizer: Next() until kEof or kError (after which it keeps returning the same end).
// Every key is followed by one value (a scalar, or a bracketed map or array), except a key
// with nothing after it at the end of a map or of the input (the parser decides about those).
class Lexer {
 public:
  explicit Lexer(std::string_view input);

  Token Next();

 private:
  enum class Context { kTop, kMap, kArray };
  enum class Expect { kKey, kAfterKey, kValue, kValueEnd, kArrayValue, kDone };

  int Peek(size_t ahead = 0) const;
  void Advance();
  bool AtEnd() const { return pos_ >= input_.size(); }

  Token Make(TokenKind kind, std::string text, size_t line, size_t column) const;
  Token Error(std::string message);
  Token ErrorAt(std::string message, size_t line, size_t column);
  std::string Describe(int c) const;  // the character at pos_ as the reference prints it

  size_t SpaceAt() const;  // bytes of the space at pos_ (Go's unicode.IsSpace), 0 if none
  void SkipSpaces();       // all of " \t\r\n\v\f" and Unicode spaces
  void SkipBlanks();       // " \t"
  void SkipComment();      // from '#' or "//" to the end of the line
  bool AtComment() const;
  Context CurrentContext() const { return contexts_.back(); }

  Token LexKey();
  // These return nothing when they only moved to another state.
  std::optional<Token> LexAfterKey();
  Token LexValue();
  std::optional<Token> LexValueEnd();
  std::optional<Token> LexArrayValue();
  Token LexInclude(size_t line, size_t column);
  Token LexQuoted(char quote);
  Token LexDoubleQuoted();
  Token LexBlock();
  Token LexNumber();
  Token LexDate(size_t begin, size_t line, size_t column);
  Token LexBare(size_t begin, size_t line, size_t column);
  // Reads the escape after a '\' into out; an error message if it is not one.
  bool LexEscape(std::string& out, std::string& error);
  Token Open(Context context, TokenKind kind);
  Token Close(TokenKind kind);

  std::string_view input_;
  size_t pos_ = 0;
  size_t line_ = 1;
  size_t line_start_ = 0;  // offset of the first byte of the current line
  std::vector<Context> contexts_{Context::kTop};
  Expect expect_ = Expect::kKey;
  Token end_;  // what Next() returns once done
};

}  // namespace gannet::conf
