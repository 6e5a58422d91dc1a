// The store conformance suite: what every Store implementation must do through the interface of
// streaming/store/store.h (channels, sequences, limits, lookups by time, max_age, subscription
// ids). Instantiated for the MEMORY store in store_conformance_test.cc; a new store adds
//   INSTANTIATE_TEST_SUITE_P(File, StoreConformance, ::testing::Values(StoreMaker{"FILE", ...}));
// in a test file of its own, with a maker that returns a fresh, empty store.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "streaming/store/store.h"

namespace gannet::streaming::store {

struct StoreMaker {
  std::string name;
  // A fresh, empty store with these limits (a FILE store: in a new directory).
  std::function<std::unique_ptr<Store>(const StoreLimits&)> make;
  // What MsgStoreState::bytes (and so max_bytes) counts per message beyond its record: 0, or
  // 40 for the FILE store (the reference's file store counts the record header and index entry).
  uint64_t per_message_bytes = 0;
  // The store `make` made last, opened again (its files, its database) after it was closed;
  // null for a store that keeps nothing (MEMORY).
  std::function<std::unique_ptr<Store>(const StoreLimits&)> reopen;
};

inline void PrintTo(const StoreMaker& m, std::ostream* os) { *os << m.name; }

class StoreConformance : public ::testing::TestWithParam<StoreMaker> {
 protected:
  std::unique_ptr<Store> NewStore(const StoreLimits& limits = {}) {
    auto s = GetParam().make(limits);
    EXPECT_TRUE(s != nullptr);
    return s;
  }
  // The store `make` made last, opened again and recovered (null when it keeps nothing).
  std::unique_ptr<Store> Reopen(const StoreLimits& limits = {}) {
    if (!GetParam().reopen) return nullptr;
    auto s = GetParam().reopen(limits);
    EXPECT_TRUE(s != nullptr);
    if (!s) return s;
    auto rec = s->Recover();
    EXPECT_TRUE(rec.ok()) << rec.status().message();
    return s;
  }
  // The bytes a message with this record counts for.
  uint64_t Counted(size_t record) const { return record + GetParam().per_message_bytes; }
};

}  // namespace gannet::streaming::store
