// Message headers: the NATS/1.0 header block carried by HPUB and HMSG.
//
//   NATS/1.0[ <status>[ <description>]]\r\n
//   Key: Value\r\n
//   ...
//   \r\n
//
// Keys keep their case and order, as the reference clients do; a key may repeat. A status line
// (e.g. "503" for no responders, "408" for a timeout) is how servers report conditions to a
// requester. Not thread safe: a Headers value belongs to one thread at a time.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gannet::client {

class Headers {
 public:
  // Appends a value (a key may have several).
  void Add(std::string_view key, std::string_view value);
  // Replaces every value of the key with this one.
  void Set(std::string_view key, std::string_view value);
  // The first value of the key, or "" when absent.
  std::string_view Get(std::string_view key) const;
  std::vector<std::string_view> Values(std::string_view key) const;
  bool Has(std::string_view key) const;
  void Delete(std::string_view key);
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
  bool empty() const { return entries_.empty() && status_ == 0; }

  // The status on the version line; 0 when there is none.
  int status() const { return status_; }
  const std::string& description() const { return description_; }
  // A three-digit code (0 removes the status line; values outside 0-999 are ignored).
  void SetStatus(int status, std::string_view description = {});

  // Appends the wire form (version line, fields, blank line) to `out`.
  void AppendTo(std::string& out) const;
  std::string Serialize() const;
  // Size of the wire form, without building it.
  size_t WireSize() const;

  // Parses a header block as received in HMSG. False when it does not start with "NATS/1.0"
  // or is not terminated by an empty line; `out` is then unspecified.
  static bool Parse(std::string_view block, Headers& out);

  bool operator==(const Headers&) const = default;

 private:
  int status_ = 0;
  std::string description_;
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace gannet::client
