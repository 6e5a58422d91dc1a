// The FILE store's options as an operator gives them: every --file_* flag and every
// file_options {} key of the reference reaches FileStoreOptions with the reference's defaults
// otherwise, and the store opened from them uses them (a slice limit, a polynomial, the witness
// of file_truncate_bad_eof).
#include <gtest/gtest.h>

#include "conf/parser.h"
#include "file_test_util.h"
#include "streaming/command_line.h"
#include "streaming/config.h"

namespace gannet::streaming {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> Parse(std::vector<std::string> args, StreamingCommandLine& out) {
  args.insert(args.begin(), "gannet-streaming");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseStreamingCommandLine(static_cast<int>(argv.size()), argv.data(), out);
}

TEST(FileOptions, ReferenceDefaults) {
  store::FileStoreOptions f;
  EXPECT_EQ(f.buffer_size, 2 * 1024 * 1024);
  EXPECT_TRUE(f.compact_enabled);
  EXPECT_EQ(f.compact_fragmentation, 50);
  EXPECT_EQ(f.compact_interval, 300);
  EXPECT_EQ(f.compact_min_file_size, 1024 * 1024);
  EXPECT_TRUE(f.do_crc);
  EXPECT_EQ(f.crc_polynomial, 0xedb88320);
  EXPECT_TRUE(f.do_sync);
  EXPECT_EQ(f.slice_max_msgs, 0);
  EXPECT_EQ(f.slice_max_bytes, 64 * 1024 * 1024);
  EXPECT_EQ(f.slice_max_age, 0s);
  EXPECT_EQ(f.slice_archive_script, "");
  EXPECT_EQ(f.parallel_recovery, 1);
  EXPECT_EQ(f.read_buffer_size, 2 * 1024 * 1024);
  EXPECT_EQ(f.auto_sync, 1min);
  EXPECT_FALSE(f.truncate_unexpected_eof);
}

TEST(FileOptions, EveryFlag) {
  StreamingCommandLine cl;
  auto err = Parse({"-st",
                    "FILE",
                    "--dir",
                    "/tmp/d",
                    "--file_compact_enabled=false",
                    "--file_compact_frag",
                    "70",
                    "--file_compact_interval",
                    "60",
                    "--file_compact_min_size",
                    "2MB",
                    "--file_buffer_size",
                    "1MB",
                    "--file_crc=false",
                    "--file_crc_poly",
                    "2197175160",
                    "--file_sync=false",
                    "--file_slice_max_msgs",
                    "1000",
                    "--file_slice_max_bytes",
                    "10MB",
                    "--file_slice_max_age",
                    "2h",
                    "--file_slice_archive_script",
                    "/bin/arch",
                    "--file_fds_limit",
                    "64",
                    "--file_parallel_recovery",
                    "4",
                    "--file_read_buffer_size",
                    "512KB",
                    "--file_auto_sync",
                    "5s",
                    "--file_truncate_bad_eof"},
                   cl);
  ASSERT_FALSE(err) << *err;
  const store::StoreOptions& s = cl.streaming.store;
  EXPECT_EQ(s.type, "FILE");
  EXPECT_EQ(s.dir, "/tmp/d");
  const store::FileStoreOptions& f = s.file;
  EXPECT_FALSE(f.compact_enabled);
  EXPECT_EQ(f.compact_fragmentation, 70);
  EXPECT_EQ(f.compact_interval, 60);
  EXPECT_EQ(f.compact_min_file_size, 2 * 1024 * 1024);
  EXPECT_EQ(f.buffer_size, 1024 * 1024);
  EXPECT_FALSE(f.do_crc);
  EXPECT_EQ(f.crc_polynomial, 2197175160);  // 0x82f63b78, Castagnoli
  EXPECT_FALSE(f.do_sync);
  EXPECT_EQ(f.slice_max_msgs, 1000);
  EXPECT_EQ(f.slice_max_bytes, 10 * 1024 * 1024);
  EXPECT_EQ(f.slice_max_age, 2h);
  EXPECT_EQ(f.slice_archive_script, "/bin/arch");
  EXPECT_EQ(f.file_descriptors_limit, 64);
  EXPECT_EQ(f.parallel_recovery, 4);
  EXPECT_EQ(f.read_buffer_size, 512 * 1024);
  EXPECT_EQ(f.auto_sync, 5s);
  EXPECT_TRUE(f.truncate_unexpected_eof);
}

TEST(FileOptions, EveryConfigKey) {
  conf::ParseResult r = conf::ParseString(R"(
    streaming {
      store: file
      dir: "/var/stan"
      file_options {
        compact_enabled: false
        compact_frag: 70
        compact_interval: 60
        compact_min_size: 2MB
        buffer_size: 1MB
        crc: false
        crc_poly: 2197175160
        sync_on_flush: false
        slice_max_msgs: 1000
        slice_max_bytes: 10MB
        slice_max_age: "2h"
        slice_archive_script: "/bin/arch"
        file_descriptors_limit: 64
        parallel_recovery: 4
        read_buffer_size: 512KB
        auto_sync: "5s"
        truncate_bad_eof: true
      }
    }
  )");
  ASSERT_TRUE(r.ok());
  StreamingOptions o;
  auto err = ApplyStreamingConfig(r.root, o);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(o.store.dir, "/var/stan");
  const store::FileStoreOptions& f = o.store.file;
  EXPECT_FALSE(f.compact_enabled);
  EXPECT_EQ(f.compact_fragmentation, 70);
  EXPECT_EQ(f.compact_interval, 60);
  EXPECT_EQ(f.compact_min_file_size, 2 * 1024 * 1024);
  EXPECT_EQ(f.buffer_size, 1024 * 1024);
  EXPECT_FALSE(f.do_crc);
  EXPECT_EQ(f.crc_polynomial, 2197175160);
  EXPECT_FALSE(f.do_sync);
  EXPECT_EQ(f.slice_max_msgs, 1000);
  EXPECT_EQ(f.slice_max_bytes, 10 * 1024 * 1024);
  EXPECT_EQ(f.slice_max_age, 2h);
  EXPECT_EQ(f.slice_archive_script, "/bin/arch");
  EXPECT_EQ(f.file_descriptors_limit, 64);
  EXPECT_EQ(f.parallel_recovery, 4);
  EXPECT_EQ(f.read_buffer_size, 512 * 1024);
  EXPECT_EQ(f.auto_sync, 5s);
  EXPECT_TRUE(f.truncate_unexpected_eof);
}

TEST(FileOptions, FlagsReachTheStore) {
  store::test::TempDir dir;
  StreamingCommandLine cl;
  auto err = Parse({"-st", "FILE", "--dir", dir.path(), "--file_slice_max_msgs", "3",
                    "--file_crc_poly", "2197175160", "--file_truncate_bad_eof"},
                   cl);
  ASSERT_FALSE(err) << *err;
  cl.streaming.store.file.auto_sync = 0s;
  auto s = store::CreateFileStore(cl.streaming.store);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(store::test::Exists(dir / ".truncate.lck"));
  ASSERT_TRUE((*s)->Init(store::test::ClusterInfo()).ok());
  auto c = (*s)->CreateChannel("foo");
  ASSERT_TRUE(c.ok());
  store::test::StoreRange(*(*c)->msgs, 1, 7);
  ASSERT_TRUE((*c)->msgs->Flush().ok());
  EXPECT_TRUE(store::test::Exists(dir / "foo/msgs.3.dat"));  // 3 + 3 + 1
  // The record's CRC is Castagnoli's.
  const std::string dat = store::test::ReadFile(dir / "foo/msgs.1.dat");
  const std::string first = store::test::Msg(1, store::test::Data(1), store::test::kT0 + 1000);
  store::file::Crc32 castagnoli(0x82f63b78);
  EXPECT_EQ(store::file::GetU32(dat.data() + 8), castagnoli.Checksum(first));
}

}  // namespace
}  // namespace gannet::streaming
