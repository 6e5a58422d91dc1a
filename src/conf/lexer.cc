// The configuration tokenizer (see lexer.h). It accepts what the reference's lexer accepts,
// quirks included (`[1, 2]` is not closed: "2]" is a string; `1.5s` is a float followed by
// junk; a bare string ends at a single quote), with messages in the reference's words. Where
// the reference reports a dangling quote at the end of the file, we report where it opened; a
// quote that is the very last byte of the file (`key = "`) is an error here, where the
// reference silently drops the key.
#include "conf/lexer.h"

#include <cstdio>
#include <optional>

namespace gannet::conf {

namespace {

bool IsBlank(int c) { return c == ' ' || c == '\t'; }
bool IsNewline(int c) { return c == '\n' || c == '\r'; }
bool IsDigit(int c) { return c >= '0' && c <= '9'; }
bool IsKeySeparator(int c) { return c == '=' || c == ':'; }
bool IsSizeSuffix(int c) {
  switch (c) {
    case 'k':
    case 'K':
    case 'm':
    case 'M':
    case 'g':
    case 'G':
    case 't':
    case 'T':
    case 'p':
    case 'P':
    case 'e':
    case 'E':
      return true;
    default:
      return false;
  }
}
// What may follow an integer (the reference's list; ']' is not in it).
bool EndsNumber(int c) {
  return c < 0 || IsNewline(c) || c == '}' || c == ';' || c == ',' || IsBlank(c);
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

bool IsBoolWord(std::string_view s) {
  return EqualsLower(s, "true") || EqualsLower(s, "false") || EqualsLower(s, "yes") ||
         EqualsLower(s, "no") || EqualsLower(s, "on") || EqualsLower(s, "off");
}

int HexDigit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const char* TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEof:
      return "EOF";
    case TokenKind::kError:
      return "Error";
    case TokenKind::kKey:
      return "Key";
    case TokenKind::kString:
      return "String";
    case TokenKind::kBool:
      return "Bool";
    case TokenKind::kInteger:
      return "Integer";
    case TokenKind::kFloat:
      return "Float";
    case TokenKind::kDatetime:
      return "DateTime";
    case TokenKind::kVariable:
      return "Variable";
    case TokenKind::kInclude:
      return "Include";
    case TokenKind::kArrayStart:
      return "ArrayStart";
    case TokenKind::kArrayEnd:
      return "ArrayEnd";
    case TokenKind::kMapStart:
      return "MapStart";
    case TokenKind::kMapEnd:
      return "MapEnd";
  }
  return "?";
}

Lexer::Lexer(std::string_view input) : input_(input) {}

int Lexer::Peek(size_t ahead) const {
  size_t at = pos_ + ahead;
  return at < input_.size() ? static_cast<unsigned char>(input_[at]) : -1;
}

void Lexer::Advance() {
  if (pos_ >= input_.size()) return;
  if (input_[pos_] == '\n') {
    ++line_;
    line_start_ = pos_ + 1;
  }
  ++pos_;
}

Token Lexer::Make(TokenKind kind, std::string text, size_t line, size_t column) const {
  return Token{kind, std::move(text), static_cast<int>(line), static_cast<int>(column)};
}

Token Lexer::ErrorAt(std::string message, size_t line, size_t column) {
  end_ = Make(TokenKind::kError, std::move(message), line, column);
  expect_ = Expect::kDone;
  return end_;
}

Token Lexer::Error(std::string message) {
  return ErrorAt(std::move(message), line_, pos_ - line_start_ + 1);
}

std::string Lexer::Describe(int c) const {
  if (c < 0) return "EOF";
  if (c == '\n') return "\\n";
  if (c == '\r') return "\\r";
  if (c < 0x20 || c == 0x7f) {
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("\\x") + kHex[(c >> 4) & 0xf] + kHex[c & 0xf];
  }
  // The whole UTF-8 sequence, as the reference prints runes.
  size_t len = 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
  }
  if (pos_ + len > input_.size()) len = 1;
  return std::string(input_.substr(pos_, len));
}

size_t Lexer::SpaceAt() const {
  const int c = Peek();
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 1;
  // The other characters of Go's unicode.IsSpace, in UTF-8: U+0085, U+00A0, U+1680,
  // U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
  const int c1 = Peek(1);
  if (c == 0xC2) return (c1 == 0x85 || c1 == 0xA0) ? 2 : 0;
  const int c2 = Peek(2);
  if (c == 0xE1) return (c1 == 0x9A && c2 == 0x80) ? 3 : 0;
  if (c == 0xE2 && c1 == 0x80) {
    return ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF) ? 3 : 0;
  }
  if (c == 0xE2) return (c1 == 0x81 && c2 == 0x9F) ? 3 : 0;
  if (c == 0xE3) return (c1 == 0x80 && c2 == 0x80) ? 3 : 0;
  return 0;
}

void Lexer::SkipSpaces() {
  for (size_t n = SpaceAt(); n > 0; n = SpaceAt()) {
    for (size_t i = 0; i < n; ++i) Advance();
  }
}

void Lexer::SkipBlanks() {
  while (IsBlank(Peek())) Advance();
}

bool Lexer::AtComment() const { return Peek() == '#' || (Peek() == '/' && Peek(1) == '/'); }

void Lexer::SkipComment() {
  while (!AtEnd() && !IsNewline(Peek())) Advance();
}

Token Lexer::Open(Context context, TokenKind kind) {
  size_t line = line_;
  size_t column = pos_ - line_start_ + 1;
  if (contexts_.size() > kMaxNesting) {
    return Error("Maps and arrays nested more than " + std::to_string(kMaxNesting) +
                 " levels deep.");
  }
  Advance();
  contexts_.push_back(context);
  expect_ = context == Context::kMap ? Expect::kKey : Expect::kArrayValue;
  return Make(kind, "", line, column);
}

Token Lexer::Close(TokenKind kind) {
  size_t line = line_;
  size_t column = pos_ - line_start_ + 1;
  Advance();
  contexts_.pop_back();
  expect_ = Expect::kValueEnd;
  return Make(kind, "", line, column);
}

Token Lexer::Next() {
  for (;;) {
    std::optional<Token> token;
    switch (expect_) {
      case Expect::kDone:
        return end_;
      case Expect::kKey:
        return LexKey();
      case Expect::kAfterKey:
        token = LexAfterKey();
        break;
      case Expect::kValue:
        return LexValue();
      case Expect::kValueEnd:
        token = LexValueEnd();
        break;
      case Expect::kArrayValue:
        token = LexArrayValue();
        break;
    }
    if (token.has_value()) return *token;
  }
}

Token Lexer::LexKey() {
  const bool top = CurrentContext() == Context::kTop;
  for (;;) {
    SkipSpaces();
    if (AtComment()) {
      SkipComment();
      continue;
    }
    if (top && Peek() == '{') {  // JSON compatibility: the outer braces are optional
      Advance();
      continue;
    }
    break;
  }
  const int c = Peek();
  const size_t line = line_;
  const size_t column = pos_ - line_start_ + 1;
  if (top) {
    if (c < 0) {
      end_ = Make(TokenKind::kEof, "", line, column);
      expect_ = Expect::kDone;
      return end_;
    }
  } else {
    if (c == '}') return Close(TokenKind::kMapEnd);
    if (c == ']') return Error("Unexpected array end ']' processing map.");
    if (c < 0) return Error("Unexpected EOF processing map.");
  }
  if (IsKeySeparator(c)) {
    return Error("Unexpected key separator '" + Describe(c) + "'" + (top ? "" : "."));
  }
  if (c == '/') return Error("Expected a key but got '/' (comments start with '//' or '#').");
  if (c == '"' || c == '\'') {
    Advance();
    const size_t begin = pos_;
    while (!AtEnd() && Peek() != c) Advance();
    if (AtEnd()) {
      return ErrorAt(std::string("Unexpected EOF processing ") +
                         (c == '"' ? "double quoted " : "quoted ") + (top ? "key." : "map key."),
                     line, column);
    }
    std::string key(input_.substr(begin, pos_ - begin));
    Advance();
    expect_ = Expect::kAfterKey;
    return Make(TokenKind::kKey, std::move(key), line, column);
  }
  const size_t begin = pos_;
  Advance();
  while (!AtEnd() && SpaceAt() == 0 && !IsKeySeparator(Peek())) Advance();
  if (!top && AtEnd()) return Error("Unexpected EOF processing map key.");
  std::string key(input_.substr(begin, pos_ - begin));
  if (SpaceAt() > 0 && EqualsLower(key, "include")) return LexInclude(line, column);
  expect_ = Expect::kAfterKey;
  return Make(TokenKind::kKey, std::move(key), line, column);
}

Token Lexer::LexInclude(size_t line, size_t column) {
  SkipBlanks();
  const int c = Peek();
  expect_ = Expect::kValueEnd;
  if (c == '"' || c == '\'') {
    const size_t quote_line = line_;
    const size_t quote_column = pos_ - line_start_ + 1;
    Advance();
    const size_t begin = pos_;
    while (!AtEnd() && Peek() != c) Advance();
    if (AtEnd()) {
      return ErrorAt(
          c == '"' ? "Unexpected EOF in double quoted include" : "Unexpected EOF in quoted include",
          quote_line, quote_column);
    }
    std::string path(input_.substr(begin, pos_ - begin));
    Advance();
    return Make(TokenKind::kInclude, std::move(path), line, column);
  }
  if (c == '[') return Error("Expected include value but found start of an array");
  if (c == '{') return Error("Expected include value but found start of a map");
  if (c == '(') return Error("Expected include value but found start of a block");
  if (IsDigit(c) || c == '-') return Error("Expected include value but found start of a number");
  if (c == '\\') return Error("Expected include value but found escape sequence");
  if (IsNewline(c)) return Error("Expected include value but found new line");
  const size_t begin = pos_;
  for (;;) {
    const int d = Peek();
    if (d < 0 || IsNewline(d) || d == ';' || d == '}' || IsBlank(d)) break;
    if (d == '\'') {  // as in the reference, a quote ends a bare path and is dropped
      std::string path(input_.substr(begin, pos_ - begin));
      Advance();
      return Make(TokenKind::kInclude, std::move(path), line, column);
    }
    Advance();
  }
  return Make(TokenKind::kInclude, std::string(input_.substr(begin, pos_ - begin)), line, column);
}

std::optional<Token> Lexer::LexAfterKey() {
  const bool top = CurrentContext() == Context::kTop;
  SkipSpaces();
  const bool separator = IsKeySeparator(Peek());
  if (separator) {
    Advance();
    // At the top level the value must follow on the same line; in a map it may not.
    if (top) {
      SkipBlanks();
    } else {
      SkipSpaces();
    }
  }
  if (top) {
    if (!separator && AtEnd()) {  // a key alone at the end: ignored, as the reference does
      end_ = Make(TokenKind::kEof, "", line_, pos_ - line_start_ + 1);
      expect_ = Expect::kDone;
      return end_;
    }
  } else {
    const int c = Peek();
    if (c == ',') return Error("Unexpected map value terminator \",\".");
    if (c == '}') return Close(TokenKind::kMapEnd);  // a key without a value: ignored
    if (c < 0) return Error("Unexpected EOF processing map.");
  }
  expect_ = Expect::kValue;
  return std::nullopt;
}

Token Lexer::LexValue() {
  const int c = Peek();
  const size_t line = line_;
  const size_t column = pos_ - line_start_ + 1;
  expect_ = Expect::kValueEnd;
  switch (c) {
    case '[':
      return Open(Context::kArray, TokenKind::kArrayStart);
    case '{':
      return Open(Context::kMap, TokenKind::kMapStart);
    case '\'':
      return LexQuoted('\'');
    case '"':
      return LexDoubleQuoted();
    case '(':
      return LexBlock();
    case '-':
      return LexNumber();
    case '.':
      return Error("Floats must start with a digit");
    case '\n':
    case '\r':
      return Error("Expected value but found new line");
    default:
      break;
  }
  if (IsDigit(c)) return LexNumber();
  return LexBare(pos_, line, column);
}

std::optional<Token> Lexer::LexValueEnd() {
  const Context context = CurrentContext();
  for (;;) {
    SkipBlanks();
    if (AtComment()) {
      SkipComment();
      if (context == Context::kTop) {
        expect_ = Expect::kKey;
        return std::nullopt;
      }
      continue;
    }
    const int c = Peek();
    if (c == '/') {  // a lone '/': the reference skips it
      Advance();
      if (context == Context::kTop) continue;
      expect_ = context == Context::kMap ? Expect::kKey : Expect::kArrayValue;
      return std::nullopt;
    }
    switch (context) {
      case Context::kTop:
        if (c < 0) {
          expect_ = Expect::kKey;
          return std::nullopt;
        }
        if (IsNewline(c) || c == ';' || c == ',' || c == '}') {
          Advance();
          expect_ = Expect::kKey;
          return std::nullopt;
        }
        return Error(
            "Expected a top-level value to end with a new line, comment or EOF, but got '" +
            Describe(c) + "' instead.");
      case Context::kMap:
        if (IsNewline(c) || c == ';' || c == ',') {
          Advance();
          expect_ = Expect::kKey;
          return std::nullopt;
        }
        if (c == '}') return Close(TokenKind::kMapEnd);
        if (c < 0) return Error("Unexpected EOF processing map.");
        return Error("Expected a map value terminator \",\" or a map terminator \"}\", but got '" +
                     Describe(c) + "' instead.");
      case Context::kArray:
        if (IsNewline(c) || c == ',') {
          Advance();
          expect_ = Expect::kArrayValue;
          return std::nullopt;
        }
        if (c == ']') return Close(TokenKind::kArrayEnd);
        if (c < 0) return Error("Unexpected EOF processing array.");
        return Error(
            "Expected an array value terminator \",\" or an array terminator \"]\", but got '" +
            Describe(c) + "' instead.");
    }
  }
}

std::optional<Token> Lexer::LexArrayValue() {
  for (;;) {
    SkipSpaces();
    if (AtComment()) {
      SkipComment();
      continue;
    }
    break;
  }
  const int c = Peek();
  if (c == ',' || c == '/') return Error("Unexpected array value terminator ','.");
  if (c == ']') return Close(TokenKind::kArrayEnd);
  if (c < 0) return Error("Unexpected EOF processing array.");
  expect_ = Expect::kValue;
  return std::nullopt;
}

Token Lexer::LexQuoted(char quote) {
  const size_t line = line_;
  const size_t column = pos_ - line_start_ + 1;
  Advance();
  const size_t begin = pos_;
  while (!AtEnd() && Peek() != quote) Advance();
  if (AtEnd())
    return ErrorAt("Unexpected EOF: the quoted string opened here is not closed.", line, column);
  std::string text(input_.substr(begin, pos_ - begin));
  Advance();
  return Make(TokenKind::kString, std::move(text), line, column);
}

bool Lexer::LexEscape(std::string& out, std::string& error) {
  const int c = Peek();
  switch (c) {
    case 't':
      out += '\t';
      break;
    case 'n':
      out += '\n';
      break;
    case 'r':
      out += '\r';
      break;
    case '"':
      out += '"';
      break;
    case '\\':
      out += '\\';
      break;
    case 'x': {
      Advance();
      const int hi = Peek();
      const int lo = Peek(1);
      if (hi < 0 || IsNewline(hi) || lo < 0 || IsNewline(lo)) {
        error = "Expected two hexadecimal digits after '\\x', but hit end of line";
        return false;
      }
      if (HexDigit(hi) < 0 || HexDigit(lo) < 0) {
        error = "Expected two hexadecimal digits after '\\x', but got '" +
                std::string(input_.substr(pos_, 2)) + "'";
        return false;
      }
      out += static_cast<char>(HexDigit(hi) * 16 + HexDigit(lo));
      Advance();
      Advance();
      return true;
    }
    default:
      error = "Invalid escape character '" + Describe(c) +
              "'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, "
              "\\\", \\\\.";
      return false;
  }
  Advance();
  return true;
}

Token Lexer::LexDoubleQuoted() {
  const size_t line = line_;
  const size_t column = pos_ - line_start_ + 1;
  Advance();
  std::string text;
  for (;;) {
    const int c = Peek();
    if (c < 0) {
      return ErrorAt("Unexpected EOF: the double-quoted string opened here is not closed.", line,
                     column);
    }
    if (c == '"') break;
    if (c == '\\') {
      const size_t escape_line = line_;
      const size_t escape_column = pos_ - line_start_ + 1;
      Advance();
      std::string error;
      if (!LexEscape(text, error)) return ErrorAt(std::move(error), escape_line, escape_column);
      continue;
    }
    text += static_cast<char>(c);
    Advance();
  }
  Advance();
  return Make(TokenKind::kString, std::move(text), line, column);
}

Token Lexer::LexBlock() {
  const size_t line = line_;
  const size_t column = pos_ - line_start_ + 1;
  Advance();
  const size_t begin = pos_;
  // The block ends at a ')' alone at the start of a line (followed by a new line or the end;
  // the reference's end-of-input rune also matches a NUL byte).
  for (;;) {
    const int c = Peek();
    if (c < 0) return ErrorAt("Unexpected EOF processing block.", line, column);
    if (c == ')' && input_[pos_ - 1] == '\n') {
      const int after = Peek(1);
      if (after < 0 || after == '\n' || after == 0) break;
    }
    Advance();
  }
  std::string text(input_.substr(begin, pos_ - begin));
  Advance();
  return Make(TokenKind::kString, std::move(text), line, column);
}

Token Lexer::LexNumber() {
  const size_t line = line_;
  const size_t column = pos_ - line_start_ + 1;
  const size_t begin = pos_;
  const bool negative = Peek() == '-';
  if (negative) {
    Advance();
    const int c = Peek();
    if (c == '.') return Error("Floats must start with a digit, not '.'.");
    if (!IsDigit(c)) return Error("Expected a digit but got '" + Describe(c) + "'.");
  }
  while (IsDigit(Peek())) Advance();
  int c = Peek();
  if (!negative && c == '-') {
    if (pos_ - begin == 4) return LexDate(begin, line, column);
    return Error("All ISO8601 dates must be in full Zulu form.");
  }
  if (c == '.') {
    Advance();
    c = Peek();
    if (!IsDigit(c)) {
      return Error("Floats must have a digit after the '.', but got '" + Describe(c) +
                   "' instead.");
    }
    while (IsDigit(Peek())) Advance();
    if (Peek() == '.') {  // an IP address, maybe with a port: a string
      while (IsDigit(Peek()) || Peek() == '.' || Peek() == ':' || Peek() == '-') Advance();
      return Make(TokenKind::kString, std::string(input_.substr(begin, pos_ - begin)), line,
                  column);
    }
    return Make(TokenKind::kFloat, std::string(input_.substr(begin, pos_ - begin)), line, column);
  }
  if (IsSizeSuffix(c)) {
    Advance();
    while (Peek() == 'b' || Peek() == 'B' || Peek() == 'i' || Peek() == 'I') Advance();
    c = Peek();
    if (EndsNumber(c) || IsDigit(c)) {
      return Make(TokenKind::kInteger, std::string(input_.substr(begin, pos_ - begin)), line,
                  column);
    }
    return LexBare(begin, line, column);  // 1Ghz, 2Pie, 500ms: strings
  }
  if (!negative && !EndsNumber(c)) {
    // 3xyz, 2s: a string. As in the reference, the character that made it one is taken as
    // is, even a ']' or a '\\': `[1, 2]` holds "2]" and is not closed.
    Advance();
    return LexBare(begin, line, column);
  }
  return Make(TokenKind::kInteger, std::string(input_.substr(begin, pos_ - begin)), line, column);
}

Token Lexer::LexDate(size_t begin, size_t line, size_t column) {
  // After "YYYY": -MM-DDTHH:MM:SSZ, '0' standing for any digit.
  static constexpr std::string_view kRest = "-00-00T00:00:00Z";
  for (char expected : kRest) {
    const int c = Peek();
    if (expected == '0') {
      if (!IsDigit(c)) {
        return Error("Expected digit in ISO8601 datetime, but found '" + Describe(c) +
                     "' instead.");
      }
    } else if (c != expected) {
      return Error(std::string("Expected '") + expected + "' in ISO8601 datetime, but found '" +
                   Describe(c) + "' instead.");
    }
    Advance();
  }
  return Make(TokenKind::kDatetime, std::string(input_.substr(begin, pos_ - begin)), line, column);
}

Token Lexer::LexBare(size_t begin, size_t line, size_t column) {
  std::string text(input_.substr(begin, pos_ - begin));
  bool escaped = false;
  for (;;) {
    const int c = Peek();
    if (c < 0 || IsNewline(c) || IsBlank(c) || c == ';' || c == ',' || c == ']' || c == '}') {
      break;
    }
    if (c == '\'') {  // the reference ends a bare string at a quote, and drops the quote
      Advance();
      return Make(TokenKind::kString, std::move(text), line, column);
    }
    if (c == '\\') {
      const size_t escape_line = line_;
      const size_t escape_column = pos_ - line_start_ + 1;
      Advance();
      std::string error;
      if (!LexEscape(text, error)) return ErrorAt(std::move(error), escape_line, escape_column);
      escaped = true;
      continue;
    }
    text += static_cast<char>(c);
    Advance();
  }
  if (!escaped && IsBoolWord(text)) return Make(TokenKind::kBool, std::move(text), line, column);
  if (!escaped && !text.empty() && text[0] == '$') {
    return Make(TokenKind::kVariable, text.substr(1), line, column);
  }
  return Make(TokenKind::kString, std::move(text), line, column);
}

}  // namespace gannet::conf
