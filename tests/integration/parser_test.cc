// Framing and protocol errors: verb case, whitespace, PING/PONG, bad input, size limits, input
// split at arbitrary points, pipelining and abrupt disconnects.
#include <sys/socket.h>

#include <thread>

#include "integration_util.h"

namespace gannet::test {
namespace {

class ParserTest : public ProtocolTest {
 protected:
  // Gives the server a chance to read what was sent so far as its own segment. This is not a
  // wait for anything (correctness never depends on it); without it the kernel would often
  // coalesce the pieces and the split would not be exercised.
  static void PauseToSeparateSegments() { std::this_thread::sleep_for(200us); }
};

TEST_P(ParserTest, PingGetsPong) {
  Start();
  auto conn = Client();
  conn->Send("PING\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "PONG\r\n");
  // A PONG from the client is accepted silently.
  EXPECT_EQ(SendAndFlush(*conn, "PONG\r\n"), "");
  conn->Send("PING\r\nPING\r\n");
  EXPECT_EQ(conn->ReadUntil("PONG\r\nPONG\r\n"), "PONG\r\nPONG\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ParserTest, PingBeforeConnectGetsPong) {
  Start();
  auto conn = DialInfo();
  conn->Send("PING\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "PONG\r\n");
}

TEST_P(ParserTest, VerbsAreCaseInsensitive) {
  Start();
  auto conn = DialInfo();
  conn->Send("connect {\"verbose\":false,\"headers\":true}\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "sub foo 1\r\nSuB bar 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*conn, "pub foo 1\r\na\r\npUb bar 1\r\nb\r\n"),
            "MSG foo 1 1\r\na\r\nMSG bar 2 1\r\nb\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "hpub foo 12 13\r\nNATS/1.0\r\n\r\nc\r\n"),
            "HMSG foo 1 12 13\r\nNATS/1.0\r\n\r\nc\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "unsub 1\r\nUnSuB 2\r\npub foo 1\r\nd\r\n"), "");
  conn->Send("ping\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "PONG\r\n");
  conn->Send("PiNg\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "PONG\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "pong\r\n"), "");
}

TEST_P(ParserTest, TabsAndRepeatedSpacesSeparateArguments) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT\t {\"verbose\":false,\"headers\":true}\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "SUB\tfoo \t 1\r\nSUB  bar\t\tq   2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*conn, "PUB \t foo\t\t2\r\nhi\r\n"), "MSG foo 1 2\r\nhi\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "PUB\tfoo   rep\t2\r\nhi\r\n"), "MSG foo 1 rep 2\r\nhi\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "PUB bar 2  \r\nhi\r\n"), "MSG bar 2 2\r\nhi\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "HPUB\tfoo  r \t12\t12\r\nNATS/1.0\r\n\r\n\r\n"),
            "HMSG foo 1 r 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "UNSUB\t 1\t\r\nUNSUB  2 \r\nPUB foo 0\r\n\r\nPUB bar 0\r\n\r\n"),
            "");
}

TEST_P(ParserTest, ControlLinesMayEndWithBareLineFeed) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"verbose\":false}\n");
  // The payload itself must still be followed by CRLF.
  conn->Send("SUB foo 1\nPUB foo 2\nhi\r\nPING\n");
  EXPECT_EQ(conn->ReadUntil("PONG\r\n"), "MSG foo 1 2\r\nhi\r\nPONG\r\n");
}

TEST_P(ParserTest, PayloadFollowedByBareLineFeedIsAProtocolError) {
  Start();
  auto conn = Client();
  conn->Send("PUB foo 2\r\nhi\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Unknown Protocol Operation'\r\n"));
}

TEST_P(ParserTest, PingIgnoresTrailingBytesOnItsLine) {
  Start();
  auto conn = Client();
  conn->Send("PING foo\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "PONG\r\n");
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ParserTest, ClientInfoIsIgnored) {
  Start();
  auto conn = Client();
  EXPECT_EQ(SendAndFlush(*conn, "INFO {}\r\nINFO {\"server_id\":\"x\"}\r\n"), "");
}

TEST_P(ParserTest, UnknownVerbIsAnErrorAndCloses) {
  Start();
  for (std::string_view line : {"FOO\r\n", "SUBX foo 1\r\n", "PUBLISH foo 1\r\n", "UNSUB\r\n",
                                "PINX\r\n", "HPOB foo 1 1\r\n", "\r\n", " PING\r\n", "1\r\n"}) {
    SCOPED_TRACE(line);
    auto conn = Client();
    conn->Send(line);
    EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Unknown Protocol Operation'\r\n"));
  }
}

TEST_P(ParserTest, UnknownVerbBeforeConnectIsAnErrorAndCloses) {
  Start();
  auto conn = DialInfo();
  conn->Send("HELLO\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Unknown Protocol Operation'\r\n"));
}

TEST_P(ParserTest, RouteAndLeafVerbsFromAClientAreParseErrors) {
  Start();
  for (std::string_view line :
       {"RS+ $G foo\r\n", "RS- $G foo\r\n", "RMSG $G foo 1\r\nx\r\n", "LS+ $G foo\r\n",
        "LS- $G foo\r\n", "LMSG $G foo 1\r\nx\r\n", "A+ foo\r\n", "A- foo\r\n"}) {
    SCOPED_TRACE(line);
    auto conn = Client();
    conn->Send(line);
    EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Unknown Protocol Operation'\r\n"));
  }
}

TEST_P(ParserTest, PayloadLongerThanAnnouncedIsAnError) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  auto conn = Client();
  conn->Send("PUB foo 3\r\nabcd\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Unknown Protocol Operation'\r\n"));
  EXPECT_EQ(sub->Flush(), "");
}

TEST_P(ParserTest, PayloadShorterThanAnnouncedIsAnError) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  auto conn = Client();
  // "ab\r\nPIN" fills the 7 announced bytes; the byte after them must be CR but is 'G'.
  conn->Send("PUB foo 7\r\nab\r\nPING\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Unknown Protocol Operation'\r\n"));
  EXPECT_EQ(sub->Flush(), "");
}

TEST_P(ParserTest, BadPubSubUnsubArgumentsCloseSilently) {
  Start();
  for (std::string_view line :
       {"PUB foo\r\n", "PUB foo bar\r\n", "PUB foo -1\r\n", "PUB a b c 1\r\n", "PUB foo 1x\r\n",
        "SUB foo\r\n", "SUB a b c d\r\n", "UNSUB a b c\r\n"}) {
    SCOPED_TRACE(line);
    auto conn = Client();
    conn->Send(line);
    EXPECT_TRUE(ClosesWith(*conn, ""));
  }
}

TEST_P(ParserTest, NonNumericUnsubMaxMeansUnsubscribeNow) {
  Start();
  auto conn = Client();
  ASSERT_EQ(SendAndFlush(*conn, "SUB foo 1\r\nUNSUB 1 x\r\n"), "");
  EXPECT_EQ(SendAndFlush(*conn, "PUB foo 1\r\nx\r\n"), "");
}

TEST_P(ParserTest, SizesOfMoreThanNineDigitsCloseSilently) {
  Start();
  // The reference parses at most 9 digits; a longer size is a bad argument, not a payload
  // violation.
  for (std::string_view line : {"PUB foo 1234567890\r\n", "PUB foo 0000000001\r\n"}) {
    SCOPED_TRACE(line);
    auto conn = Client();
    conn->Send(line);
    EXPECT_TRUE(ClosesWith(*conn, ""));
  }
  auto conn = Client();
  // Leading zeros are fine, and the size is forwarded as the publisher wrote it.
  EXPECT_EQ(SendAndFlush(*conn, "SUB foo 1\r\nPUB foo 000000001\r\nx\r\n"),
            "MSG foo 1 000000001\r\nx\r\n");
}

TEST_P(ParserTest, UnsubMaxThatIsNotPositiveUnsubscribesNow) {
  Start();
  auto conn = Client();
  ASSERT_EQ(SendAndFlush(*conn, "SUB foo 1\r\nSUB foo 2\r\nUNSUB 1 0\r\nUNSUB 2 -5\r\n"), "");
  EXPECT_EQ(SendAndFlush(*conn, "PUB foo 1\r\nx\r\n"), "");
}

TEST_P(ParserTest, OkFromClientIsIgnored) {
  Start();
  auto conn = Client();
  EXPECT_EQ(SendAndFlush(*conn, "+OK\r\n+ok\r\n"), "");
}

TEST_P(ParserTest, ErrFromClientClosesSilently) {
  Start();
  auto conn = Client();
  conn->Send("-ERR 'whatever'\r\n");
  EXPECT_TRUE(ClosesWith(*conn, ""));
}

TEST_P(ParserTest, ConnectNeedsNoSpaceBeforeItsJson) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT{\"verbose\":true}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  // ...so a misspelt verb that starts with CONNECT becomes bad JSON: silent close.
  auto bad = DialInfo();
  bad->Send("CONNECTX {}\r\n");
  EXPECT_TRUE(ClosesWith(*bad, ""));
}

TEST_P(ParserTest, ControlLineOverLimitIsAnErrorAndCloses) {
  Start();
  auto conn = Client();
  conn->Send("PUB " + std::string(5000, 'x') + " 1\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'maximum control line exceeded'\r\n"));
}

TEST_P(ParserTest, ControlLineOverLimitWithoutLineEndIsDetected) {
  Start();
  auto conn = Client();
  // Never terminated: the server must not buffer forever.
  conn->Send("SUB " + std::string(10000, 'y'));
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'maximum control line exceeded'\r\n"));
}

TEST_P(ParserTest, LongControlLineUnderLimitIsAccepted) {
  Start();
  auto conn = Client();
  std::string subject = std::string(2000, 'a') + "." + std::string(1900, 'b');
  EXPECT_EQ(SendAndFlush(*conn, "SUB " + subject + " 1\r\n" + PubBytes(subject, "", "z")),
            MsgBytes(subject, "1", "", "z"));
}

TEST_P(ParserTest, PayloadOverMaxPayloadIsAViolation) {
  Start();
  auto conn = Client();
  conn->Send("PUB foo 1048577\r\n");
  EXPECT_TRUE(ClosesWith(*conn, "-ERR 'Maximum Payload Violation'\r\n"));
}

TEST_P(ParserTest, PayloadAtMaxPayloadIsDeliveredIntact) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB big 1\r\n"), "");
  std::string payload(1048576, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7) % 26);
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*pub, PubBytes("big", "", payload)), "");
  std::string got = sub->Flush(10s);
  EXPECT_TRUE(got == MsgBytes("big", "1", "", payload))
      << "got " << got.size() << " bytes, starting " << got.substr(0, 40);
}

TEST_P(ParserTest, ConversationSentOneByteAtATime) {
  Start();
  auto sub = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  auto conn = DialInfo();
  const std::string conversation =
      "CONNECT {\"verbose\":true,\"headers\":true}\r\n"
      "SUB foo 5\r\n"
      "PUB foo bar 5\r\nhello\r\n"
      "HPUB foo 12 15\r\nNATS/1.0\r\n\r\nabc\r\n"
      "PUB foo 0\r\n\r\n"
      "UNSUB 5\r\n"
      "PING\r\n";
  for (char ch : conversation) {
    ASSERT_TRUE(conn->Send(std::string_view(&ch, 1)));
    PauseToSeparateSegments();
  }
  EXPECT_EQ(conn->ReadUntil("PONG\r\n"),
            "+OK\r\n"                                             // CONNECT
            "+OK\r\n"                                             // SUB
            "+OK\r\nMSG foo 5 bar 5\r\nhello\r\n"                 // PUB
            "+OK\r\nHMSG foo 5 12 15\r\nNATS/1.0\r\n\r\nabc\r\n"  // HPUB
            "+OK\r\nMSG foo 5 0\r\n\r\n"                          // PUB
            "+OK\r\n"                                             // UNSUB
            "PONG\r\n");
  EXPECT_EQ(sub->Flush(),
            "MSG foo 1 bar 5\r\nhello\r\n"
            "HMSG foo 1 12 15\r\nNATS/1.0\r\n\r\nabc\r\n"
            "MSG foo 1 0\r\n\r\n");
}

TEST_P(ParserTest, PubSplitAtEveryPosition) {
  Start();
  auto sub = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo.bar 1\r\n"), "");
  auto pub = Client(R"({"verbose":false,"headers":true})");
  for (const std::string& msg :
       {std::string("PUB foo.bar rep.ly 11\r\nhello world\r\n"),
        std::string("HPUB foo.bar 18 20\r\nNATS/1.0\r\nK: V\r\n\r\nhi\r\n")}) {
    std::string expected = msg.starts_with("PUB")
                               ? "MSG foo.bar 1 rep.ly 11\r\nhello world\r\n"
                               : "HMSG foo.bar 1 18 20\r\nNATS/1.0\r\nK: V\r\n\r\nhi\r\n";
    for (size_t split = 1; split < msg.size(); ++split) {
      SCOPED_TRACE(msg.substr(0, split) + "|" + msg.substr(split));
      ASSERT_TRUE(pub->Send(std::string_view(msg).substr(0, split)));
      PauseToSeparateSegments();
      ASSERT_TRUE(pub->Send(std::string_view(msg).substr(split)));
      ASSERT_EQ(pub->Flush(), "");
      ASSERT_EQ(sub->Flush(), expected);
    }
  }
}

TEST_P(ParserTest, HundredsOfPipelinedCommandsInOneSend) {
  Start();
  auto conn = Client();
  std::string in;
  std::string want;
  for (int i = 0; i < 200; ++i) {
    std::string sid = std::to_string(i);
    std::string subject = "p." + sid;
    in += "SUB " + subject + " " + sid + "\r\n";
    in += PubBytes(subject, (i % 2) ? "r." + sid : "", "payload-" + sid);
    want += MsgBytes(subject, sid, (i % 2) ? "r." + sid : "", "payload-" + sid);
    if (i % 3 == 0) {
      in += "UNSUB " + sid + "\r\n";
      in += PubBytes(subject, "", "dropped");
    }
    if (i % 50 == 0) {
      in += "PING\r\n";
      want += "PONG\r\n";
    }
  }
  // The intermediate PONGs are part of the expected stream; a final message marks the end.
  in += "SUB end 9999\r\nPUB end 3\r\nend\r\n";
  want += "MSG end 9999 3\r\nend\r\n";
  ASSERT_TRUE(conn->Send(in));
  EXPECT_EQ(conn->ReadUntil("MSG end 9999 3\r\nend\r\n"), want);
  EXPECT_EQ(conn->Flush(), "");
}

TEST_P(ParserTest, DisconnectMidMessageDoesNotAffectOthers) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  {
    auto quitter = Client();
    ASSERT_TRUE(quitter->Send("PUB foo 100\r\nabc"));
    ASSERT_EQ(sub->Flush(), "");
  }  // closed with the payload incomplete
  {
    auto quitter = Client();
    ASSERT_TRUE(quitter->Send("PUB foo 1"));  // mid control line
  }
  {
    // Abortive close (RST) in the middle of a payload.
    auto quitter = Client();
    ASSERT_TRUE(quitter->Send("PUB foo 10\r\n12345"));
    linger lg{1, 0};
    ::setsockopt(quitter->fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  auto pub = Client();
  EXPECT_EQ(SendAndFlush(*pub, "PUB foo 2\r\nok\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 2\r\nok\r\n");
  auto late = Client();
  EXPECT_EQ(SendAndFlush(*late, "SUB foo 2\r\nPUB foo 1\r\nx\r\n"), "MSG foo 2 1\r\nx\r\n");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 1\r\nx\r\n");
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(ParserTest);

}  // namespace
}  // namespace gannet::test
