// The flow control's judgement of a receiver (server/conn/flow_control.h): keeping up, behind
// (producers pause) or stalled (producers go on), from its pending bytes and how long its
// socket has taken nothing.
#include "server/conn/flow_control.h"

#include <gtest/gtest.h>

namespace gannet {
namespace {

using State = FlowControl::State;
using Clock = FlowControl::Clock;
using namespace std::chrono_literals;

constexpr int64_t kMax = int64_t{64} << 20;

int64_t Ns(Clock::time_point t) { return t.time_since_epoch().count(); }

TEST(FlowControlJudge, UnderHalfTheLimitIsKeepingUpWhateverTheSocketDoes) {
  Clock::time_point now = Clock::now();
  EXPECT_EQ(FlowControl::Judge(kMax, 0, 0, now), State::kKeepingUp);
  EXPECT_EQ(FlowControl::Judge(kMax, kMax / 2, 0, now), State::kKeepingUp);
  // Stalled for a long time, but holding little: nothing to do yet.
  EXPECT_EQ(FlowControl::Judge(kMax, kMax / 2, Ns(now - 10s), now), State::kKeepingUp);
}

TEST(FlowControlJudge, OverHalfAndMovingIsBehind) {
  Clock::time_point now = Clock::now();
  EXPECT_EQ(FlowControl::Judge(kMax, kMax / 2 + 1, 0, now), State::kBehind);
  // Stalled, but for less than the grace: a reader that paused a moment is still behind.
  EXPECT_EQ(FlowControl::Judge(kMax, kMax - 1, Ns(now - FlowControl::kStallGrace / 2), now),
            State::kBehind);
}

TEST(FlowControlJudge, OverHalfAndTakingNothingPastTheGraceIsStalled) {
  Clock::time_point now = Clock::now();
  EXPECT_EQ(FlowControl::Judge(kMax, kMax / 2 + 1, Ns(now - FlowControl::kStallGrace - 1ms), now),
            State::kStalled);
  EXPECT_EQ(FlowControl::Judge(kMax, kMax, Ns(now - 5s), now), State::kStalled);
}

TEST(PendingBudget, OverOnlyPastItsLimitAndNeverWithoutOne) {
  PendingBudget budget(1000);
  budget.Add(1000);
  EXPECT_FALSE(budget.over());
  budget.Add(1);
  EXPECT_TRUE(budget.over());
  budget.Add(-501);
  EXPECT_FALSE(budget.over());
  EXPECT_EQ(budget.total(), 500);
  PendingBudget unlimited(0);
  unlimited.Add(int64_t{1} << 40);
  EXPECT_FALSE(unlimited.over());
}

TEST(PendingBudget, DefaultIsAQuarterOfTheMemoryAtLeast64MB) {
  int64_t d = DefaultPendingTotal();
  EXPECT_GE(d, int64_t{64} << 20);
  EXPECT_LT(d, int64_t{1} << 50);
}

}  // namespace
}  // namespace gannet
