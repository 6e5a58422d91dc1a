// A received message. It owns its bytes (subject, reply, headers and payload live in one
// allocation), so it can be kept, moved to another thread or stored after the callback returns.
// A Message is a value: not shared, not synchronized.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gannet/client/headers.h"

namespace gannet::client {

class Message {
 public:
  Message() = default;
  // `header_block` is the raw NATS/1.0 block (empty for MSG); it is parsed here.
  Message(std::string_view subject, std::string_view reply, std::string_view header_block,
          std::string_view data);

  std::string_view subject() const { return std::string_view(buf_).substr(0, subject_len_); }
  std::string_view reply() const { return std::string_view(buf_).substr(subject_len_, reply_len_); }
  // The payload, without the header block.
  std::string_view data() const {
    return std::string_view(buf_).substr(subject_len_ + reply_len_ + header_len_);
  }
  // The header block exactly as received ("" when the message has none).
  std::string_view header_block() const {
    return std::string_view(buf_).substr(subject_len_ + reply_len_, header_len_);
  }
  bool has_headers() const { return header_len_ > 0; }
  const Headers& headers() const { return headers_; }
  // The status from the header block's version line (e.g. 503); 0 when none.
  int status() const { return headers_.status(); }
  // The server's answer to a request nobody subscribes to: a 503 status and no payload.
  bool IsNoResponders() const { return headers_.status() == 503 && data().empty(); }

 private:
  std::string buf_;  // subject | reply | header block | payload
  uint32_t subject_len_ = 0;
  uint32_t reply_len_ = 0;
  uint32_t header_len_ = 0;
  Headers headers_;
};

}  // namespace gannet::client
