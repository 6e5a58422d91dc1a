#include "gannet/client/message.h"

namespace gannet::client {

Message::Message(std::string_view subject, std::string_view reply, std::string_view header_block,
                 std::string_view data)
    : subject_len_(static_cast<uint32_t>(subject.size())),
      reply_len_(static_cast<uint32_t>(reply.size())),
      header_len_(static_cast<uint32_t>(header_block.size())) {
  // One allocation for everything the message owns.
  buf_.reserve(subject.size() + reply.size() + header_block.size() + data.size());
  buf_.append(subject).append(reply).append(header_block).append(data);
  if (!header_block.empty() && !Headers::Parse(header_block, headers_)) {
    headers_ = Headers();  // malformed: the raw block stays available
  }
}

}  // namespace gannet::client
