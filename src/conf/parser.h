// The nats-server configuration language (conf/parse.go): text or a file to a tree of values,
// with `include` files and `$variables` resolved.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "conf/value.h"

namespace gannet::conf {

struct ParseError {
  Position position;  // line 0 when the error has no place (a file that cannot be read)
  std::string message;

  // "file:line:col: message", or just the message when it has no place.
  std::string ToString() const;
};

struct ParseOptions {
  // Looks up an environment variable (the last resort for `$NAME`); default: getenv.
  std::function<std::optional<std::string>(const std::string& name)> lookup_env;
  // Reads an included (or the top) file into `contents`, or sets `error`. Default: regular files
  // of at most kMaxFileSize bytes.
  std::function<bool(const std::string& path, std::string& contents, std::string& error)> read_file;
  int max_include_depth = 10;
};

inline constexpr size_t kMaxFileSize = size_t{64} << 20;

struct ParseResult {
  Value root;  // a map; empty on error
  std::optional<ParseError> error;

  bool ok() const { return !error.has_value(); }
};

// Parses configuration text. Includes are resolved relative to `base_dir` (the reference uses
// the current directory for text that is not a file).
ParseResult ParseString(std::string_view text, const ParseOptions& options = {},
                        const std::string& base_dir = ".");

// Reads and parses a configuration file; includes are relative to its directory.
ParseResult ParseFile(const std::string& path, const ParseOptions& options = {});

// Reads a file as ParseOptions::read_file does by default.
bool ReadConfigFile(const std::string& path, std::string& contents, std::string& error);

}  // namespace gannet::conf
