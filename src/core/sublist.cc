// The subject index (see sublist.h).
#include "core/sublist.h"

#include <algorithm>

#include "core/match_cache.h"
#include "core/subject.h"

namespace gannet {

namespace {
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Splits a subject into views: kInlineTokens of them inline, the heap for longer subjects.
constexpr size_t kInlineTokens = 32;
struct Tokens {
  std::string_view inline_tokens[kInlineTokens];
  std::vector<std::string_view> heap;
  const std::string_view* data = inline_tokens;
  size_t size = 0;

  explicit Tokens(std::string_view subject) {
    TokenIterator it(subject);
    std::string_view t;
    while (it.Next(t)) {
      if (size < kInlineTokens) {
        inline_tokens[size++] = t;
      } else {
        if (heap.empty()) heap.assign(inline_tokens, inline_tokens + kInlineTokens);
        heap.push_back(t);
        ++size;
      }
    }
    if (!heap.empty()) data = heap.data();
  }
};
}  // namespace

struct Sublist::Node {
  std::unique_ptr<Level> next;
  std::vector<Subscription*> plain;
  std::vector<std::pair<std::string, std::vector<Subscription*>>> queues;
  bool Empty() const;
};

struct Sublist::Level {
  std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> literals;
  std::unique_ptr<Node> single_wildcard;  // '*'
  std::unique_ptr<Node> full_wildcard;    // '>'
  bool Empty() const { return literals.empty() && !single_wildcard && !full_wildcard; }
};

bool Sublist::Node::Empty() const {
  return plain.empty() && queues.empty() && (!next || next->Empty());
}

Sublist::Sublist() : root_(std::make_unique<Level>()) {}
Sublist::~Sublist() = default;

void Sublist::Insert(Subscription* sub) {
  Tokens tokens(sub->subject);
  {
    std::unique_lock lock(mu_);
    Level* level = root_.get();
    Node* node = nullptr;
    for (size_t i = 0; i < tokens.size; ++i) {
      std::string_view t = tokens.data[i];
      std::unique_ptr<Node>* slot;
      if (t == kSingleWildcard) {
        slot = &level->single_wildcard;
      } else if (t == kFullWildcard) {
        slot = &level->full_wildcard;
      } else {
        auto it = level->literals.find(t);
        if (it == level->literals.end()) {
          it = level->literals.emplace(std::string(t), nullptr).first;
        }
        slot = &it->second;
      }
      if (!*slot) *slot = std::make_unique<Node>();
      node = slot->get();
      if (i + 1 < tokens.size) {
        if (!node->next) node->next = std::make_unique<Level>();
        level = node->next.get();
      }
    }
    if (sub->queue.empty()) {
      node->plain.push_back(sub);
    } else {
      auto it = std::find_if(node->queues.begin(), node->queues.end(),
                             [&](const auto& q) { return q.first == sub->queue; });
      if (it == node->queues.end()) {
        node->queues.emplace_back(sub->queue, std::vector<Subscription*>{});
        it = std::prev(node->queues.end());
      }
      it->second.push_back(sub);
    }
    ++count_;
    ++inserts_;
    generation_.fetch_add(1, std::memory_order_acq_rel);
    Invalidate(sub->subject);
  }
}

bool Sublist::Remove(Subscription* sub) {
  Tokens tokens(sub->subject);
  std::unique_lock lock(mu_);
  // Walk down remembering the path so empty nodes can be pruned on the way back.
  struct Step {
    Level* level;
    std::string_view token;
  };
  std::vector<Step> path;
  path.reserve(tokens.size);
  Level* level = root_.get();
  Node* node = nullptr;
  for (size_t i = 0; i < tokens.size; ++i) {
    if (!level) return false;
    std::string_view t = tokens.data[i];
    path.push_back({level, t});
    if (t == kSingleWildcard) {
      node = level->single_wildcard.get();
    } else if (t == kFullWildcard) {
      node = level->full_wildcard.get();
    } else {
      auto it = level->literals.find(t);
      node = it == level->literals.end() ? nullptr : it->second.get();
    }
    if (!node) return false;
    level = node->next.get();
  }
  bool found = false;
  if (sub->queue.empty()) {
    auto it = std::find(node->plain.begin(), node->plain.end(), sub);
    if (it != node->plain.end()) {
      node->plain.erase(it);
      found = true;
    }
  } else {
    for (auto q = node->queues.begin(); q != node->queues.end(); ++q) {
      if (q->first != sub->queue) continue;
      auto it = std::find(q->second.begin(), q->second.end(), sub);
      if (it != q->second.end()) {
        q->second.erase(it);
        found = true;
        if (q->second.empty()) node->queues.erase(q);
      }
      break;
    }
  }
  if (!found) return false;
  // Prune empty nodes bottom-up.
  for (size_t i = path.size(); i-- > 0;) {
    Level* lv = path[i].level;
    std::string_view t = path[i].token;
    std::unique_ptr<Node>* slot;
    std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>>::iterator
        lit;
    if (t == kSingleWildcard) {
      slot = &lv->single_wildcard;
    } else if (t == kFullWildcard) {
      slot = &lv->full_wildcard;
    } else {
      lit = lv->literals.find(t);
      slot = &lit->second;
    }
    if (!(*slot)->Empty()) break;
    if ((*slot)->next && (*slot)->next->Empty()) (*slot)->next.reset();
    if (t == kSingleWildcard || t == kFullWildcard) {
      slot->reset();
    } else {
      lv->literals.erase(lit);
    }
  }
  --count_;
  ++removes_;
  generation_.fetch_add(1, std::memory_order_acq_rel);
  Invalidate(sub->subject);
  return true;
}

void Sublist::AddNodeSubs(const Node* node, MatchResult& out) {
  out.plain.insert(out.plain.end(), node->plain.begin(), node->plain.end());
  for (const auto& group : node->queues) {
    const std::string& name = group.first;
    const std::vector<Subscription*>& members = group.second;
    auto it = std::find_if(out.queues.begin(), out.queues.end(),
                           [&name](const QueueGroupMatch& q) { return q.name == name; });
    if (it == out.queues.end()) {
      out.queues.push_back(QueueGroupMatch{name, {}});
      it = std::prev(out.queues.end());
    }
    for (Subscription* member : members) {
      // A peer's group is as likely to be picked as its members are many.
      int32_t copies = std::clamp<int32_t>(member->weight, 1, Subscription::kMaxQueueWeight);
      it->members.insert(it->members.end(), static_cast<size_t>(copies), member);
    }
  }
}

void Sublist::MatchLevel(const Level* level, const std::string_view* tokens, size_t ntokens,
                         MatchResult& out) {
  const Node* node = nullptr;
  for (size_t i = 0; i < ntokens && level; ++i) {
    if (level->full_wildcard) AddNodeSubs(level->full_wildcard.get(), out);
    if (const Node* pwc = level->single_wildcard.get()) {
      if (i + 1 == ntokens) {
        AddNodeSubs(pwc, out);
      } else if (pwc->next) {
        MatchLevel(pwc->next.get(), tokens + i + 1, ntokens - i - 1, out);
      }
    }
    auto it = level->literals.find(tokens[i]);
    if (it == level->literals.end()) return;
    node = it->second.get();
    if (i + 1 == ntokens) {
      AddNodeSubs(node, out);
      return;
    }
    level = node->next.get();
  }
}

void Sublist::Match(std::string_view subject, MatchResult& out, uint64_t* generation) const {
  Tokens tokens(subject);
  matches_.fetch_add(1, std::memory_order_relaxed);
  std::shared_lock lock(mu_);
  if (generation) *generation = generation_.load(std::memory_order_acquire);
  // An empty token never matches anything (PUB subjects are not validated unless pedantic).
  for (size_t i = 0; i < tokens.size; ++i) {
    if (tokens.data[i].empty()) return;
  }
  MatchLevel(root_.get(), tokens.data, tokens.size, out);
}

bool Sublist::HasInterest(std::string_view subject) const {
  MatchResult r;
  Match(subject, r);
  return !r.empty();
}

SublistStats Sublist::Stats() const {
  std::shared_lock lock(mu_);
  return SublistStats{count_, inserts_, removes_, matches_.load(std::memory_order_relaxed)};
}

size_t Sublist::Count() const {
  std::shared_lock lock(mu_);
  return count_;
}

void Sublist::RegisterCache(MatchCache* cache) {
  std::unique_lock lock(mu_);
  caches_.push_back(cache);
}

void Sublist::UnregisterCache(MatchCache* cache) {
  std::unique_lock lock(mu_);
  caches_.erase(std::remove(caches_.begin(), caches_.end(), cache), caches_.end());
}

void Sublist::Invalidate(std::string_view subject) {
  for (MatchCache* cache : caches_) cache->QueueInvalidation(subject);
}

}  // namespace gannet
