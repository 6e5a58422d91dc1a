// A blocking HTTP/1.1 client for tests of the monitoring endpoints: one request per
// connection (Connection: close), the whole response read until EOF.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

namespace gannet::test {

struct HttpResult {
  int status = 0;                              // 0: no (parsable) response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string raw;  // the whole response as received

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// GET http://127.0.0.1:port<target>.
HttpResult HttpGet(int port, std::string_view target,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Sends `request` bytes as they are and parses whatever comes back before EOF or the timeout.
HttpResult HttpRaw(int port, std::string_view request,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace gannet::test
