// Where a connection's I/O thread makes the messages it receives for subscriptions: packed side
// by side in 32 KiB blocks, so a message costs a copy of its bytes and no allocation.
//
// Reference counting without an atomic per message on this side: a block starts with a bias of
// references the arena owns; each message made in it takes one of them silently, and when the
// block is full the arena gives back the ones it did not hand out. The consumer's thread (where
// messages die) is the only one that decrements per message, so the count's cache line is not
// passed back and forth with the I/O thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "gannet/client/message.h"

namespace gannet::client::detail {

class MessageArena {
 public:
  MessageArena() = default;
  MessageArena(const MessageArena&) = delete;
  MessageArena& operator=(const MessageArena&) = delete;
  ~MessageArena() { Retire(); }

  Message Make(std::string_view subject, std::string_view reply, std::string_view header_block,
               std::string_view data) {
    size_t size = subject.size() + reply.size() + header_block.size() + data.size();
    if (size > kLargest) return Message(subject, reply, header_block, data);  // its own block
    if (!block_ || used_ + size > kBlockSize) {
      Retire();
      block_ = MessageBlock::New(kBlockSize, kBias);
    }
    char* at = block_->bytes() + used_;
    used_ += static_cast<uint32_t>(size);
    ++handed_;
    return Message(block_, at, subject, reply, header_block, data);
  }

 private:
  static constexpr uint32_t kBlockSize = 32 * 1024;
  static constexpr size_t kLargest = kBlockSize / 4;  // larger messages get a block each
  static constexpr int64_t kBias = int64_t{1} << 40;

  void Retire() {
    if (!block_) return;
    // The references not handed out; the block goes when its last message does.
    if (block_->refs.fetch_sub(kBias - handed_, std::memory_order_acq_rel) == kBias - handed_) {
      block_->Free();
    }
    block_ = nullptr;
    used_ = 0;
    handed_ = 0;
  }

  MessageBlock* block_ = nullptr;
  uint32_t used_ = 0;
  int64_t handed_ = 0;
};

}  // namespace gannet::client::detail
