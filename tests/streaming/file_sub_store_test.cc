// The FILE store's subscriptions and clients: what is recovered (durables, pending messages,
// last sent, queue and closed states, ids that keep growing), max_subs, buffering of acks until
// a flush or the auto-sync, compaction of subs.dat and clients.dat (fragmentation, minimum
// size, interval, switch), the fault-tolerance lock, and the reference's option checks.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "file_test_util.h"

namespace gannet::streaming::store {
namespace {

using namespace test;
using namespace std::chrono_literals;

SubState NewSub(const std::string& client, const std::string& durable = "",
                const std::string& queue = "") {
  SubState s;
  s.client_id = client;
  s.inbox = "_INBOX." + client;
  s.ack_inbox = "_STAN.ack." + client;
  s.durable_name = durable;
  s.is_durable = !durable.empty();
  s.q_group = queue;
  s.max_in_flight = 100;
  s.ack_wait_in_secs = 30;
  return s;
}

file::FileSubStore& Subs(Opened& o) { return static_cast<file::FileSubStore&>(*o.channel->subs); }

std::vector<RecoveredSubscription> RecoverSubs(const StoreOptions& o) {
  auto s = OpenStore(o);
  auto r = s->Recover();
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok() || !r->has_value() || !(*r)->channels.count("foo")) return {};
  return (*r)->channels.at("foo").subscriptions;
}

TEST(FileSubStore, SubscriptionsRecovered) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  {
    Opened s = Open(o);
    SubStore& subs = *s.channel->subs;
    SubState a = NewSub("c1", "dur");
    SubState b = NewSub("c2");
    SubState q = NewSub("c3", "dq", "dq:group");
    ASSERT_TRUE(subs.CreateSub(a).ok());
    ASSERT_TRUE(subs.CreateSub(b).ok());
    ASSERT_TRUE(subs.CreateSub(q).ok());
    EXPECT_EQ(a.id, 1u);
    EXPECT_EQ(b.id, 2u);
    EXPECT_EQ(q.id, 3u);
    for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(subs.AddSeqPending(a.id, seq).ok());
    for (uint64_t seq : {1, 2, 3, 5, 8}) ASSERT_TRUE(subs.AckSeqPending(a.id, seq).ok());
    ASSERT_TRUE(subs.AddSeqPending(q.id, 4).ok());
    ASSERT_TRUE(subs.AddSeqPending(q.id, 4).ok());  // a queue redelivery: the same sequence
    ASSERT_TRUE(subs.DeleteSub(b.id).ok());
    a.is_closed = true;
    a.client_id.clear();
    a.last_sent = 10;  // the server passes its state: the update replaces the stored one
    ASSERT_TRUE(subs.UpdateSub(a).ok());
    ASSERT_TRUE(subs.Flush().ok());
    s.store->Close();
  }
  auto rec = RecoverSubs(o);
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(rec[0].state.id, 1u);
  EXPECT_EQ(rec[0].state.durable_name, "dur");
  EXPECT_TRUE(rec[0].state.is_closed);
  EXPECT_EQ(rec[0].state.client_id, "");
  EXPECT_EQ(rec[0].state.last_sent, 10u);
  EXPECT_EQ(rec[0].pending, (std::vector<uint64_t>{4, 6, 7, 9, 10}));
  EXPECT_EQ(rec[1].state.id, 3u);
  EXPECT_EQ(rec[1].state.q_group, "dq:group");
  EXPECT_EQ(rec[1].pending, std::vector<uint64_t>{4});
  // Ids go on after the highest ever used (2 was deleted, 3 is the highest).
  Opened s = Open(o);
  SubState d = NewSub("c4");
  ASSERT_TRUE(s.channel->subs->CreateSub(d).ok());
  EXPECT_EQ(d.id, 4u);
}

TEST(FileSubStore, MaxSubscriptions) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.limits.global.max_subscriptions = 2;
  Opened s = Open(o);
  SubState a = NewSub("a"), b = NewSub("b"), c = NewSub("c");
  ASSERT_TRUE(s.channel->subs->CreateSub(a).ok());
  ASSERT_TRUE(s.channel->subs->CreateSub(b).ok());
  Status st = s.channel->subs->CreateSub(c);
  EXPECT_EQ(st.code(), Code::kTooManySubs);
  EXPECT_EQ(st.message(), "too many subscriptions per channel");
  ASSERT_TRUE(s.channel->subs->DeleteSub(a.id).ok());
  EXPECT_TRUE(s.channel->subs->CreateSub(c).ok());
}

TEST(FileSubStore, AcksBufferedUntilFlush) {
  TempDir dir;
  Opened s = Open(FileOptions(dir.path()));
  SubState a = NewSub("c1");
  ASSERT_TRUE(s.channel->subs->CreateSub(a).ok());
  const size_t created = ReadFile(dir / "foo/subs.dat").size();  // written at once
  EXPECT_GT(created, 4u);
  for (uint64_t seq = 1; seq <= 100; ++seq)
    ASSERT_TRUE(s.channel->subs->AddSeqPending(1, seq).ok());
  EXPECT_EQ(ReadFile(dir / "foo/subs.dat").size(), created);
  ASSERT_TRUE(s.channel->subs->Flush().ok());
  EXPECT_GT(ReadFile(dir / "foo/subs.dat").size(), created + 100 * 8);
}

TEST(FileSubStore, AutoSyncWritesWhatIsBuffered) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.auto_sync = 20ms;
  o.file.do_sync = false;
  Opened s = Open(o);
  SubState a = NewSub("c1");
  ASSERT_TRUE(s.channel->subs->CreateSub(a).ok());
  StoreRange(s.msgs(), 1, 5);
  const size_t created = ReadFile(dir / "foo/subs.dat").size();
  ASSERT_TRUE(s.channel->subs->AddSeqPending(1, 1).ok());
  // No flush from the server: the store's own thread writes both files.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         (ReadFile(dir / "foo/subs.dat").size() == created ||
          ReadFile(dir / "foo/msgs.1.idx").size() < 4 + 5 * 32)) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GT(ReadFile(dir / "foo/subs.dat").size(), created);
  EXPECT_EQ(ReadFile(dir / "foo/msgs.1.idx").size(), 4u + 5 * 32);
}

TEST(FileSubStore, CompactionOfSubscriptions) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.compact_min_file_size = 0;
  Opened s = Open(o);
  file::FileSubStore& subs = Subs(s);
  SubState a = NewSub("c1", "dur");
  ASSERT_TRUE(subs.CreateSub(a).ok());
  // 1 new + 2 sent records; the first ack makes 1 of 3 dead (33 %), the second 2 of 3.
  ASSERT_TRUE(subs.AddSeqPending(1, 1).ok());
  ASSERT_TRUE(subs.AddSeqPending(1, 2).ok());
  ASSERT_TRUE(subs.AckSeqPending(1, 1).ok());
  EXPECT_EQ(subs.Compactions(), 0);
  ASSERT_TRUE(subs.AddSeqPending(1, 3).ok());
  ASSERT_TRUE(subs.AckSeqPending(1, 2).ok());  // 2 of 4: 50 %
  EXPECT_EQ(subs.Compactions(), 1);
  // The file holds the subscription and its one pending message, nothing else.
  SubState now = a;
  now.last_sent = 3;
  EXPECT_EQ(ReadFile(dir / "foo/subs.dat"),
            Version() + Rec(EncodeSubState(now), 1) + Rec(UpdateBytes(1, 3), 5));
  // Not again within file_compact_interval (300 s).
  for (uint64_t seq = 4; seq <= 50; ++seq) ASSERT_TRUE(subs.AddSeqPending(1, seq).ok());
  for (uint64_t seq = 3; seq <= 50; ++seq) ASSERT_TRUE(subs.AckSeqPending(1, seq).ok());
  EXPECT_EQ(subs.Compactions(), 1);
  ASSERT_TRUE(subs.Flush().ok());
  s.store->Close();
  auto rec = RecoverSubs(o);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_TRUE(rec[0].pending.empty());
  EXPECT_EQ(rec[0].state.last_sent, 50u);
}

TEST(FileSubStore, CompactionThresholds) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  // The default minimum size (1 MB) is not reached: no compaction whatever the fragmentation.
  {
    Opened s = Open(o);
    SubState a = NewSub("c1");
    ASSERT_TRUE(Subs(s).CreateSub(a).ok());
    for (uint64_t seq = 1; seq <= 100; ++seq) {
      ASSERT_TRUE(Subs(s).AddSeqPending(1, seq).ok());
      ASSERT_TRUE(Subs(s).AckSeqPending(1, seq).ok());
    }
    EXPECT_EQ(Subs(s).Compactions(), 0);
  }
  // Compaction off.
  TempDir dir2;
  StoreOptions off = FileOptions(dir2.path());
  off.file.compact_min_file_size = 0;
  off.file.compact_enabled = false;
  Opened s = Open(off);
  SubState a = NewSub("c1");
  ASSERT_TRUE(Subs(s).CreateSub(a).ok());
  ASSERT_TRUE(Subs(s).AddSeqPending(1, 1).ok());
  ASSERT_TRUE(Subs(s).AckSeqPending(1, 1).ok());
  EXPECT_EQ(Subs(s).Compactions(), 0);
  // Fragmentation below file_compact_frag.
  TempDir dir3;
  StoreOptions frag = FileOptions(dir3.path());
  frag.file.compact_min_file_size = 0;
  frag.file.compact_fragmentation = 90;
  Opened t = Open(frag);
  ASSERT_TRUE(Subs(t).CreateSub(a).ok());
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(Subs(t).AddSeqPending(1, seq).ok());
  for (uint64_t seq = 1; seq <= 9; ++seq) ASSERT_TRUE(Subs(t).AckSeqPending(1, seq).ok());
  EXPECT_EQ(Subs(t).Compactions(), 0);  // 9 dead of 11 records: 81 %
  ASSERT_TRUE(Subs(t).AckSeqPending(1, 10).ok());
  EXPECT_EQ(Subs(t).Compactions(), 1);  // 10 of 11: 90 %
}

TEST(FileSubStore, CompactionOfClients) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.compact_min_file_size = 0;
  auto s = OpenStore(o);
  auto& fs = static_cast<file::FileStore&>(*s);
  for (int i = 0; i < 4; ++i) {
    ClientInfo c;
    c.id = "c" + std::to_string(i);
    c.hb_inbox = "_INBOX." + c.id;
    ASSERT_TRUE(s->AddClient(c).ok());
  }
  ASSERT_TRUE(s->DeleteClient("c0").ok());  // 1 of 4: 25 %
  EXPECT_EQ(fs.clients().Compactions(), 0);
  ASSERT_TRUE(s->DeleteClient("c1").ok());  // 2 of 4: 50 %
  EXPECT_EQ(fs.clients().Compactions(), 1);
  ClientInfo c2;
  c2.id = "c2";
  c2.hb_inbox = "_INBOX.c2";
  ClientInfo c3 = c2;
  c3.id = "c3";
  c3.hb_inbox = "_INBOX.c3";
  EXPECT_EQ(ReadFile(dir / "clients.dat"),
            Version() + Rec(EncodeClientInfo(c2), 1) + Rec(EncodeClientInfo(c3), 1));
  ASSERT_TRUE(s->Init(ClusterInfo("x")).ok());
  s->Close();
  auto r = OpenStore(o)->Recover();
  ASSERT_TRUE(r.ok() && r->has_value());
  ASSERT_EQ((*r)->clients.size(), 2u);
  EXPECT_EQ((*r)->clients[0].id, "c2");
  EXPECT_EQ((*r)->clients[1].id, "c3");
}

TEST(FileSubStore, ExclusiveLockAcrossProcesses) {
  TempDir dir;
  auto s = OpenStore(FileOptions(dir.path()));
  auto locked = s->GetExclusiveLock();
  ASSERT_TRUE(locked.ok());
  EXPECT_TRUE(*locked);
  EXPECT_TRUE(*s->GetExclusiveLock());  // held already
  EXPECT_TRUE(Exists(dir / ".rootdir.lck"));
  // Another process cannot take it (fcntl locks belong to processes).
  pid_t pid = fork();
  if (pid == 0) {
    auto other = CreateFileStore(FileOptions(dir.path()));
    if (!other.ok()) _exit(3);
    auto l = (*other)->GetExclusiveLock();
    _exit(!l.ok() ? 3 : (*l ? 1 : 0));
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  s->Close();  // releases it
  pid = fork();
  if (pid == 0) {
    auto other = CreateFileStore(FileOptions(dir.path()));
    if (!other.ok()) _exit(3);
    auto l = (*other)->GetExclusiveLock();
    _exit(!l.ok() ? 3 : (*l ? 1 : 0));
  }
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(FileSubStore, OptionChecks) {
  TempDir dir;
  auto check = [&](auto change, const std::string& text) {
    StoreOptions o = FileOptions(dir.path());
    change(o.file);
    auto s = CreateFileStore(o);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().message(), text);
  };
  check([](FileStoreOptions& f) { f.buffer_size = -1; },
        "buffer size value must be a positive number");
  check([](FileStoreOptions& f) { f.compact_interval = 0; },
        "compact interval value must at least be 1 seconds");
  check([](FileStoreOptions& f) { f.compact_fragmentation = 0; },
        "compact fragmentation value must at least be 1");
  check([](FileStoreOptions& f) { f.compact_min_file_size = -1; },
        "compact minimum file size value must be a positive number");
  check([](FileStoreOptions& f) { f.crc_polynomial = int64_t{1} << 32; },
        "crc polynomial should be between 1 and 4294967295");
  check([](FileStoreOptions& f) { f.slice_max_msgs = -1; },
        "slice max values must be positive numbers");
  check([](FileStoreOptions& f) { f.file_descriptors_limit = -1; },
        "file descriptor limit must be a positive number");
  check([](FileStoreOptions& f) { f.parallel_recovery = 0; },
        "parallel recovery value must be at least 1");
  StoreOptions none = FileOptions("");
  EXPECT_EQ(CreateFileStore(none).status().message(),
            "for FILE stores, root directory must be specified");
}

TEST(FileSubStore, ParallelRecoveryAndOtherPolynomial) {
  TempDir dir;
  StoreOptions o = FileOptions(dir.path());
  o.file.parallel_recovery = 4;
  o.file.crc_polynomial = 0x82f63b78;  // Castagnoli
  {
    auto s = OpenStore(o);
    ASSERT_TRUE(s->Init(ClusterInfo("x")).ok());
    for (int c = 0; c < 12; ++c) {
      auto ch = s->CreateChannel("ch" + std::to_string(c));
      ASSERT_TRUE(ch.ok());
      StoreRange(*(*ch)->msgs, 1, static_cast<uint64_t>(c + 1));
    }
    s->Close();
  }
  auto s = OpenStore(o);
  auto r = s->Recover();
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ((*r)->channels.size(), 12u);
  for (int c = 0; c < 12; ++c) {
    MsgStore& m = *(*r)->channels.at("ch" + std::to_string(c)).channel->msgs;
    EXPECT_EQ(m.LastSequence(), static_cast<uint64_t>(c + 1));
    ExpectMsg(m, static_cast<uint64_t>(c + 1));
  }
  // Read with the IEEE polynomial, the CRCs do not match (the index is rebuilt, then the data
  // file's records fail).
  s->Close();
  StoreOptions ieee = FileOptions(dir.path());
  auto bad = OpenStore(ieee);
  EXPECT_FALSE(bad && bad->Recover().ok());
}

TEST(FileSubStore, DeleteChannelRemovesItsDirectory) {
  TempDir dir;
  Opened s = Open(FileOptions(dir.path()));
  StoreRange(s.msgs(), 1, 3);
  ASSERT_TRUE(s.store->DeleteChannel("foo").ok());
  EXPECT_FALSE(Exists(dir / "foo"));
  EXPECT_EQ(s.store->DeleteChannel("foo").code(), Code::kNotFound);
  EXPECT_EQ(s.store->LookupChannel("foo"), nullptr);
  auto c = s.store->CreateChannel("foo");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->msgs->LastSequence(), 0u);
}

}  // namespace
}  // namespace gannet::streaming::store
