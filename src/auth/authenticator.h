// Client authentication (auth.go processClientOrLeafAuthentication for client connections):
// token, single user/password, the users list (plain or bcrypt passwords), NKEY users with a
// signed nonce, and no_auth_user; and the permissions the authenticated user gets.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/permissions.h"
#include "auth/users.h"
#include "protocol/connect_options.h"

namespace gannet {

struct PeerCertNames;

// Who a client authenticated as.
struct AuthIdentity {
  // The permissions to enforce; null: none (the client may do anything).
  const auth::CompiledPermissions* permissions = nullptr;
  // The user in violation log lines, as the reference's getAuthUser: `Nkey "U..."`,
  // `User "alice"` or `User "N/A"`.
  std::string log_user = "User \"N/A\"";
  // The account its user is bound to; empty: the global account.
  std::string account;
  // The configured bcrypt hash the password was checked against, if any: a reload that keeps
  // it need not recompute the hash (same hash, same password: same verdict).
  std::string verified_hash;
  // verify_and_map: the user the client's certificate was mapped to.
  std::string mapped_user;
};

// Built once from the options; immutable, shared by every worker.
class Authenticator {
 public:
  // `verify_and_map`: users may be named by client certificates (tls { verify_and_map }).
  Authenticator(const AuthorizationConfig& config, bool verify_and_map);

  // Whether clients must send CONNECT with credentials (before anything else).
  bool required() const { return required_; }
  // What INFO says: false when a no_auth_user stands in for clients without credentials.
  bool advertise_auth_required() const { return required_ && config_.no_auth_user.empty(); }
  // Whether INFO carries a nonce for NKEY users to sign.
  bool nonce_required() const { return !nkeys_.empty(); }
  bool has_users() const { return !users_.empty(); }
  // The reference's startup warning, if a configured password is plain text.
  bool has_plaintext_passwords() const;

  // Checks a CONNECT's credentials against the configuration, given the nonce sent in INFO.
  // On success fills `identity`. A bcrypt password costs tens of milliseconds of CPU here.
  // `verified_hash`: a bcrypt hash this CONNECT's password is known to match (from an earlier
  // check); if it is the configured one, it is not recomputed. `cert`: the client's
  // certificate names when its TLS context has verify_and_map (the user is then the one its
  // email, DNS name, URI or subject names, and no password is checked).
  bool Authenticate(const ConnectOptions& connect, std::string_view nonce, AuthIdentity& identity,
                    std::string_view verified_hash = {}, const PeerCertNames* cert = nullptr) const;
  // Whether Authenticate would compute a bcrypt hash for this CONNECT (too slow for a worker
  // thread: see AuthPool).
  bool NeedsSlowCheck(const ConnectOptions& connect, std::string_view verified_hash = {},
                      const PeerCertNames* cert = nullptr) const;
  // Whether the NKEY or users-list user a CONNECT named is (still) configured; true when it
  // named neither. A reload closes the clients of users that are gone (reload.go
  // clientHasMovedToDifferentAccount).
  bool HasUserOf(const ConnectOptions& connect) const;

 private:
  struct Entry {
    const User* user;
    std::unique_ptr<auth::CompiledPermissions> permissions;  // null: none
  };

  // verify_and_map: the user a certificate names (auth.go checkClientTLSCertSubject).
  const Entry* MapCertificate(const PeerCertNames& cert, std::string& how) const;

  const AuthorizationConfig& config_;
  bool verify_and_map_;
  bool required_;
  std::unordered_map<std::string, Entry> users_;  // by username
  std::unordered_map<std::string, Entry> nkeys_;  // by public key
};

}  // namespace gannet
