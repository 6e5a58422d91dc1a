// HPUB/HMSG: header delivery, stripping for subscribers without header support, and errors.
#include "integration_util.h"

namespace gannet::test {
namespace {

class HeadersTest : public ProtocolTest {};

constexpr std::string_view kHeaderBlock = "NATS/1.0\r\nA: B\r\n\r\n";  // 18 bytes

TEST_P(HeadersTest, HpubIsDeliveredAsHmsg) {
  Start();
  auto sub = Client(R"({"verbose":false,"headers":true})");
  auto pub = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "HPUB foo 18 23\r\n" + std::string(kHeaderBlock) + "hello\r\n"), "");
  EXPECT_EQ(sub->Flush(), "HMSG foo 1 18 23\r\n" + std::string(kHeaderBlock) + "hello\r\n");
  ASSERT_EQ(
      SendAndFlush(*pub, "HPUB foo my.reply 18 23\r\n" + std::string(kHeaderBlock) + "hello\r\n"),
      "");
  EXPECT_EQ(sub->Flush(),
            "HMSG foo 1 my.reply 18 23\r\n" + std::string(kHeaderBlock) + "hello\r\n");
  // Header only, no payload.
  ASSERT_EQ(SendAndFlush(*pub, "HPUB foo 18 18\r\n" + std::string(kHeaderBlock) + "\r\n"), "");
  EXPECT_EQ(sub->Flush(), "HMSG foo 1 18 18\r\n" + std::string(kHeaderBlock) + "\r\n");
}

TEST_P(HeadersTest, HeadersAreStrippedForSubscribersWithoutHeaderSupport) {
  Start();
  auto no_hdr = Client(R"({"verbose":false,"headers":false})");
  auto omitted = Client(R"({"verbose":false})");  // headers defaults to false
  auto pub = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*no_hdr, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*omitted, "SUB foo 2\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "HPUB foo r 18 23\r\n" + std::string(kHeaderBlock) + "hello\r\n"),
            "");
  EXPECT_EQ(no_hdr->Flush(), "MSG foo 1 r 5\r\nhello\r\n");
  EXPECT_EQ(omitted->Flush(), "MSG foo 2 r 5\r\nhello\r\n");
  ASSERT_EQ(SendAndFlush(*pub, "HPUB foo 18 18\r\n" + std::string(kHeaderBlock) + "\r\n"), "");
  EXPECT_EQ(no_hdr->Flush(), "MSG foo 1 0\r\n\r\n");
}

TEST_P(HeadersTest, PlainPubReachesHeaderSubscriberAsMsg) {
  Start();
  auto sub = Client(R"({"verbose":false,"headers":true})");
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 2\r\nhi\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 2\r\nhi\r\n");
}

TEST_P(HeadersTest, ZeroHeaderSizeIsDeliveredAsMsg) {
  Start();
  auto sub = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*sub, "HPUB foo 0 5\r\nhello\r\n"), "MSG foo 1 5\r\nhello\r\n");
}

TEST_P(HeadersTest, HeaderBlockIsNotValidated) {
  Start();
  auto sub = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  EXPECT_EQ(SendAndFlush(*sub, "HPUB foo 3 5\r\nabcde\r\n"), "HMSG foo 1 3 5\r\nabcde\r\n");
  auto plain = Client();
  ASSERT_EQ(SendAndFlush(*plain, "SUB foo 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*sub, "HPUB foo 1 1\r\nx\r\n"), "HMSG foo 1 1 1\r\nx\r\n");
  EXPECT_EQ(plain->Flush(), "MSG foo 2 0\r\n\r\n");
}

TEST_P(HeadersTest, SizesAreForwardedAsWrittenUnlessHeadersAreStripped) {
  Start();
  auto sub = Client(R"({"verbose":false,"headers":true})");
  auto plain = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*plain, "SUB foo 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*sub, "HPUB foo 012 0013\r\nNATS/1.0\r\n\r\nx\r\n"),
            "HMSG foo 1 012 0013\r\nNATS/1.0\r\n\r\nx\r\n");
  EXPECT_EQ(plain->Flush(), "MSG foo 2 1\r\nx\r\n");
}

TEST_P(HeadersTest, HpubWithoutNegotiatedHeadersClosesSilently) {
  Start();
  for (std::string_view connect :
       {R"({"verbose":false})", R"({"verbose":false,"headers":false})"}) {
    SCOPED_TRACE(connect);
    auto conn = Client(connect);
    conn->Send("HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n");
    EXPECT_TRUE(ClosesWith(*conn, ""));
  }
}

TEST_P(HeadersTest, HeaderSizeLargerThanTotalClosesSilently) {
  Start();
  auto conn = Client(R"({"verbose":false,"headers":true})");
  conn->Send("HPUB foo 10 5\r\n");
  EXPECT_TRUE(ClosesWith(*conn, ""));
}

TEST_P(HeadersTest, BadHpubArgumentsCloseSilently) {
  Start();
  for (std::string_view line :
       {"HPUB foo 5\r\n", "HPUB foo x 5\r\n", "HPUB foo r 1 x\r\n", "HPUB a b c d e\r\n"}) {
    SCOPED_TRACE(line);
    auto conn = Client(R"({"verbose":false,"headers":true})");
    conn->Send(line);
    EXPECT_TRUE(ClosesWith(*conn, ""));
  }
}

TEST_P(HeadersTest, HpubOverMaxPayloadIsAViolation) {
  Start();
  auto conn = Client(R"({"verbose":false,"headers":true})");
  conn->Send("HPUB foo 12 1048577\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Maximum Payload Violation'\r\n"));
}

TEST_P(HeadersTest, VerboseAcknowledgesHpub) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"headers\":true}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"), "+OK\r\n");
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(HeadersTest);

}  // namespace
}  // namespace gannet::test
