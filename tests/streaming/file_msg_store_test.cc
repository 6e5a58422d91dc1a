// The FILE store's messages: store and look up (from memory and from the slices, with and
// without read-ahead), what a flush puts on disk before any Close, buffered and unbuffered
// writes, slices by count, size and age (and from the channel limits when no slice option is
// set), deletion and archiving of fully removed slices, max_msgs / max_bytes / max_age, lookups
// by time, Empty.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "file_test_util.h"
#include "streaming/store/file_msg_store.h"

namespace gannet::streaming::store {
namespace {

using namespace test;
using namespace std::chrono_literals;

TEST(FileMsgStore, StoreLookupAndRecover) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  {
    Opened s = Open(o);
    ASSERT_TRUE(s.channel);
    EXPECT_EQ(s.msgs().FirstSequence(), 0u);
    EXPECT_EQ(s.msgs().LastSequence(), 0u);
    StoreRange(s.msgs(), 1, 100);
    for (uint64_t i = 1; i <= 100; ++i) ExpectMsg(s.msgs(), i);
    EXPECT_FALSE(s.msgs().Lookup(101)->found());
    EXPECT_FALSE(s.msgs().Lookup(0)->found());
    // A replayed sequence is accepted and ignored; a gap is refused.
    EXPECT_TRUE(s.msgs().Store(100, kT0, "x").ok());
    EXPECT_EQ(s.msgs().Store(102, kT0, "x").code(), Code::kInvalid);
    ASSERT_TRUE(s.store->Close().ok());
  }
  Opened s = Open(o);
  ASSERT_TRUE(s.channel);
  EXPECT_EQ(s.msgs().FirstSequence(), 1u);
  EXPECT_EQ(s.msgs().LastSequence(), 100u);
  EXPECT_EQ(s.msgs().State().msgs, 100u);
  uint64_t bytes = 0;
  for (uint64_t i = 1; i <= 100; ++i) bytes += Msg(i, Data(i), kT0 + i * 1000).size() + 40;
  EXPECT_EQ(s.msgs().State().bytes, bytes);
  for (uint64_t i = 1; i <= 100; ++i) ExpectMsg(s.msgs(), i);     // from disk, sequentially
  for (uint64_t i : {77, 3, 100, 1, 50}) ExpectMsg(s.msgs(), i);  // and at random
  // Read from disk, the record is owned by the MsgRef.
  auto r = s.msgs().Lookup(42);
  ASSERT_TRUE(r.ok() && r->found());
  EXPECT_NE(r->keep, nullptr);
  StoreRange(s.msgs(), 101, 110);
  ExpectMsg(s.msgs(), 105);
}

TEST(FileMsgStore, FlushedMessagesAreOnDiskWithoutClose) {
  TempDir dir;
  TempDir copy;
  StoreOptions o = FileOptions(dir.path());
  Opened s = Open(o);
  StoreRange(s.msgs(), 1, 20);
  // Before the flush nothing was written (a 2 MB buffer)...
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.dat").size(), 4u);
  ChannelStore* c = s.channel;
  ASSERT_TRUE(s.store->FlushBatch(std::span<ChannelStore* const>(&c, 1)).ok());
  // ... after it, every message: a copy of the directory taken now (the store still open, as
  // if the process died here) recovers them all.
  std::filesystem::copy(
      dir.path(), copy.path(),
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  Opened r = Open(FileOptions(copy.path()));
  ASSERT_TRUE(r.channel);
  EXPECT_EQ(r.msgs().LastSequence(), 20u);
  for (uint64_t i = 1; i <= 20; ++i) ExpectMsg(r.msgs(), i);
}

TEST(FileMsgStore, FlushBatchCoversEveryChannel) {
  for (bool sync : {true, false}) {
    TempDir dir;
    TempDir copy;
    StoreOptions o = FileOptions(dir.path());
    o.file.do_sync = sync;
    o.file.slice_max_msgs = 7;  // the batch also closes slices: their syncs are part of it
    auto s = OpenStore(o);
    ASSERT_TRUE(s->Init(ClusterInfo()).ok());
    std::vector<ChannelStore*> batch;
    for (const char* name : {"a", "b", "c"}) {
      auto c = s->CreateChannel(name);
      ASSERT_TRUE(c.ok());
      StoreRange(*(*c)->msgs, 1, 20);
      batch.push_back(*c);
    }
    ASSERT_TRUE(s->FlushBatch(batch).ok());
    std::filesystem::copy(dir.path(), copy.path(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    auto r = OpenStore(FileOptions(copy.path()));
    auto rec = r->Recover();
    ASSERT_TRUE(rec.ok() && rec->has_value());
    for (const char* name : {"a", "b", "c"}) {
      MsgStore& m = *(*rec)->channels.at(name).channel->msgs;
      EXPECT_EQ(m.LastSequence(), 20u) << name << " sync=" << sync;
      ExpectMsg(m, 20);
    }
  }
}

TEST(FileMsgStore, UnbufferedWritesGoStraightToTheFile) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.buffer_size = 0;
  Opened s = Open(o);
  StoreRange(s.msgs(), 1, 3);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.dat").size(),
            4 + 3 * 8 + Msg(1, Data(1), kT0 + 1000).size() * 3);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.idx").size(), 4u + 3 * 32);
}

TEST(FileMsgStore, BufferOverflowWritesEarly) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.buffer_size = 1000;
  Opened s = Open(o);
  StoreRange(s.msgs(), 1, 100, 100);
  // At most one buffer's worth is left unwritten.
  const size_t on_disk = ReadFile(dir / "foo/msgs.1.dat").size();
  EXPECT_GT(on_disk, 100u * 100 - 1000);
  ASSERT_TRUE(s.msgs().Flush().ok());
  Opened r = Open(FileOptions(dir.path()));  // a second store reads the same files
  EXPECT_EQ(r.msgs().LastSequence(), 100u);
}

TEST(FileMsgStore, ReadsBeyondTheMemoryCache) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.buffer_size = 64 * 1024;
  o.file.read_buffer_size = 16 * 1024;
  Opened s = Open(o);
  // 4 MB of 1 KB messages: the early ones leave the 1 MB cache.
  StoreRange(s.msgs(), 1, 4000, 1024);
  ASSERT_TRUE(s.msgs().Flush().ok());
  StoreRange(s.msgs(), 4001, 4001, 1024);  // evicts what was written
  for (uint64_t i = 1; i <= 4001; ++i) ExpectMsg(s.msgs(), i, 1024);
  // Refs read from disk outlive the next read-ahead.
  auto a = s.msgs().Lookup(10);
  auto b = s.msgs().Lookup(3000);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->record, Msg(10, Data(10, 1024), kT0 + 10 * 1000));
  EXPECT_EQ(b->record, Msg(3000, Data(3000, 1024), kT0 + 3000 * 1000));
}

TEST(FileMsgStore, SlicesByCount) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.slice_max_msgs = 10;
  {
    Opened s = Open(o);
    StoreRange(s.msgs(), 1, 35);
    EXPECT_EQ(s.file_msgs().SliceCount(), 4u);
    for (uint64_t i = 1; i <= 35; ++i) ExpectMsg(s.msgs(), i);
  }
  for (int n = 1; n <= 4; ++n) {
    EXPECT_TRUE(Exists(dir / ("foo/msgs." + std::to_string(n) + ".dat")));
    EXPECT_TRUE(Exists(dir / ("foo/msgs." + std::to_string(n) + ".idx")));
  }
  EXPECT_EQ(ReadFile(dir / "foo/msgs.2.idx").size(), 4u + 10 * 32);
  Opened s = Open(o);
  EXPECT_EQ(s.file_msgs().SliceCount(), 4u);
  EXPECT_EQ(s.msgs().FirstSequence(), 1u);
  EXPECT_EQ(s.msgs().LastSequence(), 35u);
  for (uint64_t i = 35; i >= 1; --i) ExpectMsg(s.msgs(), i);
  // The last slice takes the next messages until it is full.
  StoreRange(s.msgs(), 36, 41);
  EXPECT_EQ(s.file_msgs().SliceCount(), 5u);
  ASSERT_TRUE(s.msgs().Flush().ok());
  EXPECT_EQ(ReadFile(dir / "foo/msgs.5.dat").size(), 4 + 8 + Msg(41, Data(41), kT0 + 41000).size());
}

// A cut across slices: the later slices' files go, the slice the cut runs through ends at it
// (data and index), the next messages continue that slice, and recovery agrees.
TEST(FileMsgStore, TruncateAfterAcrossSlices) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.slice_max_msgs = 10;
  {
    Opened s = Open(o);
    StoreRange(s.msgs(), 1, 35);
    ASSERT_TRUE(s.msgs().Flush().ok());
    ASSERT_EQ(s.file_msgs().SliceCount(), 4u);
    ExpectMsg(s.msgs(), 3);  // slice 1 open for reads
    Status st = s.msgs().TruncateAfter(14);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(s.file_msgs().SliceCount(), 2u);
    EXPECT_EQ(s.msgs().LastSequence(), 14u);
    EXPECT_EQ(s.msgs().State().msgs, 14u);
    EXPECT_FALSE(Exists(dir / "foo/msgs.3.dat"));
    EXPECT_FALSE(Exists(dir / "foo/msgs.4.idx"));
    EXPECT_EQ(ReadFile(dir / "foo/msgs.2.idx").size(), 4u + 4 * 32);
    uint64_t dat = 4;
    for (uint64_t i = 11; i <= 14; ++i) dat += 8 + Msg(i, Data(i), kT0 + i * 1000).size();
    EXPECT_EQ(ReadFile(dir / "foo/msgs.2.dat").size(), dat);
    for (uint64_t i = 1; i <= 14; ++i) ExpectMsg(s.msgs(), i);
    EXPECT_FALSE(s.msgs().Lookup(15)->found());
    // Slice 2 takes messages 15-20, then slice 3 starts again.
    StoreRange(s.msgs(), 15, 22, 40);
    ASSERT_TRUE(s.msgs().Flush().ok());
    EXPECT_EQ(s.file_msgs().SliceCount(), 3u);
    ExpectMsg(s.msgs(), 16, 40);
    // A cut at a slice's boundary removes the later slice whole.
    ASSERT_TRUE(s.msgs().TruncateAfter(20).ok());
    EXPECT_EQ(s.file_msgs().SliceCount(), 2u);
    EXPECT_FALSE(Exists(dir / "foo/msgs.3.dat"));
    StoreRange(s.msgs(), 21, 21, 40);
    ASSERT_TRUE(s.store->Close().ok());
  }
  Opened s = Open(o);
  EXPECT_EQ(s.file_msgs().SliceCount(), 3u);
  EXPECT_EQ(s.msgs().FirstSequence(), 1u);
  EXPECT_EQ(s.msgs().LastSequence(), 21u);
  EXPECT_EQ(s.msgs().State().msgs, 21u);
  for (uint64_t i = 1; i <= 14; ++i) ExpectMsg(s.msgs(), i);
  for (uint64_t i = 15; i <= 21; ++i) ExpectMsg(s.msgs(), i, 40);
  // A cut whose data file was cut but not its index (a crash in between): the index is rebuilt
  // from the data at recovery.
  ASSERT_TRUE(s.msgs().TruncateAfter(12).ok());
  ASSERT_TRUE(s.store->Close().ok());
  AppendFile(dir / "foo/msgs.2.idx", Idx(13, 1000, kT0, 5));
  Opened r = Open(o);
  EXPECT_EQ(r.msgs().LastSequence(), 12u);
  for (uint64_t i = 1; i <= 12; ++i) ExpectMsg(r.msgs(), i);
  StoreRange(r.msgs(), 13, 13);
  ExpectMsg(r.msgs(), 13);
}

TEST(FileMsgStore, SlicesBySizeAndAge) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  const size_t per_msg = Msg(1, Data(1, 100), kT0 + 1000).size() + 40;
  o.file.slice_max_bytes = static_cast<int64_t>(per_msg * 5);
  Opened s = Open(o);
  StoreRange(s.msgs(), 1, 12, 100);
  EXPECT_EQ(s.file_msgs().SliceCount(), 3u);  // 5 + 5 + 2

  TempDir dir2;
  StoreOptions a = FileOptions(dir2.path());
  a.file.slice_max_bytes = 0;
  a.file.slice_max_age = 10s;
  Opened t = Open(a);
  // Timestamps 3 s apart: a slice covers 10 s from its first message.
  StoreRange(t.msgs(), 1, 10, 16, 3'000'000'000);
  EXPECT_EQ(t.file_msgs().SliceCount(), 3u);  // 1-4, 5-8, 9-10
}

TEST(FileMsgStore, SliceLimitsFromChannelLimits) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.slice_max_bytes = 0;  // no slice option: a quarter of the channel limits
  o.limits.global.max_msgs = 40;
  Opened s = Open(o);
  StoreRange(s.msgs(), 1, 100);
  // 10 per slice; the limit keeps 40 messages: slices fully removed are gone.
  EXPECT_EQ(s.msgs().FirstSequence(), 61u);
  EXPECT_EQ(s.msgs().State().msgs, 40u);
  EXPECT_EQ(s.file_msgs().SliceCount(), 4u);
  EXPECT_FALSE(Exists(dir / "foo/msgs.1.dat"));
  EXPECT_FALSE(Exists(dir / "foo/msgs.6.idx"));
  EXPECT_TRUE(Exists(dir / "foo/msgs.7.dat"));
}

TEST(FileMsgStore, MaxMsgsAndMaxBytesDropOldest) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.slice_max_msgs = 10;
  o.limits.global.max_msgs = 25;
  {
    Opened s = Open(o);
    StoreRange(s.msgs(), 1, 50);
    EXPECT_EQ(s.msgs().FirstSequence(), 26u);
    EXPECT_EQ(s.msgs().LastSequence(), 50u);
    EXPECT_EQ(s.msgs().State().msgs, 25u);
    EXPECT_FALSE(s.msgs().Lookup(25)->found());
    ExpectMsg(s.msgs(), 26);
    // Slices 1 and 2 held only removed messages: deleted. Slice 3 still holds 26-30.
    EXPECT_FALSE(Exists(dir / "foo/msgs.1.dat"));
    EXPECT_FALSE(Exists(dir / "foo/msgs.2.idx"));
    EXPECT_TRUE(Exists(dir / "foo/msgs.3.dat"));
    EXPECT_EQ(s.file_msgs().SliceCount(), 3u);
  }
  // The limits apply again at recovery (slice 3 still has 21-25 on disk).
  Opened s = Open(o);
  EXPECT_EQ(s.msgs().FirstSequence(), 26u);
  EXPECT_EQ(s.msgs().State().msgs, 25u);
  ExpectMsg(s.msgs(), 26);

  TempDir dir2;
  StoreOptions b = FileOptions(dir2.path());
  const uint64_t per_msg = Msg(1, Data(1), kT0 + 1000).size() + 40;
  b.limits.global.max_bytes = static_cast<int64_t>(per_msg * 7);
  Opened t = Open(b);
  StoreRange(t.msgs(), 1, 20);
  EXPECT_EQ(t.msgs().State().msgs, 7u);
  EXPECT_EQ(t.msgs().State().bytes, per_msg * 7);
  EXPECT_EQ(t.msgs().FirstSequence(), 14u);
  // A message larger than the limit is kept alone.
  ASSERT_TRUE(t.msgs().Store(21, kT0, Msg(21, std::string(1000, 'z'), kT0)).ok());
  EXPECT_EQ(t.msgs().State().msgs, 1u);
  EXPECT_EQ(t.msgs().FirstSequence(), 21u);
}

TEST(FileMsgStore, MaxAgeAndTimestamps) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.slice_max_msgs = 4;
  o.limits.global.max_age = 10s;
  const int64_t sec = 1'000'000'000;
  Opened s = Open(o);
  StoreRange(s.msgs(), 1, 10, 16, sec);  // timestamps kT0 + 1 s .. kT0 + 10 s
  EXPECT_EQ(*s.msgs().GetSequenceFromTimestamp(0), 1u);
  EXPECT_EQ(*s.msgs().GetSequenceFromTimestamp(kT0 + 5 * sec), 5u);
  EXPECT_EQ(*s.msgs().GetSequenceFromTimestamp(kT0 + 5 * sec + 1), 6u);
  EXPECT_EQ(*s.msgs().GetSequenceFromTimestamp(kT0 + 11 * sec), 11u);
  // At kT0 + 14.5 s, messages 1-4 are 10 s old or more; the next expires at kT0 + 15 s.
  auto next = s.msgs().ExpireMessages(kT0 + 14 * sec + sec / 2);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, kT0 + 15 * sec);
  EXPECT_EQ(s.msgs().FirstSequence(), 5u);
  EXPECT_FALSE(Exists(dir / "foo/msgs.1.dat"));  // slice 1 (1-4) expired whole
  ASSERT_TRUE(s.msgs().Flush().ok());
  {
    // After a restart (the cache empty), expiry and lookups by time read the index files.
    Opened r = Open(o);
    EXPECT_EQ(*r.msgs().GetSequenceFromTimestamp(kT0 + 7 * sec), 7u);
    EXPECT_EQ(*r.msgs().GetSequenceFromTimestamp(kT0), 5u);
    next = r.msgs().ExpireMessages(kT0 + 17 * sec);
    EXPECT_EQ(*next, kT0 + 18 * sec);
    EXPECT_EQ(r.msgs().FirstSequence(), 8u);
    next = r.msgs().ExpireMessages(kT0 + 30 * sec);
    EXPECT_EQ(*next, 0);
    EXPECT_EQ(r.msgs().State().msgs, 0u);
    EXPECT_EQ(r.msgs().FirstSequence(), 11u);
    EXPECT_EQ(r.msgs().LastSequence(), 10u);
    EXPECT_EQ(*r.msgs().GetSequenceFromTimestamp(kT0), 11u);
    // The last slice stays: sequences go on from it.
    StoreRange(r.msgs(), 11, 11, 16, sec);
    EXPECT_EQ(r.msgs().FirstSequence(), 11u);
  }
}

TEST(FileMsgStore, ArchiveScriptGetsRemovedSlices) {
  TempDir dir;
  const std::string script = dir / "archive.sh";
  const std::string log = dir / "archived.txt";
  WriteFile(script,
            "#!/bin/sh\necho \"$1 $2 $3\" >> " + log + "\nrm -f \"$2\" \"$3\"\necho done\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  StoreOptions o = FileOptions(dir / "store");
  o.file.slice_max_msgs = 5;
  o.file.slice_archive_script = script;
  o.limits.global.max_msgs = 5;
  {
    Opened s = Open(o);
    StoreRange(s.msgs(), 1, 11);
    s.store->Close();  // waits for the scripts
  }
  const std::string got = ReadFile(log);
  EXPECT_NE(got.find("foo " + (dir / "store/foo/msgs.1.dat.bak") + " " +
                     (dir / "store/foo/msgs.1.idx.bak")),
            std::string::npos)
      << got;
  EXPECT_FALSE(Exists(dir / "store/foo/msgs.1.dat"));
  EXPECT_FALSE(Exists(dir / "store/foo/msgs.1.dat.bak"));  // the script removed it
}

TEST(FileMsgStore, EmptyRemovesEverything) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.slice_max_msgs = 3;
  Opened s = Open(o);
  StoreRange(s.msgs(), 1, 7);
  ASSERT_TRUE(s.msgs().Empty().ok());
  EXPECT_EQ(s.msgs().State().msgs, 0u);
  EXPECT_EQ(s.msgs().FirstSequence(), 8u);
  EXPECT_EQ(s.msgs().LastSequence(), 7u);
  EXPECT_FALSE(s.msgs().Lookup(7)->found());
  EXPECT_FALSE(Exists(dir / "foo/msgs.1.dat"));
  EXPECT_FALSE(Exists(dir / "foo/msgs.3.idx"));
  StoreRange(s.msgs(), 8, 9);
  ExpectMsg(s.msgs(), 9);
}

TEST(FileMsgStore, FileDescriptorSoftLimit) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.slice_max_msgs = 2;
  o.file.file_descriptors_limit = 1;
  {
    Opened s = Open(o);
    StoreRange(s.msgs(), 1, 40);
  }
  Opened s = Open(o);
  const int64_t before = file::File::OpenCount();
  for (uint64_t i = 1; i <= 40; ++i) ExpectMsg(s.msgs(), i);
  // Read-only slices are closed after use: no more open files than before the reads.
  EXPECT_LE(file::File::OpenCount(), before);
}

}  // namespace
}  // namespace gannet::streaming::store
