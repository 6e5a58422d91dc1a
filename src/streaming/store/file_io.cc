// The FILE store's system calls (see file_io.h).
#include "streaming/store/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace gannet::streaming::store::file {

std::atomic<int64_t> File::open_count_{0};

Status IoError(std::string_view what, const std::string& path, int err) {
  std::string m(what);
  m += ' ';
  m += path;
  m += ": ";
  m += std::strerror(err);
  return Status(Code::kIo, std::move(m));
}

File::File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
  open_count_.fetch_add(1, std::memory_order_relaxed);
}

File::~File() {
  if (fd_ >= 0) {
    ::close(fd_);
    open_count_.fetch_sub(1, std::memory_order_relaxed);
  }
}

Result<std::shared_ptr<File>> File::OpenRaw(const std::string& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0666);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return IoError("open", path, errno);
  return std::shared_ptr<File>(new File(fd, path));
}

Result<std::shared_ptr<File>> File::OpenDir(const std::string& path) {
  auto f = OpenRaw(path, O_RDONLY | O_DIRECTORY);
  if (f) (*f)->is_dir_ = true;
  return f;
}

Result<std::shared_ptr<File>> File::OpenVersioned(const std::string& path, bool create,
                                                  bool* created) {
  auto opened = OpenRaw(path, O_RDWR | (create ? O_CREAT : 0));
  if (!opened) return opened.status();
  std::shared_ptr<File> f = std::move(opened).value();
  auto size = f->Size();
  if (!size) return size.status();
  if (created) *created = *size == 0;
  if (*size == 0) {
    // New, or created by a run that stopped before it wrote the version: ours to start.
    char v[kVersionSize];
    PutU32(v, kFileVersion);
    if (Status s = f->WriteAt(v, sizeof v, 0); !s) return s;
    return f;
  }
  char v[kVersionSize];
  auto n = f->ReadAt(v, sizeof v, 0);
  if (!n) return n.status();
  if (*n < kVersionSize) {
    return Status(Code::kCorrupt, "unable to verify file version: unexpected EOF");
  }
  const uint32_t version = GetU32(v);
  if (version == 0 || version > kFileVersion) {
    return Status(Code::kCorrupt, "unsupported file version: " + std::to_string(version) +
                                      " (supports [1.." + std::to_string(kFileVersion) + "])");
  }
  return f;
}

Status File::WriteAt(const char* data, size_t size, int64_t offset) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd_, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path_, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return Status::Ok();
}

Status File::WriteVAt(struct iovec* iov, int count, int64_t offset) {
  while (count > 0) {
    if (iov->iov_len == 0) {
      ++iov;
      --count;
      continue;
    }
    ssize_t n = ::pwritev(fd_, iov, std::min(count, IOV_MAX), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path_, errno);
    }
    offset += n;
    // Skip what was written: whole vectors, then part of one.
    auto left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return Status::Ok();
}

Result<size_t> File::ReadAt(char* buf, size_t size, int64_t offset) const {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd_, buf + done, size - done, offset + static_cast<int64_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("read", path_, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status File::SyncData() {
  while ((is_dir_ ? ::fsync(fd_) : ::fdatasync(fd_)) != 0) {
    if (errno == EINTR) continue;
    // Some file systems cannot sync a directory; they keep its entries anyway.
    if (is_dir_ && (errno == EINVAL || errno == EROFS)) break;
    return IoError("sync", path_, errno);
  }
  return Status::Ok();
}

Result<int64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return IoError("stat", path_, errno);
  return static_cast<int64_t>(st.st_size);
}

Status File::Truncate(int64_t size) {
  while (::ftruncate(fd_, size) != 0) {
    if (errno != EINTR) return IoError("truncate", path_, errno);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  auto d = File::OpenDir(dir);
  if (!d) return d.status();
  return (*d)->SyncData();
}

Result<std::shared_ptr<File>> CreateTempFile(const std::string& dir, const std::string& prefix) {
  std::string tmpl = JoinPath(dir, prefix + "XXXXXX");
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return IoError("create", tmpl, errno);
  ::close(fd);
  auto f = File::OpenVersioned(tmpl, false);
  if (!f) ::unlink(tmpl.c_str());
  return f;
}

Status RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return IoError("remove", path, ec.value());
  return Status::Ok();
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string p = dir;
  if (!p.empty() && p.back() != '/') p += '/';
  p += name;
  return p;
}

Result<bool> TryLockFile(const std::string& path, std::shared_ptr<File>& holder) {
  auto f = File::OpenRaw(path, O_RDWR | O_CREAT);
  if (!f) return f.status();
  struct flock spec {};
  spec.l_type = F_WRLCK;
  spec.l_whence = SEEK_SET;
  spec.l_start = 0;
  spec.l_len = 0;  // the whole file
  if (::fcntl((*f)->fd(), F_SETLK, &spec) != 0) {
    if (errno == EAGAIN || errno == EACCES || errno == EINTR || errno == ENOLCK) return false;
    return IoError("lock", path, errno);
  }
  holder = std::move(f).value();
  return true;
}

// ---- RecordReader ----

RecordReader::RecordReader(const File& file, int64_t offset, size_t buffer_size, bool typed,
                           const Crc32& crc, bool check_crc)
    : file_(file),
      offset_(offset),
      buffer_size_(std::max<size_t>(buffer_size, size_t{64} * 1024)),
      typed_(typed),
      crc_(crc),
      check_crc_(check_crc) {
  auto size = file.Size();
  if (size) {
    file_size_ = *size;
  } else {
    size_error_ = size.status();
  }
}

Status RecordReader::Fill(size_t need) {
  // Make buf_[pos_, pos_ + need) hold the file's bytes, as far as the file goes.
  if (len_ - pos_ >= need) return Status::Ok();
  const int64_t left_in_file = file_size_ - offset_;
  const size_t want = static_cast<size_t>(
      std::min<int64_t>(left_in_file, static_cast<int64_t>(std::max(need, buffer_size_))));
  if (len_ - pos_ >= want) return Status::Ok();
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
  }
  if (buf_.size() < want) buf_.resize(want);
  auto n = file_.ReadAt(buf_.data() + len_, want - len_, offset_ + static_cast<int64_t>(len_));
  if (!n) return n.status();
  len_ += *n;
  return Status::Ok();
}

Result<RecordView> RecordReader::Next() {
  if (!size_error_.ok()) return size_error_;
  if (Status s = Fill(kRecordHeaderSize); !s) return s;
  std::string_view avail(buf_.data() + pos_, len_ - pos_);
  RecordView head =
      ReadRecord(avail.substr(0, std::min(avail.size(), kRecordHeaderSize)), typed_, crc_, false);
  if (!head.header_complete || head.status == RecordStatus::kZeroHeader) return head;
  // A header claiming more than the file holds is not read (a damaged size could be 4 GB).
  if (offset_ + static_cast<int64_t>(head.consumed()) > file_size_) {
    head.status = RecordStatus::kTruncated;
    head.payload = {};
    return head;
  }
  if (Status s = Fill(head.consumed()); !s) return s;
  avail = std::string_view(buf_.data() + pos_, len_ - pos_);
  RecordView r = ReadRecord(avail, typed_, crc_, check_crc_);
  if (r.status == RecordStatus::kOk) {
    pos_ += r.consumed();
    offset_ += static_cast<int64_t>(r.consumed());
  }
  return r;
}

}  // namespace gannet::streaming::store::file
