// Per-worker match cache (see match_cache.h).
#include "core/match_cache.h"

#include <cstring>

#include "core/subject.h"

namespace gannet {

MatchCache::MatchCache(Sublist& sublist, size_t max_entries, Admission admission)
    : sublist_(sublist),
      max_entries_(max_entries),
      admission_(admission),
      seen_once_(kSeenSlots, 0) {
  sublist_.RegisterCache(this);
}

MatchCache::~MatchCache() { sublist_.UnregisterCache(this); }

void MatchCache::QueueInvalidation(std::string_view subject) {
  std::lock_guard lock(invalidations_mu_);
  invalidations_.emplace_back(subject);
  has_invalidations_.store(true, std::memory_order_release);
}

void MatchCache::FanoutStats(uint64_t& max, uint64_t& total) const {
  for (const auto& [subject, result] : entries_) {
    uint64_t n = result.plain.size() + result.queues.size();
    total += n;
    if (n > max) max = n;
  }
}

void MatchCache::Drain() {
  if (!has_invalidations_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard lock(invalidations_mu_);
    draining_.swap(invalidations_);
    has_invalidations_.store(false, std::memory_order_relaxed);
  }
  last_result_ = nullptr;
  for (const std::string& changed : draining_) {
    if (!SubjectHasWildcard(changed)) {
      entries_.erase(changed);
      continue;
    }
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (SubjectMatchesPattern(it->first, changed)) {
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  draining_.clear();
}

void MatchCache::Evict() {
  last_result_ = nullptr;
  // Drop about a quarter of the entries; which ones does not matter for correctness.
  size_t to_drop = entries_.size() / 4 + 1;
  for (auto it = entries_.begin(); it != entries_.end() && to_drop > 0; --to_drop) {
    it = entries_.erase(it);
  }
}

const MatchResult& MatchCache::LookupSlow(std::string_view subject) {
  Drain();
  if (last_result_ && subject.size() == last_key_len_ &&
      EqualBytes(subject.data(), last_key_, subject.size())) {
    ++hits_;
    return *last_result_;
  }
  auto it = entries_.find(subject);
  if (it != entries_.end()) {
    ++hits_;
    Remember(subject, &it->second);
    return it->second;
  }
  ++misses_;
  scratch_.clear();
  uint64_t generation = 0;
  sublist_.Match(subject, scratch_, &generation);
  // Any invalidation queued before the match has been seen by it; one queued after it bumped
  // the generation, and then the result is used once but not kept.
  Drain();
  if (sublist_.generation() != generation) return scratch_;
  if (admission_ == Admission::kSecondMiss) {
    size_t hash = StringHash{}(subject) | 1;  // 0 marks an empty slot
    size_t& seen = seen_once_[hash % kSeenSlots];
    if (seen != hash) {
      seen = hash;
      return scratch_;
    }
  }
  if (entries_.size() >= max_entries_) Evict();
  const MatchResult& cached = entries_.emplace(std::string(subject), scratch_).first->second;
  Remember(subject, &cached);
  return cached;
}

void MatchCache::Remember(std::string_view subject, const MatchResult* result) {
  if (subject.size() > kLastKeyMax) {
    last_result_ = nullptr;
    return;
  }
  std::memcpy(last_key_, subject.data(), subject.size());
  last_key_len_ = subject.size();
  last_result_ = result;
}

}  // namespace gannet
