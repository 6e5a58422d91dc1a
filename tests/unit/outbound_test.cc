// Unit tests for OutboundQueue: chunking, pending accounting, gathered writes, partial writes,
// prepending the rest of a direct write, and buffer reuse.
#include "server/conn/outbound.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace gannet {
namespace {

class OutboundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
  }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // Everything readable on the peer side right now.
  std::string ReadAll() {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fds_[1], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Writes until the queue is empty, reading the peer side as needed.
  std::string DrainThrough(OutboundQueue& q) {
    std::string got;
    while (!q.empty()) {
      ssize_t n = q.WriteTo(fds_[0]);
      if (n < 0) {
        EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
      }
      got += ReadAll();
    }
    return got + ReadAll();
  }
  int fds_[2];
};

TEST_F(OutboundTest, AppendsAreWrittenInOrder) {
  OutboundQueue q;
  q.Append("PING\r\n");
  q.Tail().append("PONG\r\n");
  EXPECT_EQ(q.pending(), 12u);
  EXPECT_EQ(q.WriteTo(fds_[0]), 12);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(ReadAll(), "PING\r\nPONG\r\n");
}

TEST_F(OutboundTest, LargeChunksAreQueuedWholeAndCountedExactly) {
  OutboundQueue q;
  std::string expected = "head";
  q.Append("head");
  std::string big(200000, 'x');
  expected += big;
  q.AppendChunk(std::string(big));
  q.Append("tail");
  expected += "tail";
  EXPECT_EQ(q.pending(), expected.size());
  EXPECT_EQ(DrainThrough(q), expected);
  EXPECT_EQ(q.pending(), 0u);
}

TEST_F(OutboundTest, SmallChunksAreCopiedIntoTheTail) {
  OutboundQueue q;
  q.Append("a");
  q.AppendChunk(std::string("bc"));
  EXPECT_EQ(q.chunk_count(), 1u);
  EXPECT_EQ(q.pending(), 3u);
  EXPECT_EQ(DrainThrough(q), "abc");
}

TEST_F(OutboundTest, PartialWritesResumeWhereTheyStopped) {
  int small = 4096;
  ::setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  OutboundQueue q;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    std::string line = "MSG foo 1 " + std::to_string(i) + "\r\n";
    q.Append(line);
    expected += line;
  }
  std::string big(300000, 'y');
  q.AppendChunk(std::string(big));
  expected += big;
  // The first write cannot take it all: the queue must keep the rest, exactly.
  ssize_t n = q.WriteTo(fds_[0]);
  ASSERT_GT(n, 0);
  EXPECT_EQ(q.pending(), expected.size() - static_cast<size_t>(n));
  EXPECT_EQ(ReadAll() + DrainThrough(q), expected);
}

TEST_F(OutboundTest, PrependedChunkGoesFirst) {
  OutboundQueue q;
  q.Append("local\r\n");
  q.PrependChunk(std::string(10000, 'r'));  // the rest of a direct write
  EXPECT_EQ(q.pending(), 10007u);
  EXPECT_EQ(DrainThrough(q), std::string(10000, 'r') + "local\r\n");
}

TEST_F(OutboundTest, PrependOnEmptyQueue) {
  OutboundQueue q;
  q.PrependChunk(std::string("rest"));
  q.Append("+OK\r\n");
  EXPECT_EQ(DrainThrough(q), "rest+OK\r\n");
}

TEST_F(OutboundTest, WrittenBuffersAreKeptForReuse) {
  OutboundQueue q;
  q.AppendChunk(std::string(100000, 'z'));
  EXPECT_FALSE(q.has_spares());
  DrainThrough(q);
  EXPECT_TRUE(q.has_spares());
  std::string spare;
  ASSERT_TRUE(q.TakeSpare(spare));
  EXPECT_TRUE(spare.empty());
  EXPECT_GE(spare.capacity(), 100000u);
  q.ReleaseSpares();
  EXPECT_FALSE(q.has_spares());
}

}  // namespace
}  // namespace gannet
