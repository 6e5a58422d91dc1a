// The publish path's building blocks, alone: the word-at-a-time subject check against the plain
// byte loop, and the connection's futex mutex under contention.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/fast_mutex.h"
#include "client/subject_check.h"

namespace gannet::client::detail {
namespace {

bool ByteLoopCheck(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return false;
  }
  return true;
}

TEST(PublishPath, SubjectCheckMatchesTheByteLoop) {
  // Every length up to 40, a separator (or a harmless low byte, or a high one) at each place.
  const std::string specials =
      std::string(" \t\r\n\x01\x1f\x21\x7f\x80\xff", 10) + std::string(1, '\0');
  for (size_t len = 0; len <= 40; ++len) {
    std::string base(len, 'a');
    for (size_t i = 0; i < len; ++i) base[i] = static_cast<char>('a' + i % 26);
    ASSERT_EQ(IsValidPublishSubject(base), ByteLoopCheck(base)) << len;
    for (size_t pos = 0; pos < len; ++pos) {
      for (char c : specials) {
        std::string s = base;
        s[pos] = c;
        ASSERT_EQ(IsValidPublishSubject(s), ByteLoopCheck(s)) << len << " " << pos << " " << int(c);
      }
    }
  }
  // A view into a larger buffer: bytes beyond the view are not looked at.
  std::string buf = "abcdefghij klm";
  EXPECT_TRUE(IsValidPublishSubject(std::string_view(buf).substr(0, 10)));
  EXPECT_FALSE(IsValidPublishSubject(std::string_view(buf).substr(0, 11)));
}

TEST(PublishPath, FastMutexExcludesUnderContention) {
  FastMutex mu;
  constexpr int kThreads = 4;
  constexpr int kRounds = 200000;
  int64_t counter = 0;  // not atomic: the mutex is what protects it
  int inside = 0;
  bool overlap = false;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard lk(mu);
        if (++inside != 1) overlap = true;
        ++counter;
        // Now and then hold it long enough for the others to give up spinning and sleep.
        if (i % 20000 == 0) std::this_thread::yield();
        --inside;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(overlap);
  EXPECT_EQ(counter, int64_t{kThreads} * kRounds);
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
}

}  // namespace
}  // namespace gannet::client::detail
