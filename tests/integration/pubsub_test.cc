// PUB/SUB/UNSUB/MSG: delivery, reply subjects, wildcards, queue groups, auto-unsubscribe, echo,
// verbose and pedantic modes, reserved subjects and no-responders.
#include <map>
#include <set>

#include "integration_util.h"

namespace gannet::test {
namespace {

class PubSubTest : public ProtocolTest {
 protected:
  // Flushes `conn` and returns the messages it received (fails on anything else).
  static std::vector<Msg> Messages(RawConn& conn) {
    Parsed p = ParseStream(conn.Flush());
    EXPECT_TRUE(p.lines.empty()) << "unexpected line: " << p.lines.front();
    return p.msgs;
  }
  static std::multiset<std::string> Sids(const std::vector<Msg>& msgs) {
    std::multiset<std::string> out;
    for (const auto& m : msgs) out.insert(m.sid);
    return out;
  }
};

TEST_P(PubSubTest, MessageIsDeliveredAsExactBytes) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 5\r\nhello\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 5\r\nhello\r\n");
}

// A client library's flush() relies on this: once the publisher's PING is answered, the
// messages it published before are already queued to every subscriber ahead of anything the
// subscriber asks for later. The reference delivers inline while parsing the publisher's input.
TEST_P(PubSubTest, DeliveryIsCompleteWhenThePublishersPingIsAnswered) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  int missing = 0;
  constexpr int kRounds = 1000;
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_EQ(SendAndFlush(*pub, PubBytes("foo", "", std::to_string(i))), "");
    std::string got = sub->Flush();
    if (got != MsgBytes("foo", "1", "", std::to_string(i))) {
      ++missing;
      // Resynchronize: the late message must still arrive.
      if (got.empty()) {
        ASSERT_EQ(sub->ReadUntil(MsgBytes("foo", "1", "", std::to_string(i))),
                  MsgBytes("foo", "1", "", std::to_string(i)));
      }
    }
  }
  EXPECT_EQ(missing, 0) << "of " << kRounds
                        << " messages, this many were not yet delivered when the "
                           "subscriber's PONG (sent after the publisher's PONG) arrived";
}

TEST_P(PubSubTest, PayloadIsOpaque) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  std::string binary("a\r\nb\0\xff PUB x 1\r\n", 16);
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 0\r\n\r\n" + PubBytes("foo", "", binary)), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 0\r\n\r\n" + MsgBytes("foo", "1", "", binary));
}

TEST_P(PubSubTest, ReplySubjectIsForwarded) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo _INBOX.abc.1 2\r\nhi\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 _INBOX.abc.1 2\r\nhi\r\n");
  // A request/reply round trip.
  ASSERT_EQ(SendAndFlush(*pub, "SUB _INBOX.abc.* 9\r\n"), "");
  ASSERT_EQ(SendAndFlush(*sub, "PUB _INBOX.abc.1 4\r\npong\r\n"), "");
  EXPECT_EQ(pub->Flush(), "MSG _INBOX.abc.1 9 4\r\npong\r\n");
}

TEST_P(PubSubTest, EverySubscriptionGetsItsOwnCopy) {
  Start();
  auto a = Client();
  auto b = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*a, "SUB foo 1\r\nSUB foo 2\r\n"), "");
  ASSERT_EQ(SendAndFlush(*b, "SUB foo 7\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\nx\r\n"), "");
  auto ma = Messages(*a);
  EXPECT_EQ(Sids(ma), (std::multiset<std::string>{"1", "2"}));
  for (const auto& m : ma) EXPECT_EQ(m.payload, "x");
  EXPECT_EQ(b->Flush(), "MSG foo 7 1\r\nx\r\n");
}

TEST_P(PubSubTest, NoDeliveryWithoutMatchingSubscription) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\nSUB foo.bar 2\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub,
                         "PUB fo 1\r\nx\r\nPUB foo.ba 1\r\nx\r\nPUB foo.bar.baz 1\r\nx\r\n"
                         "PUB FOO 1\r\nx\r\n"),
            "");
  EXPECT_EQ(sub->Flush(), "");
}

TEST_P(PubSubTest, WildcardsMatchWholeTokens) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub,
                         "SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB *.bar 4\r\nSUB *.*.baz 5\r\n"
                         "SUB foo.*.> 6\r\n"),
            "");
  const std::vector<std::pair<std::string, std::multiset<std::string>>> cases = {
      {"foo.bar", {"1", "2", "3", "4"}},
      {"foo.bar.baz", {"2", "3", "5", "6"}},
      {"foo", {"3"}},
      {"bar", {"3"}},
      {"x.bar", {"3", "4"}},
      {"foo.x.y.z", {"2", "3", "6"}},
  };
  for (const auto& [subject, want] : cases) {
    SCOPED_TRACE(subject);
    ASSERT_EQ(SendAndFlush(*pub, PubBytes(subject, "", "p")), "");
    auto msgs = Messages(*sub);
    EXPECT_EQ(Sids(msgs), want);
    for (const auto& m : msgs) {
      EXPECT_EQ(m.subject, subject);
      EXPECT_EQ(m.payload, "p");
      EXPECT_EQ(m.verb, "MSG");
    }
  }
}

TEST_P(PubSubTest, PartialTokenWildcardCharactersAreLiterals) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo* 1\r\nSUB bar.>x 2\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub,
                         "PUB foob 1\r\nx\r\nPUB bar.a 1\r\nx\r\nPUB bar.ax 1\r\nx\r\n"
                         "PUB foo* 1\r\ny\r\nPUB bar.>x 1\r\nz\r\n"),
            "");
  EXPECT_EQ(sub->Flush(), "MSG foo* 1 1\r\ny\r\nMSG bar.>x 2 1\r\nz\r\n");
}

TEST_P(PubSubTest, InvalidSubscriptionSubjectIsRejectedAndConnectionStaysOpen) {
  Start();
  auto conn = Client();
  for (std::string_view subject : {"foo..bar", ".foo", "foo.", "foo.>.bar", ">.foo", "."}) {
    SCOPED_TRACE(subject);
    EXPECT_EQ(SendAndFlush(*conn, "SUB " + std::string(subject) + " 1\r\n"),
              "-ERR 'Invalid Subject'\r\n");
  }
  // The connection is still fully usable.
  EXPECT_EQ(SendAndFlush(*conn, "SUB ok 1\r\nPUB ok 1\r\nx\r\n"), "MSG ok 1 1\r\nx\r\n");
}

TEST_P(PubSubTest, QueueGroupDeliversToOneMemberPerGroup) {
  Start();
  constexpr int kMessages = 300;
  std::vector<std::unique_ptr<RawConn>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(Client());
    ASSERT_EQ(SendAndFlush(*workers.back(), "SUB jobs.* workers " + std::to_string(i + 1) + "\r\n"),
              "");
  }
  auto audit = Client();
  ASSERT_EQ(SendAndFlush(*audit, "SUB jobs.> audit 1\r\n"), "");
  auto plain = Client();
  ASSERT_EQ(SendAndFlush(*plain, "SUB jobs.new 1\r\n"), "");
  auto pub = Client();
  std::string batch;
  for (int i = 0; i < kMessages; ++i) batch += PubBytes("jobs.new", "", std::to_string(i));
  ASSERT_EQ(SendAndFlush(*pub, batch), "");

  std::set<std::string> seen;
  int total = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    auto msgs = Messages(*workers[i]);
    // Roughly even: a uniform random pick gives ~100 each; 30 is far below any plausible draw.
    EXPECT_GE(msgs.size(), 30u) << "worker " << i << " starved";
    total += static_cast<int>(msgs.size());
    for (const auto& m : msgs) {
      EXPECT_EQ(m.sid, std::to_string(i + 1));
      EXPECT_TRUE(seen.insert(m.payload).second) << "delivered twice: " << m.payload;
    }
  }
  EXPECT_EQ(total, kMessages);
  EXPECT_EQ(Messages(*audit).size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(Messages(*plain).size(), static_cast<size_t>(kMessages));
}

TEST_P(PubSubTest, QueueMembersOnOneConnection) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo q 1\r\nSUB foo q 2\r\nSUB foo\tq2 3\r\n"), "");
  auto pub = Client();
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += PubBytes("foo", "r", "m");
  ASSERT_EQ(SendAndFlush(*pub, batch), "");
  auto msgs = Messages(*sub);
  std::map<std::string, int> per_sid;
  for (const auto& m : msgs) {
    per_sid[m.sid]++;
    EXPECT_EQ(m.reply, "r");
  }
  EXPECT_EQ(per_sid["1"] + per_sid["2"], 100);
  EXPECT_EQ(per_sid["3"], 100);
  EXPECT_GE(per_sid["1"], 10);
  EXPECT_GE(per_sid["2"], 10);
}

TEST_P(PubSubTest, QueueMemberThatLeavesGetsNoMoreMessages) {
  Start();
  auto a = Client();
  auto b = Client();
  ASSERT_EQ(SendAndFlush(*a, "SUB foo q 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*b, "SUB foo q 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*b, "UNSUB 1\r\n"), "");
  auto pub = Client();
  std::string batch;
  for (int i = 0; i < 50; ++i) batch += PubBytes("foo", "", "m");
  ASSERT_EQ(SendAndFlush(*pub, batch), "");
  EXPECT_EQ(Messages(*a).size(), 50u);
  EXPECT_EQ(b->Flush(), "");
}

TEST_P(PubSubTest, MessagesFromOnePublisherArriveInOrder) {
  Start();
  auto s1 = Client();
  auto s2 = Client();
  ASSERT_EQ(SendAndFlush(*s1, "SUB seq 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*s2, "SUB seq.> 2\r\nSUB seq 3\r\n"), "");
  auto pub = Client();
  std::string batch;
  for (int i = 0; i < 2000; ++i) {
    batch += PubBytes((i % 2) ? "seq" : "seq.x", "", std::to_string(i));
  }
  ASSERT_EQ(SendAndFlush(*pub, batch), "");
  auto m1 = Messages(*s1);
  ASSERT_EQ(m1.size(), 1000u);
  for (size_t i = 0; i < m1.size(); ++i) ASSERT_EQ(m1[i].payload, std::to_string(2 * i + 1));
  auto m2 = Messages(*s2);
  ASSERT_EQ(m2.size(), 2000u);
  for (size_t i = 0; i < m2.size(); ++i) {
    ASSERT_EQ(m2[i].payload, std::to_string(i));
    ASSERT_EQ(m2[i].sid, (i % 2) ? "3" : "2");
  }
}

TEST_P(PubSubTest, SubscriptionsOfAClosedConnectionAreRemoved) {
  Start();
  auto req = Client(R"({"verbose":false,"headers":true,"no_responders":true})");
  ASSERT_EQ(SendAndFlush(*req, "SUB _INBOX.1 1\r\n"), "");
  {
    auto responder = Client();
    ASSERT_EQ(SendAndFlush(*responder, "SUB service 1\r\nSUB service q 2\r\n"), "");
    EXPECT_EQ(SendAndFlush(*req, "PUB service _INBOX.1 0\r\n\r\n"), "");
  }
  // The server notices the close asynchronously; once it has, nobody is interested any more and
  // the requester gets a no-responders status.
  const std::string status = "HMSG _INBOX.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n";
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string got;
  while (got != status && std::chrono::steady_clock::now() < deadline) {
    got = SendAndFlush(*req, "PUB service _INBOX.1 0\r\n\r\n");
  }
  EXPECT_EQ(got, status);
}

TEST_P(PubSubTest, UnsubscribeStopsDelivery) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\nSUB foo 2\r\n"), "");
  ASSERT_EQ(SendAndFlush(*sub, "UNSUB 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\nx\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 2 1\r\nx\r\n");
  // Unknown sids are ignored silently.
  EXPECT_EQ(SendAndFlush(*sub, "UNSUB 1\r\nUNSUB nope\r\n"), "");
}

TEST_P(PubSubTest, UnsubWithMaxAutoUnsubscribes) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\nUNSUB 1 2\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\nd\r\n"), "");
  EXPECT_EQ(sub->Flush(), "");
}

TEST_P(PubSubTest, UnsubMaxAboveDeliveredCountsAlreadyDeliveredMessages) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n");
  // Two delivered, max 3: exactly one more.
  ASSERT_EQ(SendAndFlush(*sub, "UNSUB 1 3\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\nc\r\nPUB foo 1\r\nd\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 1\r\nc\r\n");
}

TEST_P(PubSubTest, UnsubMaxCountsWhatTheSubscribersOwnThreadDelivered) {
  Start();
  auto c = Client();
  auto pub = Client();
  // The subscriber publishes to itself: gannet counts these deliveries on the subscriber's own
  // thread, apart from other publishers' (Subscription::delivered_owner). The limit sees both.
  ASSERT_EQ(SendAndFlush(*c, "SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\n"),
            "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\nc\r\n"), "");
  EXPECT_EQ(c->Flush(), "MSG foo 1 1\r\nc\r\n");
  // Three delivered, max 5: exactly two more, from either connection.
  ASSERT_EQ(SendAndFlush(*c, "UNSUB 1 5\r\nPUB foo 1\r\nd\r\n"), "MSG foo 1 1\r\nd\r\n");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\ne\r\nPUB foo 1\r\nf\r\n"), "");
  EXPECT_EQ(c->Flush(), "MSG foo 1 1\r\ne\r\n");
  EXPECT_EQ(SendAndFlush(*c, "PUB foo 1\r\ng\r\n"), "");
}

TEST_P(PubSubTest, UnsubMaxAlreadyReachedRemovesAtOnce) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\nSUB foo 2\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n"), "");
  EXPECT_EQ(ParseStream(sub->Flush()).msgs.size(), 6u);
  // Three delivered to each; max 2 (below) and max 3 (equal) both remove immediately.
  ASSERT_EQ(SendAndFlush(*sub, "UNSUB 1 2\r\nUNSUB 2 3\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\nd\r\n"), "");
  EXPECT_EQ(sub->Flush(), "");
}

TEST_P(PubSubTest, QueueNamesAreNotValidated) {
  Start();
  auto sub = Client();
  auto pub = Client();
  // A queue name that would be an invalid subject is still a queue name to the reference.
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo q.*.> 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB foo 1\r\na\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 1\r\na\r\n");
}

TEST_P(PubSubTest, DuplicateSidKeepsTheFirstSubscription) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB foo 1\r\nSUB bar 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*pub, "PUB bar 1\r\nb\r\nPUB foo 1\r\nf\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo 1 1\r\nf\r\n");
}

TEST_P(PubSubTest, EchoIsOnByDefault) {
  Start();
  auto conn = Client();
  EXPECT_EQ(SendAndFlush(*conn, "SUB foo 1\r\nPUB foo 2\r\nme\r\n"), "MSG foo 1 2\r\nme\r\n");
}

TEST_P(PubSubTest, EchoFalseSkipsOnlyTheOwnConnection) {
  Start();
  auto quiet = Client(R"({"verbose":false,"echo":false})");
  auto other = Client();
  ASSERT_EQ(SendAndFlush(*quiet, "SUB foo 1\r\n"), "");
  ASSERT_EQ(SendAndFlush(*other, "SUB foo 2\r\n"), "");
  EXPECT_EQ(SendAndFlush(*quiet, "PUB foo 1\r\nq\r\n"), "");
  EXPECT_EQ(other->Flush(), "MSG foo 2 1\r\nq\r\n");
  EXPECT_EQ(other->Flush(), "");
  ASSERT_EQ(SendAndFlush(*other, "PUB foo 1\r\no\r\n"), "MSG foo 2 1\r\no\r\n");
  EXPECT_EQ(quiet->Flush(), "MSG foo 1 1\r\no\r\n");
}

TEST_P(PubSubTest, VerboseAcknowledgesSubPubUnsub) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"verbose\":true}\r\n");
  EXPECT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "SUB foo 1\r\n"), "+OK\r\n");
  // +OK for the PUB comes before the delivery to the publisher's own subscription.
  EXPECT_EQ(SendAndFlush(*conn, "PUB foo 2\r\nhi\r\n"), "+OK\r\nMSG foo 1 2\r\nhi\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "PUB nobody 0\r\n\r\n"), "+OK\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "UNSUB 1\r\n"), "+OK\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "UNSUB 42 5\r\n"), "+OK\r\n");
  // No +OK for PING or PONG.
  EXPECT_EQ(SendAndFlush(*conn, "PONG\r\n"), "");
  // An invalid SUB gets only the -ERR.
  EXPECT_EQ(SendAndFlush(*conn, "SUB a..b 2\r\n"), "-ERR 'Invalid Subject'\r\n");
}

TEST_P(PubSubTest, VerboseAcknowledgementsAroundRefusedAndStatusMessages) {
  Start();
  auto conn = DialInfo();
  conn->Send("CONNECT {\"verbose\":true,\"headers\":true,\"no_responders\":true}\r\n");
  ASSERT_EQ(conn->ReadUntil("\r\n"), "+OK\r\n");
  // A refused publish gets no +OK.
  EXPECT_EQ(SendAndFlush(*conn, "PUB _GR_.x 1\r\nx\r\n"),
            "-ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n");
  EXPECT_EQ(SendAndFlush(*conn, "PUB foo _R_.x 1\r\nx\r\n"),
            "-ERR 'Permissions Violation for Publish with Reply of \"_R_.x\"'\r\n");
  // A pedantic complaint comes before the +OK (the message is still published).
  EXPECT_EQ(SendAndFlush(*conn, "PUB foo.* 1\r\nx\r\n"),
            "-ERR 'Invalid Publish Subject'\r\n+OK\r\n");
  // The no-responders status follows the +OK.
  EXPECT_EQ(SendAndFlush(*conn, "SUB r 1\r\nPUB nobody r 1\r\nx\r\n"),
            "+OK\r\n+OK\r\nHMSG r 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
}

TEST_P(PubSubTest, PedanticInvalidPublishSubjectIsReportedButStillDelivered) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB > 1\r\n"), "");
  auto pedantic = Client(R"({"verbose":false,"pedantic":true})");
  EXPECT_EQ(SendAndFlush(*pedantic, "PUB foo.* 1\r\na\r\n"), "-ERR 'Invalid Publish Subject'\r\n");
  EXPECT_EQ(SendAndFlush(*pedantic, "PUB foo.> 1\r\nb\r\n"), "-ERR 'Invalid Publish Subject'\r\n");
  EXPECT_EQ(SendAndFlush(*pedantic, "PUB foo.bar 1\r\nc\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo.* 1 1\r\na\r\nMSG foo.> 1 1\r\nb\r\nMSG foo.bar 1 1\r\nc\r\n");
  // Not pedantic: no complaint.
  auto lax = Client(R"({"verbose":false,"pedantic":false})");
  EXPECT_EQ(SendAndFlush(*lax, "PUB foo.* 1\r\nd\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG foo.* 1 1\r\nd\r\n");
}

TEST_P(PubSubTest, PedanticStaysOnWhenOmittedFromConnect) {
  Start();
  auto conn = Client(R"({"verbose":false})");
  EXPECT_EQ(SendAndFlush(*conn, "SUB > 1\r\nPUB > 1\r\nx\r\n"),
            "-ERR 'Invalid Publish Subject'\r\nMSG > 1 1\r\nx\r\n");
}

TEST_P(PubSubTest, PublishSubjectsWithEmptyTokensMatchNothing) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB > 1\r\nSUB foo.> 2\r\nSUB *.* 3\r\nSUB *.*.* 4\r\n"), "");
  auto lax = Client(R"({"verbose":false,"pedantic":false})");
  EXPECT_EQ(SendAndFlush(*lax,
                         "PUB foo..bar 1\r\nx\r\nPUB .foo 1\r\ny\r\nPUB foo. 1\r\nz\r\n"
                         "PUB . 1\r\nw\r\n"),
            "");
  auto pedantic = Client(R"({"verbose":false,"pedantic":true})");
  EXPECT_EQ(SendAndFlush(*pedantic, "PUB foo..bar 1\r\nx\r\n"),
            "-ERR 'Invalid Publish Subject'\r\n");
  EXPECT_EQ(sub->Flush(), "");
  // Wildcard characters in a published subject are matched like literal tokens.
  EXPECT_EQ(SendAndFlush(*lax, "PUB foo.>.bar 1\r\nx\r\n"), "");
  EXPECT_EQ(Sids(Messages(*sub)), (std::multiset<std::string>{"1", "2", "4"}));
}

TEST_P(PubSubTest, PublishingToReservedGatewaySubjectIsRefused) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB > 1\r\n"), "");
  auto pub = Client();
  EXPECT_EQ(SendAndFlush(*pub, "PUB _GR_.foo 1\r\nx\r\n"),
            "-ERR 'Permissions Violation for Publish to \"_GR_.foo\"'\r\n");
  EXPECT_EQ(sub->Flush(), "");
  // The connection stays open and usable.
  EXPECT_EQ(SendAndFlush(*pub, "PUB ok 1\r\ny\r\n"), "");
  EXPECT_EQ(sub->Flush(), "MSG ok 1 1\r\ny\r\n");
}

TEST_P(PubSubTest, ReservedReplySubjectsAreRefused) {
  Start();
  auto sub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB > 1\r\n"), "");
  auto pub = Client();
  for (std::string_view reply : {"_R_.abc", "_GR_.abc", "$JS.ACK.abc"}) {
    SCOPED_TRACE(reply);
    EXPECT_EQ(SendAndFlush(*pub, PubBytes("foo", reply, "x")),
              "-ERR 'Permissions Violation for Publish with Reply of \"" + std::string(reply) +
                  "\"'\r\n");
  }
  EXPECT_EQ(sub->Flush(), "");
  EXPECT_EQ(SendAndFlush(*pub, PubBytes("foo", "_INBOX.ok", "y")), "");
  EXPECT_EQ(sub->Flush(), MsgBytes("foo", "1", "_INBOX.ok", "y"));
}

TEST_P(PubSubTest, NoRespondersStatusIsSentWhenNobodyListens) {
  Start();
  auto req = Client(R"({"verbose":false,"headers":true,"no_responders":true})");
  ASSERT_EQ(SendAndFlush(*req, "SUB _INBOX.r1 5\r\n"), "");
  EXPECT_EQ(SendAndFlush(*req, "PUB service _INBOX.r1 4\r\nping\r\n"),
            "HMSG _INBOX.r1 5 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  // With a wildcard inbox subscription the status goes to the reply subject with that sid.
  ASSERT_EQ(SendAndFlush(*req, "SUB _INBOX.w.* 6\r\n"), "");
  EXPECT_EQ(SendAndFlush(*req, "HPUB service _INBOX.w.7 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            "HMSG _INBOX.w.7 6 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
}

TEST_P(PubSubTest, NoRespondersIsNotSentWhenSomeoneListens) {
  Start();
  auto responder = Client();
  ASSERT_EQ(SendAndFlush(*responder, "SUB service 1\r\n"), "");
  auto req = Client(R"({"verbose":false,"headers":true,"no_responders":true})");
  ASSERT_EQ(SendAndFlush(*req, "SUB _INBOX.r1 5\r\n"), "");
  EXPECT_EQ(SendAndFlush(*req, "PUB service _INBOX.r1 4\r\nping\r\n"), "");
  EXPECT_EQ(responder->Flush(), "MSG service 1 _INBOX.r1 4\r\nping\r\n");
}

TEST_P(PubSubTest, NoRespondersNeedsTheFlagAReplyAndAReplySubscription) {
  Start();
  auto plain = Client(R"({"verbose":false,"headers":true})");
  ASSERT_EQ(SendAndFlush(*plain, "SUB _INBOX.r1 5\r\n"), "");
  EXPECT_EQ(SendAndFlush(*plain, "PUB service _INBOX.r1 4\r\nping\r\n"), "");
  auto req = Client(R"({"verbose":false,"headers":true,"no_responders":true})");
  // No reply subject.
  EXPECT_EQ(SendAndFlush(*req, "PUB service 4\r\nping\r\n"), "");
  // Reply subject, but this connection does not subscribe to it.
  EXPECT_EQ(SendAndFlush(*req, "PUB service _INBOX.r1 4\r\nping\r\n"), "");
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(PubSubTest);

}  // namespace
}  // namespace gannet::test
