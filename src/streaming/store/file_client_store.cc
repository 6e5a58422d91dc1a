// The FILE store's clients.dat (see file_client_store.h).
#include "streaming/store/file_client_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "streaming/log.h"
#include "streaming/store/file_recovery.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store::file {

FileClientStore::FileClientStore(const FileContext& ctx)
    : ctx_(ctx), path_(JoinPath(ctx.root, kClientsFileName)) {}

Status FileClientStore::Open() {
  std::lock_guard lk(mu_);
  auto f = File::OpenVersioned(path_, true);
  if (!f) return f.status();
  file_ = std::move(f).value();
  int64_t read = 0;
  Status s = ReplayRecords(
      ctx_, *file_,
      [this](uint8_t type, std::string_view payload) -> Status {
        if (type == kAddClient) {
          ClientInfo c;
          if (!DecodeClientInfo(payload, c)) {
            return Status(Code::kCorrupt, "unable to decode client record");
          }
          // A client added twice (which should not happen) is its most recent record.
          std::string id = c.id;
          clients_[id] = std::move(c);
          return Status::Ok();
        }
        if (type == kDelClient) {
          std::string id;
          if (!DecodeClientDelete(payload, id)) {
            return Status(Code::kCorrupt, "unable to decode client delete record");
          }
          clients_.erase(id);
          ++delete_recs_;
          return Status::Ok();
        }
        return Status(Code::kCorrupt, "invalid client record type: " + std::to_string(type));
      },
      read);
  if (!s) return s;
  file_size_ = read;
  auto size = file_->Size();
  if (!size) return size.status();
  written_size_ = *size;
  return Status::Ok();
}

std::vector<ClientInfo> FileClientStore::Clients() const {
  std::lock_guard lk(mu_);
  std::vector<ClientInfo> out;
  out.reserve(clients_.size());
  for (const auto& [id, c] : clients_) out.push_back(c);
  return out;
}

int64_t FileClientStore::FileSize() const {
  std::lock_guard lk(mu_);
  return file_size_;
}

int FileClientStore::Compactions() const {
  std::lock_guard lk(mu_);
  return compactions_;
}

Status FileClientStore::Write(uint8_t type, const std::string& payload) {
  if (!file_) return Status(Code::kClosed, "store closed");
  std::string rec;
  AppendRecord(rec, type, payload, ctx_.crc);
  if (Status s = file_->WriteAt(rec.data(), rec.size(), written_size_); !s) {
    (void)file_->Truncate(written_size_);
    return s;
  }
  written_size_ += static_cast<int64_t>(rec.size());
  file_size_ += static_cast<int64_t>(rec.size());
  return ctx_.opts.do_sync ? file_->SyncData() : Status::Ok();
}

Status FileClientStore::Add(const ClientInfo& info) {
  std::lock_guard lk(mu_);
  if (Status s = Write(kAddClient, EncodeClientInfo(info)); !s) return s;
  clients_[info.id] = info;
  return Status::Ok();
}

Status FileClientStore::Delete(std::string_view client_id) {
  std::lock_guard lk(mu_);
  // Even when the write fails the client goes: a compaction may succeed where it did not.
  Status s = Write(kDelClient, EncodeClientDelete(client_id));
  if (auto it = clients_.find(client_id); it != clients_.end()) clients_.erase(it);
  ++delete_recs_;
  if (ShouldCompact()) return Compact();
  return s;
}

bool FileClientStore::ShouldCompact() const {
  const FileStoreOptions& o = ctx_.opts;
  if (!o.compact_enabled) return false;
  if (o.compact_min_file_size > 0 && file_size_ < o.compact_min_file_size) return false;
  const int64_t frag = delete_recs_ * 100 / (delete_recs_ + static_cast<int64_t>(clients_.size()));
  if (frag < o.compact_fragmentation) return false;
  return compact_ts_ == std::chrono::steady_clock::time_point{} ||
         std::chrono::steady_clock::now() - compact_ts_ >= std::chrono::seconds(o.compact_interval);
}

Status FileClientStore::Compact() {
  auto tmp = CreateTempFile(ctx_.root, kClientsFileName);
  if (!tmp) return tmp.status();
  File& t = **tmp;
  std::string out;
  for (const auto& [id, c] : clients_) AppendRecord(out, kAddClient, EncodeClientInfo(c), ctx_.crc);
  const std::string tmp_path = t.path();
  Status s = t.WriteAt(out.data(), out.size(), kVersionSize);
  if (s) s = t.SyncData();
  if (s && ::rename(tmp_path.c_str(), path_.c_str()) != 0) s = IoError("rename", tmp_path, errno);
  if (!s) {
    ::unlink(tmp_path.c_str());
    STAN_ERROR("Unable to compact the clients file: %s", s.message().c_str());
    return s;
  }
  auto reopened = File::OpenVersioned(path_, false);
  file_ = reopened ? std::move(reopened).value() : std::move(tmp).value();
  if (Status d = SyncDir(ctx_.root); !d) STAN_ERROR("%s", d.message().c_str());
  written_size_ = static_cast<int64_t>(kVersionSize + out.size());
  file_size_ = static_cast<int64_t>(out.size());
  delete_recs_ = 0;
  compact_ts_ = std::chrono::steady_clock::now();
  ++compactions_;
  return Status::Ok();
}

Status FileClientStore::Close() {
  std::lock_guard lk(mu_);
  file_.reset();
  return Status::Ok();
}

}  // namespace gannet::streaming::store::file
