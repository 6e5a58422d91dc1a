// The client role's authentication and permissions: CONNECT credentials (inline, or on the
// auth pool for bcrypt), the reload re-check, publish permissions and allow_responses.
#include <utility>

#include "auth/permissions.h"
#include "base/logger.h"
#include "base/strings.h"
#include "server/account.h"
#include "server/client/client.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/server.h"

namespace gannet {

void Client::AuthViolation() {
  // As the reference's authViolation: the user named when NKEY users or a users list exist.
  const Authenticator& authn = worker().config().authenticator();
  if (authn.nonce_required()) {
    LOG_ERROR("%s - authentication error - Nkey %s", log_prefix().c_str(),
              Quoted(opts_.nkey).c_str());
  } else if (authn.has_users()) {
    LOG_ERROR("%s - authentication error - User %s", log_prefix().c_str(),
              Quoted(opts_.user).c_str());
  } else {
    LOG_ERROR("%s - authentication error", log_prefix().c_str());
  }
  SendErr("Authorization Violation");
  Close(CloseReason::kAuthenticationViolation);
}

bool Client::CheckCredentials(AuthMode mode) {
  std::shared_ptr<const ServerConfig> config = worker().config_ptr();
  const Authenticator& authn = config->authenticator();
  std::string_view verified =
      mode == AuthMode::kReload ? std::string_view(identity_.verified_hash) : std::string_view();
  // verify_and_map: the user is the one the client's certificate names.
  std::optional<PeerCertNames> cert;
  if (tls_context() && tls_context()->map_users() && ssl()) cert = PeerNames(ssl());
  if (authn.NeedsSlowCheck(opts_, verified, cert ? &*cert : nullptr)) {
    // A bcrypt hash: tens of milliseconds of CPU, checked on the auth pool so this worker's
    // other connections are not held up. A CONNECT reads nothing more until the verdict.
    if (mode == AuthMode::kConnect && !auth_pending_) {
      auth_pending_ = true;
      HoldInput(true);
    }
    Worker* worker = &this->worker();
    server().auth_pool().Submit([worker, cid = id(), config, connect = opts_, nonce = nonce_,
                                 verified = std::string(verified), cert, mode]() mutable {
      AuthIdentity identity;
      bool ok = config->authenticator().Authenticate(connect, nonce, identity, verified,
                                                     cert ? &*cert : nullptr);
      worker->PostToConnection(cid, [mode, config = std::move(config), ok,
                                     identity = std::move(identity)](Connection& c) mutable {
        static_cast<Client&>(c).OnCredentialsChecked(mode, std::move(config), ok,
                                                     std::move(identity));
      });
    });
    return false;
  }
  AuthIdentity identity;
  bool ok = authn.Authenticate(opts_, nonce_, identity, verified, cert ? &*cert : nullptr);
  return OnCredentialsChecked(mode, std::move(config), ok, std::move(identity));
}

bool Client::OnCredentialsChecked(AuthMode mode, std::shared_ptr<const ServerConfig> config,
                                  bool ok, AuthIdentity identity) {
  if (config != worker().config_ptr()) {
    // A reload came in while the pool was checking. A CONNECT is checked again against the
    // configuration now in force; a reload's verdict is stale: the newer reload asked again.
    if (mode == AuthMode::kConnect) return CheckCredentials(mode);
    return true;
  }
  // The user's account: bound at CONNECT, for the connection's life.
  Account* account = identity.account.empty() ? &server().accounts().global()
                                              : server().accounts().Find(identity.account);
  if (!ok || !account) {
    auth_pending_ = false;
    AuthViolation();
    return false;
  }
  if (mode == AuthMode::kReload && account != account_) {
    // As the reference: a client whose user moved to another account is closed (without
    // -ERR) and connects again into the new one.
    Close(CloseReason::kClientClosed);
    return false;
  }
  if (mode == AuthMode::kConnect) {
    BindAccount(*account);
    if (!account->AddClient()) {
      // As the reference's maxAccountConnExceeded.
      auth_pending_ = false;
      LOG_ERROR("%s - maximum account active connections exceeded", log_prefix().c_str());
      SendErr("maximum account active connections exceeded");
      Close(CloseReason::kMaxAccountConnectionsExceeded);
      return false;
    }
    counted_in_account_ = true;
  }
  ApplyIdentity(std::move(config), std::move(identity));
  if (mode == AuthMode::kReload) {
    RecheckSubscriptions();
    return true;
  }
  bool was_pending = auth_pending_;
  auth_pending_ = false;
  if (!FinishConnect()) return false;
  if (was_pending) ResumeAfterAuth();
  return true;
}

void Client::ApplyIdentity(std::shared_ptr<const ServerConfig> config, AuthIdentity identity) {
  std::shared_ptr<const ServerConfig> previous = std::exchange(auth_config_, std::move(config));
  identity_ = std::move(identity);
  // As the reference, a user mapped from the certificate names the connection (logs, /connz).
  if (!identity_.mapped_user.empty()) opts_.user = identity_.mapped_user;
  const auth::CompiledPermissions* perms = identity_.permissions;
  response_perms_.store(perms && perms->response() ? perms : nullptr, std::memory_order_release);
  pub_cache_.clear();
  if (previous) {
    // Publishers on other workers may still be reading the previous permissions (a
    // subscription's deny filter, response_perms_) until their next quiescent point.
    server().reclaimer().Retire([previous = std::move(previous)] {});
  }
}

void Client::ResumeAfterAuth() {
  HoldInput(false);
  if (held_input_.empty()) return;
  std::string input;
  input.swap(held_input_);
  ParseStatus st = parser_.Feed(*this, input.data(), input.size());
  if (st == ParseStatus::kStopped && auth_pending_ && !closing()) {
    held_input_.assign(input, parser_.stopped_at());  // another CONNECT with a bcrypt password
    return;
  }
  HandleParseStatus(st);
}

void Client::OnConfigReloaded() {
  const Authenticator& authn = worker().config().authenticator();
  parser_.set_max_control_line(static_cast<size_t>(worker().options().max_control_line));
  ApplyLimits();
  if (!connect_received_) {
    auth_required_ = authn.required();
    return;
  }
  // A CONNECT being checked is checked again against this configuration when its verdict
  // comes back (OnCredentialsChecked).
  if (auth_pending_) return;
  if (!authn.HasUserOf(opts_)) {
    // As the reference: the client of a user no longer configured is closed, without -ERR.
    Close(CloseReason::kClientClosed);
    return;
  }
  // Without authentication there is nothing to check, and (as the reference) the client keeps
  // the permissions it has.
  if (!authn.required()) return;
  CheckCredentials(AuthMode::kReload);
}

void Client::RecheckSubscriptions() {
  const auth::CompiledPermissions* perms = identity_.permissions;
  std::vector<Subscription*> denied;
  bool filter = false;
  for (auto& [sid, sub] : subs_) {
    if (!perms) break;
    // As the reference's processSubsOnConfigReload: a queue subscription stays if either its
    // subject or its subject and queue are allowed.
    if (!perms->SubscribeAllowed(sub->subject, {}) &&
        (sub->queue.empty() || !perms->SubscribeAllowed(sub->subject, sub->queue))) {
      denied.push_back(sub.get());
    } else if (perms->DenyFilterFor(sub->subject)) {
      filter = true;
    }
  }
  for (Subscription* sub : denied) {
    std::string subject = Quoted(sub->subject);
    std::string sid = Quoted(sub->sid);
    RemoveSubscription(sub);
    std::string err = "Permissions Violation for Subscription to ";
    err.append(subject).append(" (sid ").append(sid).append(")");
    SendErr(err);
    LOG_INFO("Removed sub %s (sid %s) for %s - not authorized", subject.c_str(), sid.c_str(),
             identity_.log_user.c_str());
  }
  deny_filter_loaded_ = filter;
  const auth::DeliveryDenyFilter* deny = filter ? perms->deny_filter() : nullptr;
  for (auto& [sid, sub] : subs_) sub->deny_filter.store(deny, std::memory_order_release);
}

bool Client::CheckPublishAllowed(std::string_view subject) {
  if (PublishAllowedCached(subject)) return true;
  SendErr("Permissions Violation for Publish to " + Quoted(subject));
  LOG_ERROR("%s - Publish Violation - %s, Subject %s", log_prefix().c_str(),
            identity_.log_user.c_str(), Quoted(subject).c_str());
  return false;
}

bool Client::PublishAllowedCached(std::string_view subject) {
  constexpr size_t kMaxCache = 128;  // the reference's maxPermCacheSize
  constexpr size_t kPruneSize = 32;
  std::string key(subject);
  auto it = pub_cache_.find(key);
  if (it != pub_cache_.end()) return it->second;
  bool allowed = identity_.permissions->PublishAllowed(subject);
  if (!allowed && identity_.permissions->response()) {
    // A reply to a request this client received: allowed while a permit remains, not cached.
    return UseReplyPermit(subject);
  }
  if (pub_cache_.size() >= kMaxCache) {
    size_t n = 0;
    for (auto i = pub_cache_.begin(); i != pub_cache_.end() && n < kPruneSize; ++n) {
      i = pub_cache_.erase(i);
    }
  }
  pub_cache_.emplace(std::move(key), allowed);
  return allowed;
}

void Client::TrackReplyPermit(std::string_view reply) {
  constexpr size_t kReplyPermLimit = 4096;  // the reference's replyPermLimit
  const auth::CompiledPermissions* perms = response_perms_.load(std::memory_order_acquire);
  if (!perms || !perms->response()) return;
  const ResponsePermission& rp = *perms->response();
  auto now = Clock::now();
  std::lock_guard lock(replies_mu_);
  replies_[std::string(reply)] = ReplyPermit{now, 0};
  if (replies_.size() > kReplyPermLimit) {
    // As the reference's pruneReplyPerms: drop the used-up and the expired.
    for (auto it = replies_.begin(); it != replies_.end();) {
      bool used_up = rp.max_msgs > 0 && it->second.sent >= rp.max_msgs;
      bool expired = rp.expires.count() > 0 && now - it->second.received > rp.expires;
      it = used_up || expired ? replies_.erase(it) : std::next(it);
    }
  }
}

bool Client::UseReplyPermit(std::string_view subject) {
  const ResponsePermission& rp = *identity_.permissions->response();
  std::lock_guard lock(replies_mu_);
  auto it = replies_.find(std::string(subject));
  if (it == replies_.end()) return false;
  ReplyPermit& permit = it->second;
  permit.sent++;
  if (rp.max_msgs > 0 && permit.sent > rp.max_msgs) {
    replies_.erase(it);
    return false;
  }
  if (rp.expires.count() > 0 && Clock::now() - permit.received > rp.expires) {
    replies_.erase(it);
    return false;
  }
  return true;
}

}  // namespace gannet
