// Client authentication, as the reference's auth.go.
#include "auth/authenticator.h"

#include "auth/nkey.h"
#include "auth/password.h"

#include <algorithm>

#include "auth/cert_names.h"
#include "base/logger.h"

namespace gannet {

Authenticator::Authenticator(const AuthorizationConfig& config, bool verify_and_map)
    : config_(config), verify_and_map_(verify_and_map), required_(config.Required()) {
  for (const User& u : config.users) {
    Entry e{&u, nullptr};
    if (u.permissions) e.permissions = std::make_unique<auth::CompiledPermissions>(*u.permissions);
    if (!u.nkey.empty()) {
      nkeys_[u.nkey] = std::move(e);
    } else {
      users_[u.username] = std::move(e);
    }
  }
}

bool Authenticator::has_plaintext_passwords() const {
  if (!config_.password.empty() && !auth::IsBcrypt(config_.password)) return true;
  for (const auto& [name, e] : users_) {
    // Users named by certificates (verify_and_map) need no password.
    if (e.user->password.empty() && verify_and_map_) continue;
    if (!auth::IsBcrypt(e.user->password)) return true;
  }
  return false;
}

const Authenticator::Entry* Authenticator::MapCertificate(const PeerCertNames& cert,
                                                          std::string& how) const {
  auto find = [&](const std::string& name) -> const Entry* {
    auto it = users_.find(name);
    return it == users_.end() ? nullptr : &it->second;
  };
  for (const std::string& email : cert.emails) {
    if (const Entry* e = find(email)) {
      how = "Using email found in cert for auth [\"" + email + "\"]";
      return e;
    }
  }
  for (const std::string& dns : cert.dns_names) {
    if (const Entry* e = find(dns)) {
      how = "Using SAN found in cert for auth [\"" + dns + "\"]";
      return e;
    }
  }
  for (const std::string& uri : cert.uris) {
    if (const Entry* e = find(uri)) {
      how = "Using URI found in cert for auth [\"" + uri + "\"]";
      return e;
    }
  }
  // A user named by a distinguished name matches the subject whatever the order of its parts.
  std::vector<std::string> subject = cert.subject_rdns;
  std::sort(subject.begin(), subject.end());
  for (const auto& [name, e] : users_) {
    auto dn = ParseDn(name);
    if (!dn || dn->size() != subject.size()) continue;
    std::sort(dn->begin(), dn->end());
    if (*dn == subject) {
      how = "Using DistinguishedNameMatch for auth [\"" + name + "\"]";
      return &e;
    }
  }
  if (const Entry* e = find(cert.subject)) {
    how = "Using certificate subject for auth [\"" + cert.subject + "\"]";
    return e;
  }
  how = "User in cert [\"" + cert.subject + "\"], not found";
  return nullptr;
}

bool Authenticator::Authenticate(const ConnectOptions& connect, std::string_view nonce,
                                 AuthIdentity& identity, std::string_view verified_hash,
                                 const PeerCertNames* cert) const {
  identity = AuthIdentity{};
  if (!required_) return true;
  auto matches = [&](const std::string& configured, std::string_view given) {
    if (!verified_hash.empty() && configured == verified_hash) return true;
    if (!auth::PasswordMatches(configured, given)) return false;
    if (auth::IsBcrypt(configured)) identity.verified_hash = configured;
    return true;
  };

  std::string_view username = connect.user;
  std::string_view password = connect.pass;
  const Entry* entry = nullptr;
  bool by_nkey = false;
  if (!nkeys_.empty() && !connect.nkey.empty()) {
    auto it = nkeys_.find(connect.nkey);
    if (it == nkeys_.end()) return false;
    entry = &it->second;
    by_nkey = true;
  } else if (!users_.empty() && cert) {
    std::string how;
    const Entry* mapped = cert->has_cert ? MapCertificate(*cert, how) : nullptr;
    LOG_DEBUG("%s", cert->has_cert ? how.c_str() : "User required in cert, none found");
    if (!mapped) return false;
    if (!connect.user.empty()) {
      LOG_WARN("User \"%s\" found in connect proto, but user required from cert",
               connect.user.c_str());
    }
    identity.mapped_user = mapped->user->username;
    identity.log_user = "User \"" + identity.mapped_user + "\"";
    // As the reference, the mapped user's password is still compared with the one in CONNECT:
    // a mapped user without a password refuses a client that sends one.
    if (!matches(mapped->user->password, connect.pass)) return false;
    identity.permissions = mapped->permissions.get();
    identity.account = mapped->user->account;
    return true;
  } else if (!users_.empty()) {
    // A client without credentials is the no_auth_user.
    if (!config_.no_auth_user.empty() && connect.user.empty() && connect.pass.empty() &&
        connect.auth_token.empty()) {
      auto it = users_.find(config_.no_auth_user);
      if (it != users_.end()) {
        username = it->second.user->username;
        password = it->second.user->password;
      }
    }
    if (!username.empty()) {
      auto it = users_.find(std::string(username));
      if (it == users_.end()) return false;
      entry = &it->second;
    }
  }

  if (!connect.nkey.empty()) {
    identity.log_user = "Nkey \"" + connect.nkey + "\"";
  } else if (!username.empty()) {
    identity.log_user = "User \"" + std::string(username) + "\"";
  }

  if (by_nkey) {
    if (connect.sig.empty()) return false;  // "Signature missing"
    auto key = nkey::DecodePublic(connect.nkey, nkey::Prefix::kUser);
    if (!key || !nkey::VerifySignature(*key, nonce, connect.sig)) return false;
    identity.permissions = entry->permissions.get();
    identity.account = entry->user->account;
    return true;
  }
  if (entry) {
    // A bcrypt hash (cost 10-11) takes tens of milliseconds here: workers call this on the
    // auth pool when NeedsSlowCheck says so.
    if (!matches(entry->user->password, password)) return false;
    identity.permissions = entry->permissions.get();
    identity.account = entry->user->account;
    return true;
  }
  if (!config_.token.empty()) return matches(config_.token, connect.auth_token);
  if (!config_.username.empty()) {
    return connect.user == config_.username && matches(config_.password, connect.pass);
  }
  return false;
}

bool Authenticator::NeedsSlowCheck(const ConnectOptions& connect, std::string_view verified_hash,
                                   const PeerCertNames* cert) const {
  if (!required_) return false;
  // The same choice of configured secret as Authenticate.
  auto slow = [&](const std::string& configured) {
    return auth::IsBcrypt(configured) && configured != verified_hash;
  };
  if (cert && !users_.empty() && (nkeys_.empty() || connect.nkey.empty())) {
    // verify_and_map: the password of the user the certificate names, if it has one.
    std::string how;
    const Entry* mapped = cert->has_cert ? MapCertificate(*cert, how) : nullptr;
    return mapped && slow(mapped->user->password);
  }
  if (!nkeys_.empty() && !connect.nkey.empty()) return false;
  if (!users_.empty()) {
    std::string_view username = connect.user;
    if (!config_.no_auth_user.empty() && connect.user.empty() && connect.pass.empty() &&
        connect.auth_token.empty()) {
      username = config_.no_auth_user;
    }
    if (!username.empty()) {
      auto it = users_.find(std::string(username));
      return it != users_.end() && slow(it->second.user->password);
    }
  }
  if (!config_.token.empty()) return slow(config_.token);
  if (!config_.username.empty()) return connect.user == config_.username && slow(config_.password);
  return false;
}

bool Authenticator::HasUserOf(const ConnectOptions& connect) const {
  if (!connect.nkey.empty()) return nkeys_.count(connect.nkey) != 0;
  if (!connect.user.empty()) return users_.count(connect.user) != 0;
  return true;
}

}  // namespace gannet
