// A worker thread's private cache of subject → MatchResult, kept correct by targeted
// invalidation: a subscription change on subject S erases only the cached subjects S matches,
// so the churn of request/reply's unique inbox subscriptions does not throw the cache away.
//
// Threading: Lookup() and Drain() only from the owning worker thread; QueueInvalidation() from
// any thread (the Sublist calls it under its write lock).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "core/sublist.h"

namespace gannet {

class MatchCache {
 public:
  enum class Admission {
    kSecondMiss,  // cache a subject when it is missed a second time (the server's policy)
    kFirstMiss,   // cache every miss (for tests of invalidation)
  };
  explicit MatchCache(Sublist& sublist, size_t max_entries = 4096,
                      Admission admission = Admission::kSecondMiss);
  ~MatchCache();
  MatchCache(const MatchCache&) = delete;
  MatchCache& operator=(const MatchCache&) = delete;

  // The subscriptions matching a literal subject. The reference stays valid until the next
  // call of Lookup() or Drain() on this cache.
  const MatchResult& Lookup(std::string_view subject) {
    // A publisher repeating its subject: two compares of the key, no call, no hash.
    if (last_result_ && subject.size() == last_key_len_ &&
        !has_invalidations_.load(std::memory_order_acquire) &&
        EqualBytes(subject.data(), last_key_, subject.size())) {
      ++hits_;
      return *last_result_;
    }
    return LookupSlow(subject);
  }
  // Applies queued invalidations. Called at each quiescent point of the worker.
  void Drain();
  void QueueInvalidation(std::string_view subject);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t size() const { return entries_.size(); }
  // Fan-out of the cached results (plain subscriptions plus queue groups, as the reference
  // counts it): the largest, and the sum over entries. Owner thread.
  void FanoutStats(uint64_t& max, uint64_t& total) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const MatchResult& LookupSlow(std::string_view subject);
  void Evict();
  void Remember(std::string_view subject, const MatchResult* result);

  Sublist& sublist_;
  size_t max_entries_;
  Admission admission_;
  std::unordered_map<std::string, MatchResult, StringHash, std::equal_to<>> entries_;
  MatchResult scratch_;  // result of an uncacheable lookup
  // The last subject looked up and its entry: a publisher repeating a subject skips the hash.
  // Node-based map: the pointer stays valid until that entry is erased (which resets it).
  static constexpr size_t kLastKeyMax = 128;
  char last_key_[kLastKeyMax];
  size_t last_key_len_ = 0;
  const MatchResult* last_result_ = nullptr;
  // Hashes of subjects missed once. A subject is cached on its second miss, so the unique
  // reply subjects of request/reply never allocate a cache entry.
  static constexpr size_t kSeenSlots = 4096;
  std::vector<size_t> seen_once_;

  std::mutex invalidations_mu_;
  std::vector<std::string> invalidations_;
  std::vector<std::string> draining_;
  std::atomic<bool> has_invalidations_{false};

  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace gannet
