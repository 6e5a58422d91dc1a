// NUIDs (see nuid.h).
#include "streaming/nuid.h"

#include <sys/random.h>

#include <chrono>

namespace gannet::streaming {

namespace {
constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr uint64_t kBase = 62;
constexpr uint64_t kMaxSeq = 839299365868340224ULL;  // 62^10
constexpr uint64_t kMinInc = 33;
constexpr uint64_t kMaxInc = 333;
}  // namespace

Nuid::Nuid() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != sizeof seed) {
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  rng_state_ = seed | 1;
  Randomize();
}

uint64_t Nuid::Random() {
  // xorshift64*: the prefix and stride only need to be unpredictable enough not to collide.
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return rng_state_ * 2685821657736338717ULL;
}

void Nuid::Randomize() {
  unsigned char bytes[12];
  if (getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    for (auto& b : bytes) b = static_cast<unsigned char>(Random());
  }
  for (size_t i = 0; i < sizeof prefix_; ++i) prefix_[i] = kDigits[bytes[i] % kBase];
  seq_ = Random() % kMaxSeq;
  inc_ = kMinInc + Random() % (kMaxInc - kMinInc);
}

void Nuid::AppendNext(std::string& out) {
  seq_ += inc_;
  if (seq_ >= kMaxSeq) Randomize();
  char buf[kLength];
  for (size_t i = 0; i < sizeof prefix_; ++i) buf[i] = prefix_[i];
  uint64_t l = seq_;
  for (size_t i = kLength; i > sizeof prefix_; --i) {
    buf[i - 1] = kDigits[l % kBase];
    l /= kBase;
  }
  out.append(buf, kLength);
}

std::string Nuid::Next() {
  std::string s;
  AppendNext(s);
  return s;
}

std::string NextNuid() {
  thread_local Nuid nuid;
  return nuid.Next();
}

}  // namespace gannet::streaming
