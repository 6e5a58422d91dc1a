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

std::mutex g_mu;
std::vector<std::unique_ptr<test::TempDir>> g_dirs;

std::unique_ptr<Store> OpenFileStore(const std::string& dir, const StoreLimits& limits) {
  StoreOptions o = test::FileOptions(dir);
  o.limits = limits;
  auto s = CreateFileStore(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::unique_ptr<Store> NewFileStore(const StoreLimits& limits) {
  std::lock_guard lk(g_mu);
  g_dirs.push_back(std::make_unique<test::TempDir>());
  return OpenFileStore(g_dirs.back()->path(), limits);
}

// The directory of the store made last.
std::unique_ptr<Store> ReopenFileStore(const StoreLimits& limits) {
  std::lock_guard lk(g_mu);
  if (g_dirs.empty()) return nullptr;
  return OpenFileStore(g_dirs.back()->path(), limits);
}

INSTANTIATE_TEST_SUITE_P(File, StoreConformance,
                         ::testing::Values(StoreMaker{"FILE", NewFileStore, 40, ReopenFileStore}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace gannet::streaming::store
