// Queue group member choice: every member gets its share, as with the reference's random pick.
#include "core/fast_random.h"

#include <gtest/gtest.h>

#include <vector>

namespace gannet {
namespace {

TEST(FastRandomTest, SingleMemberIsAlwaysChosen) {
  FastRandom r(42);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(r.Below(1), 0u);
}

TEST(FastRandomTest, QueueMembersShareEvenly) {
  for (size_t members : {2u, 3u, 4u, 7u}) {
    FastRandom r(members * 7919);
    std::vector<int> hits(members, 0);
    const int kPicks = 120000;
    for (int i = 0; i < kPicks; ++i) {
      size_t k = r.Below(members);
      ASSERT_LT(k, members);
      ++hits[k];
    }
    // Each member within 3% of its fair share (the standard deviation is well under 1%).
    double fair = static_cast<double>(kPicks) / static_cast<double>(members);
    for (size_t k = 0; k < members; ++k) {
      EXPECT_NEAR(hits[k], fair, fair * 0.03) << "member " << k << " of " << members;
    }
  }
}

TEST(FastRandomTest, ConsecutivePicksAreNotCorrelated) {
  // A member should not be followed by itself (or any fixed other) much more than by chance.
  FastRandom r(7);
  const size_t kMembers = 4;
  std::vector<std::vector<int>> next(kMembers, std::vector<int>(kMembers, 0));
  size_t prev = r.Below(kMembers);
  for (int i = 0; i < 160000; ++i) {
    size_t cur = r.Below(kMembers);
    ++next[prev][cur];
    prev = cur;
  }
  for (size_t a = 0; a < kMembers; ++a) {
    for (size_t b = 0; b < kMembers; ++b) EXPECT_NEAR(next[a][b], 10000, 600) << a << "->" << b;
  }
}

}  // namespace
}  // namespace gannet
