// Bad input from some connections must not disturb the others: the server rejects or closes
// the offenders and keeps delivering, in order, to well-behaved clients.
#include <cstdint>
#include <string>
#include <vector>

#include "integration_util.h"

namespace gannet::test {
namespace {

class RobustnessTest : public ProtocolTest {};

// Deterministic pseudo-random bytes (the same garbage for both servers).
std::string Garbage(uint64_t seed, size_t n) {
  static const char* kPrefixes[] = {"",
                                    "PUB x 5\r\n",
                                    "SUB ",
                                    "CONNECT {",
                                    "HPUB a 3 2\r\n",
                                    "MSG a 1 2\r\n",
                                    "UNSUB ",
                                    "PUB y 99999999\r\n",
                                    "INFO {}\r\n",
                                    "-ERR 'x'\r\n",
                                    "pub z 1\r\nab\r\n"};
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  auto next = [&] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  std::string out = kPrefixes[next() % (sizeof kPrefixes / sizeof kPrefixes[0])];
  while (out.size() < n) {
    uint64_t r = next();
    // Mostly protocol-looking bytes, so the parser goes deep before it gives up.
    static const char kAlphabet[] = "PUBSCONETHMGIFO +-.*>\r\n0123456789abc\t{}\"";
    out += (r % 4 == 0) ? static_cast<char>(r >> 8) : kAlphabet[(r >> 8) % (sizeof kAlphabet - 1)];
  }
  return out;
}

TEST_P(RobustnessTest, GarbageFromOtherConnectionsDoesNotDisturbAGoodClient) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB good.> 1\r\n"), "");

  const int kBad = 40;
  std::vector<std::unique_ptr<RawConn>> bad;
  std::string expected;
  for (int i = 0; i < kBad; ++i) {
    bad.push_back(Dial());
    // The server may close the connection part way: a failed send is part of the test.
    bad.back()->Send(Garbage(static_cast<uint64_t>(i), 16 * 1024));
    std::string payload = "m" + std::to_string(i);
    std::string subject = "good." + std::to_string(i);
    pub->Send(PubBytes(subject, "", payload));
    expected += MsgBytes(subject, "1", "", payload);
  }
  ASSERT_EQ(pub->Flush(), "");
  EXPECT_EQ(sub->Flush(), expected);

  // The server still accepts and serves new clients.
  auto late = Client();
  EXPECT_EQ(SendAndFlush(*late, "SUB late 9\r\nPUB late 2\r\nok\r\n"),
            MsgBytes("late", "9", "", "ok"));
  EXPECT_TRUE(server().Running());
}

TEST_P(RobustnessTest, ManyClientsVanishingMidCommandDoNotDisturbOthers) {
  Start();
  auto sub = Client();
  auto pub = Client();
  ASSERT_EQ(SendAndFlush(*sub, "SUB q 1\r\n"), "");
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    auto gone = Client();
    // Cut inside a control line, inside a payload, or inside a CONNECT.
    const char* partial[] = {"PUB q 10\r\nhalf", "SUB q", "CONNECT {\"verbose\":", "HPUB q 12"};
    gone->Send(partial[i % 4]);
    gone->Close();
    std::string payload = std::to_string(i);
    pub->Send(PubBytes("q", "", payload));
    expected += MsgBytes("q", "1", "", payload);
  }
  ASSERT_EQ(pub->Flush(), "");
  EXPECT_EQ(sub->Flush(), expected);
  EXPECT_TRUE(server().Running());
}

}  // namespace

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(RobustnessTest);

}  // namespace gannet::test
