// The store conformance suite (store_conformance.h), run on the MEMORY store, and what is the
// MEMORY store's own: no recovery, no lock, contiguous sequences; the store factory.
#include <gtest/gtest.h>

#include "store_conformance.h"

#include "streaming/store/factory.h"
#include "streaming/store/memory_store.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store {
namespace {

std::unique_ptr<Store> NewMemoryStore(const StoreLimits& limits = {}) {
  auto s = MemoryStore::Create(limits);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s).value();
}

std::string Record(uint64_t seq, std::string_view data, int64_t ts) {
  std::string r;
  AppendMsgRecord(r, seq, "foo", "", data, ts);
  return r;
}

TEST(MemoryStore, NameRecoverAndLock) {
  auto s = NewMemoryStore();
  EXPECT_EQ(s->Name(), "MEMORY");
  auto rec = s->Recover();
  ASSERT_TRUE(rec.ok());
  EXPECT_FALSE(rec->has_value());
  EXPECT_EQ(s->GetExclusiveLock().status().code(), Code::kNotSupported);
}

TEST(MemoryStore, SequenceGapRefused) {
  auto s = NewMemoryStore();
  MsgStore& m = *(*s->CreateChannel("foo"))->msgs;
  ASSERT_TRUE(m.Store(1, 1, Record(1, "x", 1)).ok());
  EXPECT_EQ(m.Store(3, 3, Record(3, "x", 3)).code(), Code::kInvalid);
}

TEST(StoreFactory, Types) {
  StoreOptions o;
  auto mem = CreateStore(o);
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ((*mem)->Name(), "MEMORY");
  // SQL: the driver and source are checked before any connection is tried.
  o.type = "SQL";
  EXPECT_EQ(CreateStore(o).status().message(), "SQL driver not specified");
  o.sql.driver = "oracle";
  EXPECT_EQ(CreateStore(o).status().message(), "unsupported SQL driver \"oracle\"");
  o.sql.driver = "postgres";
  EXPECT_EQ(CreateStore(o).status().message(), "SQL source not specified");
  o.sql.source = "host=127.0.0.1 port=1 dbname=none connect_timeout=2";
  auto refused = CreateStore(o);
  EXPECT_EQ(refused.status().code(), Code::kIo);
  EXPECT_NE(refused.status().message().find("postgres: "), std::string::npos);
  o.type = "BOGUS";
  EXPECT_EQ(CreateStore(o).status().message(), "unsupported store type: BOGUS");
  o.type = "MEMORY";
  o.limits.global.max_msgs = -1;
  EXPECT_EQ(CreateStore(o).status().message(), "max messages limit cannot be negative (-1)");
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance,
                         ::testing::Values(StoreMaker{
                             "MEMORY", [](const StoreLimits& l) { return NewMemoryStore(l); }, 0,
                             nullptr}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace gannet::streaming::store
