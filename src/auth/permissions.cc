// Permission matching, as the reference's client.go checks permissions.
#include "auth/permissions.h"

#include "core/subject.h"

namespace gannet::auth {

SubjectEntry SplitSubjectQueue(std::string_view entry) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  size_t b = 0;
  while (b < entry.size() && is_space(entry[b])) ++b;
  size_t e = entry.size();
  while (e > b && is_space(entry[e - 1])) --e;
  entry = entry.substr(b, e - b);
  size_t sp = 0;
  while (sp < entry.size() && !is_space(entry[sp])) ++sp;
  SubjectEntry out;
  out.subject.assign(entry.substr(0, sp));
  size_t q = sp;
  while (q < entry.size() && is_space(entry[q])) ++q;
  out.queue.assign(entry.substr(q));
  return out;
}

bool PermissionMatches(std::string_view subject, std::string_view pattern) {
  return SubjectMatchesPattern(subject, pattern);
}

bool SubjectIsSubset(std::string_view subset, std::string_view pattern) {
  TokenIterator sub(subset), pat(pattern);
  std::string_view st, pt;
  for (;;) {
    bool has_pat = pat.Next(pt);
    bool has_sub = sub.Next(st);
    if (!has_pat) return !has_sub;
    if (!has_sub || pt.empty()) return false;
    if (pt == kFullWildcard) return true;
    if (st.empty() || st == kFullWildcard) return false;
    if (st == kSingleWildcard) {
      if (pt != kSingleWildcard) return false;
      continue;
    }
    if (pt != kSingleWildcard && pt != st) return false;
  }
}

bool DeliveryDenyFilter::Denies(std::string_view subject) const {
  for (const std::string& p : patterns_) {
    if (SubjectMatchesPattern(subject, p)) return true;
  }
  return false;
}

namespace {

std::vector<SubjectEntry> SplitAll(const std::vector<std::string>& entries) {
  std::vector<SubjectEntry> out;
  out.reserve(entries.size());
  for (const std::string& e : entries) out.push_back(SplitSubjectQueue(e));
  return out;
}

// The reference's queueMatches over the queue entries `entries` whose subject matched.
bool QueueMatches(std::string_view queue, const std::vector<const SubjectEntry*>& entries) {
  if (entries.empty()) return true;
  for (const SubjectEntry* e : entries) {
    if (queue == e->queue || (SubjectHasWildcard(e->queue) && SubjectIsSubset(queue, e->queue))) {
      return true;
    }
  }
  return false;
}

// Matches `subject` against the entries: whether a plain entry matched, and which queue
// entries did.
bool MatchEntries(const std::vector<SubjectEntry>& entries, std::string_view subject,
                  std::vector<const SubjectEntry*>& queue_matches) {
  bool plain = false;
  for (const SubjectEntry& e : entries) {
    if (!PermissionMatches(subject, e.subject)) continue;
    if (e.queue.empty()) {
      plain = true;
    } else {
      queue_matches.push_back(&e);
    }
  }
  return plain;
}

}  // namespace

CompiledPermissions::CompiledPermissions(const Permissions& perms) : response_(perms.response) {
  if (perms.publish) {
    if (!perms.publish->allow.empty()) pub_allow_ = perms.publish->allow;
    pub_deny_ = perms.publish->deny;
  }
  // allow_responses turns off the blanket publish allow (opts.go parseUserPermissions).
  if (response_ && !pub_allow_) pub_allow_.emplace();
  if (perms.subscribe) {
    sub_allow_ = SplitAll(perms.subscribe->allow);
    sub_deny_ = SplitAll(perms.subscribe->deny);
    sub_deny_raw_ = perms.subscribe->deny;
    if (!sub_deny_raw_.empty()) {
      // As the reference's loadMsgDenyFilter: every deny entry, taken as a subject.
      deny_filter_ = std::make_unique<DeliveryDenyFilter>(sub_deny_raw_);
    }
  }
}

bool CompiledPermissions::PublishAllowed(std::string_view subject) const {
  if (pub_allow_) {
    bool allowed = false;
    for (const std::string& p : *pub_allow_) {
      if (PermissionMatches(subject, p)) {
        allowed = true;
        break;
      }
    }
    if (!allowed) return false;
  }
  for (const std::string& p : pub_deny_) {
    if (PermissionMatches(subject, p)) return false;
  }
  return true;
}

bool CompiledPermissions::SubscribeAllowed(std::string_view subject, std::string_view queue) const {
  bool allowed = true;
  std::vector<const SubjectEntry*> queues;
  if (!sub_allow_.empty()) {
    allowed = MatchEntries(sub_allow_, subject, queues);
    if (!queue.empty() && !queues.empty()) allowed = QueueMatches(queue, queues);
  }
  if (allowed && !sub_deny_.empty()) {
    queues.clear();
    allowed = !MatchEntries(sub_deny_, subject, queues);
    if (!queue.empty() && !queues.empty()) allowed = !QueueMatches(queue, queues);
  }
  return allowed;
}

const DeliveryDenyFilter* CompiledPermissions::DenyFilterFor(std::string_view subject) const {
  if (!deny_filter_ || !SubjectHasWildcard(subject)) return nullptr;
  for (const std::string& d : sub_deny_raw_) {
    if (SubjectIsSubset(d, subject)) return deny_filter_.get();
  }
  return nullptr;
}

}  // namespace gannet::auth
