// Reading authorization {} from the configuration tree, as opts.go does.
#include "server/config_auth.h"

#include <cctype>
#include <set>

#include "auth/nkey.h"
#include "conf/duration.h"

namespace gannet {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// Collects "file:line:col: message" errors.
struct Errors {
  std::vector<std::string> list;
  void Add(const conf::Position& pos, const std::string& message) {
    list.push_back(pos.ToString() + ": " + message);
  }
  std::optional<std::string> Result() const {
    if (list.empty()) return std::nullopt;
    std::string out;
    for (const std::string& e : list) {
      if (!out.empty()) out += '\n';
      out += e;
    }
    return out;
  }
};

// A Go-style rendering of a value for "got %v" messages.
std::string GoValue(const conf::Value& v) {
  switch (v.kind()) {
    case conf::Kind::kString:
    case conf::Kind::kDatetime:
      return v.AsString();
    case conf::Kind::kInteger:
      return std::to_string(v.AsInteger());
    case conf::Kind::kBool:
      return v.AsBool() ? "true" : "false";
    default:
      return v.ToDebugString();
  }
}

const char* GoTypeName(const conf::Value& v) {
  switch (v.kind()) {
    case conf::Kind::kString:
      return "string";
    case conf::Kind::kInteger:
      return "int64";
    case conf::Kind::kFloat:
      return "float64";
    case conf::Kind::kBool:
      return "bool";
    case conf::Kind::kDatetime:
      return "time.Time";
    case conf::Kind::kArray:
      return "[]interface {}";
    case conf::Kind::kMap:
      return "map[string]interface {}";
  }
  return "interface {}";
}

// The reference's DEFAULT_ALLOW_RESPONSE_MAX_MSGS and _EXPIRATION.
ResponsePermission DefaultResponsePermission() {
  ResponsePermission rp;
  rp.max_msgs = 1;
  rp.expires = std::chrono::minutes(2);
  return rp;
}

// A subject or an array of subjects (parsePermSubjects).
bool ReadPermSubjects(const conf::Value& v, std::vector<std::string>& out, Errors& errors) {
  if (v.IsString()) {
    out.push_back(v.AsString());
    return true;
  }
  if (v.IsArray()) {
    for (const conf::Value& item : v.AsArray()) {
      if (!item.IsString()) {
        errors.Add(item.position(), "Subject in permissions array cannot be cast to string");
        return false;
      }
      out.push_back(item.AsString());
    }
    return true;
  }
  errors.Add(v.position(),
             std::string("Expected subject permissions to be a subject, or array of subjects, "
                         "got ") +
                 GoTypeName(v));
  return false;
}

// publish/subscribe: a subject, an array (allow), or {allow, deny} (parseVariablePermissions).
void ReadSubjectPermission(const conf::Value& v, std::optional<SubjectPermission>& out,
                           Errors& errors) {
  if (!v.IsMap()) {
    SubjectPermission p;
    if (ReadPermSubjects(v, p.allow, errors)) out = std::move(p);
    return;
  }
  if (v.AsMap().empty()) return;
  SubjectPermission p;
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = Lower(e.key);
    if (k == "allow") {
      ReadPermSubjects(e.value, p.allow, errors);
    } else if (k == "deny") {
      ReadPermSubjects(e.value, p.deny, errors);
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.value.position(), "Unknown field name " + Quote(e.key) +
                                         " parsing subject permissions, only 'allow' or "
                                         "'deny' are permitted");
    }
  }
  out = std::move(p);
}

// allow_responses as a map {max, expires} (parseAllowResponses).
std::optional<ResponsePermission> ReadAllowResponses(const conf::Value& v, Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(v.position(), "error parsing response permissions, expected a boolean or a map");
    return std::nullopt;
  }
  ResponsePermission rp = DefaultResponsePermission();
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = Lower(e.key);
    if (k == "max" || k == "max_msgs" || k == "max_messages" || k == "max_responses") {
      if (!e.value.IsInteger()) {
        errors.Add(e.value.position(), "interface conversion: interface {} is " +
                                           std::string(GoTypeName(e.value)) + ", not int64");
        return std::nullopt;
      }
      // Negative means unlimited; 0 keeps the default.
      if (e.value.AsInteger() != 0) rp.max_msgs = static_cast<int>(e.value.AsInteger());
    } else if (k == "expires" || k == "expiration" || k == "ttl") {
      if (!e.value.IsString()) {
        errors.Add(e.value.position(), "error parsing expires, not a duration string");
        return std::nullopt;
      }
      std::string why;
      auto d = conf::ParseGoDuration(e.value.AsString(), &why);
      if (!d) {
        errors.Add(e.value.position(), "error parsing expires: " + why);
        return std::nullopt;
      }
      if (d->count() != 0) {
        rp.expires = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
      }
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.value.position(), "Unknown field " + Quote(e.key) + " parsing permissions");
    }
  }
  return rp;
}

void ReadPermissionsInto(const conf::Value& v, Permissions& p, Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(v.position(), "Expected permissions to be a map/struct, got " + GoValue(v));
    return;
  }
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = Lower(e.key);
    if (k == "pub" || k == "publish" || k == "import") {
      ReadSubjectPermission(e.value, p.publish, errors);
    } else if (k == "sub" || k == "subscribe" || k == "export") {
      ReadSubjectPermission(e.value, p.subscribe, errors);
    } else if (k == "publish_allow_responses" || k == "allow_responses") {
      if (e.value.IsBool()) {
        if (e.value.AsBool()) p.response = DefaultResponsePermission();
      } else {
        p.response = ReadAllowResponses(e.value, errors);
      }
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.value.position(), "Unknown field " + Quote(e.key) + " parsing permissions");
    }
  }
}

}  // namespace

std::optional<std::string> ReadPermissions(const conf::Value& v, Permissions& out) {
  Errors errors;
  ReadPermissionsInto(v, out, errors);
  return errors.Result();
}

namespace {

// users = [ ... ] (parseUsers). Returns false on the errors that stop the list.
bool ReadUsers(const conf::Value& v, std::vector<User>& users, Errors& errors) {
  if (!v.IsArray()) {
    errors.Add(v.position(), "Expected users field to be an array, got " + GoValue(v));
    return false;
  }
  for (const conf::Value& u : v.AsArray()) {
    if (!u.IsMap()) {
      errors.Add(u.position(), "Expected user entry to be a map/struct, got " + GoValue(u));
      continue;
    }
    User user;
    std::shared_ptr<Permissions> perms;
    const conf::Value* pass_value = nullptr;
    for (const conf::MapEntry& e : u.AsMap()) {
      std::string k = Lower(e.key);
      auto str = [&](std::string& field) {
        if (e.value.IsString()) {
          field = e.value.AsString();
        } else {
          field = GoValue(e.value);
        }
      };
      if (k == "nkey") {
        str(user.nkey);
      } else if (k == "user" || k == "username") {
        str(user.username);
      } else if (k == "pass" || k == "password") {
        str(user.password);
        pass_value = &e.value;
      } else if (k == "permission" || k == "permissions" || k == "authorization") {
        perms = std::make_shared<Permissions>();
        ReadPermissionsInto(e.value, *perms, errors);
      } else if (k == "allowed_connection_types" || k == "connection_types" || k == "clients") {
        // Only standard client connections exist so far; accepted and not restricted.
      } else if (!e.value.used_as_variable()) {
        errors.Add(e.value.position(), "unknown field " + Quote(e.key));
      }
    }
    user.permissions = perms;
    if (user.nkey.empty() && user.username.empty()) {
      errors.Add(u.position(), "User entry requires a user");
      return false;
    }
    if (!user.nkey.empty()) {
      if (!nkey::DecodePublic(user.nkey, nkey::Prefix::kUser)) {
        errors.Add(u.position(), "Not a valid public nkey for a user");
        return false;
      }
      if (!user.username.empty() || !user.password.empty()) {
        errors.Add(pass_value ? pass_value->position() : u.position(),
                   "Nkey users do not take usernames or passwords");
        return false;
      }
    }
    users.push_back(std::move(user));
  }
  return true;
}

}  // namespace

std::optional<std::string> ApplyAuthorization(const conf::Value& block, Options& opts,
                                              std::vector<std::string>& warnings) {
  Errors errors;
  if (!block.IsMap()) {
    errors.Add(block.position(),
               "Expected authorization to be a map/struct, got " + GoValue(block));
    return errors.Result();
  }
  std::string user, pass, token;
  bool has_users = false;
  std::vector<User> users;
  std::shared_ptr<Permissions> default_perms;
  for (const conf::MapEntry& e : block.AsMap()) {
    std::string k = Lower(e.key);
    const conf::Value& v = e.value;
    auto text = [&] { return v.IsString() ? v.AsString() : GoValue(v); };
    if (k == "user" || k == "username") {
      user = text();
    } else if (k == "pass" || k == "password") {
      pass = text();
    } else if (k == "token") {
      token = text();
    } else if (k == "timeout") {
      // Seconds, an integer or a float; anything else is one second (as the reference).
      double secs = 1;
      if (v.IsInteger()) secs = static_cast<double>(v.AsInteger());
      if (v.IsFloat()) secs = v.AsFloat();
      opts.auth_timeout = std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
      opts.auth_timeout_set = true;
    } else if (k == "users") {
      has_users = true;
      if (!ReadUsers(v, users, errors)) continue;
    } else if (k == "default_permission" || k == "default_permissions" || k == "permissions") {
      default_perms = std::make_shared<Permissions>();
      ReadPermissionsInto(v, *default_perms, errors);
    } else if (!v.used_as_variable()) {
      errors.Add(v.position(), "unknown field " + Quote(e.key));
    }
  }
  if (!errors.list.empty()) return errors.Result();

  if ((!user.empty() || !pass.empty()) && !token.empty()) {
    errors.Add(block.position(), "Cannot have a user/pass and token");
    return errors.Result();
  }
  if (has_users) {
    if (!user.empty()) {
      errors.Add(block.position(), "Can not have a single user/pass and a users array");
      return errors.Result();
    }
    if (!token.empty()) {
      errors.Add(block.position(), "Can not have a token and a users array");
      return errors.Result();
    }
    std::set<std::string> names;
    for (const User& u : users) {
      if (!u.nkey.empty()) continue;
      if (!names.insert(u.username).second) {
        errors.Add(block.position(), "Duplicate user " + Quote(u.username) + " detected");
        return errors.Result();
      }
    }
    for (const User& u : users) {
      if (u.nkey.empty()) continue;
      if (!names.insert(u.nkey).second) {
        errors.Add(block.position(), "Duplicate nkey " + Quote(u.nkey) + " detected");
        return errors.Result();
      }
    }
  }
  // Users without permissions of their own get the default ones (applyDefaultPermissions).
  if (default_perms) {
    for (User& u : users) {
      if (!u.permissions) u.permissions = default_perms;
    }
  }
  opts.username = user;
  opts.password = pass;
  opts.token = token;
  opts.users = std::move(users);
  opts.default_permissions = default_perms;
  (void)warnings;  // the plaintext password warning is logged at startup, as the reference
  return std::nullopt;
}

std::optional<std::string> ValidateAuthOptions(const Options& opts) {
  if (opts.no_auth_user.empty()) return std::nullopt;
  bool any_user = false;
  for (const User& u : opts.users) any_user |= u.nkey.empty();
  if (!any_user) {
    return "no_auth_user: \"" + opts.no_auth_user + "\" present, but users are not defined";
  }
  for (const User& u : opts.users) {
    if (u.nkey.empty() && u.username == opts.no_auth_user) return std::nullopt;
  }
  return "no_auth_user: \"" + opts.no_auth_user +
         "\" not present as user in authorization block or account configuration";
}

}  // namespace gannet
