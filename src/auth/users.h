// Who may connect and what they may do, as configured (authorization {} in the config file):
// the data the options carry. Checking it is the authenticator's and permissions' business.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gannet {

// Allow and deny lists of subjects (wildcards allowed). An empty allow list allows everything
// that is not denied; deny wins. A subscribe entry may be "subject queue" (a queue group).
struct SubjectPermission {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};

// allow_responses: a client may publish to the reply subjects of requests it received, up to
// max_msgs replies each, within `expires` (0: no limit), even where publish is denied.
struct ResponsePermission {
  int max_msgs = 1;
  std::chrono::milliseconds expires{0};
};

struct Permissions {
  std::optional<SubjectPermission> publish;
  std::optional<SubjectPermission> subscribe;
  std::optional<ResponsePermission> response;
};

// A configured user: by name and password (plain or bcrypt), or by NKEY public key.
struct User {
  std::string username;
  std::string password;
  std::string nkey;  // "U..." public key; username/password empty then
  std::shared_ptr<const Permissions> permissions;  // null: may do anything
  std::string account;                             // empty: the global account $G
};

// The authorization {} block (and --user/--pass, --auth): single-user or token
// authentication, the users list (with passwords or nkeys), no_auth_user, and the permissions
// users get when they have none of their own.
struct AuthorizationConfig {
  std::string username;
  std::string password;
  std::string token;
  std::vector<User> users;  // with users of accounts {}, bound by User::account
  std::string no_auth_user;
  std::shared_ptr<const Permissions> default_permissions;
  bool Required() const { return !username.empty() || !token.empty() || !users.empty(); }
};

}  // namespace gannet
