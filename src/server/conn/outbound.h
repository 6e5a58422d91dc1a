// A connection's pending output: a queue of byte chunks written with one gathered send.
//
// Small writes (protocol lines, MSGs to a receiver on the same worker) are appended to the last
// chunk; buffers handed over by other workers are queued whole, without a copy. Written chunks
// are kept for reuse, so steady state allocates nothing. Owner thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gannet {

class OutboundQueue {
 public:
  // The chunk to append to. Callers append directly (no per-append bookkeeping here).
  std::string& Tail();
  void Append(std::string_view bytes) { Tail().append(bytes); }
  // Queues a whole buffer without copying it (small ones are copied into the tail instead).
  void AppendChunk(std::string&& chunk);
  // Queues a buffer ahead of everything else. Only while nothing queued has been written.
  void PrependChunk(std::string&& chunk);

  size_t pending() const;
  bool empty() const { return pending() == 0; }
  // One gathered send (sendmsg) of up to kMaxIov chunks. Returns bytes written, or -1 with errno
  // set.
  ssize_t WriteTo(int fd);
  // For writers that take one buffer at a time (TLS): the unwritten part of the first chunk,
  // and the bookkeeping after `n` bytes of it were written.
  std::string_view Front() const;
  void Consume(size_t n);
  // Drops everything and the spare buffers (connection closing).
  void Release();
  // Frees the spare buffers: a connection that went quiet keeps no memory for bursts.
  void ReleaseSpares();
  bool has_spares() const { return !spare_.empty(); }
  size_t chunk_count() const { return chunks_.size(); }
  // Gives a written buffer for reuse by someone else (the inbox), if one is spare.
  bool TakeSpare(std::string& out);

 private:
  static constexpr size_t kChunkTarget = size_t{64} * 1024;  // start a new tail past this
  static constexpr size_t kChunkSlack = size_t{16} * 1024;   // room for the message that ends one
  static constexpr int kMaxIov = 64;
  static constexpr size_t kMaxSpare = 4;

  void Recycle(std::string&& chunk);

  std::vector<std::string> chunks_;  // a few entries: popping the front is cheap
  size_t head_offset_ = 0;           // bytes of chunks_.front() already written
  size_t sealed_bytes_ = 0;          // bytes in all chunks but the tail
  std::vector<std::string> spare_;
};

}  // namespace gannet
