// The fault-tolerance group's lock (see exclusive_lock.h): the FILE store's lock file here, the
// SQL store's StoreLock row in sql_lock.cc.
#include "streaming/store/exclusive_lock.h"

#include <filesystem>

#include "streaming/store/file_format.h"
#include "streaming/store/file_io.h"

namespace gannet::streaming::store {

Result<std::unique_ptr<ExclusiveLock>> CreateSqlLock(const SqlStoreOptions& options);

namespace {

class FileLock final : public ExclusiveLock {
 public:
  explicit FileLock(std::string path) : path_(std::move(path)) {}

  Result<bool> TryLock(bool /*peer_silent*/) override {
    if (holder_) return true;
    // A failed attempt closes its descriptor: that releases nothing, we held nothing. Once
    // held, the descriptor stays open until the process ends (closing any descriptor of the
    // file would release the process's lock, the FILE store's own included).
    return file::TryLockFile(path_, holder_);
  }

 private:
  std::string path_;
  std::shared_ptr<file::File> holder_;
};

}  // namespace

Result<std::unique_ptr<ExclusiveLock>> CreateExclusiveLock(const StoreOptions& options) {
  if (options.type == "FILE") {
    if (options.dir.empty()) {
      return Status(Code::kInvalid, "for FILE stores, root directory must be specified");
    }
    std::error_code ec;
    std::filesystem::create_directories(options.dir, ec);
    if (ec) {
      return Status(Code::kIo,
                    "unable to create the root directory [" + options.dir + "]: " + ec.message());
    }
    return std::unique_ptr<ExclusiveLock>(
        std::make_unique<FileLock>(options.dir + "/" + file::kLockFileName));
  }
  if (options.type == "SQL") return CreateSqlLock(options.sql);
  return Status(Code::kInvalid,
                "fault tolerance requires a FILE or SQL store, not " + options.type);
}

}  // namespace gannet::streaming::store
