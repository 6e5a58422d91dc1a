// Permissions as checked: the configured allow/deny subject lists compiled for matching, with
// the reference's rules (client.go canSubscribe, pubAllowedFullCheck, loadMsgDenyFilter).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/users.h"

namespace gannet::auth {

// One configured entry: a subject pattern, and for subscribe entries an optional queue group
// ("subject queue").
struct SubjectEntry {
  std::string subject;
  std::string queue;  // empty: a plain entry
};

// "subject" or "subject queue" (one or more spaces between them).
SubjectEntry SplitSubjectQueue(std::string_view entry);

// Whether `subject` is matched by `pattern` as the reference's sublist matches a subscription's
// own subject against permission entries: the subject's tokens are taken literally (a '*' in
// it matches only a '*' or '>' entry token), the pattern's wildcards match any token.
bool PermissionMatches(std::string_view subject, std::string_view pattern);
// The reference's subjectIsSubsetMatch: is every subject `subset` matches also matched by
// `pattern`?
bool SubjectIsSubset(std::string_view subset, std::string_view pattern);

// Deny entries a wildcard subscription's deliveries are filtered with (immutable, shared by
// every subscription that needs it).
class DeliveryDenyFilter {
 public:
  explicit DeliveryDenyFilter(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}
  bool Denies(std::string_view subject) const;

 private:
  std::vector<std::string> patterns_;
};

// A user's permissions ready for matching. Immutable once built; lives as long as the server.
class CompiledPermissions {
 public:
  explicit CompiledPermissions(const Permissions& perms);

  // Whether publishing is restricted at all (clients without restrictions skip every check).
  bool restricts_publish() const { return pub_allow_.has_value() || !pub_deny_.empty(); }
  // The static publish check (allow then deny); allow_responses is the caller's business.
  bool PublishAllowed(std::string_view subject) const;
  // The subscribe check for a plain (empty queue) or queue subscription.
  bool SubscribeAllowed(std::string_view subject, std::string_view queue) const;
  // The filter a wildcard subscription needs on delivery (null if none of the subscribe deny
  // entries is within its scope).
  const DeliveryDenyFilter* DenyFilterFor(std::string_view subject) const;
  const DeliveryDenyFilter* deny_filter() const { return deny_filter_.get(); }
  const std::optional<ResponsePermission>& response() const { return response_; }

 private:
  // nullopt: no allow list (everything not denied is allowed); an empty list allows nothing
  // (allow_responses without a publish allow list).
  std::optional<std::vector<std::string>> pub_allow_;
  std::vector<std::string> pub_deny_;
  std::vector<SubjectEntry> sub_allow_;
  std::vector<SubjectEntry> sub_deny_;
  std::vector<std::string> sub_deny_raw_;
  std::unique_ptr<DeliveryDenyFilter> deny_filter_;
  std::optional<ResponsePermission> response_;
};

}  // namespace gannet::auth
