// Small string helpers every layer uses: ASCII case folding and JSON/Go-style quoting.
#pragma once

#include <string>
#include <string_view>

namespace gannet {

// ASCII lower case (config keys, HTTP header names, protocol verbs: never locale-dependent).
std::string AsciiLower(std::string_view s);
// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// `s` without its leading and trailing ' ' characters (tabs and newlines are kept).
std::string TrimSpace(std::string_view s);
// `s` as a JSON string literal, quotes included; control characters escaped.
std::string JsonQuote(std::string_view s);
// `s` JSON-escaped, without the quotes; AppendJsonEscaped appends it.
std::string JsonEscaped(std::string_view s);
void AppendJsonEscaped(std::string& out, std::string_view s);
// `s` between double quotes, as the reference's %q prints the plain subjects, users and
// queue names that appear in its error texts.
std::string Quoted(std::string_view s);

}  // namespace gannet
