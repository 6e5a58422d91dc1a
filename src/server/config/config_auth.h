// The `authorization { ... }` block of a config file (users, passwords, tokens, NKEY users,
// permissions, default_permissions) read into Options, with the reference's error texts
// (opts.go parseAuthorization, parseUsers, parseUserPermissions).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "auth/users.h"
#include "conf/value.h"
#include "server/config/options.h"

namespace gannet {

// Applies a top-level `authorization { ... }` block: user/password/token/timeout, users = [
// {user, password, permissions}, {nkey, permissions} ], default_permissions. Errors come back
// as "file:line:col: message" (several joined by newlines, as the reference lists them).
// `warnings` receives none today (the plaintext password warning is logged at startup, as the
// reference). The top-level no_auth_user is the caller's (checked against the users by
// ValidateAuthOptions).
std::optional<std::string> ApplyAuthorization(const conf::Value& block, Options& opts,
                                              std::vector<std::string>& warnings);

// Reads a permissions map ({publish: ..., subscribe: ..., allow_responses: ...}; publish and
// subscribe may be a string, an array, or {allow, deny}; import and export are publish and
// subscribe) into `out`. `pos` is where a value that is not a map is reported (the key's, or
// nullptr where the reference names no position).
std::optional<std::string> ReadPermissions(const conf::Value& v, const conf::Position* pos,
                                           Permissions& out);

// users = [...] read as the reference's parseUsers, for a block that refuses users (cluster {
// authorization }): true when the reference would come back with users; errors
// ("file:line:col: message") are appended either way. `key` is the users key's position.
bool ReadUserList(const conf::Value& v, const conf::Position& key,
                  std::vector<std::string>& errors);

// The Go type the reference's messages name for a config value ("int64", "string",
// "[]interface {}", "map[string]interface {}", ...).
const char* GoTypeName(const conf::Value& v);

// Applies a top-level `accounts { NAME: { users, exports, imports, default_permissions } }` (or
// `accounts = [NAME, ...]`): the accounts go to opts.accounts, their users to
// opts.authorization.users bound to them. Imports are checked against the exports once all accounts
// are read, with the reference's errors (parseAccounts).
std::optional<std::string> ApplyAccounts(const conf::MapEntry& accounts, Options& opts);

// Reads `mappings { SOURCE: DESTINATION | [{destination, weight}, ...] }` (top level: the
// global account's; inside an account: that account's), checked as the reference does.
std::optional<std::string> ApplyMappings(const conf::Value& block,
                                         std::vector<SubjectMapping>& mappings);

// The checks the reference makes on the finished options (auth.go validateNoAuthUser):
// no_auth_user must name a configured user.
std::optional<std::string> ValidateAuthOptions(const Options& opts);

}  // namespace gannet
