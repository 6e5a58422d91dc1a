#include "gannet/client/message.h"

#include <cstring>
#include <new>
#include <utility>

namespace gannet::client {

const Headers Message::kNoHeaders;

namespace detail {

MessageBlock* MessageBlock::New(uint32_t capacity, int64_t refs) {
  void* mem = ::operator new(sizeof(MessageBlock) + capacity);
  auto* block = new (mem) MessageBlock{{refs}, capacity};
  return block;
}

void MessageBlock::Free() {
  this->~MessageBlock();
  ::operator delete(this);
}

}  // namespace detail

Message::Message(detail::MessageBlock* block, char* at, std::string_view subject,
                 std::string_view reply, std::string_view header_block, std::string_view data)
    : block_(block),
      bytes_(at),
      subject_len_(static_cast<uint32_t>(subject.size())),
      reply_len_(static_cast<uint32_t>(reply.size())),
      header_len_(static_cast<uint32_t>(header_block.size())),
      data_len_(static_cast<uint32_t>(data.size())) {
  // memcpy with a null source is undefined even for 0 bytes: copy only what is there.
  auto put = [&at](std::string_view part) {
    if (!part.empty()) std::memcpy(at, part.data(), part.size());
    at += part.size();
  };
  put(subject);
  put(reply);
  put(header_block);
  put(data);
  if (!header_block.empty()) {
    headers_ = std::make_unique<Headers>();
    if (!Headers::Parse(header_block, *headers_)) {
      *headers_ = Headers();  // malformed: the raw block stays available
    }
  }
}

namespace {
detail::MessageBlock* ExactBlock(size_t size) {
  return detail::MessageBlock::New(static_cast<uint32_t>(size), 1);
}
}  // namespace

// A message made by the application (or a reply): one block of its exact size.
Message::Message(std::string_view subject, std::string_view reply, std::string_view header_block,
                 std::string_view data) {
  size_t size = subject.size() + reply.size() + header_block.size() + data.size();
  detail::MessageBlock* block = ExactBlock(size);
  *this = Message(block, block->bytes(), subject, reply, header_block, data);
}

Message::Message(const Message& other)
    : block_(other.block_),
      bytes_(other.bytes_),
      subject_len_(other.subject_len_),
      reply_len_(other.reply_len_),
      header_len_(other.header_len_),
      data_len_(other.data_len_),
      headers_(other.headers_ ? std::make_unique<Headers>(*other.headers_) : nullptr) {
  if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
}

Message& Message::operator=(const Message& other) {
  if (this != &other) *this = Message(other);
  return *this;
}

Message::Message(Message&& other) noexcept
    : block_(std::exchange(other.block_, nullptr)),
      bytes_(std::exchange(other.bytes_, nullptr)),
      subject_len_(std::exchange(other.subject_len_, 0)),
      reply_len_(std::exchange(other.reply_len_, 0)),
      header_len_(std::exchange(other.header_len_, 0)),
      data_len_(std::exchange(other.data_len_, 0)),
      headers_(std::move(other.headers_)) {}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    if (block_) block_->Unref();
    block_ = std::exchange(other.block_, nullptr);
    bytes_ = std::exchange(other.bytes_, nullptr);
    subject_len_ = std::exchange(other.subject_len_, 0);
    reply_len_ = std::exchange(other.reply_len_, 0);
    header_len_ = std::exchange(other.header_len_, 0);
    data_len_ = std::exchange(other.data_len_, 0);
    headers_ = std::move(other.headers_);
  }
  return *this;
}

}  // namespace gannet::client
