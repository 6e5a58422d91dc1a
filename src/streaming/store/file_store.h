// The FILE store (`-st FILE --dir DIR`): nats-streaming-server 0.25's directory layout and
// record format, so either server can take over the other's directory.
//
//   DIR/server.dat              version, then one ServerInfo record (untyped)
//   DIR/clients.dat             typed records: ClientInfo added, ClientDelete
//   DIR/<channel>/msgs.N.dat    message slices: MsgProto records (untyped)
//   DIR/<channel>/msgs.N.idx    32-byte index entries, one per message of msgs.N.dat
//   DIR/<channel>/subs.dat      typed subscription records
//   DIR/.rootdir.lck            the fault-tolerance lock (GetExclusiveLock)
//   DIR/.truncate.lck           file_truncate_bad_eof's witness: it refuses two starts in a row
//
// (file_format.h has the bytes; file_msg_store.h, file_sub_store.h and file_client_store.h the
// files' stores.) Group commit: FlushBatch writes every channel's buffered messages (one write
// per file), then syncs all those files in parallel (file_sync), before the server sends the
// PubAcks. file_auto_sync also writes and syncs, from a thread of the store, whatever was left
// buffered (acknowledgments between batches; everything when file_sync is off).
//
// Threads: the server's thread calls the Store methods; the auto-sync thread and the channel
// recovery threads (file_parallel_recovery) are the store's own. Lock order: FileStore::mu_
// before any FileMsgStore or FileSubStore mutex; SyncPool's after all of them are released.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "streaming/store/file_client_store.h"
#include "streaming/store/file_context.h"
#include "streaming/store/file_io.h"
#include "streaming/store/file_sync_pool.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store {

// Opens (creating) the FILE store in options.dir with options.file and options.limits. The
// reference's option checks and texts ("compact interval value must at least be 1 seconds",
// ...); "file store should not be opened consecutively with the TruncateUnexpectedEOF option
// set to true".
Result<std::unique_ptr<Store>> CreateFileStore(const StoreOptions& options);

namespace file {

class FileStore final : public Store {
 public:
  ~FileStore() override;

  std::string_view Name() const override { return "FILE"; }
  Result<bool> GetExclusiveLock() override;
  Status Init(const ServerInfo& info) override;
  Result<std::optional<RecoveredState>> Recover() override;
  Status SetLimits(const StoreLimits& limits) override;
  ChannelLimits GetChannelLimits(std::string_view channel) const override;
  Result<ChannelStore*> CreateChannel(std::string_view name) override;
  ChannelStore* LookupChannel(std::string_view name) override;
  Status DeleteChannel(std::string_view name) override;
  Status FlushBatch(std::span<ChannelStore* const> channels) override;
  Status AddClient(const ClientInfo& info) override;
  Status DeleteClient(std::string_view client_id) override;
  Status Close() override;

  // Writes and syncs what is buffered now (what the auto-sync thread does every
  // file_auto_sync). Any thread.
  Status SyncEverything();
  const FileContext& context() const { return *ctx_; }
  FileClientStore& clients() { return clients_; }

 private:
  friend Result<std::unique_ptr<Store>> store::CreateFileStore(const StoreOptions&);
  FileStore(const StoreOptions& options, std::string root);
  Status Open();
  // Opens a channel's stores in its directory, recovering what is there.
  Result<std::unique_ptr<ChannelStore>> OpenChannel(const std::string& name);
  void AutoSyncLoop();

  std::unique_ptr<FileContext> ctx_;
  StoreLimits limits_;  // built
  std::shared_ptr<File> server_file_;
  FileClientStore clients_;
  std::shared_ptr<File> lock_file_;
  SyncPool sync_pool_;

  mutable std::mutex mu_;  // channels_; taken before the channels' own mutexes
  std::map<std::string, std::unique_ptr<ChannelStore>, std::less<>> channels_;
  bool closed_ = false;

  std::mutex auto_sync_mu_;  // a leaf: the auto-sync thread's wake-up
  std::condition_variable auto_sync_cv_;
  bool auto_sync_stop_ = false;
  std::thread auto_sync_thread_;
};

}  // namespace file
}  // namespace gannet::streaming::store
