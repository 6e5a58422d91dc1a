// The subject index: a trie of subscriptions keyed by subject tokens, with '*' and '>' branches.
//
// Threading: one Sublist is shared by all worker threads. Inserts and removes take the write
// side of a shared_mutex; matches take the read side. Workers do not call Match() per message:
// they go through their own MatchCache (match_cache.h), which the Sublist keeps correct by
// queueing the subject of every change to each registered cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gannet {

class MatchCache;

// Whoever receives a subscription's messages: to the index, an opaque tag. The server's
// connections (a client, or a route standing for a peer's interest) derive from it.
class Subscriber {
 protected:
  ~Subscriber() = default;
};

// One subscription. Owned by its subscriber; freed only through the reclaimer (reclaimer.h) so
// other threads may hold a pointer taken from the index until their next quiescent point.
namespace auth {
class DeliveryDenyFilter;
}

struct Subscription {
  std::string subject;
  std::string queue;  // empty for a plain subscription
  std::string sid;
  Subscriber* subscriber = nullptr;
  uint64_t id = 0;  // unique per subscriber, so a deferred removal cannot hit a reused sid
  // A queue subscription standing for a cluster peer's members of the group counts as that
  // many members when one is picked (the reference's queue weight; at most kMaxQueueWeight).
  // Set before Insert; changed only while the subscription is out of the index.
  int32_t weight = 1;
  static constexpr int32_t kMaxQueueWeight = 1024;
  // Auto-unsubscribe limit (0: none). Written by the owner's thread, read by publishers'.
  std::atomic<uint64_t> max{0};
  // Messages delivered. A publisher on the subscriber's own worker thread counts in
  // `delivered_owner` with a plain increment (that thread is its only writer); publishers on
  // other threads, and every publisher once `max` is set, add to `delivered` atomically (a
  // locked add per delivery was a tenth of a 16 B fan-out's time). Setting `max` first folds
  // `delivered_owner` into `delivered`, on the owner's thread, so the limit sees every message.
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> delivered_owner{0};
  uint64_t Delivered() const {
    return delivered.load(std::memory_order_relaxed) +
           delivered_owner.load(std::memory_order_relaxed);
  }
  // Subjects this subscription must not receive although it matches them: the subscriber's
  // subscribe deny list, once one of its wildcard subscriptions overlapped it (the reference's
  // loadMsgDenyFilter). Null for nearly every subscription. Set by the owner's thread, read by
  // publishers'; the filter belongs to the configuration generation the subscriber's
  // permissions come from, kept alive while the subscriber refers to it (and, once replaced,
  // until every worker has passed a quiescent point).
  std::atomic<const auth::DeliveryDenyFilter*> deny_filter{nullptr};
};

struct QueueGroupMatch {
  std::string name;  // a copy: results outlive the index's nodes (they are cached)
  std::vector<Subscription*> members;
};

// What one subject matches: every plain subscription, and each queue group's members (one of
// which receives the message).
struct MatchResult {
  std::vector<Subscription*> plain;
  std::vector<QueueGroupMatch> queues;
  bool empty() const { return plain.empty() && queues.empty(); }
  void clear() {
    plain.clear();
    queues.clear();
  }
};

struct SublistStats {
  uint64_t subscriptions = 0;
  uint64_t inserts = 0;
  uint64_t removes = 0;
  uint64_t matches = 0;
};

class Sublist {
 public:
  Sublist();
  ~Sublist();
  Sublist(const Sublist&) = delete;
  Sublist& operator=(const Sublist&) = delete;

  // The subject must be valid (IsValidSubject); the caller checked it.
  void Insert(Subscription* sub);
  // Returns false if the subscription was not in the index.
  bool Remove(Subscription* sub);
  // Computes the full result under the read lock. `generation` receives the change counter
  // as of the match, so a cache can tell whether the result is still current.
  void Match(std::string_view subject, MatchResult& out, uint64_t* generation = nullptr) const;
  // Any subscription matching the subject?
  bool HasInterest(std::string_view subject) const;

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  SublistStats Stats() const;
  size_t Count() const;

  // Caches register to receive invalidations; unregister before they are destroyed.
  void RegisterCache(MatchCache* cache);
  void UnregisterCache(MatchCache* cache);

 private:
  struct Node;
  struct Level;
  static void MatchLevel(const Level* level, const std::string_view* tokens, size_t ntokens,
                         MatchResult& out);
  static void AddNodeSubs(const Node* node, MatchResult& out);
  void Invalidate(std::string_view subject);

  mutable std::shared_mutex mu_;
  std::unique_ptr<Level> root_;
  std::vector<MatchCache*> caches_;
  std::atomic<uint64_t> generation_{0};
  uint64_t count_ = 0;
  uint64_t inserts_ = 0;
  uint64_t removes_ = 0;
  mutable std::atomic<uint64_t> matches_{0};
};

}  // namespace gannet
