// Unit tests of quiescent-state-based reclamation (core/reclaimer.h).
#include "core/reclaimer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace gannet {
namespace {

void Noop() {}

TEST(ReclaimerTest, IdleParticipantsDoNotHoldReclamationBack) {
  // Participants start idle.
  Reclaimer r(3);
  int freed = 0;
  r.Retire([&] { ++freed; });
  EXPECT_EQ(freed, 0);  // Retire itself never frees
  r.Collect();
  EXPECT_EQ(freed, 1);
}

TEST(ReclaimerTest, FreedOnlyAfterEveryParticipantPassedAQuiescentPoint) {
  Reclaimer r(2);
  r.Quiescent(0, Noop);
  r.Quiescent(1, Noop);
  int freed = 0;
  r.Retire([&] { ++freed; });
  r.Collect();
  EXPECT_EQ(freed, 0);  // both may still hold the object
  r.Quiescent(0, Noop);
  EXPECT_EQ(freed, 0);  // participant 1 may still hold it
  r.Collect();
  EXPECT_EQ(freed, 0);
  r.Quiescent(0, Noop);
  EXPECT_EQ(freed, 0);
  r.Quiescent(1, Noop);  // collects: both have passed a quiescent point since the retire
  EXPECT_EQ(freed, 1);
  r.Quiescent(0, Noop);
  r.Quiescent(1, Noop);
  r.Collect();
  EXPECT_EQ(freed, 1);  // exactly once
}

TEST(ReclaimerTest, GoingIdleReleasesTheParticipant) {
  Reclaimer r(2);
  r.Quiescent(0, Noop);
  r.Quiescent(1, Noop);
  int freed = 0;
  r.Retire([&] { ++freed; });
  r.Quiescent(0, Noop);
  EXPECT_EQ(freed, 0);
  r.GoingIdle(1);
  r.Collect();
  EXPECT_EQ(freed, 1);
}

TEST(ReclaimerTest, RetiredAfterAQuiescentPointWaitsForTheNextOne) {
  Reclaimer r(1);
  r.Quiescent(0, Noop);
  int a = 0, b = 0;
  r.Retire([&] { ++a; });
  r.Quiescent(0, Noop);
  EXPECT_EQ(a, 1);
  r.Retire([&] { ++b; });  // retired after that quiescent point: the participant may hold it
  r.Collect();
  EXPECT_EQ(b, 0);
  r.Quiescent(0, Noop);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(a, 1);
}

TEST(ReclaimerTest, OnlyTheSafeOnesAreFreed) {
  Reclaimer r(2);
  r.Quiescent(0, Noop);
  r.Quiescent(1, Noop);
  std::vector<int> freed;
  r.Retire([&] { freed.push_back(1); });
  r.Quiescent(0, Noop);
  r.Quiescent(1, Noop);  // frees 1
  r.Retire([&] { freed.push_back(2); });
  r.Quiescent(1, Noop);
  r.Retire([&] { freed.push_back(3); });
  r.Quiescent(0, Noop);  // frees 2 (both passed since); 3 was retired after 1's last point
  EXPECT_EQ(freed, (std::vector<int>{1, 2}));
  r.Quiescent(1, Noop);
  EXPECT_EQ(freed, (std::vector<int>{1, 2, 3}));
}

TEST(ReclaimerTest, QuiescentRunsTheCallbackBeforeCollecting) {
  Reclaimer r(1);
  r.Quiescent(0, Noop);
  std::vector<std::string> order;
  r.Retire([&] { order.push_back("deleter"); });
  r.Quiescent(0, [&] { order.push_back("before_announce"); });
  EXPECT_EQ(order, (std::vector<std::string>{"before_announce", "deleter"}));
  int calls = 0;
  r.Quiescent(0, [&] { ++calls; });  // also with nothing pending
  EXPECT_EQ(calls, 1);
}

TEST(ReclaimerTest, CollectAllRunsEverything) {
  Reclaimer r(2);
  r.Quiescent(0, Noop);
  r.Quiescent(1, Noop);
  int freed = 0;
  for (int i = 0; i < 10; ++i) r.Retire([&] { ++freed; });
  r.Collect();
  EXPECT_EQ(freed, 0);
  r.CollectAll();
  EXPECT_EQ(freed, 10);
  r.CollectAll();
  r.Collect();
  EXPECT_EQ(freed, 10);  // each once
}

TEST(ReclaimerTest, DeletersRunOutsideTheLockAndMayRetire) {
  // A deleter that retires something else (freeing a connection retires its subscriptions).
  Reclaimer r(1);
  int inner = 0;
  r.Retire([&] { r.Retire([&] { ++inner; }); });
  r.Collect();  // runs the outer one, which queues the inner one
  EXPECT_EQ(inner, 0);
  r.Collect();
  EXPECT_EQ(inner, 1);
}

struct Obj {
  static constexpr uint64_t kAlive = 0xA11CE;
  static constexpr uint64_t kDead = 0xDEAD;
  std::atomic<uint64_t> state{kAlive};
};

// Readers load a shared pointer and check the object is alive until their next quiescent
// point, while a writer keeps replacing and retiring it. The deleter marks the object dead
// (it is freed only at the end), so a premature deleter shows up as a reader seeing "dead".
TEST(ReclaimerTest, ConcurrentReadersNeverSeeARetiredObjectFreed) {
  constexpr int kReaders = 2;
  constexpr int kSwaps = 20000;
  Reclaimer r(kReaders);
  std::vector<std::unique_ptr<Obj>> all;  // owns everything, freed at the end
  all.reserve(kSwaps + 1);
  all.push_back(std::make_unique<Obj>());
  std::atomic<Obj*> shared{all.back().get()};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> violations{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<int> started{0};

  std::vector<std::thread> readers;
  for (int id = 0; id < kReaders; ++id) {
    readers.emplace_back([&, id] {
      started.fetch_add(1);
      while (!stop.load(std::memory_order_acquire)) {
        r.Quiescent(static_cast<size_t>(id), Noop);
        Obj* o = shared.load(std::memory_order_acquire);
        for (int k = 0; k < 8; ++k) {
          if (o->state.load(std::memory_order_acquire) != Obj::kAlive) violations++;
        }
        reads.fetch_add(1, std::memory_order_relaxed);
      }
      r.GoingIdle(static_cast<size_t>(id));
    });
  }
  // Start swapping once every reader runs, so the two really overlap.
  while (started.load() < kReaders) std::this_thread::yield();
  std::atomic<int> freed{0};
  for (int i = 0; i < kSwaps; ++i) {
    all.push_back(std::make_unique<Obj>());
    Obj* old = shared.exchange(all.back().get(), std::memory_order_acq_rel);
    r.Retire([old, &freed] {
      old->state.store(Obj::kDead, std::memory_order_release);
      freed.fetch_add(1, std::memory_order_relaxed);
    });
    if (i % 64 == 0) r.Collect();
  }
  stop.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  r.Collect();  // all participants idle now: everything goes
  EXPECT_EQ(freed.load(), kSwaps);
  r.CollectAll();
  EXPECT_EQ(freed.load(), kSwaps);
}

}  // namespace
}  // namespace gannet
