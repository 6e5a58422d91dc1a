// libFuzzer target for the monitoring HTTP server's request parser: arbitrary bytes are parsed
// as a stream of pipelined request heads, and every query parameter of each is decoded.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/monitor/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int requests = 0; requests < 64; ++requests) {
    gannet::HttpRequestHead head;
    gannet::HttpParseError error;
    if (gannet::ParseHttpRequestHead(in, head, error) != gannet::HttpParse::kComplete) break;
    for (std::string_view key : {"sort", "limit", "callback", "test", ""}) {
      (void)head.request.Param(key);
    }
    // A body the server would drop, then the next request.
    size_t skip = head.head_bytes + head.content_length;
    if (skip > in.size()) break;
    in.remove_prefix(skip);
  }
  return 0;
}
