// NUIDs: 22-character unique identifiers (12 random base62 characters, then a 10-character
// sequence with a random stride), as the NATS clients and servers make them for inboxes, server
// ids and subjects. Cheap enough for every ack inbox.
#pragma once

#include <cstdint>
#include <string>

namespace gannet::streaming {

class Nuid {
 public:
  static constexpr size_t kLength = 22;

  Nuid();
  // The next identifier. Not thread-safe: one generator per thread (see NextNuid).
  std::string Next();
  void AppendNext(std::string& out);

 private:
  void Randomize();
  uint64_t Random();

  char prefix_[12];
  uint64_t seq_ = 0;
  uint64_t inc_ = 0;
  uint64_t rng_state_ = 0;
};

// A fresh NUID from this thread's generator.
std::string NextNuid();

}  // namespace gannet::streaming
