// Recovery of damaged FILE stores: a torn or zero-padded tail after the last indexed message
// (truncated: never acknowledged), complete records after the index (indexed), zero-padded
// index, index rebuilt (missing, damaged, out of step with its data), unexpected EOF and CRC
// mismatches where the index does not vouch for the data (fatal as in the reference, unless
// file_truncate_bad_eof, whose witness refuses two starts in a row), damaged subs.dat and
// clients.dat, a damaged record found by a lookup, and the clear errors in each case; and writes
// that fail (a file size limit) as statuses that lose nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include "file_test_util.h"

namespace gannet::streaming::store {
namespace {

using namespace test;

// A store with messages 1..n in channel foo, closed.
void Fill(const std::string& dir, uint64_t n, StoreOptions o = {}) {
  if (o.dir.empty()) o = FileOptions(dir);
  Opened s = Open(o);
  ASSERT_TRUE(s.channel);
  StoreRange(s.msgs(), 1, n);
  ASSERT_TRUE(s.store->Close().ok());
}

Result<std::optional<RecoveredState>> RecoverDir(const StoreOptions& o,
                                                 std::unique_ptr<Store>* keep = nullptr) {
  auto s = CreateFileStore(o);
  if (!s.ok()) return s.status();
  auto r = (*s)->Recover();
  if (keep) *keep = std::move(s).value();
  return r;
}

// The offset of message `seq`'s record in msgs.1.dat (all messages the same size).
int64_t OffsetOf(uint64_t seq) {
  return 4 + static_cast<int64_t>(seq - 1) *
                 static_cast<int64_t>(8 + Msg(1, Data(1), kT0 + 1000).size());
}

void ExpectAll(const StoreOptions& o, uint64_t n) {
  Opened s = Open(o);
  ASSERT_TRUE(s.channel);
  EXPECT_EQ(s.msgs().FirstSequence(), 1u);
  EXPECT_EQ(s.msgs().LastSequence(), n);
  for (uint64_t i = 1; i <= n; ++i) ExpectMsg(s.msgs(), i);
  // And the store goes on from there.
  StoreRange(s.msgs(), n + 1, n + 1);
  ExpectMsg(s.msgs(), n + 1);
}

TEST(FileRecovery, TornTailAfterTheIndexIsTruncated) {
  TempDir dir;
  Fill(dir.path(), 10);
  const std::string dat = dir / "foo/msgs.1.dat";
  const size_t size = ReadFile(dat).size();
  // Half of a next record: its header and a few bytes.
  std::string next = Rec(Msg(11, Data(11), kT0 + 11000));
  AppendFile(dat, next.substr(0, 13));
  ExpectAll(FileOptions(dir.path()), 10);
  // A partial header alone, too.
  Fill(dir.path(), 0);
  const size_t size2 = ReadFile(dat).size();
  AppendFile(dat, "\x05\x00");
  ExpectAll(FileOptions(dir.path()), 11);
  EXPECT_GT(size2, size);
}

TEST(FileRecovery, CompleteRecordsAfterTheIndexAreIndexed) {
  TempDir dir;
  Fill(dir.path(), 10);
  // Written, but the process died before the index entry (a batch not acknowledged yet).
  AppendFile(dir / "foo/msgs.1.dat",
             Rec(Msg(11, Data(11), kT0 + 11000)) + Rec(Msg(12, Data(12), kT0 + 12000)) + "torn");
  ExpectAll(FileOptions(dir.path()), 12);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.idx").size(), 4u + 13 * 32);
}

TEST(FileRecovery, ZeroPaddedTailsAreTruncated) {
  TempDir dir;
  Fill(dir.path(), 10);
  const std::string dat = dir / "foo/msgs.1.dat";
  const std::string idx = dir / "foo/msgs.1.idx";
  const std::string dat_bytes = ReadFile(dat);
  const std::string idx_bytes = ReadFile(idx);
  AppendFile(dat, std::string(4096, '\0'));
  AppendFile(idx, std::string(320, '\0'));
  {
    Opened s = Open(FileOptions(dir.path()));
    EXPECT_EQ(s.msgs().LastSequence(), 10u);
  }
  EXPECT_EQ(ReadFile(dat), dat_bytes);
  EXPECT_EQ(ReadFile(idx), idx_bytes);
  // Zeros in a data file without index: truncated as well (the reference's rewind).
  AppendFile(dat, std::string(100, '\0'));
  std::filesystem::remove(idx);
  ExpectAll(FileOptions(dir.path()), 10);
}

TEST(FileRecovery, IndexRebuiltWhenMissingOrDamaged) {
  TempDir dir;
  Fill(dir.path(), 10);
  const std::string idx = dir / "foo/msgs.1.idx";
  const std::string good = ReadFile(idx);

  std::filesystem::remove(idx);
  ExpectAll(FileOptions(dir.path()), 10);  // adds message 11
  Fill(dir.path(), 0);
  const std::string good11 = ReadFile(idx);
  EXPECT_EQ(good11.substr(0, good.size()), good);

  // A CRC mismatch in an entry.
  std::string bad = good11;
  bad[4 + 32 * 3 + 9] ^= 0x40;
  WriteFile(idx, bad);
  ExpectAll(FileOptions(dir.path()), 11);
  Fill(dir.path(), 0);
  EXPECT_EQ(ReadFile(idx).substr(0, good11.size()), good11);

  // A cut-short last entry.
  std::string cut = ReadFile(idx);
  WriteFile(idx, cut.substr(0, cut.size() - 5));
  ExpectAll(FileOptions(dir.path()), 12);

  // An index whose last entry does not match its record (a valid CRC, a wrong size).
  std::string cur = ReadFile(idx);
  const size_t last = cur.size() - 32;
  std::string e = cur.substr(last, 28);
  e[24] = static_cast<char>(e[24] + 1);
  cur.replace(last, 32, e + Le32(RefCrc(e)));
  WriteFile(idx, cur);
  ExpectAll(FileOptions(dir.path()), 13);

  // An index that is not one (a bad version): made again.
  WriteFile(idx, Le32(7) + "garbage");
  ExpectAll(FileOptions(dir.path()), 14);
}

TEST(FileRecovery, UnexpectedEofIsFatalUnlessTruncateBadEof) {
  TempDir dir;
  Fill(dir.path(), 10);
  const std::string dat = dir / "foo/msgs.1.dat";
  // Without an index to vouch for the data, a cut-short record is the reference's unexpected
  // EOF: recovery stops with a clear error and changes nothing.
  std::filesystem::remove(dir / "foo/msgs.1.idx");
  std::string bytes = ReadFile(dat);
  const std::string torn = bytes.substr(0, static_cast<size_t>(OffsetOf(10)) + 11);
  WriteFile(dat, torn);
  auto r = RecoverDir(FileOptions(dir.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "unable to recover message store for [foo]: unexpected EOF");
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_EQ(ReadFile(dat), torn);
  EXPECT_FALSE(Exists(dir / "foo/msgs.1.idx"));  // the next start rebuilds it again

  StoreOptions truncate = FileOptions(dir.path());
  truncate.file.truncate_unexpected_eof = true;
  {
    std::unique_ptr<Store> keep;
    auto ok = RecoverDir(truncate, &keep);
    ASSERT_TRUE(ok.ok()) << ok.status().message();
    MsgStore& m = *(*ok)->channels.at("foo").channel->msgs;
    EXPECT_EQ(m.LastSequence(), 9u);  // the torn message 10 is gone
    EXPECT_EQ(ReadFile(dat).size(), static_cast<size_t>(OffsetOf(10)));
    EXPECT_TRUE(Exists(dir / ".truncate.lck"));
  }
  // The option twice in a row is refused (its witness file is there)...
  auto again = CreateFileStore(truncate);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(),
            "file store should not be opened consecutively with the TruncateUnexpectedEOF "
            "option set to true");
  // ... a start without it removes the witness.
  ExpectAll(FileOptions(dir.path()), 9);
  EXPECT_FALSE(Exists(dir / ".truncate.lck"));
  EXPECT_TRUE(CreateFileStore(truncate).ok());
}

TEST(FileRecovery, CrcMismatchIsFatal) {
  TempDir dir;
  Fill(dir.path(), 10);
  const std::string dat = dir / "foo/msgs.1.dat";
  std::string bytes = ReadFile(dat);
  bytes[static_cast<size_t>(OffsetOf(5)) + 8 + 6] ^= 0x01;  // in message 5's payload
  WriteFile(dat, bytes);

  // The index vouches for message 5: recovery goes on, and reading it reports the damage.
  {
    Opened s = Open(FileOptions(dir.path()));
    ASSERT_TRUE(s.channel);
    EXPECT_EQ(s.msgs().LastSequence(), 10u);
    auto m = s.msgs().Lookup(5);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), Code::kCorrupt);
    EXPECT_NE(m.status().message().find("corrupted data, expected crc to be 0x"), std::string::npos)
        << m.status().message();
    ExpectMsg(s.msgs(), 6);
    s.store->Close();
  }
  // Rebuilding the index reads every record: fatal, with or without file_truncate_bad_eof.
  std::filesystem::remove(dir / "foo/msgs.1.idx");
  for (bool truncate : {false, true}) {
    StoreOptions o = FileOptions(dir.path());
    o.file.truncate_unexpected_eof = truncate;
    auto r = RecoverDir(o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(
                  "unable to recover message store for [foo]: corrupted data, expected crc to be "
                  "0x"),
              std::string::npos)
        << r.status().message();
  }
  // Without file_crc the record is not checked, as in the reference.
  StoreOptions nocrc = FileOptions(dir.path());
  nocrc.file.do_crc = false;
  auto r = RecoverDir(nocrc);
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST(FileRecovery, DamagedSubsAndClientsFiles) {
  TempDir dir;
  {
    Opened s = Open(FileOptions(dir.path()));
    SubState sub;
    sub.client_id = "c1";
    sub.inbox = "in";
    ASSERT_TRUE(s.channel->subs->CreateSub(sub).ok());
    ASSERT_TRUE(s.channel->subs->AddSeqPending(1, 1).ok());
    ClientInfo c;
    c.id = "c1";
    ASSERT_TRUE(s.store->AddClient(c).ok());
    s.store->Close();
  }
  const std::string subs = dir / "foo/subs.dat";
  const std::string clients = dir / "clients.dat";
  const std::string subs_ok = ReadFile(subs);
  const std::string clients_ok = ReadFile(clients);

  // Zeros at the end: truncated.
  AppendFile(subs, std::string(64, '\0'));
  AppendFile(clients, std::string(64, '\0'));
  {
    auto r = RecoverDir(FileOptions(dir.path()));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ((*r)->channels.at("foo").subscriptions.at(0).pending, std::vector<uint64_t>{1});
    EXPECT_EQ((*r)->clients.size(), 1u);
  }
  EXPECT_EQ(ReadFile(subs), subs_ok);
  EXPECT_EQ(ReadFile(clients), clients_ok);

  // A cut-short record: unexpected EOF, fatal unless file_truncate_bad_eof.
  AppendFile(subs, Rec(UpdateBytes(1, 2), 5).substr(0, 10));
  auto r = RecoverDir(FileOptions(dir.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "unable to recover subscription store for [foo]: unexpected EOF");
  StoreOptions truncate = FileOptions(dir.path());
  truncate.file.truncate_unexpected_eof = true;
  r = RecoverDir(truncate);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(ReadFile(subs), subs_ok);

  // A CRC mismatch in clients.dat: fatal.
  std::string bad = clients_ok;
  bad.back() ^= 0x20;
  WriteFile(clients, bad);
  auto c = CreateFileStore(FileOptions(dir.path()));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unable to recover client file"), std::string::npos);
  EXPECT_NE(c.status().message().find("corrupted data, expected crc to be 0x"), std::string::npos)
      << c.status().message();
  WriteFile(clients, clients_ok);

  // An unknown record type.
  AppendFile(subs, Rec(UpdateBytes(1, 2), 9));
  r = RecoverDir(FileOptions(dir.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "unable to recover subscription store for [foo]: unexpected record type: 9");
}

TEST(FileRecovery, OtherDamageGivesClearErrors) {
  TempDir dir;
  Fill(dir.path(), 3);
  // A slice named so that it has no number: refused, as the reference.
  WriteFile(dir / "foo/msgs.x.dat", Version());
  auto r = RecoverDir(FileOptions(dir.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "unable to recover message store for [foo]: message log has an invalid name: "
            "msgs.x.dat");
  std::filesystem::remove(dir / "foo/msgs.x.dat");
  // A message record that is not a MsgProto, in a data file without index.
  std::filesystem::remove(dir / "foo/msgs.1.idx");
  AppendFile(dir / "foo/msgs.1.dat", Rec("\x0b\x0c"));
  r = RecoverDir(FileOptions(dir.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unable to decode the message record at offset"),
            std::string::npos)
      << r.status().message();
  // A data file created by a run that died before writing its version: an empty slice.
  TempDir dir2;
  Fill(dir2.path(), 3);
  WriteFile(dir2 / "foo/msgs.2.dat", "");
  ExpectAll(FileOptions(dir2.path()), 3);
}

TEST(FileRecovery, DirectoryLeftByAnEarlierRunIsRead) {
  TempDir dir;
  Fill(dir.path(), 5);
  // The channel's directory exists but server.dat says nothing was recovered (a fresh start
  // on an old directory): creating the channel reads what is there rather than overwriting.
  std::filesystem::remove(dir / "server.dat");
  auto s = OpenStore(FileOptions(dir.path()));
  auto r = s->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  auto c = s->CreateChannel("foo");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->msgs->LastSequence(), 5u);
  ExpectMsg(*(*c)->msgs, 5);
}

}  // namespace
}  // namespace gannet::streaming::store

namespace gannet::streaming::store {
namespace {

using namespace test;

// A file size limit makes writes fail (EFBIG) partway: the error is a status naming the file,
// the files are cut back to what was whole, and nothing stored before is lost; once writes work
// again, what was buffered is written. Unbuffered, the failed message is taken back out and its
// sequence can be stored again.
TEST(FileIoErrors, FailedWritesAreStatusesAndLoseNothing) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto limit = [&](rlim_t bytes) {
    struct rlimit l = saved;
    l.rlim_cur = bytes;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &l), 0);
  };
  signal(SIGXFSZ, SIG_IGN);
  {
    Opened s = Open(o);
    StoreRange(s.msgs(), 1, 10);
    ASSERT_TRUE(s.msgs().Flush().ok());
    const std::string dat = dir / "foo/msgs.1.dat";
    const size_t size = ReadFile(dat).size();
    StoreRange(s.msgs(), 11, 30);  // buffered
    limit(size + 100);             // room for part of what is buffered
    Status f = s.msgs().Flush();
    limit(saved.rlim_cur);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.code(), Code::kIo);
    EXPECT_NE(f.message().find("msgs.1.dat: File too large"), std::string::npos) << f.message();
    EXPECT_EQ(ReadFile(dat).size(), size);  // no partial record left
    ASSERT_TRUE(s.msgs().Flush().ok());
    for (uint64_t i = 1; i <= 30; ++i) ExpectMsg(s.msgs(), i);
  }
  {
    Opened s = Open(o);
    EXPECT_EQ(s.msgs().LastSequence(), 30u);
    for (uint64_t i = 1; i <= 30; ++i) ExpectMsg(s.msgs(), i);
  }
  StoreOptions unbuffered = o;
  unbuffered.file.buffer_size = 0;
  Opened s = Open(unbuffered);
  const size_t size = ReadFile(dir / "foo/msgs.1.dat").size();
  limit(size + 10);
  Status st = s.msgs().Store(31, kT0 + 31000, Msg(31, Data(31), kT0 + 31000));
  limit(saved.rlim_cur);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(s.msgs().LastSequence(), 30u);
  EXPECT_FALSE(s.msgs().Lookup(31)->found());
  StoreRange(s.msgs(), 31, 32);
  ExpectMsg(s.msgs(), 31);
  ExpectMsg(s.msgs(), 32);
  // A subscription whose record cannot be written does not exist.
  limit(ReadFile(dir / "foo/subs.dat").size() + 4);
  SubState sub;
  sub.client_id = "c";
  sub.inbox = "in";
  Status cs = s.channel->subs->CreateSub(sub);
  limit(saved.rlim_cur);
  ASSERT_FALSE(cs.ok());
  EXPECT_EQ(sub.id, 0u);
  ASSERT_TRUE(s.channel->subs->CreateSub(sub).ok());
  EXPECT_EQ(sub.id, 1u);
  signal(SIGXFSZ, SIG_DFL);
}

}  // namespace
}  // namespace gannet::streaming::store
