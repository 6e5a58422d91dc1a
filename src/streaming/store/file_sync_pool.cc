// Parallel file syncs (see file_sync_pool.h).
#include "streaming/store/file_sync_pool.h"

#include <pthread.h>

namespace gannet::streaming::store::file {

SyncPool::~SyncPool() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool SyncPool::RunOne(std::unique_lock<std::mutex>& lk) {
  if (!job_ || next_ >= job_->size()) return false;
  File& f = *(*job_)[next_++];
  lk.unlock();
  Status s = f.SyncData();
  lk.lock();
  if (!s && error_.ok()) error_ = s;
  if (++done_ == job_->size()) done_cv_.notify_all();
  return true;
}

void SyncPool::Helper() {
  pthread_setname_np(pthread_self(), "stan-fsync");
  std::unique_lock lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [this] { return stop_ || (job_ && next_ < job_->size()); });
    if (stop_) return;
    while (RunOne(lk)) {
    }
  }
}

Status SyncPool::SyncAll(const std::vector<std::shared_ptr<File>>& files) {
  if (files.empty()) return Status::Ok();
  if (files.size() == 1 || helpers_ == 0) {
    for (const auto& f : files) {
      if (Status s = f->SyncData(); !s) return s;
    }
    return Status::Ok();
  }
  std::lock_guard call(call_mu_);
  std::unique_lock lk(mu_);
  while (threads_.size() < helpers_) threads_.emplace_back([this] { Helper(); });
  job_ = &files;
  next_ = 0;
  done_ = 0;
  error_ = Status::Ok();
  work_cv_.notify_all();
  while (RunOne(lk)) {
  }
  done_cv_.wait(lk, [&] { return done_ == files.size(); });
  job_ = nullptr;
  return error_;
}

}  // namespace gannet::streaming::store::file
