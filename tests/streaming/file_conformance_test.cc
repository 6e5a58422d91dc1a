// The store conformance suite (store_conformance.h) run against the FILE store: each store in a
// directory of its own (removed when the test program ends), file_sync on, as configured by
// default but for the auto-sync thread; State().bytes counting 40 more per message, as the
// reference's file store.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <vector>

#include "file_test_util.h"
#include "store_conformance.h"

namespace gannet::streaming::store {
namespace {

std::unique_ptr<Store> NewFileStore(const StoreLimits& limits) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<test::TempDir>> dirs;
  std::lock_guard lk(mu);
  dirs.push_back(std::make_unique<test::TempDir>());
  StoreOptions o = test::FileOptions(dirs.back()->path());
  o.limits = limits;
  auto s = CreateFileStore(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

INSTANTIATE_TEST_SUITE_P(File, StoreConformance,
                         ::testing::Values(StoreMaker{"FILE", NewFileStore, 40}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace gannet::streaming::store
