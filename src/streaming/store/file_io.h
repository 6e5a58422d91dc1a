// The FILE store's system calls: a file descriptor owned by a shared handle (a background sync
// may hold it while the store moves on), full writes and reads at offsets, fdatasync, version
// headers, directory sync, temporary files and the advisory lock; and RecordReader, which walks
// the records of a file with one read per buffer. Every failure is a Status naming the call, the
// path and the system's error text.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "streaming/store/file_format.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store::file {

// "<what> <path>: <strerror(err)>" as a kIo status.
Status IoError(std::string_view what, const std::string& path, int err);

class File {
 public:
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Opens `path` read-write, creating it when `create`. A new (or empty) file gets the version
  // header; an existing one must carry a version this store reads ("unsupported file version: 2
  // (supports [1..1])", "unable to verify file version: ..."). `created` tells which it was.
  static Result<std::shared_ptr<File>> OpenVersioned(const std::string& path, bool create,
                                                     bool* created = nullptr);
  // Opens without a version check (lock and witness files).
  static Result<std::shared_ptr<File>> OpenRaw(const std::string& path, int flags);
  // A directory, for SyncData to make the entries created in it durable.
  static Result<std::shared_ptr<File>> OpenDir(const std::string& path);

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  Status WriteAt(const char* data, size_t size, int64_t offset);
  // Writes every byte of `iov` at `offset` (pwritev, continued after short writes).
  Status WriteVAt(struct iovec* iov, int count, int64_t offset);
  // Reads up to `size` bytes at `offset`; fewer only at the end of the file.
  Result<size_t> ReadAt(char* buf, size_t size, int64_t offset) const;
  // fdatasync (fsync for a directory).
  Status SyncData();
  Result<int64_t> Size() const;
  Status Truncate(int64_t size);

  // Files this process holds open through File (the soft file_fds_limit counts them).
  static int64_t OpenCount() { return open_count_.load(std::memory_order_relaxed); }

 private:
  File(int fd, std::string path);
  int fd_;
  bool is_dir_ = false;
  std::string path_;
  static std::atomic<int64_t> open_count_;
};

// fsync of a directory, so that files created, renamed or removed in it stay so.
Status SyncDir(const std::string& dir);
// A new file in `dir` named `prefix` + random characters, holding the version header, for a
// compaction to fill and rename over the original.
Result<std::shared_ptr<File>> CreateTempFile(const std::string& dir, const std::string& prefix);
// Removes `path` and everything under it.
Status RemoveAll(const std::string& path);
std::string JoinPath(const std::string& dir, std::string_view name);

// An fcntl write lock on `path` (created if needed), held while the returned handle lives.
// NotFound-free semantics: false when another process holds it.
Result<bool> TryLockFile(const std::string& path, std::shared_ptr<File>& holder);

// Walks a file's records from `offset`, reading `buffer_size` bytes at a time (a record larger
// than that is read whole). A record whose header claims more bytes than the file holds is
// kTruncated without being read.
class RecordReader {
 public:
  RecordReader(const File& file, int64_t offset, size_t buffer_size, bool typed, const Crc32& crc,
               bool check_crc);
  // The next record. On kOk the reader moves past it; otherwise it stays where the record
  // starts (offset()), for the caller to truncate or report.
  Result<RecordView> Next();
  // Where the next record starts.
  int64_t offset() const { return offset_; }
  int64_t file_size() const { return file_size_; }

 private:
  Status Fill(size_t need);

  const File& file_;
  int64_t offset_;
  int64_t file_size_ = 0;
  size_t buffer_size_;
  bool typed_;
  const Crc32& crc_;
  bool check_crc_;
  std::string buf_;
  size_t pos_ = 0;  // buf_[pos_] is the byte at offset_
  size_t len_ = 0;
  Status size_error_;
};

}  // namespace gannet::streaming::store::file
