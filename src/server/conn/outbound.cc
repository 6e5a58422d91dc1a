// A connection's pending output (see outbound.h).
#include "server/conn/outbound.h"

#include <sys/socket.h>
#include <sys/uio.h>

namespace gannet {

std::string& OutboundQueue::Tail() {
  if (chunks_.empty() || chunks_.back().size() >= kChunkTarget) {
    const bool follows_full = !chunks_.empty();
    if (follows_full) sealed_bytes_ += chunks_.back().size();
    std::string fresh;
    if (!spare_.empty()) {
      fresh.swap(spare_.back());
      spare_.pop_back();
    }
    // Behind a full chunk this one will fill too: sized at once rather than doubled up to it
    // (each doubling copies what it holds).
    if (follows_full && fresh.capacity() < kChunkTarget) fresh.reserve(kChunkTarget + kChunkSlack);
    chunks_.push_back(std::move(fresh));
  }
  return chunks_.back();
}

void OutboundQueue::AppendChunk(std::string&& chunk) {
  if (chunk.empty()) return;
  // Small hand-overs are copied into the tail: fewer, fuller chunks for writev.
  if (!chunks_.empty() && chunk.size() < 4096 &&
      chunks_.back().size() + chunk.size() <= kChunkTarget) {
    chunks_.back().append(chunk);
    Recycle(std::move(chunk));
    return;
  }
  if (!chunks_.empty()) sealed_bytes_ += chunks_.back().size();
  chunks_.push_back(std::move(chunk));
}

void OutboundQueue::PrependChunk(std::string&& chunk) {
  if (chunk.empty()) return;
  if (chunks_.empty()) {
    chunks_.push_back(std::move(chunk));
    return;
  }
  sealed_bytes_ += chunk.size();  // not the tail: it goes in front of it
  chunks_.insert(chunks_.begin(), std::move(chunk));
}

size_t OutboundQueue::pending() const {
  if (chunks_.empty()) return 0;
  return sealed_bytes_ + chunks_.back().size() - head_offset_;
}

ssize_t OutboundQueue::WriteTo(int fd) {
  iovec iov[kMaxIov];
  int n = 0;
  for (auto it = chunks_.begin(); it != chunks_.end() && n < kMaxIov; ++it) {
    size_t off = (n == 0) ? head_offset_ : 0;
    if (it->size() == off) continue;
    iov[n].iov_base = const_cast<char*>(it->data() + off);
    iov[n].iov_len = it->size() - off;
    ++n;
  }
  if (n == 0) return 0;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(n);
  // sendmsg rather than writev: MSG_NOSIGNAL, so a peer gone away is an error, not SIGPIPE.
  ssize_t written = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  if (written <= 0) return written;
  Consume(static_cast<size_t>(written));
  return written;
}

std::string_view OutboundQueue::Front() const {
  for (size_t i = 0; i < chunks_.size(); ++i) {
    size_t off = i == 0 ? head_offset_ : 0;
    if (chunks_[i].size() > off) return std::string_view(chunks_[i]).substr(off);
  }
  return {};
}

void OutboundQueue::Consume(size_t written) {
  size_t left = written;
  // Empty chunks ahead of the data (a written head that was kept) go first.
  while (chunks_.size() > 1 && chunks_.front().size() == head_offset_) {
    head_offset_ = 0;
    sealed_bytes_ -= chunks_.front().size();
    Recycle(std::move(chunks_.front()));
    chunks_.erase(chunks_.begin());
  }
  while (left > 0) {
    std::string& head = chunks_.front();
    size_t avail = head.size() - head_offset_;
    if (left < avail) {
      head_offset_ += left;
      break;
    }
    left -= avail;
    if (chunks_.size() == 1) {
      head_offset_ = head.size();  // the tail, all written
      break;
    }
    head_offset_ = 0;
    sealed_bytes_ -= head.size();
    Recycle(std::move(head));
    chunks_.erase(chunks_.begin());
  }
  if (pending() == 0) {
    // All written: the last buffer goes to the spares too (kept, not freed, so the next burst
    // allocates nothing and touches no fresh pages).
    Recycle(std::move(chunks_.back()));
    chunks_.clear();
    head_offset_ = 0;
    sealed_bytes_ = 0;
  }
}

void OutboundQueue::Recycle(std::string&& chunk) {
  if (spare_.size() >= kMaxSpare || chunk.capacity() > 4 * kChunkTarget) return;
  chunk.clear();
  spare_.push_back(std::move(chunk));
}

bool OutboundQueue::TakeSpare(std::string& out) {
  if (spare_.empty()) return false;
  out.swap(spare_.back());
  spare_.pop_back();
  return true;
}

void OutboundQueue::ReleaseSpares() {
  spare_.clear();
  spare_.shrink_to_fit();
}

void OutboundQueue::Release() {
  chunks_.clear();
  spare_.clear();
  head_offset_ = 0;
  sealed_bytes_ = 0;
}

}  // namespace gannet
