// The FILE store's clients.dat: typed records as the reference writes them (1 ClientInfo added
// at connect, 2 ClientDelete at close or replacement), written and synced (file_sync) before
// the store answers, and compacted like subs.dat (file_compact_*: the live clients rewritten to
// a temporary file that replaces it).
//
// Threads: the server's thread; Close also from FileStore::Close. One mutex (a leaf).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "streaming/store/file_context.h"
#include "streaming/store/file_io.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store::file {

class FileClientStore {
 public:
  explicit FileClientStore(const FileContext& ctx);

  // Opens clients.dat (creating it) and replays its records.
  Status Open();
  // The clients Open found (and added since), by id.
  std::vector<ClientInfo> Clients() const;

  Status Add(const ClientInfo& info);
  Status Delete(std::string_view client_id);
  Status Close();

  // Tests.
  int64_t FileSize() const;
  int Compactions() const;

 private:
  Status Write(uint8_t type, const std::string& payload);
  bool ShouldCompact() const;
  Status Compact();

  const FileContext& ctx_;
  const std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<File> file_;
  std::map<std::string, ClientInfo, std::less<>> clients_;
  int64_t written_size_ = 0;
  int64_t file_size_ = 0;  // bytes of records, as the reference counts for compaction
  int64_t delete_recs_ = 0;
  std::chrono::steady_clock::time_point compact_ts_{};
  int compactions_ = 0;
};

}  // namespace gannet::streaming::store::file
