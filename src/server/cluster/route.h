// The route role: a connection to another server of the cluster (route.go). It speaks the
// route protocol of nats-server 2.9: the INFO/CONNECT handshake, RS+/RS- for the interest of
// each side's clients, RMSG/HMSG for the messages that interest, PING/PONG. Messages that
// arrive on a route go to this server's clients only (a full mesh: one hop, no loops).
//
// Threading: as every Connection, a Route belongs to one Worker. The routes manager (routes.h)
// and other workers hand it protocol bytes (RS+, gossip INFO) from any thread through its
// inbox; everything else here is owner-thread only unless marked.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/sublist.h"
#include "protocol/parser.h"
#include "server/cluster/route_info.h"
#include "server/conn/connection.h"

namespace gannet {

class Account;
class Routes;
struct RouteUrl;

// What /routez shows of one route.
struct RouteSnapshot {
  uint64_t rid = 0;
  std::string remote_id;
  std::string remote_name;
  bool did_solicit = false;
  bool is_configured = false;
  std::string ip;
  int port = 0;
  std::chrono::system_clock::time_point start, last_activity;
  int64_t rtt_ns = 0;
  int64_t pending_bytes = 0;
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  std::vector<SubSnapshot> subs;  // the remote's interest, when asked (sid as the reference)
  uint32_t num_subs = 0;
  std::string tls_version, tls_cipher;
  std::string import_json, export_json;  // the remote's permissions, as it sent them
};

class Route final : public Connection {
 public:
  // `dialed`: the URL this server dialed (explicit: configured; else learned from gossip);
  // null for a route the peer dialed.
  Route(Server& server, Worker& worker, Routes& routes, int fd, uint64_t rid, std::string ip,
        int port, const RouteUrl* dialed, bool explicit_route);
  ~Route() override;

  // ---- Owner thread ----
  void Start() override;
  void OnConfigReloaded() override;
  // Our own dial to this peer turned out to duplicate this route, which the peer dialed: it
  // now counts as dialed by us, to `url` (route.go addRoute), so it is dialed again if lost.
  void UpgradeToSolicited(const RouteUrl& url, bool explicit_route);
  void RouteSnapshotInto(RouteSnapshot& out, bool with_subs) const;

  // ---- Parser handler (owner thread) ----
  bool BeforeCommand(char first_byte);
  bool OnConnect(std::string_view json);
  bool OnInfo(std::string_view json);
  bool OnErr(std::string_view text);
  bool OnOk() { return true; }
  bool OnPing();
  bool OnPong();
  bool OnSub(std::string_view, std::string_view, std::string_view) { return true; }
  bool OnUnsub(std::string_view, int64_t) { return true; }
  bool OnRouteSub(std::string_view origin, std::string_view account, std::string_view subject,
                  std::string_view queue, int64_t weight);
  bool OnRouteUnsub(std::string_view origin, std::string_view account, std::string_view subject,
                    std::string_view queue);
  bool OnMsgArgs(Verb verb, const MsgArgs& args);
  bool OnMsg(Verb verb, const MsgArgs& args, std::string_view payload);

  // ---- Any thread, fixed once the route is registered (Routes::Register) ----
  const std::string& remote_id() const { return remote_id_; }
  const std::string& remote_name() const { return remote_name_; }
  bool peer_headers() const { return peer_headers_; }
  // ---- Owner thread (an accepted route may become dialed: UpgradeToSolicited) ----
  bool did_solicit() const { return dialed_ != nullptr; }
  bool is_explicit() const { return explicit_; }
  const RouteUrl* dialed() const { return dialed_.get(); }
  // The client URLs the peer advertised (for the connect_urls of our clients' INFO).
  const std::vector<std::string>& remote_client_urls() const { return remote_client_urls_; }

 protected:
  void OnInput(const char* data, size_t n) override;
  void OnTimer(Clock::time_point now) override;
  void OnTlsEstablished() override;
  void OnClosed(CloseReason reason) override;

 private:
  // The INFO and, if this side dialed, the CONNECT: once TLS (if any) is up.
  void SendHandshake();
  // The first INFO from the peer (route.go processRouteInfo): checks, registration, interest,
  // gossip. Later INFOs: gossip about a third server, lame duck, permissions.
  void ProcessFirstInfo(RouteInfo info);
  void ProcessLaterInfo(const RouteInfo& info);
  void RemoveRemoteSubs();

  Routes& routes_;
  Parser<Route> parser_;
  std::unique_ptr<RouteUrl> dialed_;
  bool explicit_;
  bool connect_received_ = false;
  bool info_received_ = false;
  bool registered_ = false;
  bool no_reconnect_ = false;  // a route to ourselves, or a duplicate: do not dial it again

  std::string connect_user_;  // the credentials the peer's CONNECT carried
  std::string connect_pass_;
  std::string remote_id_;
  std::string remote_name_;
  std::string remote_cluster_;
  bool peer_headers_ = false;
  bool peer_lnoc_ = false;
  std::vector<std::string> remote_client_urls_;
  std::optional<SubjectPermission> peer_import_;
  std::optional<SubjectPermission> peer_export_;

  // The peer's interest: one subscription per "<account> <subject>[ <queue>]", in the
  // account's index, owned here (freed through the reclaimer: publishers may hold it).
  struct RemoteSub {
    Account* account;
    std::unique_ptr<Subscription> sub;
  };
  std::unordered_map<std::string, RemoteSub> subs_;
  // The peer's interest in accounts this server does not have (yet): kept, up to a bound, so
  // that a reload adding the account here takes it in (OnConfigReloaded) even when the peer
  // added it first. (The reference drops it.)
  struct UnknownSub {
    std::string account;
    std::string subject;
    std::string queue;
    int64_t weight;
  };
  static constexpr size_t kMaxUnknownSubs = 65536;
  std::unordered_map<std::string, UnknownSub> unknown_subs_;
  // The account of the last routed message (accounts live as long as the server).
  std::string last_account_name_;
  Account* last_account_ = nullptr;
  uint64_t next_sub_id_ = 1;

  // Timers.
  Clock::time_point auth_start_;
  Clock::time_point next_ping_;
  Clock::time_point rtt_start_{};
  int64_t rtt_ns_ = 0;
  int pings_out_ = 0;
};

}  // namespace gannet
