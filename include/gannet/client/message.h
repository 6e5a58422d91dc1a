// A received message. It owns its bytes (subject, reply, headers and payload), so it can be
// kept, copied, moved to another thread or stored after the callback returns. A Message is a
// value: not shared, not synchronized (its copies share immutable bytes, counted atomically).
//
// The messages a connection receives for its subscriptions are packed side by side in 32 KiB
// blocks (one allocation for many messages, none per message); a block is freed when the last
// message in it is gone, so a Message kept for long keeps its block: copy the bytes out to
// keep many small messages for long.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "gannet/client/headers.h"

namespace gannet::client {

namespace detail {
// Bytes shared by the messages made in it, freed with the last reference (message_arena.h).
struct MessageBlock {
  std::atomic<int64_t> refs;
  uint32_t capacity;
  char* bytes() { return reinterpret_cast<char*>(this + 1); }

  static MessageBlock* New(uint32_t capacity, int64_t refs);
  void Unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) Free();
  }
  void Free();
};
class MessageArena;
}  // namespace detail

class Message {
 public:
  Message() = default;
  // `header_block` is the raw NATS/1.0 block (empty for MSG); it is parsed here.
  Message(std::string_view subject, std::string_view reply, std::string_view header_block,
          std::string_view data);
  Message(const Message& other);
  Message& operator=(const Message& other);
  Message(Message&& other) noexcept;
  Message& operator=(Message&& other) noexcept;
  ~Message() {
    if (block_) block_->Unref();
  }

  std::string_view subject() const { return {bytes_, subject_len_}; }
  std::string_view reply() const { return {bytes_ + subject_len_, reply_len_}; }
  // The payload, without the header block.
  std::string_view data() const {
    return {bytes_ + subject_len_ + reply_len_ + header_len_, data_len_};
  }
  // The header block exactly as received ("" when the message has none).
  std::string_view header_block() const {
    return {bytes_ + subject_len_ + reply_len_, header_len_};
  }
  bool has_headers() const { return header_len_ > 0; }
  const Headers& headers() const { return headers_ ? *headers_ : kNoHeaders; }
  // The status from the header block's version line (e.g. 503); 0 when none.
  int status() const { return headers().status(); }
  // The server's answer to a request nobody subscribes to: a 503 status and no payload.
  bool IsNoResponders() const { return status() == 503 && data().empty(); }

 private:
  friend class detail::MessageArena;
  // Lays the parts out at `at` (inside `block`, whose reference this message takes over).
  Message(detail::MessageBlock* block, char* at, std::string_view subject, std::string_view reply,
          std::string_view header_block, std::string_view data);

  detail::MessageBlock* block_ = nullptr;
  const char* bytes_ = nullptr;  // subject | reply | header block | payload
  uint32_t subject_len_ = 0;
  uint32_t reply_len_ = 0;
  uint32_t header_len_ = 0;
  uint32_t data_len_ = 0;
  // Parsed only when there is a header block: most messages have none, and a message without
  // them stays small to move from the I/O thread to the callback's.
  std::unique_ptr<Headers> headers_;
  static const Headers kNoHeaders;
};

}  // namespace gannet::client
