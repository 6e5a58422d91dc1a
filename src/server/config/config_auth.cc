// Reading authorization {} from the configuration tree, as opts.go does.
#include "server/config/config_auth.h"

#include "base/strings.h"

#include <cctype>
#include <charconv>
#include <limits>
#include <set>

#include "auth/nkey.h"
#include "auth/permissions.h"
#include "conf/duration.h"
#include "core/subject.h"
#include "core/subject_transform.h"

namespace gannet {
namespace {

// Collects "file:line:col: message" errors.
struct Errors {
  std::vector<std::string> list;
  void Add(const conf::Position& pos, const std::string& message) {
    list.push_back(pos.ToString() + ": " + message);
  }
  // Where the reference has no token to name (a value it had already unwrapped).
  void Add(const conf::Position* pos, const std::string& message) {
    list.push_back(pos ? pos->ToString() + ": " + message : message);
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

}  // namespace

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

namespace {

// The reference's DEFAULT_ALLOW_RESPONSE_MAX_MSGS and _EXPIRATION.
ResponsePermission DefaultResponsePermission() {
  ResponsePermission rp;
  rp.max_msgs = 1;
  rp.expires = std::chrono::minutes(2);
  return rp;
}

// The reference's checkPermSubjectArray: each entry a subject, or "subject queue".
std::optional<std::string> CheckPermSubjects(const std::vector<std::string>& subjects) {
  for (const std::string& s : subjects) {
    if (IsValidSubject(s)) continue;
    std::vector<std::string> fields;
    size_t i = 0;
    while (i < s.size()) {
      size_t b = s.find_first_not_of(" \t\n\v\f\r", i);
      if (b == std::string::npos) break;
      size_t e = s.find_first_of(" \t\n\v\f\r", b);
      if (e == std::string::npos) e = s.size();
      fields.push_back(s.substr(b, e - b));
      i = e;
    }
    if (fields.size() != 2) return "subject " + Quoted(s) + " is not a valid subject";
    if (!IsValidSubject(fields[0])) {
      return "subject " + Quoted(fields[0]) + " is not a valid subject";
    }
  }
  return std::nullopt;
}

// A subject or an array of subjects (parsePermSubjects). `pos` is where the reference reports
// the list's own errors: the allow/deny key, or nowhere for a bare list (it has no token then).
bool ReadPermSubjects(const conf::Value& v, const conf::Position* pos,
                      std::vector<std::string>& out, Errors& errors) {
  std::vector<std::string> subjects;
  if (v.IsString()) {
    subjects.push_back(v.AsString());
  } else if (v.IsArray()) {
    for (const conf::Value& item : v.AsArray()) {
      if (!item.IsString()) {
        errors.Add(item.position(), "Subject in permissions array cannot be cast to string");
        return false;
      }
      subjects.push_back(item.AsString());
    }
  } else {
    errors.Add(pos,
               std::string("Expected subject permissions to be a subject, or array of subjects, "
                           "got ") +
                   GoTypeName(v));
    return false;
  }
  if (auto err = CheckPermSubjects(subjects)) {
    errors.Add(pos, *err);
    return false;
  }
  for (std::string& s : subjects) out.push_back(std::move(s));
  return true;
}

// publish/subscribe: a subject, an array (allow), or {allow, deny} (parseVariablePermissions).
void ReadSubjectPermission(const conf::Value& v, std::optional<SubjectPermission>& out,
                           Errors& errors) {
  if (!v.IsMap()) {
    SubjectPermission p;
    if (ReadPermSubjects(v, nullptr, p.allow, errors)) out = std::move(p);
    return;
  }
  if (v.AsMap().empty()) return;
  SubjectPermission p;
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "allow") {
      ReadPermSubjects(e.value, &e.key_position, p.allow, errors);
    } else if (k == "deny") {
      ReadPermSubjects(e.value, &e.key_position, p.deny, errors);
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.key_position, "Unknown field name " + Quoted(e.key) +
                                     " parsing subject permissions, only 'allow' or "
                                     "'deny' are permitted");
    }
  }
  out = std::move(p);
}

// allow_responses as a map {max, expires} (parseAllowResponses); `pos`: its key's.
std::optional<ResponsePermission> ReadAllowResponses(const conf::Value& v,
                                                     const conf::Position& pos, Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(pos, "error parsing response permissions, expected a boolean or a map");
    return std::nullopt;
  }
  ResponsePermission rp = DefaultResponsePermission();
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "max" || k == "max_msgs" || k == "max_messages" || k == "max_responses") {
      if (!e.value.IsInteger()) {
        errors.Add(e.key_position, "interface conversion: interface {} is " +
                                       std::string(GoTypeName(e.value)) + ", not int64");
        return std::nullopt;
      }
      // Negative means unlimited; 0 keeps the default.
      if (e.value.AsInteger() != 0) rp.max_msgs = static_cast<int>(e.value.AsInteger());
    } else if (k == "expires" || k == "expiration" || k == "ttl") {
      if (!e.value.IsString()) {
        errors.Add(e.key_position, "error parsing expires, not a duration string");
        return std::nullopt;
      }
      std::string why;
      auto d = conf::ParseGoDuration(e.value.AsString(), &why);
      if (!d) {
        errors.Add(e.key_position, "error parsing expires: " + why);
        return std::nullopt;
      }
      if (d->count() != 0) {
        rp.expires = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
      }
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.key_position, "Unknown field " + Quoted(e.key) + " parsing permissions");
    }
  }
  return rp;
}

// A permissions map (parseUserPermissions). `pos`: where the reference reports a value that is
// not a map (its key, or nowhere for the cluster's permissions).
void ReadPermissionsInto(const conf::Value& v, const conf::Position* pos, Permissions& p,
                         Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(pos, "Expected permissions to be a map/struct, got " + GoValue(v));
    return;
  }
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "pub" || k == "publish" || k == "import") {
      ReadSubjectPermission(e.value, p.publish, errors);
    } else if (k == "sub" || k == "subscribe" || k == "export") {
      ReadSubjectPermission(e.value, p.subscribe, errors);
    } else if (k == "publish_allow_responses" || k == "allow_responses") {
      if (e.value.IsBool()) {
        if (e.value.AsBool()) p.response = DefaultResponsePermission();
      } else {
        p.response = ReadAllowResponses(e.value, e.key_position, errors);
      }
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.key_position, "Unknown field " + Quoted(e.key) + " parsing permissions");
    }
  }
}

}  // namespace

std::optional<std::string> ReadPermissions(const conf::Value& v, const conf::Position* pos,
                                           Permissions& out) {
  Errors errors;
  ReadPermissionsInto(v, pos, out, errors);
  return errors.Result();
}

namespace {

// users = [ ... ] (parseUsers); `pos`: the users key's. Returns false on the errors that stop
// the list.
bool ReadUsers(const conf::Value& v, const conf::Position& pos, std::vector<User>& users,
               Errors& errors) {
  if (!v.IsArray()) {
    errors.Add(pos, "Expected users field to be an array, got " + GoValue(v));
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
      std::string k = AsciiLower(e.key);
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
        ReadPermissionsInto(e.value, &e.key_position, *perms, errors);
      } else if (k == "allowed_connection_types" || k == "connection_types" || k == "clients") {
        // Only standard client connections exist so far; accepted and not restricted.
      } else if (!e.value.used_as_variable()) {
        errors.Add(e.key_position, "unknown field " + Quoted(e.key));
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

bool ReadUserList(const conf::Value& v, const conf::Position& key,
                  std::vector<std::string>& errors) {
  Errors list;
  std::vector<User> users;
  bool ok = ReadUsers(v, key, users, list);
  for (std::string& e : list.list) errors.push_back(std::move(e));
  return ok;
}

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
    std::string k = AsciiLower(e.key);
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
      if (!ReadUsers(v, e.key_position, users, errors)) continue;
    } else if (k == "default_permission" || k == "default_permissions" || k == "permissions") {
      default_perms = std::make_shared<Permissions>();
      ReadPermissionsInto(v, &e.key_position, *default_perms, errors);
    } else if (!v.used_as_variable()) {
      errors.Add(e.key_position, "unknown field " + Quoted(e.key));
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
        errors.Add(block.position(), "Duplicate user " + Quoted(u.username) + " detected");
        return errors.Result();
      }
    }
    for (const User& u : users) {
      if (u.nkey.empty()) continue;
      if (!names.insert(u.nkey).second) {
        errors.Add(block.position(), "Duplicate nkey " + Quoted(u.nkey) + " detected");
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
  // Users of accounts {} may have been read already: they must not clash with these.
  bool account_users = !opts.authorization.users.empty();
  if (account_users && !user.empty()) {
    errors.Add(block.position(), "Can not have a single user/pass and a users array");
    return errors.Result();
  }
  if (account_users && !token.empty()) {
    errors.Add(block.position(), "Can not have a token and a users array");
    return errors.Result();
  }
  for (const User& u : users) {
    for (const User& existing : opts.authorization.users) {
      bool nkey = !u.nkey.empty();
      if (nkey ? u.nkey == existing.nkey
               : (existing.nkey.empty() && u.username == existing.username)) {
        errors.Add(block.position(), std::string(nkey ? "Duplicate nkey " : "Duplicate user ") +
                                         Quoted(nkey ? u.nkey : u.username) + " detected");
        return errors.Result();
      }
    }
  }
  opts.authorization.username = user;
  opts.authorization.password = pass;
  opts.authorization.token = token;
  for (User& u : users) opts.authorization.users.push_back(std::move(u));
  opts.authorization.default_permissions = default_perms;
  (void)warnings;  // the plaintext password warning is logged at startup, as the reference
  return std::nullopt;
}

std::optional<std::string> ValidateAuthOptions(const Options& opts) {
  if (opts.authorization.no_auth_user.empty()) return std::nullopt;
  bool any_user = false;
  for (const User& u : opts.authorization.users) any_user |= u.nkey.empty();
  if (!any_user) {
    return "no_auth_user: \"" + opts.authorization.no_auth_user +
           "\" present, but users are not defined";
  }
  for (const User& u : opts.authorization.users) {
    if (u.nkey.empty() && u.username == opts.authorization.no_auth_user) return std::nullopt;
  }
  return "no_auth_user: \"" + opts.authorization.no_auth_user +
         "\" not present as user in authorization block or account configuration";
}

}  // namespace gannet

// ---- accounts {} (opts.go parseAccounts) ----

namespace gannet {
namespace {

std::string StringOf(const conf::Value& v) { return v.IsString() ? v.AsString() : GoValue(v); }

// { account: NAME, subject: SUBJECT } inside an import (parseAccount).
void ReadImportSource(const conf::Value& v, AccountImport& im, Errors& errors) {
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "account") {
      im.account = StringOf(e.value);
    } else if (k == "subject") {
      im.subject = StringOf(e.value);
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.value.position(), "unknown field " + Quoted(e.key));
    }
  }
}

// An export's latency: "subject" (every request sampled) or {sampling: N | "N%" | "headers",
// subject} (parseServiceLatency).
void ReadLatency(const conf::Value& v, AccountExport& ex, Errors& errors) {
  ex.latency_sampling = 100;
  if (v.IsString()) {
    ex.latency_subject = v.AsString();
    return;
  }
  if (!v.IsMap()) {
    errors.Add(
        v.position(),
        std::string("Expected latency entry to be a map/struct or string, got ") + GoTypeName(v));
    return;
  }
  const conf::Value* subject = nullptr;
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "subject") {
      subject = &e.value;
    } else if (k == "sampling") {
      int64_t sample = 0;
      if (e.value.IsInteger()) {
        sample = e.value.AsInteger();
      } else if (e.value.IsString()) {
        std::string text = e.value.AsString();
        std::string trimmed = AsciiLower(text);
        trimmed.erase(0, trimmed.find_first_not_of(" \t"));
        trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
        if (trimmed == "headers") {
          ex.latency_headers = true;
          ex.latency_sampling = 0;
          continue;
        }
        if (text.ends_with("%")) text.pop_back();
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), sample);
        if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
          errors.Add(e.value.position(), "Failed to parse latency sample: strconv.Atoi: parsing " +
                                             Quoted(text) + ": invalid syntax");
          return;
        }
      } else {
        errors.Add(e.value.position(),
                   std::string("Expected latency sample to be a string or map/struct, got ") +
                       GoTypeName(e.value));
        return;
      }
      if (sample < 1 || sample > 100) {
        errors.Add(e.value.position(), "bad sampling percentage, should be 1-100");
        return;
      }
      ex.latency_sampling = static_cast<int>(sample);
    }
  }
  if (!subject) {
    errors.Add(v.position(), "Latency subject required, but missing");
    return;
  }
  if (!subject->IsString()) {
    errors.Add(subject->position(),
               std::string("Expected latency subject to be a string, got ") + GoTypeName(*subject));
    return;
  }
  ex.latency_subject = subject->AsString();
}

// One entry of exports = [ {stream: S} | {service: S, accounts: [...]} ].
void ReadExport(const conf::Value& v, std::vector<AccountExport>& out, Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(v.position(),
               std::string("Export Items should be a map with type entry, got ") + GoTypeName(v));
    return;
  }
  AccountExport ex;
  bool seen_stream = false, seen_service = false, threshold_seen = false;
  const conf::Value* response = nullptr;
  const conf::Value* latency = nullptr;
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "stream" || k == "service") {
      bool service = k == "service";
      if ((service && seen_stream) || (!service && seen_service)) {
        errors.Add(e.value.position(), "Detected " + k + " " + Quoted(StringOf(e.value)) +
                                           " but already saw a " +
                                           (service ? "stream" : "service"));
        continue;
      }
      if (!e.value.IsString()) {
        errors.Add(e.value.position(),
                   "Expected " + k + " name to be string, got " + GoTypeName(e.value));
        continue;
      }
      (service ? seen_service : seen_stream) = true;
      ex.service = service;
      ex.subject = e.value.AsString();
    } else if (k == "accounts") {
      if (!e.value.IsArray()) {
        errors.Add(e.value.position(), "Expected accounts to be an array");
        continue;
      }
      for (const conf::Value& a : e.value.AsArray()) ex.accounts.push_back(StringOf(a));
    } else if (k == "response" || k == "response_type") {
      response = &e.value;
      if (!e.value.IsString()) {
        errors.Add(e.value.position(),
                   std::string("Expected response type to be string, got ") + GoTypeName(e.value));
        continue;
      }
      std::string rt = AsciiLower(e.value.AsString());
      if (rt == "single" || rt == "singleton") {
        ex.response_type = ResponseType::kSingleton;
      } else if (rt == "stream") {
        ex.response_type = ResponseType::kStreamed;
      } else if (rt == "chunk" || rt == "chunked") {
        ex.response_type = ResponseType::kChunked;
      } else {
        errors.Add(e.value.position(), "Unknown response type: " + Quoted(e.value.AsString()));
      }
    } else if (k == "threshold" || k == "response_threshold" || k == "response_max_time" ||
               k == "response_time") {
      // As the reference: a Go duration string, once; applies to a service.
      if (threshold_seen) {
        errors.Add(e.value.position(), "Duplicate response threshold detected");
        continue;
      }
      threshold_seen = true;
      response = &e.value;
      if (!e.value.IsString()) {
        errors.Add(
            e.value.position(),
            std::string("Expected response threshold to be a parseable time duration, got ") +
                GoTypeName(e.value));
        continue;
      }
      auto d = conf::ParseGoDuration(e.value.AsString());
      if (!d) {
        errors.Add(e.value.position(),
                   "Expected response threshold to be a parseable time duration, got " +
                       Quoted(e.value.AsString()));
        continue;
      }
      ex.response_threshold = *d;
    } else if (k == "account_token_position") {
      if (!e.value.IsInteger() || e.value.AsInteger() < 0 ||
          e.value.AsInteger() > std::numeric_limits<uint32_t>::max()) {
        errors.Add(e.value.position(),
                   std::string("Expected account_token_position to be an integer, got ") +
                       GoTypeName(e.value));
        continue;
      }
      ex.account_token_position = static_cast<uint32_t>(e.value.AsInteger());
    } else if (k == "latency") {
      latency = &e.value;
      ReadLatency(e.value, ex, errors);
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.value.position(), "unknown field " + Quoted(e.key));
    }
  }
  if (response && seen_stream) {
    errors.Add(response->position(), "Detected response directive on non-service");
    return;
  }
  if (latency && seen_stream) {
    errors.Add(latency->position(), "Detected latency directive on non-service");
    return;
  }
  if (!seen_stream && !seen_service) return;  // the reference ignores such an entry
  out.push_back(std::move(ex));
}

// One entry of imports = [ {stream: {account, subject}, prefix|to} | {service: {...}, to} ].
void ReadImport(const conf::Value& v, std::vector<AccountImport>& out, Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(v.position(),
               std::string("Import Items should be a map with type entry, got ") + GoTypeName(v));
    return;
  }
  AccountImport im;
  bool seen_stream = false, seen_service = false;
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "stream" || k == "service") {
      bool service = k == "service";
      if ((service && seen_stream) || (!service && seen_service)) {
        errors.Add(e.value.position(),
                   "Detected " + k + " but already saw a " + (service ? "stream" : "service"));
        continue;
      }
      if (!e.value.IsMap()) {
        errors.Add(e.value.position(), std::string(service ? "Service" : "Stream") +
                                           " entry should be an account map, got " +
                                           GoTypeName(e.value));
        continue;
      }
      ReadImportSource(e.value, im, errors);
      if (im.account.empty() || im.subject.empty()) {
        errors.Add(e.value.position(), "Expect an account name and a subject");
        continue;
      }
      (service ? seen_service : seen_stream) = true;
      im.service = service;
    } else if (k == "prefix") {
      im.prefix = StringOf(e.value);
    } else if (k == "to") {
      im.to = StringOf(e.value);
    } else if (k == "share") {
      // Sharing the requestor's details with the service: accepted, nothing more is shared.
    } else if (!e.value.used_as_variable()) {
      errors.Add(e.value.position(), "unknown field " + Quoted(e.key));
    }
  }
  if (seen_stream && !im.prefix.empty() && !im.to.empty()) {
    errors.Add(v.position(), "Stream import can not have a 'prefix' and a 'to' property");
    return;
  }
  if (seen_service) im.prefix.clear();  // the reference ignores a prefix on a service
  if (seen_stream || seen_service) out.push_back(std::move(im));
}

// The tokens of a subject ("a.b.c" -> a, b, c).
std::vector<std::string_view> SplitTokens(std::string_view subject) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t dot = subject.find('.', start);
    out.push_back(subject.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

// Whether `exporter` lets `importer` import `subject` of the given kind
// (checkStreamImportAuthorized, checkServiceImportAuthorized).
bool ImportAuthorized(const AccountConfig& exporter, const std::string& importer,
                      const AccountImport& im) {
  if (!IsValidSubject(im.subject)) return false;
  for (const AccountExport& ex : exporter.exports) {
    if (ex.service != im.service) continue;
    const bool direct = ex.subject == im.subject;
    if (!direct && !auth::SubjectIsSubset(im.subject, ex.subject)) continue;
    if (ex.account_token_position > 0) {
      // The reference's checkAuth: the import names the importing account at that token (an
      // import of the export's own subject, '*' there, names nobody).
      if (direct) return false;
      std::vector<std::string_view> tokens = SplitTokens(im.subject);
      return ex.account_token_position <= tokens.size() &&
             tokens[ex.account_token_position - 1] == importer;
    }
    if (ex.accounts.empty()) return true;
    for (const std::string& a : ex.accounts) {
      if (a == importer) return true;
    }
    return false;
  }
  return false;
}

// One destination of a weighted mapping: {destination, weight, cluster} (parseAccountMapDest).
bool ReadMapDestination(const conf::Value& v, const conf::Position& where, MappingDestination& d,
                        Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(where, "Expected an entry for the mapping destination");
    return false;
  }
  bool weighted = false;
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    if (k == "dest" || k == "destination") {
      d.subject = StringOf(e.value);
    } else if (k == "weight") {
      int64_t w = -1;
      if (e.value.IsString()) {
        std::string text = e.value.AsString();
        if (!text.empty() && text.back() == '%') text.pop_back();
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), w);
        if (ec != std::errc() || end != text.data() + text.size()) {
          errors.Add(e.key_position, "Invalid weight " + Quoted(text) + " for mapping destination");
          return false;
        }
      } else if (e.value.IsInteger()) {
        w = e.value.AsInteger();
      } else {
        errors.Add(e.key_position, "Unknown entry type for weight of " + GoValue(e.value) + "\n");
        return false;
      }
      if (w < 0 || w > 100) {
        errors.Add(e.key_position,
                   "Invalid weight " + std::to_string(w) + " for mapping destination");
        return false;
      }
      d.weight = static_cast<int>(w);
      weighted = true;
    } else if (k == "cluster") {
      d.cluster = StringOf(e.value);
    } else {
      errors.Add(e.key_position, "Unknown field " + Quoted(e.key) + " for mapping destination");
      return false;
    }
  }
  if (!weighted) {
    errors.Add(where, "Missing weight for mapping destination " + Quoted(d.subject));
    return false;
  }
  return true;
}

// The checks of the reference's AddWeightedMappings: distinct destinations, weights adding up
// to at most 100, each a transform of the source the server can make.
std::optional<std::string> CheckMapping(const SubjectMapping& m) {
  std::set<std::string> seen;
  int total = 0;
  for (const MappingDestination& d : m.destinations) {
    if (!seen.insert(d.subject).second) return "duplicate entry for " + Quoted(d.subject);
    total += d.weight;
    if (total > 100) return std::string("total weight needs to be <= 100");
    std::string why;
    if (!SubjectTransform::Create(m.source, d.subject, &why)) return why;
  }
  return std::nullopt;
}

// mappings { SOURCE: DESTINATION | {destination, weight} | [ ... ] } (parseAccountMappings).
void ReadMappings(const conf::Value& v, std::vector<SubjectMapping>& out, Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(v.position(), std::string("Expected mappings to be a map, got ") + GoTypeName(v));
    return;
  }
  for (const conf::MapEntry& e : v.AsMap()) {
    if (!IsValidSubject(e.key)) {
      errors.Add(e.key_position, "Subject " + Quoted(e.key) + " is not a valid subject");
      continue;
    }
    SubjectMapping m{e.key, {}};
    bool ok = true;
    if (e.value.IsString()) {
      m.destinations.push_back(MappingDestination{e.value.AsString(), 100, {}});
    } else if (e.value.IsArray()) {
      for (const conf::Value& d : e.value.AsArray()) {
        MappingDestination dest;
        if (ReadMapDestination(d, e.key_position, dest, errors)) {
          m.destinations.push_back(std::move(dest));
        } else {
          ok = false;
        }
      }
    } else {
      MappingDestination dest;
      ok = ReadMapDestination(e.value, e.key_position, dest, errors);
      if (ok) m.destinations.push_back(std::move(dest));
    }
    if (!ok) continue;
    if (auto why = CheckMapping(m)) {
      std::string to = m.destinations.size() == 1 ? m.destinations[0].subject : "";
      errors.Add(e.key_position, "Error adding mapping for " + Quoted(m.source) + " to " +
                                     Quoted(to) + " : " + *why);
      continue;
    }
    out.push_back(std::move(m));
  }
}

// limits { max_connections, max_subscriptions, max_payload, max_leafnodes } (the reference's
// parseAccountLimits, with its short names).
void ReadAccountLimits(const conf::Value& v, AccountLimits& out, Errors& errors) {
  if (!v.IsMap()) {
    errors.Add(v.position(), "Expected account limits to be a map/struct, got " + StringOf(v));
    return;
  }
  for (const conf::MapEntry& e : v.AsMap()) {
    std::string k = AsciiLower(e.key);
    int64_t* field = nullptr;
    if (k == "max_connections" || k == "max_conn") {
      field = &out.max_connections;
    } else if (k == "max_subscriptions" || k == "max_subs") {
      field = &out.max_subscriptions;
    } else if (k == "max_payload" || k == "max_pay") {
      field = &out.max_payload;
    } else if (k == "max_leafnodes" || k == "max_leafs") {
      field = &out.max_leafnodes;
    } else {
      if (!e.value.used_as_variable()) {
        errors.Add(e.key_position, "Unknown field " + Quoted(e.key) + " parsing account limits");
      }
      continue;
    }
    if (!e.value.IsInteger()) {
      errors.Add(e.value.position(),
                 "Expected " + Quoted(e.key) + " to be a number, got " + GoTypeName(e.value));
      continue;
    }
    *field = e.value.AsInteger();
  }
}

// A wildcard import mapped onto another subject needs a transform the server can build
// (Accounts makes the same one).
bool TransformValid(const AccountImport& im, std::string& why) {
  if (im.to.empty() || im.to == im.subject || !SubjectHasWildcard(im.subject)) return true;
  // A stream: the exporter's subject onto ours; a service: ours onto the exporter's.
  const std::string& from = im.service ? im.to : im.subject;
  const std::string& to = im.service ? im.subject : im.to;
  return SubjectTransform::Create(from, SubjectTransform::NumberWildcards(to), &why).has_value();
}

// The checks the reference makes once every account is read: the accounts named exist,
// imports are authorized by an export, prefixes are literal, no duplicates.
void ValidateImportsExports(const std::vector<AccountConfig>& accounts, const conf::Position& pos,
                            Errors& errors) {
  auto find = [&](const std::string& name) -> const AccountConfig* {
    for (const AccountConfig& a : accounts) {
      if (a.name == name) return &a;
    }
    return nullptr;
  };
  for (const AccountConfig& acc : accounts) {
    for (const AccountExport& ex : acc.exports) {
      for (const std::string& a : ex.accounts) {
        if (!find(a)) {
          errors.Add(pos, Quoted(a) + " account not defined for " +
                              (ex.service ? "service" : "stream") + " export");
        }
      }
      if (!IsValidSubject(ex.subject)) {
        errors.Add(pos, std::string("Error adding ") + (ex.service ? "service" : "stream") +
                            " export " + Quoted(ex.subject) + ": subject is not valid");
      }
      if (ex.account_token_position > 0) {
        // setExportAuth: the position must hold a '*' of the export's subject.
        std::vector<std::string_view> tokens = SplitTokens(ex.subject);
        if (tokens.size() < ex.account_token_position ||
            tokens[ex.account_token_position - 1] != "*") {
          errors.Add(pos, std::string("Error adding ") + (ex.service ? "service" : "stream") +
                              " export " + Quoted(ex.subject) + ": sublist: invalid subject");
        }
      }
    }
  }
  for (const AccountConfig& acc : accounts) {
    std::vector<const AccountImport*> seen;
    for (const AccountImport& im : acc.imports) {
      const char* kind = im.service ? "service" : "stream";
      const AccountConfig* exporter = find(im.account);
      if (!exporter) {
        errors.Add(pos, Quoted(im.account) + " account not defined for " + kind + " import");
        continue;
      }
      std::string fail;
      if (!ImportAuthorized(*exporter, acc.name, im)) {
        fail = std::string(kind) + " import not authorized";
      } else if (!im.prefix.empty() && SubjectHasWildcard(im.prefix)) {
        fail = "stream import prefix can not contain wildcard tokens";
      } else if (std::string why; !TransformValid(im, why)) {
        errors.Add(pos, std::string("Error adding ") + kind + " import " + Quoted(im.subject) +
                            ": failed to create mapping transform for " + kind +
                            " import subject " + Quoted(im.subject) + " to " + Quoted(im.to) +
                            ": " + why);
        fail = "-";
      } else {
        for (const AccountImport* other : seen) {
          if (im.service && other->service) {
            const std::string& a = im.to.empty() ? im.subject : im.to;
            const std::string& b = other->to.empty() ? other->subject : other->to;
            if (a == b) {
              errors.Add(pos, "Duplicate service import subject " + Quoted(a) +
                                  ", previously used in import for account " +
                                  Quoted(other->account) + ", subject " + Quoted(other->subject));
              fail = "-";
            }
          } else if (!im.service && !other->service && other->account == im.account &&
                     other->subject == im.subject) {
            fail = "stream import already exists";
          }
        }
      }
      if (fail == "-") continue;
      if (!fail.empty()) {
        errors.Add(pos, std::string("Error adding ") + kind + " import " + Quoted(im.subject) +
                            ": " + fail);
        continue;
      }
      seen.push_back(&im);
    }
  }
}

}  // namespace

std::optional<std::string> ApplyMappings(const conf::Value& block,
                                         std::vector<SubjectMapping>& mappings) {
  Errors errors;
  ReadMappings(block, mappings, errors);
  return errors.Result();
}

std::optional<std::string> ApplyAccounts(const conf::MapEntry& accounts, Options& opts) {
  const conf::Value& block = accounts.value;
  Errors errors;
  std::set<std::string> names;
  for (const AccountConfig& a : opts.accounts) names.insert(a.name);
  // A plain list of names: accounts of their own, without users or exports yet.
  if (block.IsArray()) {
    for (const conf::Value& n : block.AsArray()) {
      std::string name = StringOf(n);
      if (name == kGlobalAccountName) {
        errors.Add(n.position(), Quoted(name) + " is a Reserved Account");
      } else if (!names.insert(name).second) {
        errors.Add(n.position(), "Duplicate Account Entry: " + name);
      } else {
        AccountConfig acc;
        acc.name = name;
        opts.accounts.push_back(std::move(acc));
      }
    }
    return errors.Result();
  }
  if (!block.IsMap()) {
    errors.Add(block.position(),
               std::string("Expected accounts to be a map or an array, got ") + GoTypeName(block));
    return errors.Result();
  }
  for (const conf::MapEntry& entry : block.AsMap()) {
    if (entry.value.used_as_variable()) continue;
    if (!entry.value.IsMap()) {
      errors.Add(entry.value.position(), "Expected map entries for accounts");
      continue;
    }
    if (entry.key == kGlobalAccountName) {
      errors.Add(entry.key_position, Quoted(entry.key) + " is a Reserved Account");
      continue;
    }
    AccountConfig acc;
    acc.name = entry.key;
    std::vector<User> users;
    const conf::Position* users_key = nullptr;
    std::shared_ptr<Permissions> default_perms;
    for (const conf::MapEntry& e : entry.value.AsMap()) {
      std::string k = AsciiLower(e.key);
      const conf::Value& v = e.value;
      if (k == "users") {
        users_key = &e.key_position;
        ReadUsers(v, e.key_position, users, errors);
      } else if (k == "exports") {
        if (!v.IsArray()) {
          errors.Add(v.position(), std::string("Exports should be an array, got ") + GoTypeName(v));
          continue;
        }
        for (const conf::Value& x : v.AsArray()) ReadExport(x, acc.exports, errors);
      } else if (k == "imports") {
        if (!v.IsArray()) {
          errors.Add(v.position(), std::string("Imports should be an array, got ") + GoTypeName(v));
          continue;
        }
        for (const conf::Value& x : v.AsArray()) ReadImport(x, acc.imports, errors);
      } else if (k == "default_permissions") {
        default_perms = std::make_shared<Permissions>();
        ReadPermissionsInto(v, &e.key_position, *default_perms, errors);
      } else if (k == "mappings" || k == "maps") {
        ReadMappings(v, acc.mappings, errors);
      } else if (k == "limits") {
        ReadAccountLimits(v, acc.limits, errors);
      } else if (k == "nkey" || k == "jetstream") {
        errors.Add(v.position(), "account " + Quoted(e.key) +
                                     " is not supported yet by "
                                     "gannet-server");
      } else if (!v.used_as_variable()) {
        errors.Add(v.position(), "unknown field " + Quoted(e.key));
      }
    }
    if (!users.empty()) {
      if (!opts.authorization.username.empty()) {
        errors.Add(*users_key, "Can not have a single user/pass and accounts");
        continue;
      }
      if (!opts.authorization.token.empty()) {
        errors.Add(*users_key, "Can not have a token and accounts");
        continue;
      }
    }
    for (User& u : users) {
      if (!u.permissions && default_perms) u.permissions = default_perms;
      bool nkey = !u.nkey.empty();
      for (const User& existing : opts.authorization.users) {
        if (nkey ? u.nkey == existing.nkey
                 : (existing.nkey.empty() && u.username == existing.username)) {
          errors.Add(*users_key, std::string(nkey ? "Duplicate nkey " : "Duplicate user ") +
                                     Quoted(nkey ? u.nkey : u.username) + " detected");
        }
      }
      u.account = acc.name;
      opts.authorization.users.push_back(std::move(u));
    }
    if (!names.insert(acc.name).second) {
      errors.Add(entry.value.position(), "Duplicate Account Entry: " + acc.name);
      continue;
    }
    opts.accounts.push_back(std::move(acc));
  }
  // As the reference, these name the position of `accounts` itself.
  if (errors.list.empty()) ValidateImportsExports(opts.accounts, accounts.key_position, errors);
  return errors.Result();
}

}  // namespace gannet
