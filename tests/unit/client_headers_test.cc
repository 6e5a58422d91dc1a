#include <gtest/gtest.h>

#include "gannet/client/headers.h"
#include "gannet/client/message.h"

namespace gannet::client {
namespace {

TEST(ClientHeaders, SerializeKeepsOrderCaseAndRepeats) {
  Headers h;
  h.Add("Trace-ID", "1");
  h.Add("a", "x");
  h.Add("a", "y");
  EXPECT_EQ(h.Serialize(), "NATS/1.0\r\nTrace-ID: 1\r\na: x\r\na: y\r\n\r\n");
  EXPECT_EQ(h.WireSize(), h.Serialize().size());
  h.Set("a", "z");
  EXPECT_EQ(h.Values("a"), (std::vector<std::string_view>{"z"}));
  h.Delete("Trace-ID");
  EXPECT_FALSE(h.Has("Trace-ID"));
  EXPECT_EQ(h.Get("missing"), "");
}

TEST(ClientHeaders, StatusLine) {
  Headers h;
  h.SetStatus(503);
  EXPECT_EQ(h.Serialize(), "NATS/1.0 503\r\n\r\n");
  h.SetStatus(408, "Request Timeout");
  EXPECT_EQ(h.Serialize(), "NATS/1.0 408 Request Timeout\r\n\r\n");
  EXPECT_EQ(h.WireSize(), h.Serialize().size());
  // Three digits always (found by fuzz/client_fuzz: "048" came back as "48").
  Headers z;
  ASSERT_TRUE(Headers::Parse("NATS/1.0 048\r\n\r\n", z));
  EXPECT_EQ(z.status(), 48);
  EXPECT_EQ(z.Serialize(), "NATS/1.0 048\r\n\r\n");
  h.SetStatus(1000);
  EXPECT_EQ(h.status(), 0);
}

TEST(ClientHeaders, ParseWhatServersSend) {
  Headers h;
  ASSERT_TRUE(Headers::Parse("NATS/1.0 503\r\n\r\n", h));
  EXPECT_EQ(h.status(), 503);
  EXPECT_TRUE(h.entries().empty());
  ASSERT_TRUE(
      Headers::Parse("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n", h));
  EXPECT_EQ(h.status(), 408);
  EXPECT_EQ(h.description(), "Request Timeout");
  EXPECT_EQ(h.Get("Nats-Pending-Messages"), "1");
  ASSERT_TRUE(Headers::Parse("NATS/1.0\r\nK:  spaced value \r\nEmpty:\r\n\r\n", h));
  EXPECT_EQ(h.status(), 0);
  EXPECT_EQ(h.Get("K"), "spaced value");
  EXPECT_TRUE(h.Has("Empty"));
  // Round trip.
  Headers a;
  a.Add("X", "1");
  a.SetStatus(100, "Idle Heartbeat");
  Headers b;
  ASSERT_TRUE(Headers::Parse(a.Serialize(), b));
  EXPECT_EQ(a, b);
}

TEST(ClientHeaders, ParseRejectsMalformed) {
  Headers h;
  EXPECT_FALSE(Headers::Parse("", h));
  EXPECT_FALSE(Headers::Parse("HTTP/1.1 200\r\n\r\n", h));
  EXPECT_FALSE(Headers::Parse("NATS/1.0\r\nNoColon\r\n\r\n", h));
  EXPECT_FALSE(Headers::Parse("NATS/1.0\r\nK: v\r\n", h));  // no blank line
  EXPECT_FALSE(Headers::Parse("NATS/1.0 5x3\r\n\r\n", h));
  // "000" would read as "no status" and lose its description (found by client_fuzz).
  EXPECT_FALSE(Headers::Parse("NATS/1.0000 408\r\n\r\n", h));
  EXPECT_FALSE(Headers::Parse("NATS/1.0\r\n: v\r\n\r\n", h));
  EXPECT_FALSE(Headers::Parse("NATS/1.0\r\n  : v\r\n\r\n", h));  // empty once trimmed
}

TEST(ClientMessage, OwnsItsBytes) {
  std::string subject = "s.1", reply = "r", hdr = "NATS/1.0 503\r\n\r\n", data = "payload";
  Message m(subject, reply, hdr, data);
  subject.assign("XXX");
  data.assign("YYYYYYY");
  EXPECT_EQ(m.subject(), "s.1");
  EXPECT_EQ(m.reply(), "r");
  EXPECT_EQ(m.header_block(), "NATS/1.0 503\r\n\r\n");
  EXPECT_EQ(m.data(), "payload");
  EXPECT_EQ(m.status(), 503);
  EXPECT_FALSE(m.IsNoResponders());  // has a payload
  Message nr("s", "", "NATS/1.0 503\r\n\r\n", "");
  EXPECT_TRUE(nr.IsNoResponders());
  Message moved = std::move(nr);
  EXPECT_EQ(moved.subject(), "s");
}

}  // namespace
}  // namespace gannet::client
