// The NATS/1.0 header block: building it for HPUB and reading it from HMSG.
#include "gannet/client/headers.h"

#include <algorithm>

namespace gannet::client {

namespace {
constexpr std::string_view kVersion = "NATS/1.0";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

void Headers::Add(std::string_view key, std::string_view value) {
  entries_.emplace_back(std::string(key), std::string(value));
}

void Headers::Set(std::string_view key, std::string_view value) {
  Delete(key);
  Add(key, value);
}

std::string_view Headers::Get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return {};
}

std::vector<std::string_view> Headers::Values(std::string_view key) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : entries_) {
    if (k == key) out.emplace_back(v);
  }
  return out;
}

bool Headers::Has(std::string_view key) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const auto& e) { return e.first == key; });
}

void Headers::Delete(std::string_view key) {
  std::erase_if(entries_, [&](const auto& e) { return e.first == key; });
}

void Headers::SetStatus(int status, std::string_view description) {
  status_ = status < 0 || status > 999 ? 0 : status;
  description_ = description;
}

size_t Headers::WireSize() const {
  size_t n = kVersion.size() + 2 + 2;  // version line CRLF ... final CRLF
  if (status_ != 0) {
    n += 4;  // " NNN"
    if (!description_.empty()) n += 1 + description_.size();
  }
  for (const auto& [k, v] : entries_) n += k.size() + 2 + v.size() + 2;
  return n;
}

void Headers::AppendTo(std::string& out) const {
  out.reserve(out.size() + WireSize());
  out += kVersion;
  if (status_ != 0) {
    // Always three digits, as the wire format has it ("048" stays "048").
    out += ' ';
    out += static_cast<char>('0' + status_ / 100);
    out += static_cast<char>('0' + status_ / 10 % 10);
    out += static_cast<char>('0' + status_ % 10);
    if (!description_.empty()) {
      out += ' ';
      out += description_;
    }
  }
  out += "\r\n";
  for (const auto& [k, v] : entries_) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "\r\n";
}

std::string Headers::Serialize() const {
  std::string s;
  AppendTo(s);
  return s;
}

bool Headers::Parse(std::string_view block, Headers& out) {
  out = Headers();
  size_t eol = block.find("\r\n");
  if (eol == std::string_view::npos) return false;
  std::string_view first = block.substr(0, eol);
  if (first.substr(0, kVersion.size()) != kVersion) return false;
  std::string_view rest = Trim(first.substr(kVersion.size()));
  if (!rest.empty()) {
    // "503" or "503 No Responders": a three-digit code, then an optional description.
    size_t sp = rest.find(' ');
    std::string_view code = rest.substr(0, sp);
    if (code.size() != 3 ||
        !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    out.status_ = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (out.status_ == 0) return false;  // "000": 0 means "no status" here, so not a status
    if (sp != std::string_view::npos) out.description_ = Trim(rest.substr(sp + 1));
  }
  std::string_view body = block.substr(eol + 2);
  while (true) {
    size_t e = body.find("\r\n");
    if (e == std::string_view::npos) return false;  // no terminating empty line
    std::string_view line = body.substr(0, e);
    body.remove_prefix(e + 2);
    if (line.empty()) return true;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view key = Trim(line.substr(0, colon));
    if (key.empty()) return false;
    out.Add(key, Trim(line.substr(colon + 1)));
  }
}

}  // namespace gannet::client
