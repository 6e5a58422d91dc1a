// Unit tests of the subject index (core/sublist.h) and the per-worker match cache
// (core/match_cache.h).
#include "core/sublist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/match_cache.h"

namespace gannet {
namespace {

// Owns the subscriptions a test inserts (Subscription holds atomics: not movable).
class Subs {
 public:
  Subscription* Make(std::string subject, std::string queue = "", std::string sid = "") {
    auto& s = subs_.emplace_back(std::make_unique<Subscription>());
    s->subject = std::move(subject);
    s->queue = std::move(queue);
    s->sid = sid.empty() ? std::to_string(subs_.size()) : std::move(sid);
    s->id = subs_.size();
    return s.get();
  }

 private:
  std::deque<std::unique_ptr<Subscription>> subs_;
};

using SubSet = std::multiset<const Subscription*>;

SubSet Plain(const MatchResult& r) { return SubSet(r.plain.begin(), r.plain.end()); }

// Queue group name → members (as a multiset: order within a group does not matter).
std::map<std::string, SubSet> Queues(const MatchResult& r) {
  std::map<std::string, SubSet> out;
  for (const QueueGroupMatch& q : r.queues) {
    EXPECT_EQ(out.count(std::string(q.name)), 0u) << "queue group " << q.name << " listed twice";
    out[std::string(q.name)] = SubSet(q.members.begin(), q.members.end());
  }
  return out;
}

SubSet MatchPlain(const Sublist& sl, std::string_view subject) {
  MatchResult r;
  sl.Match(subject, r);
  EXPECT_TRUE(r.queues.empty());
  return Plain(r);
}

// ---- Sublist ----

TEST(SublistTest, EmptyMatchesNothing) {
  Sublist sl;
  MatchResult r;
  sl.Match("foo", r);
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(sl.HasInterest("foo"));
  EXPECT_EQ(sl.Count(), 0u);
}

TEST(SublistTest, LiteralSubjects) {
  Sublist sl;
  Subs s;
  Subscription* foo = s.Make("foo");
  Subscription* foo_bar = s.Make("foo.bar");
  Subscription* foo_bar2 = s.Make("foo.bar");
  Subscription* bar = s.Make("bar");
  for (Subscription* sub : {foo, foo_bar, foo_bar2, bar}) sl.Insert(sub);
  EXPECT_EQ(sl.Count(), 4u);
  EXPECT_EQ(MatchPlain(sl, "foo"), SubSet{foo});
  EXPECT_EQ(MatchPlain(sl, "foo.bar"), (SubSet{foo_bar, foo_bar2}));
  EXPECT_EQ(MatchPlain(sl, "bar"), SubSet{bar});
  EXPECT_EQ(MatchPlain(sl, "foo.bar.baz"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "foo.baz"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "fo"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "bar.foo"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "FOO"), SubSet{});  // subjects are case-sensitive
}

TEST(SublistTest, SingleTokenWildcard) {
  Sublist sl;
  Subs s;
  Subscription* star = s.Make("*");
  Subscription* foo_star = s.Make("foo.*");
  Subscription* star_bar = s.Make("*.bar");
  Subscription* mid = s.Make("foo.*.baz");
  Subscription* two = s.Make("*.*");
  for (Subscription* sub : {star, foo_star, star_bar, mid, two}) sl.Insert(sub);
  EXPECT_EQ(MatchPlain(sl, "foo"), SubSet{star});
  EXPECT_EQ(MatchPlain(sl, "foo.bar"), (SubSet{foo_star, star_bar, two}));
  EXPECT_EQ(MatchPlain(sl, "foo.x"), (SubSet{foo_star, two}));
  EXPECT_EQ(MatchPlain(sl, "x.bar"), (SubSet{star_bar, two}));
  EXPECT_EQ(MatchPlain(sl, "foo.bar.baz"), SubSet{mid});
  EXPECT_EQ(MatchPlain(sl, "foo.bar.qux"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "foo.bar.baz.x"), SubSet{});
  // '*' matches exactly one token, never zero.
  EXPECT_EQ(MatchPlain(sl, "foo.baz"), (SubSet{foo_star, two}));
}

TEST(SublistTest, FullWildcardNeedsAtLeastOneToken) {
  Sublist sl;
  Subs s;
  Subscription* all = s.Make(">");
  Subscription* foo_all = s.Make("foo.>");
  Subscription* foo_bar_all = s.Make("foo.bar.>");
  for (Subscription* sub : {all, foo_all, foo_bar_all}) sl.Insert(sub);
  EXPECT_EQ(MatchPlain(sl, "foo"), SubSet{all});
  EXPECT_EQ(MatchPlain(sl, "bar"), SubSet{all});
  EXPECT_EQ(MatchPlain(sl, "foo.bar"), (SubSet{all, foo_all}));
  EXPECT_EQ(MatchPlain(sl, "foo.bar.baz"), (SubSet{all, foo_all, foo_bar_all}));
  EXPECT_EQ(MatchPlain(sl, "foo.bar.baz.a.b.c"), (SubSet{all, foo_all, foo_bar_all}));
  EXPECT_EQ(MatchPlain(sl, "bar.foo"), SubSet{all});
}

TEST(SublistTest, MixedWildcards) {
  Sublist sl;
  Subs s;
  Subscription* a = s.Make("a.*.c.>");
  Subscription* b = s.Make("*.b.>");
  Subscription* c = s.Make("a.b.c");
  Subscription* d = s.Make("*.*.*");
  Subscription* e = s.Make("a.>");
  for (Subscription* sub : {a, b, c, d, e}) sl.Insert(sub);
  EXPECT_EQ(MatchPlain(sl, "a.b.c"), (SubSet{b, c, d, e}));
  EXPECT_EQ(MatchPlain(sl, "a.b.c.d"), (SubSet{a, b, e}));
  EXPECT_EQ(MatchPlain(sl, "a.x.c.d.e"), (SubSet{a, e}));
  EXPECT_EQ(MatchPlain(sl, "x.b.y"), (SubSet{b, d}));
  EXPECT_EQ(MatchPlain(sl, "x.b"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "a"), SubSet{});
}

TEST(SublistTest, SubjectsWithEmptyTokensMatchNothing) {
  Sublist sl;
  Subs s;
  sl.Insert(s.Make(">"));
  sl.Insert(s.Make("*.*"));
  sl.Insert(s.Make("foo.*"));
  EXPECT_EQ(MatchPlain(sl, "foo..bar"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "foo."), SubSet{});
  EXPECT_EQ(MatchPlain(sl, ".foo"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, ""), SubSet{});
  EXPECT_FALSE(sl.HasInterest("foo."));
}

TEST(SublistTest, ManyTokens) {
  // More tokens than the index splits inline.
  Sublist sl;
  Subs s;
  std::string subject = "t0";
  for (int i = 1; i < 50; ++i) subject += ".t" + std::to_string(i);
  Subscription* literal = s.Make(subject);
  Subscription* prefix = s.Make("t0.t1.>");
  std::string with_star = subject;
  with_star.replace(with_star.rfind(".t45."), 5, ".*.");
  Subscription* star = s.Make(with_star);
  for (Subscription* sub : {literal, prefix, star}) sl.Insert(sub);
  EXPECT_EQ(MatchPlain(sl, subject), (SubSet{literal, prefix, star}));
  EXPECT_EQ(MatchPlain(sl, subject + ".x"), SubSet{prefix});
  EXPECT_TRUE(sl.Remove(literal));
  EXPECT_EQ(MatchPlain(sl, subject), (SubSet{prefix, star}));
}

TEST(SublistTest, QueueGroupsAreGroupedByNameAcrossWildcards) {
  Sublist sl;
  Subs s;
  Subscription* q1_lit = s.Make("foo.bar", "q1");
  Subscription* q1_lit2 = s.Make("foo.bar", "q1");
  Subscription* q1_star = s.Make("foo.*", "q1");
  Subscription* q1_full = s.Make("foo.>", "q1");
  Subscription* q1_all = s.Make(">", "q1");
  Subscription* q2_star = s.Make("*.bar", "q2");
  Subscription* q2_lit = s.Make("foo.bar", "q2");
  Subscription* q3_other = s.Make("foo.baz", "q3");
  Subscription* plain = s.Make("foo.bar");
  Subscription* plain_star = s.Make("foo.*");
  for (Subscription* sub :
       {q1_lit, q1_lit2, q1_star, q1_full, q1_all, q2_star, q2_lit, q3_other, plain, plain_star}) {
    sl.Insert(sub);
  }
  MatchResult r;
  sl.Match("foo.bar", r);
  EXPECT_EQ(Plain(r), (SubSet{plain, plain_star}));
  auto queues = Queues(r);
  ASSERT_EQ(queues.size(), 2u);
  EXPECT_EQ(queues["q1"], (SubSet{q1_lit, q1_lit2, q1_star, q1_full, q1_all}));
  EXPECT_EQ(queues["q2"], (SubSet{q2_star, q2_lit}));

  MatchResult other;
  sl.Match("foo.baz", other);
  EXPECT_EQ(Plain(other), SubSet{plain_star});
  auto other_queues = Queues(other);
  ASSERT_EQ(other_queues.size(), 2u);
  EXPECT_EQ(other_queues["q1"], (SubSet{q1_star, q1_full, q1_all}));
  EXPECT_EQ(other_queues["q3"], SubSet{q3_other});

  // Removing members shrinks their group; removing the last one drops the group.
  EXPECT_TRUE(sl.Remove(q2_star));
  EXPECT_TRUE(sl.Remove(q2_lit));
  EXPECT_TRUE(sl.Remove(q1_lit));
  MatchResult after;
  sl.Match("foo.bar", after);
  auto after_queues = Queues(after);
  ASSERT_EQ(after_queues.size(), 1u);
  EXPECT_EQ(after_queues["q1"], (SubSet{q1_lit2, q1_star, q1_full, q1_all}));
}

TEST(SublistTest, QueueNameIsNotAPlainSubscription) {
  Sublist sl;
  Subs s;
  Subscription* q = s.Make("foo", "workers");
  sl.Insert(q);
  MatchResult r;
  sl.Match("foo", r);
  EXPECT_TRUE(r.plain.empty());
  ASSERT_EQ(r.queues.size(), 1u);
  EXPECT_EQ(r.queues[0].name, "workers");
  EXPECT_EQ(SubSet(r.queues[0].members.begin(), r.queues[0].members.end()), SubSet{q});
  EXPECT_FALSE(r.empty());
  EXPECT_TRUE(sl.HasInterest("foo"));
}

TEST(SublistTest, MatchAppendsToTheResult) {
  // Match adds to `out`; callers clear it (the cache does).
  Sublist sl;
  Subs s;
  Subscription* a = s.Make("a");
  Subscription* b = s.Make("b");
  sl.Insert(a);
  sl.Insert(b);
  MatchResult r;
  sl.Match("a", r);
  sl.Match("b", r);
  EXPECT_EQ(Plain(r), (SubSet{a, b}));
}

TEST(SublistTest, RemoveAndCount) {
  Sublist sl;
  Subs s;
  Subscription* deep = s.Make("a.b.c.d");
  Subscription* mid = s.Make("a.b");
  Subscription* star = s.Make("a.*.c.d");
  Subscription* full = s.Make("a.b.>");
  Subscription* q = s.Make("a.b.c.d", "q");
  for (Subscription* sub : {deep, mid, star, full, q}) sl.Insert(sub);
  EXPECT_EQ(sl.Count(), 5u);

  EXPECT_TRUE(sl.Remove(deep));
  EXPECT_EQ(sl.Count(), 4u);
  MatchResult r;
  sl.Match("a.b.c.d", r);
  EXPECT_EQ(Plain(r), (SubSet{star, full}));
  EXPECT_EQ(Queues(r)["q"], SubSet{q});
  EXPECT_EQ(MatchPlain(sl, "a.b"), SubSet{mid});  // a prefix of the removed path survives

  EXPECT_TRUE(sl.Remove(q));
  EXPECT_TRUE(sl.Remove(star));
  EXPECT_EQ(MatchPlain(sl, "a.b.c.d"), SubSet{full});
  EXPECT_TRUE(sl.Remove(full));
  EXPECT_EQ(MatchPlain(sl, "a.b.c.d"), SubSet{});
  EXPECT_EQ(MatchPlain(sl, "a.b"), SubSet{mid});
  EXPECT_TRUE(sl.Remove(mid));
  EXPECT_EQ(sl.Count(), 0u);
  EXPECT_FALSE(sl.HasInterest("a.b"));

  // The pruned paths can be used again.
  sl.Insert(deep);
  sl.Insert(star);
  EXPECT_EQ(MatchPlain(sl, "a.b.c.d"), (SubSet{deep, star}));
  EXPECT_EQ(sl.Count(), 2u);
}

TEST(SublistTest, RemovingAnAbsentSubscriptionReturnsFalse) {
  Sublist sl;
  Subs s;
  Subscription* in = s.Make("foo.bar");
  Subscription* same_subject = s.Make("foo.bar");
  Subscription* other_subject = s.Make("foo.baz");
  Subscription* longer = s.Make("foo.bar.baz");
  Subscription* shorter = s.Make("foo");
  Subscription* wildcard = s.Make("foo.*");
  Subscription* other_queue = s.Make("foo.bar", "q2");
  Subscription* queued = s.Make("foo.bar", "q1");
  Subscription* queued_other = s.Make("foo.bar", "q1");
  sl.Insert(in);
  sl.Insert(queued);
  uint64_t gen = sl.generation();
  for (Subscription* absent :
       {same_subject, other_subject, longer, shorter, wildcard, other_queue, queued_other}) {
    EXPECT_FALSE(sl.Remove(absent)) << absent->subject << " " << absent->queue;
  }
  EXPECT_EQ(sl.generation(), gen);  // a failed remove changes nothing
  EXPECT_EQ(sl.Count(), 2u);
  EXPECT_EQ(sl.Stats().removes, 0u);
  EXPECT_TRUE(sl.Remove(in));
  EXPECT_FALSE(sl.Remove(in));  // twice
  EXPECT_TRUE(sl.Remove(queued));
  EXPECT_FALSE(sl.Remove(queued));
  EXPECT_EQ(sl.Count(), 0u);
  EXPECT_FALSE(Sublist().Remove(in));  // empty index
}

TEST(SublistTest, HasInterest) {
  Sublist sl;
  Subs s;
  Subscription* inbox = s.Make("_INBOX.abc.*");
  Subscription* q = s.Make("svc.>", "workers");
  sl.Insert(inbox);
  sl.Insert(q);
  EXPECT_TRUE(sl.HasInterest("_INBOX.abc.1"));
  EXPECT_FALSE(sl.HasInterest("_INBOX.abc"));
  EXPECT_FALSE(sl.HasInterest("_INBOX.abd.1"));
  EXPECT_TRUE(sl.HasInterest("svc.echo"));
  EXPECT_FALSE(sl.HasInterest("svc"));
  sl.Remove(q);
  EXPECT_FALSE(sl.HasInterest("svc.echo"));
}

TEST(SublistTest, GenerationChangesOnEveryInsertAndRemove) {
  Sublist sl;
  Subs s;
  Subscription* a = s.Make("a");
  Subscription* b = s.Make("b.*", "q");
  uint64_t g0 = sl.generation();
  sl.Insert(a);
  uint64_t g1 = sl.generation();
  EXPECT_NE(g1, g0);
  sl.Insert(b);
  uint64_t g2 = sl.generation();
  EXPECT_NE(g2, g1);
  MatchResult r;
  uint64_t seen = 0;
  sl.Match("a", r, &seen);
  EXPECT_EQ(seen, g2);
  EXPECT_EQ(sl.generation(), g2);  // matching is not a change
  EXPECT_FALSE(sl.HasInterest("zzz"));
  EXPECT_EQ(sl.generation(), g2);
  sl.Remove(a);
  uint64_t g3 = sl.generation();
  EXPECT_NE(g3, g2);
  sl.Remove(b);
  EXPECT_NE(sl.generation(), g3);
  EXPECT_NE(sl.generation(), g0);  // back to empty, but still a new generation
}

TEST(SublistTest, Stats) {
  Sublist sl;
  Subs s;
  Subscription* a = s.Make("a");
  Subscription* b = s.Make("b");
  sl.Insert(a);
  sl.Insert(b);
  sl.Remove(a);
  MatchResult r;
  sl.Match("b", r);
  sl.Match("c", r);
  SublistStats st = sl.Stats();
  EXPECT_EQ(st.subscriptions, 1u);
  EXPECT_EQ(st.inserts, 2u);
  EXPECT_EQ(st.removes, 1u);
  EXPECT_EQ(st.matches, 2u);
}

TEST(SublistTest, RandomizedAgainstBruteForce) {
  // Inserts and removes random subscriptions over a small token alphabet and checks every
  // match against a linear scan using SubjectMatchesPattern semantics written out here.
  auto matches = [](std::string_view literal, std::string_view pattern) {
    std::vector<std::string_view> lt, pt;
    auto split = [](std::string_view s, std::vector<std::string_view>& out) {
      size_t start = 0;
      for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '.') {
          out.push_back(s.substr(start, i - start));
          start = i + 1;
        }
      }
    };
    split(literal, lt);
    split(pattern, pt);
    for (size_t i = 0; i < pt.size(); ++i) {
      if (pt[i] == ">") return lt.size() > i;
      if (i >= lt.size()) return false;
      if (pt[i] != "*" && pt[i] != lt[i]) return false;
    }
    return lt.size() == pt.size();
  };
  uint64_t seed = 12345;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  const char* kTokens[] = {"a", "b", "c"};
  auto random_subject = [&](bool wildcards) {
    std::string out;
    size_t n = 1 + next() % 4;
    for (size_t i = 0; i < n; ++i) {
      if (i) out += '.';
      uint64_t pick = next() % (wildcards ? 6 : 3);
      if (pick == 5 && i + 1 == n) {
        out += '>';
      } else if (pick >= 3) {
        out += '*';
      } else {
        out += kTokens[pick];
      }
    }
    return out;
  };
  Sublist sl;
  Subs s;
  std::vector<Subscription*> live;
  const char* kQueues[] = {"", "", "q1", "q2"};
  for (int step = 0; step < 1500; ++step) {
    if (live.empty() || next() % 3 != 0) {
      Subscription* sub = s.Make(random_subject(true), kQueues[next() % 4]);
      sl.Insert(sub);
      live.push_back(sub);
    } else {
      size_t i = next() % live.size();
      ASSERT_TRUE(sl.Remove(live[i]));
      ASSERT_FALSE(sl.Remove(live[i]));
      live.erase(live.begin() + static_cast<ptrdiff_t>(i));
    }
    ASSERT_EQ(sl.Count(), live.size());
    std::string subject = random_subject(false);
    SubSet want_plain;
    std::map<std::string, SubSet> want_queues;
    for (Subscription* sub : live) {
      if (!matches(subject, sub->subject)) continue;
      if (sub->queue.empty()) {
        want_plain.insert(sub);
      } else {
        want_queues[sub->queue].insert(sub);
      }
    }
    MatchResult r;
    sl.Match(subject, r);
    ASSERT_EQ(Plain(r), want_plain) << "step " << step << " subject " << subject;
    ASSERT_EQ(Queues(r), want_queues) << "step " << step << " subject " << subject;
  }
}

TEST(SublistTest, ManyLiteralsAtOneLevelSurviveRandomRemoval) {
  // Thousands of tokens under one prefix fill a level's table past several growths; removing
  // them in a random order moves entries back within their probe runs (no tombstones), and
  // every remaining one must still be found, every removed one gone.
  Sublist sl;
  Subs s;
  const int kCount = 5000;
  std::vector<Subscription*> subs;
  for (int i = 0; i < kCount; ++i) {
    subs.push_back(s.Make("p." + std::to_string(i)));
    sl.Insert(subs.back());
    if (i % 3 == 0) sl.Insert(s.Make("p." + std::to_string(i) + ".deeper"));
  }
  std::vector<int> order(kCount);
  for (int i = 0; i < kCount; ++i) order[i] = i;
  uint64_t seed = 99;
  for (int i = kCount - 1; i > 0; --i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(order[i], order[(seed >> 33) % static_cast<uint64_t>(i + 1)]);
  }
  std::vector<bool> removed(kCount, false);
  for (int k = 0; k < kCount; ++k) {
    int victim = order[k];
    ASSERT_TRUE(sl.Remove(subs[victim]));
    removed[victim] = true;
    if (k % 500 == 0 || k == kCount - 1) {
      for (int i = 0; i < kCount; ++i) {
        SubSet got = MatchPlain(sl, "p." + std::to_string(i));
        ASSERT_EQ(got.size(), removed[i] ? 0u : 1u) << "p." << i << " after " << k + 1;
        if (i % 3 == 0) {
          ASSERT_TRUE(sl.HasInterest("p." + std::to_string(i) + ".deeper"));
        }
      }
    }
  }
  EXPECT_EQ(sl.Count(), static_cast<size_t>((kCount + 2) / 3));
  EXPECT_FALSE(sl.HasInterest("p.1"));
}

// ---- MatchCache ----

TEST(MatchCacheTest, HitAfterMiss) {
  Sublist sl;
  Subs s;
  Subscription* foo = s.Make("foo");
  sl.Insert(foo);
  MatchCache cache(sl, 4096, MatchCache::Admission::kFirstMiss);
  EXPECT_EQ(Plain(cache.Lookup("foo")), SubSet{foo});
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(Plain(cache.Lookup("foo")), SubSet{foo});
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
  // No interest is cached too.
  EXPECT_TRUE(cache.Lookup("bar").empty());
  EXPECT_TRUE(cache.Lookup("bar").empty());
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.size(), 2u);
  // A hit does not go to the index.
  uint64_t matches = sl.Stats().matches;
  cache.Lookup("foo");
  EXPECT_EQ(sl.Stats().matches, matches);
}

TEST(MatchCacheTest, LiteralInsertInvalidatesOnlyThatSubject) {
  Sublist sl;
  Subs s;
  MatchCache cache(sl, 4096, MatchCache::Admission::kFirstMiss);
  Subscription* a1 = s.Make("a");
  sl.Insert(a1);
  cache.Lookup("a");
  cache.Lookup("b");
  cache.Lookup("a.b");
  ASSERT_EQ(cache.misses(), 3u);

  Subscription* a2 = s.Make("a");
  sl.Insert(a2);
  EXPECT_TRUE(cache.Lookup("b").empty());
  EXPECT_TRUE(cache.Lookup("a.b").empty());
  EXPECT_EQ(cache.hits(), 2u);  // untouched subjects still hit
  EXPECT_EQ(cache.misses(), 3u);
  EXPECT_EQ(Plain(cache.Lookup("a")), (SubSet{a1, a2}));  // the changed one is recomputed
  EXPECT_EQ(cache.misses(), 4u);
  EXPECT_EQ(Plain(cache.Lookup("a")), (SubSet{a1, a2}));
  EXPECT_EQ(cache.hits(), 3u);

  // Same for a subject that had no interest.
  Subscription* b = s.Make("b");
  sl.Insert(b);
  EXPECT_EQ(Plain(cache.Lookup("b")), SubSet{b});
  EXPECT_EQ(cache.misses(), 5u);
  EXPECT_EQ(Plain(cache.Lookup("a")), (SubSet{a1, a2}));
  EXPECT_EQ(cache.hits(), 4u);
}

TEST(MatchCacheTest, LiteralRemoveInvalidatesOnlyThatSubject) {
  Sublist sl;
  Subs s;
  MatchCache cache(sl, 4096, MatchCache::Admission::kFirstMiss);
  Subscription* a = s.Make("a", "q");
  Subscription* b = s.Make("b");
  sl.Insert(a);
  sl.Insert(b);
  cache.Lookup("a");
  cache.Lookup("b");
  ASSERT_EQ(cache.misses(), 2u);
  ASSERT_TRUE(sl.Remove(a));
  EXPECT_EQ(Plain(cache.Lookup("b")), SubSet{b});
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_TRUE(cache.Lookup("a").empty());
  EXPECT_EQ(cache.misses(), 3u);
  // A failed remove invalidates nothing.
  ASSERT_FALSE(sl.Remove(a));
  cache.Lookup("a");
  cache.Lookup("b");
  EXPECT_EQ(cache.misses(), 3u);
  EXPECT_EQ(cache.hits(), 3u);
}

TEST(MatchCacheTest, WildcardChangeInvalidatesMatchingSubjectsOnly) {
  Sublist sl;
  Subs s;
  MatchCache cache(sl, 4096, MatchCache::Admission::kFirstMiss);
  const std::vector<std::string> subjects = {"foo",     "foo.bar", "foo.baz",
                                             "foo.a.b", "other.x", "fooo.bar"};
  for (const std::string& subject : subjects) cache.Lookup(subject);
  ASSERT_EQ(cache.misses(), subjects.size());

  auto lookup_all = [&](const std::set<std::string>& expect_miss) {
    for (const std::string& subject : subjects) {
      uint64_t misses = cache.misses();
      uint64_t hits = cache.hits();
      cache.Lookup(subject);
      if (expect_miss.count(subject)) {
        EXPECT_EQ(cache.misses(), misses + 1) << subject << " should have been invalidated";
      } else {
        EXPECT_EQ(cache.hits(), hits + 1) << subject << " should still be cached";
      }
    }
  };

  Subscription* star = s.Make("foo.*");
  sl.Insert(star);
  lookup_all({"foo.bar", "foo.baz"});
  EXPECT_EQ(Plain(cache.Lookup("foo.bar")), SubSet{star});
  EXPECT_TRUE(cache.Lookup("foo").empty());

  Subscription* full = s.Make("foo.>", "q");
  sl.Insert(full);
  lookup_all({"foo.bar", "foo.baz", "foo.a.b"});  // not "foo": '>' needs a token
  MatchResult r = cache.Lookup("foo.a.b");
  EXPECT_EQ(Queues(r)["q"], SubSet{full});

  ASSERT_TRUE(sl.Remove(star));
  lookup_all({"foo.bar", "foo.baz"});
  EXPECT_TRUE(Plain(cache.Lookup("foo.bar")).empty());

  Subscription* all = s.Make(">");
  sl.Insert(all);
  lookup_all({"foo", "foo.bar", "foo.baz", "foo.a.b", "other.x", "fooo.bar"});
  for (const std::string& subject : subjects) {
    EXPECT_EQ(Plain(cache.Lookup(subject)), SubSet{all}) << subject;
  }
}

TEST(MatchCacheTest, EveryRegisteredCacheIsInvalidated) {
  Sublist sl;
  Subs s;
  MatchCache c1(sl, 4096, MatchCache::Admission::kFirstMiss);
  MatchCache c2(sl, 4096, MatchCache::Admission::kFirstMiss);
  c1.Lookup("x");
  c2.Lookup("x");
  Subscription* x = s.Make("x");
  sl.Insert(x);
  EXPECT_EQ(Plain(c1.Lookup("x")), SubSet{x});
  EXPECT_EQ(Plain(c2.Lookup("x")), SubSet{x});
  EXPECT_EQ(c1.misses(), 2u);
  EXPECT_EQ(c2.misses(), 2u);
}

TEST(MatchCacheTest, DestroyedCacheIsUnregistered) {
  Sublist sl;
  Subs s;
  {
    MatchCache gone(sl);
    gone.Lookup("x");
  }
  MatchCache live(sl);
  live.Lookup("x");
  // Would touch the destroyed cache if it were still registered (caught by ASan builds).
  Subscription* x = s.Make("x");
  sl.Insert(x);
  EXPECT_EQ(Plain(live.Lookup("x")), SubSet{x});
}

TEST(MatchCacheTest, InvalidationsAreAppliedByDrain) {
  Sublist sl;
  Subs s;
  MatchCache cache(sl, 4096, MatchCache::Admission::kFirstMiss);
  cache.Lookup("a");
  cache.Lookup("b");
  ASSERT_EQ(cache.size(), 2u);
  sl.Insert(s.Make("a"));
  EXPECT_EQ(cache.size(), 2u);  // queued, not yet applied
  cache.Drain();
  EXPECT_EQ(cache.size(), 1u);
  cache.Drain();  // nothing queued: a no-op
  EXPECT_EQ(cache.size(), 1u);
}

TEST(MatchCacheTest, SizeIsBounded) {
  Sublist sl;
  Subs s;
  Subscription* any = s.Make("s.*");
  sl.Insert(any);
  MatchCache cache(sl, 8, MatchCache::Admission::kFirstMiss);
  for (int i = 0; i < 100; ++i) {
    std::string subject = "s." + std::to_string(i);
    EXPECT_EQ(Plain(cache.Lookup(subject)), SubSet{any});
    EXPECT_LE(cache.size(), 8u);
  }
  // Whatever was evicted, every answer is still right.
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(Plain(cache.Lookup("s." + std::to_string(i))), SubSet{any});
  }
  EXPECT_TRUE(cache.Lookup("t.1").empty());
}

TEST(MatchCacheTest, InboxChurnKeepsHotSubjectCached) {
  // Request/reply: every request subscribes a unique inbox, gets one reply on it, and
  // unsubscribes. None of that may evict or invalidate the hot subject's entry.
  Sublist sl;
  Subs s;
  MatchCache cache(sl, 4096, MatchCache::Admission::kFirstMiss);
  Subscription* hot = s.Make("svc.hot");
  Subscription* hot_q = s.Make("svc.*", "workers");
  Subscription* inbox_all = s.Make("_INBOX.>");  // a wildcard that every inbox matches
  sl.Insert(hot);
  sl.Insert(hot_q);
  sl.Insert(inbox_all);
  cache.Lookup("svc.hot");
  const int kRounds = 10000;
  for (int i = 0; i < kRounds; ++i) {
    Subscription* inbox = s.Make("_INBOX.abc." + std::to_string(i));
    sl.Insert(inbox);
    uint64_t hits = cache.hits();
    uint64_t misses = cache.misses();
    const MatchResult& reply = cache.Lookup(inbox->subject);
    ASSERT_EQ(Plain(reply), (SubSet{inbox, inbox_all})) << i;
    ASSERT_EQ(cache.misses(), misses + 1);
    const MatchResult& h = cache.Lookup("svc.hot");
    ASSERT_EQ(Plain(h), SubSet{hot});
    ASSERT_EQ(h.queues.size(), 1u);
    ASSERT_EQ(cache.hits(), hits + 1) << "hot subject left the cache at round " << i;
    ASSERT_TRUE(sl.Remove(inbox));
    if (i % 1000 == 0) {
      // The removed inbox's entry is gone: the lookup is a miss and sees only the wildcard.
      EXPECT_EQ(Plain(cache.Lookup(inbox->subject)), SubSet{inbox_all});
      EXPECT_EQ(cache.misses(), misses + 2);
    }
  }
  EXPECT_EQ(cache.hits(), static_cast<uint64_t>(kRounds));
  // Removed inboxes do not pile up in the cache.
  EXPECT_LE(cache.size(), 2u + kRounds / 1000);
  EXPECT_EQ(sl.Count(), 3u);
}

// The server's policy: a subject is cached on its second miss, so subjects seen once (the
// unique reply subjects of request/reply) never take a cache entry.
TEST(MatchCacheTest, SubjectsSeenOnceAreNotCached) {
  Sublist sl;
  Subscription inbox_sub;
  inbox_sub.subject = "_INBOX.abc.*";
  sl.Insert(&inbox_sub);
  MatchCache cache(sl);
  for (int i = 0; i < 1000; ++i) {
    const MatchResult& r = cache.Lookup("_INBOX.abc." + std::to_string(i));
    ASSERT_EQ(r.plain.size(), 1u);
  }
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.misses(), 1000u);
  cache.Lookup("hot.subject");
  EXPECT_EQ(cache.size(), 0u);
  cache.Lookup("hot.subject");
  EXPECT_EQ(cache.size(), 1u);
  cache.Lookup("hot.subject");
  EXPECT_EQ(cache.hits(), 1u);
  sl.Remove(&inbox_sub);
}

}  // namespace
}  // namespace gannet
