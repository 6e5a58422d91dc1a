// The monitoring HTTP server's request parser: complete, incomplete and malformed heads.
#include <gtest/gtest.h>

#include "server/monitor/http_server.h"

namespace gannet {
namespace {

HttpParse Parse(std::string_view in, HttpRequestHead& head, HttpParseError& error) {
  return ParseHttpRequestHead(in, head, error);
}

TEST(HttpParse, CompleteRequestWithQueryAndKeepAlive) {
  HttpRequestHead head;
  HttpParseError error;
  std::string in = "GET /conn%3Az?sort=cid&x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  z \r\n\r\nGET /next";
  ASSERT_EQ(Parse(in, head, error), HttpParse::kComplete);
  EXPECT_EQ(head.request.method, "GET");
  EXPECT_EQ(head.request.path, "/conn:z");
  EXPECT_EQ(head.request.query, "sort=cid&x=1");
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(head.content_length, 0u);
  EXPECT_EQ(in.substr(head.head_bytes), "GET /next");
}

TEST(HttpParse, ConnectionHeaderAndHttp10) {
  HttpRequestHead head;
  HttpParseError error;
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nconnection: Close\r\n\r\n", head, error),
            HttpParse::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", head, error), HttpParse::kComplete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", head, error),
            HttpParse::kComplete);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(Parse("POST /varz HTTP/1.1\r\nContent-Length: 12\r\n\r\n", head, error),
            HttpParse::kComplete);
  EXPECT_EQ(head.content_length, 12u);
}

TEST(HttpParse, IncompleteUntilTheBlankLine) {
  HttpRequestHead head;
  HttpParseError error;
  EXPECT_EQ(Parse("", head, error), HttpParse::kIncomplete);
  EXPECT_EQ(Parse("GET /varz HTTP/1.1\r\nHost: a\r\n", head, error), HttpParse::kIncomplete);
  EXPECT_EQ(Parse(std::string(20000, 'a'), head, error), HttpParse::kError);
  EXPECT_EQ(error.status, 431);
}

TEST(HttpParse, MalformedHeadsAreErrorsWithAStatus) {
  const std::pair<std::string, int> cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET /x\r\n\r\n", 400},
      {" / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1 extra\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.0\r\n\r\n", 400},
      {"GET varz HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET /%zz HTTP/1.1\r\n\r\n", 400},
  };
  for (const auto& [in, status] : cases) {
    HttpRequestHead head;
    HttpParseError error;
    EXPECT_EQ(Parse(in, head, error), HttpParse::kError) << in;
    EXPECT_EQ(error.status, status) << in;
    EXPECT_FALSE(error.text.empty()) << in;
  }
}

}  // namespace
}  // namespace gannet
