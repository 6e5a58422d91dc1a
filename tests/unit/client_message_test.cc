// Message: owned bytes shared by copies, and the arena the I/O thread packs messages in (its
// blocks outlive the arena while messages in them live; ASan checks nothing leaks or dangles).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "client/message_arena.h"
#include "gannet/client/message.h"

namespace gannet::client {
namespace {

TEST(ClientMessage, OwnsItsPartsAndCopiesShareThem) {
  std::string subject = "orders.new", payload = "hello";
  Message m(subject, "_INBOX.1", "NATS/1.0\r\nA: b\r\n\r\n", payload);
  subject.assign("xxxxxxxxxx");
  payload.assign("yyyyy");
  EXPECT_EQ(m.subject(), "orders.new");
  EXPECT_EQ(m.reply(), "_INBOX.1");
  EXPECT_EQ(m.data(), "hello");
  EXPECT_EQ(m.headers().Get("A"), "b");
  Message copy = m;
  EXPECT_EQ(copy.data().data(), m.data().data());  // the same bytes, counted twice
  Message moved = std::move(m);
  EXPECT_EQ(moved.subject(), "orders.new");
  EXPECT_TRUE(m.subject().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  copy = moved;
  copy = std::move(moved);
  EXPECT_EQ(copy.data(), "hello");
  EXPECT_TRUE(Message().data().empty());
}

TEST(ClientMessage, ArenaPacksSmallMessagesAndTheyOutliveIt) {
  std::vector<Message> kept;
  {
    detail::MessageArena arena;
    for (int i = 0; i < 5000; ++i) {
      std::string data = "payload-" + std::to_string(i);
      kept.push_back(arena.Make("s." + std::to_string(i % 7), i % 2 ? "r" : "", "", data));
    }
    // Side by side in one block, until it is full.
    EXPECT_EQ(kept[1].subject().data(), kept[0].data().data() + kept[0].data().size());
    // Larger than a quarter block: a block of its own.
    std::string big(20000, 'b');
    Message large = arena.Make("big", "", "", big);
    EXPECT_EQ(large.data(), big);
    kept.push_back(large);
  }
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(kept[i].subject(), "s." + std::to_string(i % 7));
    ASSERT_EQ(kept[i].reply(), i % 2 ? "r" : "");
    ASSERT_EQ(kept[i].data(), "payload-" + std::to_string(i));
  }
  EXPECT_EQ(kept.back().data().size(), 20000u);
}

TEST(ClientMessage, MessagesDieOnAnotherThreadWhileTheArenaFillsBlocks) {
  detail::MessageArena arena;
  std::thread consumer;  // drops the previous batch while this one is made
  for (int round = 0; round < 200; ++round) {
    std::vector<Message> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(arena.Make("a.b", "", "", std::string(300, 'x')));
    if (consumer.joinable()) consumer.join();
    consumer = std::thread([moved = std::move(batch)]() mutable { moved.clear(); });
  }
  consumer.join();
  Message last = arena.Make("last", "", "NATS/1.0 503\r\n\r\n", "");
  EXPECT_TRUE(last.IsNoResponders());
}

}  // namespace
}  // namespace gannet::client
