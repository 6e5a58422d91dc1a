// Builds the value tree from the lexer's tokens, resolving includes and variables (see
// parser.h). Deliberate differences from the reference, all on input it mishandles: an
// integer with an unknown size suffix (1kbb) or one that overflows int64 is an error (the
// reference drops the key or wraps around), so is a key without a value at the end of a map
// (the reference renames the map after it), include cycles and runaway include or
// environment-variable nesting are errors (the reference recurses until it crashes), and an
// included file's keys keep their order.
#include "conf/parser.h"

#include "base/strings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "conf/lexer.h"

namespace gannet::conf {

namespace {

// Nested `$VAR` environment values (an environment value is parsed as a value itself, so
// A='$B' works) deeper than this are refused: A='$A' would otherwise never end.
constexpr int kMaxEnvironmentDepth = 8;

// Copies made by `$name` references may not add up to more values than this, nor the files
// read for `include` to more bytes than kMaxFileSize: nested references or includes repeated
// at every level grow exponentially (a = [1, 1]; b = [$a, $a]; c = [$b, $b]; ...).
constexpr size_t kMaxCopiedValues = size_t{1} << 20;

// Counts the values of a tree and finds how deep its maps and arrays nest (0 for a scalar).
void Measure(const Value& value, size_t level, size_t& count, size_t& depth) {
  ++count;
  if (!value.IsArray() && !value.IsMap()) return;
  depth = std::max(depth, level + 1);
  for (const Value& item : value.AsArray()) Measure(item, level + 1, count, depth);
  for (const MapEntry& entry : value.AsMap()) Measure(entry.value, level + 1, count, depth);
}

// What a file and the files it includes share.
struct SharedState {
  const ParseOptions& options;
  std::vector<std::string> include_chain;  // canonical paths, outermost first
  int environment_depth = 0;
  size_t copied_values = 0;
  size_t included_bytes = 0;
  // Maps and arrays open around the value being parsed, across included files and
  // environment values: the tree (walked recursively everywhere) stays within kMaxNesting.
  size_t depth = 0;
};

std::string NestingError() {
  return "Maps and arrays nested more than " + std::to_string(kMaxNesting) +
         " levels deep (counting included files and variables).";
}

// filepath.Join(dir, path) of Go: joined even when path is absolute, then cleaned.
std::string JoinPath(const std::string& dir, const std::string& path) {
  std::string joined = dir.empty() ? path : (path.empty() ? dir : dir + "/" + path);
  const bool absolute = !joined.empty() && joined[0] == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= joined.size()) {
    size_t slash = joined.find('/', i);
    if (slash == std::string::npos) slash = joined.size();
    std::string part = joined.substr(i, slash - i);
    i = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(std::move(part));
  }
  std::string out = absolute ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Canonical(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return path;
  std::string out(real);
  std::free(real);  // NOLINT(cppcoreguidelines-no-malloc): realpath's buffer
  return out;
}

std::optional<std::string> ParseInteger(const std::string& text, int64_t& out) {
  size_t digits = 0;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '-')) {
    ++digits;
  }
  int64_t number = 0;
  const char* first = text.data();
  const char* last = text.data() + digits;
  auto [end, ec] = std::from_chars(first, last, number);
  if (ec == std::errc::result_out_of_range) return "integer '" + text + "' is out of the range";
  if (ec != std::errc() || end != last) return "expected integer, but got '" + text + "'";
  const std::string suffix = AsciiLower(text.substr(digits));
  int64_t multiplier = 1;
  if (!suffix.empty()) {
    static constexpr char kUnits[] = "kmgtpe";
    const char* unit = std::strchr(kUnits, suffix[0]);
    const std::string rest = suffix.substr(1);
    const bool binary = rest == "b" || rest == "i" || rest == "ib";
    if (unit == nullptr || (!rest.empty() && !binary)) {
      return "invalid size suffix in integer '" + text +
             "' (expected k, kb, ki, kib, m, mb, ... up to e, eb, ei, eib)";
    }
    for (const char* u = kUnits; u <= unit; ++u) multiplier *= binary ? 1024 : 1000;
  }
  if (__builtin_mul_overflow(number, multiplier, &out)) {
    return "integer '" + text + "' is out of the range";
  }
  return std::nullopt;
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "2016-05-04T18:53:41Z" (the lexer checked the shape) to seconds since the epoch.
std::optional<int64_t> ParseZuluDate(const std::string& text) {
  auto number = [&](size_t at, size_t len) {
    int64_t n = 0;
    for (size_t i = at; i < at + len; ++i) n = n * 10 + (text[i] - '0');
    return n;
  };
  if (text.size() != 20) return std::nullopt;
  const int64_t year = number(0, 4);
  const int64_t month = number(5, 2);
  const int64_t day = number(8, 2);
  const int64_t hour = number(11, 2);
  const int64_t minute = number(14, 2);
  const int64_t second = number(17, 2);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int64_t days_in_month = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day > days_in_month || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

class FileParser {
 public:
  FileParser(std::string_view text, std::shared_ptr<const std::string> file, std::string dir,
             SharedState& shared)
      : lexer_(text), file_(std::move(file)), dir_(std::move(dir)), shared_(shared) {}

  std::optional<ParseError> Parse(Value& root) { return ParseMapBody(root, /*top=*/true); }

 private:
  Position At(const Token& token) const { return Position{file_, token.line, token.column}; }
  ParseError ErrorAt(const Token& token, std::string message) const {
    return ParseError{At(token), std::move(message)};
  }

  std::optional<ParseError> ParseMapBody(Value& map, bool top);
  std::optional<ParseError> ParseValue(const Token& token, Value& out);
  std::optional<ParseError> ParseArray(const Token& start, Value& out);
  std::optional<ParseError> Include(Value& map, const Token& token);
  std::optional<ParseError> ResolveVariable(const Token& token, Value& out);

  Lexer lexer_;
  std::shared_ptr<const std::string> file_;
  std::string dir_;
  SharedState& shared_;
  // The maps being filled, outermost first: where `$name` is looked up, innermost first.
  std::vector<const Value*> scopes_;
};

std::optional<ParseError> FileParser::ParseMapBody(Value& map, bool top) {
  scopes_.push_back(&map);
  struct PopScope {
    std::vector<const Value*>& scopes;
    ~PopScope() { scopes.pop_back(); }
  } pop_scope{scopes_};

  for (;;) {
    Token token = lexer_.Next();
    switch (token.kind) {
      case TokenKind::kError:
        return ErrorAt(token, token.text);
      case TokenKind::kEof:
        if (top) return std::nullopt;
        return ErrorAt(token, "Unexpected EOF processing map.");
      case TokenKind::kMapEnd:
        if (!top) return std::nullopt;
        return ErrorAt(token, "Unexpected '}'.");
      case TokenKind::kInclude:
        if (auto error = Include(map, token)) return error;
        break;
      case TokenKind::kKey: {
        Token value_token = lexer_.Next();
        // A key alone at the end of the input is ignored, as the reference does (a JSON-style
        // file's closing brace on its own line is such a key). A key alone at the end of a map
        // is refused: the reference gives the map that key's name instead of its own.
        if (value_token.kind == TokenKind::kEof && top) return std::nullopt;
        if (value_token.kind == TokenKind::kMapEnd && !top) {
          return ErrorAt(token, "Key '" + token.text + "' has no value.");
        }
        Value value;
        if (auto error = ParseValue(value_token, value)) return error;
        map.Set(std::move(token.text), At(token), std::move(value));
        break;
      }
      default:
        return ErrorAt(token, std::string("Unexpected ") + TokenKindName(token.kind) +
                                  " where a key was expected.");
    }
  }
}

std::optional<ParseError> FileParser::ParseArray(const Token& start, Value& out) {
  out = Value::EmptyArray(At(start));
  for (;;) {
    Token token = lexer_.Next();
    if (token.kind == TokenKind::kArrayEnd) return std::nullopt;
    Value item;
    if (auto error = ParseValue(token, item)) return error;
    out.AsArray().push_back(std::move(item));
  }
}

std::optional<ParseError> FileParser::ParseValue(const Token& token, Value& out) {
  switch (token.kind) {
    case TokenKind::kError:
      return ErrorAt(token, token.text);
    case TokenKind::kString:
      out = Value::String(token.text, At(token));
      return std::nullopt;
    case TokenKind::kBool: {
      const std::string word = AsciiLower(token.text);
      out = Value::Bool(word == "true" || word == "yes" || word == "on", At(token));
      return std::nullopt;
    }
    case TokenKind::kInteger: {
      int64_t number = 0;
      if (auto error = ParseInteger(token.text, number)) return ErrorAt(token, *error);
      out = Value::Integer(number, At(token));
      return std::nullopt;
    }
    case TokenKind::kFloat: {
      double number = 0;
      const char* first = token.text.data();
      const char* last = first + token.text.size();
      auto [end, ec] = std::from_chars(first, last, number);
      if (ec == std::errc::result_out_of_range) {
        return ErrorAt(token, "float '" + token.text + "' is out of the range");
      }
      if (ec != std::errc() || end != last) {
        return ErrorAt(token, "expected float, but got '" + token.text + "'");
      }
      out = Value::Float(number, At(token));
      return std::nullopt;
    }
    case TokenKind::kDatetime: {
      std::optional<int64_t> seconds = ParseZuluDate(token.text);
      if (!seconds) {
        return ErrorAt(token, "expected Zulu formatted DateTime, but got '" + token.text + "'");
      }
      out = Value::Datetime(token.text, *seconds, At(token));
      return std::nullopt;
    }
    case TokenKind::kVariable:
      return ResolveVariable(token, out);
    case TokenKind::kArrayStart:
    case TokenKind::kMapStart: {
      if (shared_.depth >= kMaxNesting) return ErrorAt(token, NestingError());
      ++shared_.depth;
      std::optional<ParseError> error;
      if (token.kind == TokenKind::kArrayStart) {
        error = ParseArray(token, out);
      } else {
        out = Value::EmptyMap(At(token));
        error = ParseMapBody(out, /*top=*/false);
      }
      --shared_.depth;
      return error;
    }
    default:
      return ErrorAt(token,
                     std::string("Expected a value but got ") + TokenKindName(token.kind) + ".");
  }
}

std::optional<ParseError> FileParser::ResolveVariable(const Token& token, Value& out) {
  const std::string& name = token.text;
  // A bcrypt hash ($2a$11$...) may be written unquoted: it is not a reference.
  if (name.rfind("2a$", 0) == 0) {
    out = Value::String("$" + name, At(token));
    return std::nullopt;
  }
  for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
    if (const Value* found = (*scope)->Find(name)) {
      found->mark_used_as_variable();
      size_t count = 0;
      size_t depth = 0;
      Measure(*found, 0, count, depth);
      if (shared_.depth + depth > kMaxNesting) {
        return ErrorAt(token, "variable reference for '" + name + "' on line " +
                                  std::to_string(token.line) + ": " + NestingError());
      }
      shared_.copied_values += count;
      if (shared_.copied_values > kMaxCopiedValues) {
        return ErrorAt(token, "variable reference for '" + name + "' on line " +
                                  std::to_string(token.line) +
                                  ": variable references copy more than " +
                                  std::to_string(kMaxCopiedValues) + " values");
      }
      out = *found;
      out.set_position(At(token));
      out.clear_used_as_variable();  // the copy is a value of its own key
      return std::nullopt;
    }
  }
  const std::string where =
      "variable reference for '" + name + "' on line " + std::to_string(token.line);
  std::optional<std::string> env;
  if (shared_.options.lookup_env) {
    env = shared_.options.lookup_env(name);
  } else if (const char* value = std::getenv(name.c_str())) {
    env = std::string(value);
  }
  if (env.has_value()) {
    if (shared_.environment_depth >= kMaxEnvironmentDepth) {
      return ErrorAt(token, where + " could not be parsed: environment variables refer to " +
                                "each other more than " + std::to_string(kMaxEnvironmentDepth) +
                                " levels deep");
    }
    // As the reference: the environment value is parsed as the value of a key.
    const std::string text = "pk=" + *env;
    ++shared_.environment_depth;
    Value parsed;
    std::optional<ParseError> error = FileParser(text, nullptr, ".", shared_).Parse(parsed);
    --shared_.environment_depth;
    if (error) return ErrorAt(token, where + " could not be parsed: " + error->ToString());
    if (const Value* value = parsed.Find("pk")) {
      out = *value;
      out.set_position(At(token));
      return std::nullopt;
    }
  }
  return ErrorAt(token, where + " can not be found");
}

std::optional<ParseError> FileParser::Include(Value& map, const Token& token) {
  const std::string path = JoinPath(dir_, token.text);
  const std::string prefix = "error parsing include file '" + token.text + "', ";
  if (static_cast<int>(shared_.include_chain.size()) > shared_.options.max_include_depth) {
    return ErrorAt(token, prefix + "includes nested more than " +
                              std::to_string(shared_.options.max_include_depth) + " levels deep");
  }
  const std::string canonical = Canonical(path);
  for (const std::string& open : shared_.include_chain) {
    if (open == canonical) {
      std::string message = prefix;
      message += "include cycle: '" + path + "' is already being read";
      return ErrorAt(token, std::move(message));
    }
  }
  std::string contents;
  std::string read_error;
  const bool read = shared_.options.read_file
                        ? shared_.options.read_file(path, contents, read_error)
                        : ReadConfigFile(path, contents, read_error);
  if (!read) return ErrorAt(token, prefix + read_error);
  shared_.included_bytes += contents.size();
  if (shared_.included_bytes > kMaxFileSize) {
    return ErrorAt(token, prefix + "included files add up to more than " +
                              std::to_string(kMaxFileSize >> 20) + " MB");
  }

  shared_.include_chain.push_back(canonical);
  Value included;
  std::optional<ParseError> error =
      FileParser(contents, std::make_shared<const std::string>(path), DirName(path), shared_)
          .Parse(included);
  shared_.include_chain.pop_back();
  if (error) {
    error->message += " (included from " + At(token).ToString() + ")";
    return error;
  }
  for (MapEntry& entry : included.AsMap()) {
    map.Set(std::move(entry.key), std::move(entry.key_position), std::move(entry.value));
  }
  return std::nullopt;
}

}  // namespace

std::string ParseError::ToString() const {
  if (position.line == 0) return message;
  return position.ToString() + ": " + message;
}

bool ReadConfigFile(const std::string& path, std::string& contents, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "error opening config file: open " + path + ": " + std::strerror(errno);
    return false;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = "error opening config file: " + path + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "error opening config file: " + path + " is not a regular file";
    return false;
  }
  if (static_cast<size_t>(st.st_size) > kMaxFileSize) {
    error = "error opening config file: " + path + " is larger than " +
            std::to_string(kMaxFileSize >> 20) + " MB";
    return false;
  }
  contents.clear();
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "error reading config file " + path + ": " + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    if (contents.size() > kMaxFileSize) {
      error = "error opening config file: " + path + " is larger than " +
              std::to_string(kMaxFileSize >> 20) + " MB";
      return false;
    }
  }
  return true;
}

ParseResult ParseString(std::string_view text, const ParseOptions& options,
                        const std::string& base_dir) {
  SharedState shared{options, {}, 0, 0, 0, 0};
  ParseResult result;
  result.error = FileParser(text, nullptr, base_dir, shared).Parse(result.root);
  if (result.error) result.root = Value();
  return result;
}

ParseResult ParseFile(const std::string& path, const ParseOptions& options) {
  ParseResult result;
  std::string contents;
  std::string read_error;
  const bool read = options.read_file ? options.read_file(path, contents, read_error)
                                      : ReadConfigFile(path, contents, read_error);
  if (!read) {
    result.error = ParseError{Position{}, read_error};
    return result;
  }
  SharedState shared{options, {Canonical(path)}, 0, 0, 0, 0};
  result.error =
      FileParser(contents, std::make_shared<const std::string>(path), DirName(path), shared)
          .Parse(result.root);
  if (result.error) result.root = Value();
  return result;
}

}  // namespace gannet::conf
