// The FILE store (see file_store.h).
#include "streaming/store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "streaming/log.h"
#include "streaming/store/file_msg_store.h"
#include "streaming/store/file_sub_store.h"
#include "streaming/store/limits.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store {

namespace {

// The reference's checks of the file store's options, with its texts.
Status CheckOptions(const FileStoreOptions& o) {
  auto bad = [](const char* text) { return Status(Code::kInvalid, text); };
  if (o.buffer_size < 0) return bad("buffer size value must be a positive number");
  if (o.compact_interval <= 0) return bad("compact interval value must at least be 1 seconds");
  if (o.compact_fragmentation <= 0) return bad("compact fragmentation value must at least be 1");
  if (o.compact_min_file_size < 0) {
    return bad("compact minimum file size value must be a positive number");
  }
  if (o.crc_polynomial <= 0 || o.crc_polynomial > int64_t{0xFFFFFFFF}) {
    return bad("crc polynomial should be between 1 and 4294967295");
  }
  if (o.slice_max_msgs < 0 || o.slice_max_bytes < 0 || o.slice_max_age.count() < 0) {
    return bad("slice max values must be positive numbers");
  }
  if (o.file_descriptors_limit < 0) return bad("file descriptor limit must be a positive number");
  if (o.parallel_recovery <= 0) return bad("parallel recovery value must be at least 1");
  if (o.read_buffer_size < 0) return bad("read buffer size value must be a positive number");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> CreateFileStore(const StoreOptions& options) {
  if (options.dir.empty()) {
    return Status(Code::kInvalid, "for FILE stores, root directory must be specified");
  }
  if (Status s = CheckOptions(options.file); !s) return s;
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return Status(Code::kIo,
                  "unable to create the root directory [" + options.dir + "]: " + ec.message());
  }
  std::unique_ptr<file::FileStore> s(new file::FileStore(options, options.dir));
  if (Status st = s->SetLimits(options.limits); !st) return st;
  if (Status st = s->Open(); !st) return st;
  return std::unique_ptr<Store>(std::move(s));
}

namespace file {

FileStore::FileStore(const StoreOptions& options, std::string root)
    : ctx_(std::make_unique<FileContext>(options.file, std::move(root))), clients_(*ctx_) {}

FileStore::~FileStore() { Close(); }

Status FileStore::Open() {
  // file_truncate_bad_eof may truncate data away: it is refused for two starts in a row, the
  // witness file telling that the previous start had it.
  const std::string witness = JoinPath(ctx_->root, kTruncateWitnessName);
  if (ctx_->opts.truncate_unexpected_eof) {
    int fd = ::open(witness.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) {
      return Status(Code::kInvalid,
                    "file store should not be opened consecutively with the "
                    "TruncateUnexpectedEOF option set to true");
    }
    ::close(fd);
  } else {
    ::unlink(witness.c_str());
  }
  // server.dat is rewritten in place by Init (truncated after its version), so it is not
  // opened for appending; clients.dat is.
  auto server = File::OpenVersioned(JoinPath(ctx_->root, kServerFileName), true);
  if (!server) return server.status();
  server_file_ = std::move(server).value();
  if (Status s = clients_.Open(); !s) {
    return Status(s.code(), "unable to recover client file \"" +
                                JoinPath(ctx_->root, kClientsFileName) + "\": " + s.message());
  }
  if (ctx_->opts.auto_sync.count() > 0) {
    auto_sync_thread_ = std::thread([this] { AutoSyncLoop(); });
  }
  return Status::Ok();
}

Result<bool> FileStore::GetExclusiveLock() {
  if (lock_file_) return true;
  return TryLockFile(JoinPath(ctx_->root, kLockFileName), lock_file_);
}

Status FileStore::Init(const ServerInfo& info) {
  if (!server_file_) return Status(Code::kClosed, "store closed");
  // The file keeps one record: truncated after its version, then written again.
  if (Status s = server_file_->Truncate(kVersionSize); !s) return s;
  std::string rec;
  AppendRecord(rec, 0, EncodeServerInfo(info), ctx_->crc);
  if (Status s = server_file_->WriteAt(rec.data(), rec.size(), kVersionSize); !s) return s;
  return server_file_->SyncData();
}

Status FileStore::SetLimits(const StoreLimits& limits) {
  StoreLimits built = limits;
  if (Status s = BuildLimits(built); !s) return s;
  limits_ = std::move(built);
  return Status::Ok();
}

ChannelLimits FileStore::GetChannelLimits(std::string_view channel) const {
  return LimitsForChannel(limits_, channel);
}

Result<std::unique_ptr<ChannelStore>> FileStore::OpenChannel(const std::string& name) {
  const std::string dir = JoinPath(ctx_->root, name);
  const ChannelLimits limits = LimitsForChannel(limits_, name);
  auto c = std::make_unique<ChannelStore>();
  c->name = name;
  auto msgs = std::make_unique<FileMsgStore>(*ctx_, name, dir, limits);
  if (Status s = msgs->Recover(); !s) {
    return Status(s.code(), "unable to recover message store for [" + name + "]: " + s.message());
  }
  auto subs = std::make_unique<FileSubStore>(*ctx_, name, dir, limits);
  if (Status s = subs->Open(); !s) {
    return Status(s.code(),
                  "unable to recover subscription store for [" + name + "]: " + s.message());
  }
  c->msgs = std::move(msgs);
  c->subs = std::move(subs);
  return c;
}

Result<std::optional<RecoveredState>> FileStore::Recover() {
  if (!server_file_) return Status(Code::kClosed, "store closed");
  const std::string server_path = JoinPath(ctx_->root, kServerFileName);
  auto size = server_file_->Size();
  if (!size) return size.status();
  if (*size <= static_cast<int64_t>(kVersionSize)) return std::optional<RecoveredState>();
  std::string bytes(static_cast<size_t>(*size - kVersionSize), '\0');
  auto got = server_file_->ReadAt(bytes.data(), bytes.size(), kVersionSize);
  if (!got) return got.status();
  bytes.resize(*got);
  RecordView r = ReadRecord(bytes, false, ctx_->crc, ctx_->opts.do_crc);
  auto fail = [&](const std::string& why) {
    return Status(Code::kCorrupt, "unable to recover server file \"" + server_path + "\": " + why);
  };
  if (r.status != RecordStatus::kOk) {
    char crc_text[96];
    std::snprintf(crc_text, sizeof crc_text,
                  "corrupted data, expected crc to be 0x%08x, got 0x%08x", r.stored_crc,
                  r.computed_crc);
    std::string why = r.status == RecordStatus::kZeroHeader    ? "end of file padded with zeros"
                      : r.status == RecordStatus::kCrcMismatch ? crc_text
                                                               : "unexpected EOF";
    STAN_ERROR("Server file \"%s\" corrupted: %s", server_path.c_str(), why.c_str());
    STAN_ERROR("Follow instructions in documentation in order to recover from this");
    return fail(why);
  }
  if (static_cast<int64_t>(kVersionSize + r.consumed()) != *size) {
    return fail("incorrect file size, expected " + std::to_string(kVersionSize + r.consumed()) +
                " bytes, got " + std::to_string(*size) + " bytes");
  }
  RecoveredState state;
  if (!DecodeServerInfo(r.payload, state.info)) return fail("unable to decode server info");
  state.clients = clients_.Clients();

  // Channels are the root's directories.
  std::vector<std::string> names;
  DIR* d = ::opendir(ctx_->root.c_str());
  if (!d) return IoError("open", ctx_->root, errno);
  while (struct dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    // "." and "..", and names no channel can have (a clustered node's Raft log, <dir>/.raft).
    if (n.empty() || n[0] == '.') continue;
    struct stat st;
    if (::stat(JoinPath(ctx_->root, n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      names.push_back(std::move(n));
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());

  // file_parallel_recovery channels at a time.
  std::vector<Result<std::unique_ptr<ChannelStore>>> opened;
  opened.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) opened.emplace_back(Status::Ok());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t i; !failed.load() && (i = next.fetch_add(1)) < names.size();) {
      opened[i] = OpenChannel(names[i]);
      if (!opened[i]) failed = true;
    }
  };
  const size_t threads =
      std::min<size_t>(static_cast<size_t>(ctx_->opts.parallel_recovery), names.size());
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (size_t i = 0; i < threads; ++i) pool.emplace_back(worker);
    for (std::thread& t : pool) t.join();
  }
  for (auto& o : opened) {
    if (!o.ok() && o.status().code() != Code::kOk) return o.status();
  }
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < names.size(); ++i) {
    if (!opened[i].ok() || !*opened[i]) continue;  // not reached (stopped by a failure)
    std::unique_ptr<ChannelStore> c = std::move(opened[i]).value();
    RecoveredChannel rc;
    rc.channel = c.get();
    rc.subscriptions = static_cast<FileSubStore*>(c->subs.get())->Recovered();
    state.channels.emplace(names[i], std::move(rc));
    channels_[names[i]] = std::move(c);
  }
  return std::optional<RecoveredState>(std::move(state));
}

Result<ChannelStore*> FileStore::CreateChannel(std::string_view name) {
  std::unique_lock lk(mu_);
  if (closed_) return Status(Code::kClosed, "store closed");
  if (channels_.find(name) != channels_.end()) {
    return Status(Code::kAlreadyExists, "already exists");
  }
  if (limits_.max_channels > 0 && channels_.size() >= static_cast<size_t>(limits_.max_channels)) {
    return Status::TooManyChannels();
  }
  const std::string n(name);
  if (!IsChannelNameValid(n, false)) return Status(Code::kInvalid, "invalid channel name: " + n);
  const std::string dir = JoinPath(ctx_->root, n);
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) return IoError("create", dir, errno);
  if (ctx_->opts.do_sync) {
    if (Status s = SyncDir(ctx_->root); !s) return s;
  }
  // A directory left by an earlier run is read, not overwritten.
  auto c = OpenChannel(n);
  if (!c) return c.status();
  if (ctx_->opts.do_sync) {
    // subs.dat's entry: a durable subscription on a channel that never got a message survives.
    if (Status s = SyncDir(dir); !s) return s;
  }
  ChannelStore* raw = c->get();
  channels_.emplace(n, std::move(c).value());
  return raw;
}

ChannelStore* FileStore::LookupChannel(std::string_view name) {
  std::lock_guard lk(mu_);
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second.get();
}

Status FileStore::DeleteChannel(std::string_view name) {
  std::unique_ptr<ChannelStore> c;
  {
    std::lock_guard lk(mu_);
    auto it = channels_.find(name);
    if (it == channels_.end()) return Status(Code::kNotFound, "not found");
    c = std::move(it->second);
    channels_.erase(it);
  }
  c->msgs->Close();
  c->subs->Close();
  return RemoveAll(JoinPath(ctx_->root, std::string(name)));
}

Status FileStore::FlushBatch(std::span<ChannelStore* const> channels) {
  // Every write first (one per file), then every sync at once.
  for (ChannelStore* c : channels) {
    if (Status s = static_cast<FileMsgStore*>(c->msgs.get())->WritePending(); !s) return s;
  }
  if (!ctx_->opts.do_sync) return Status::Ok();
  SyncTargets all;
  std::vector<std::pair<FileMsgStore*, uint64_t>> done;
  for (ChannelStore* c : channels) {
    auto* m = static_cast<FileMsgStore*>(c->msgs.get());
    SyncTargets t;
    m->CollectSync(t);
    if (t.files.empty()) continue;
    all.files.insert(all.files.end(), t.files.begin(), t.files.end());
    done.emplace_back(m, t.generation);
  }
  if (Status s = sync_pool_.SyncAll(all.files); !s) return s;
  for (auto& [m, gen] : done) m->SyncDone(gen);
  return Status::Ok();
}

Status FileStore::AddClient(const ClientInfo& info) { return clients_.Add(info); }

Status FileStore::DeleteClient(std::string_view client_id) { return clients_.Delete(client_id); }

Status FileStore::SyncEverything() {
  struct Done {
    std::string channel;
    ChannelStore* store;
    uint64_t msgs_gen;
    uint64_t subs_gen;
  };
  std::vector<Done> done;
  SyncTargets all;
  Status result;
  {
    std::lock_guard lk(mu_);
    if (closed_) return Status::Ok();
    for (auto& [name, c] : channels_) {
      auto* m = static_cast<FileMsgStore*>(c->msgs.get());
      auto* s = static_cast<FileSubStore*>(c->subs.get());
      Status w = m->WritePending();
      if (w.ok()) w = s->WritePending();
      if (!w && result.ok()) result = w;
      SyncTargets mt;
      SyncTargets st;
      m->CollectSync(mt);
      s->CollectSync(st);
      if (mt.files.empty() && st.files.empty()) continue;
      all.files.insert(all.files.end(), mt.files.begin(), mt.files.end());
      all.files.insert(all.files.end(), st.files.begin(), st.files.end());
      done.push_back({name, c.get(), mt.generation, st.generation});
    }
  }
  // The syncs run without the store's lock: the server's thread goes on meanwhile.
  if (Status s = sync_pool_.SyncAll(all.files); !s) return s;
  std::lock_guard lk(mu_);
  for (const Done& d : done) {
    auto it = channels_.find(d.channel);
    if (it == channels_.end() || it->second.get() != d.store) continue;  // deleted meanwhile
    if (d.msgs_gen) static_cast<FileMsgStore*>(d.store->msgs.get())->SyncDone(d.msgs_gen);
    if (d.subs_gen) static_cast<FileSubStore*>(d.store->subs.get())->SyncDone(d.subs_gen);
  }
  return result;
}

void FileStore::AutoSyncLoop() {
  pthread_setname_np(pthread_self(), "stan-autosync");
  std::unique_lock lk(auto_sync_mu_);
  for (;;) {
    if (auto_sync_cv_.wait_for(lk, ctx_->opts.auto_sync, [this] { return auto_sync_stop_; })) {
      return;
    }
    lk.unlock();
    if (Status s = SyncEverything(); !s)
      STAN_ERROR("File store auto-sync: %s", s.message().c_str());
    lk.lock();
  }
}

Status FileStore::Close() {
  {
    std::lock_guard lk(auto_sync_mu_);
    auto_sync_stop_ = true;
  }
  auto_sync_cv_.notify_all();
  if (auto_sync_thread_.joinable()) auto_sync_thread_.join();
  std::lock_guard lk(mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  Status result;
  // The channels stay (closed) until the store is destroyed: the server may still hold them.
  for (auto& [name, c] : channels_) {
    Status m = c->msgs->Close();
    Status s = c->subs->Close();
    if (!m && result.ok()) result = m;
    if (!s && result.ok()) result = s;
  }
  clients_.Close();
  server_file_.reset();
  lock_file_.reset();
  ctx_->archive.Wait();
  return result;
}

}  // namespace file
}  // namespace gannet::streaming::store
