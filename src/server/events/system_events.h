// The system account's services (the reference's events.go): the server's own client
// subscribes in the system account and
//  - answers monitoring requests: $SYS.REQ.SERVER.PING[.<ENDPOINT>] (every server),
//    $SYS.REQ.SERVER.<id>.<ENDPOINT> (this one), $SYS.REQ.ACCOUNT.<acc>.<ENDPOINT>, with the
//    HTTP endpoints' documents wrapped as {"server":{...},"data":{...}} (monitor_system.cc);
//    and, subscribed in every other account, what its users may ask about it
//    ($SYS.REQ.SERVER.PING.CONNZ, $SYS.REQ.ACCOUNT.PING.CONNZ and .STATZ: the reference
//    imports these into each account), answered in that account;
//  - publishes events: a client's CONNECT and DISCONNECT in its account, the account's
//    connection count ($SYS.ACCOUNT.<acc>.SERVER.CONNS), this server's STATSZ (soon after
//    start, then backing off to every 10 s) and its SHUTDOWN;
//  - hears the other servers' STATSZ and SHUTDOWN (active_servers).
// Peers' requests and events reach it through the routes like any subscription's messages.
//
// Threading: one thread of its own runs every handler and builds every event, so a worker
// never waits on monitoring (a request's Gather waits on the workers). Workers hand it
// messages and client events through a queue (ClientConnected/ClientDisconnected: per
// connection, never per message).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/account.h"
#include "server/conn/conn_snapshot.h"
#include "server/events/internal_client.h"

namespace gannet {

class Account;
class Monitor;
class Server;
class Worker;

class SystemEvents {
 public:
  using Json = nlohmann::ordered_json;
  // The reference's statsz interval, reached by doubling from 250 ms after start.
  static constexpr std::chrono::seconds kStatszInterval{10};

  // `home`: the worker the internal client publishes on. Made before the workers start.
  SystemEvents(Server& server, Account& system, Worker& home, Monitor& monitor);
  ~SystemEvents();
  SystemEvents(const SystemEvents&) = delete;
  SystemEvents& operator=(const SystemEvents&) = delete;

  // Subscribes and starts the thread. Main thread.
  void Start();
  bool started() const { return thread_.joinable(); }  // main thread
  // Stops the thread, publishes $SYS.SERVER.<id>.SHUTDOWN, waits (briefly) until it was
  // handed to its receivers, and drops the subscriptions. Main thread; idempotent.
  void Shutdown();

  // A reload made accounts live or removed them: the requests every account may make of the
  // system account are subscribed in the new ones, dropped in the removed ones. Main thread.
  void AccountsChanged(const std::vector<Account*>& added, const std::vector<Account*>& removed);

  // The internal client's subscriptions with their accounts' names (for /subsz). Any thread.
  std::vector<std::pair<std::string, SubSnapshot>> InternalSubscriptions() const;

  // ---- Any thread (the client's worker) ----
  // A sampled service request got its first response from `responder` at `responded`: the
  // reference's ServiceLatency metric is published on the export's latency subject, in the
  // exporting account.
  void ServiceLatency(Account::LatencyTrack track, ConnSnapshot responder,
                      std::chrono::system_clock::time_point responded);
  // A client completed its CONNECT / closed after completing it (`c.stop`, `c.reason` set).
  void ClientConnected(ConnSnapshot c);
  void ClientDisconnected(ConnSnapshot c);

 private:
  struct AccountConns {
    int64_t conns = 0;
    // Counters of the account's closed connections (as the client saw them: sent is what it
    // published).
    uint64_t sent_msgs = 0, sent_bytes = 0, received_msgs = 0, received_bytes = 0;
  };

  void Post(std::function<void()> task);
  void Run();
  void OnMessage(const InternalClient::Message& m);
  void ServerRequest(const std::string& endpoint, const InternalClient::Message& m);
  void AccountRequest(const std::string& account, const std::string& endpoint,
                      const InternalClient::Message& m);
  // The reference's zReq: options from the body, the filters, then the document.
  void MonitorRequest(const std::string& endpoint, const std::string& account,
                      const InternalClient::Message& m);
  // The reference's STATZ: the accounts' connections and traffic (all when `accounts` is
  // empty and the options name none).
  void AccountStatzRequest(std::vector<std::string> accounts, const InternalClient::Message& m);
  void SendStatsz(const std::string& subject);
  // A peer's CONNS event: its count of `account`'s clients (the message's must be the same).
  void RemoteConns(const std::string& payload, const std::string& account);
  // The account's clients on the peers, for its max_connections.
  void UpdateRemoteClients(const std::string& account);
  // The account's CONNS message: on its two event subjects, or to `reply` (a CONNS request).
  void SendAccountConns(const std::string& account, const std::string& reply = {});
  void SendConnectEvent(const ConnSnapshot& c, bool connect);

  // ---- system_requests.cc: the requests answered without the monitor ----
  // $SYS.REQ.SERVER.<id|PING>.JSZ and $SYS.REQ.ACCOUNT.<acc>.JSZ, JetStream disabled.
  void JszRequest(const std::string& account, const InternalClient::Message& m);
  // $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE and $SYS.ACCOUNT.<acc>.CLAIMS.UPDATE: no operator,
  // so no JWT can apply; answered with the reference's errors.
  void ClaimsUpdate(const std::string& account, const InternalClient::Message& m);
  // $SYS.REQ.ACCOUNT.NSUBS: a peer asks how many of our clients' subscriptions in an account
  // match a subject (and queue).
  void NsubsRequest(const InternalClient::Message& m);
  // $SYS.DEBUG.SUBSCRIBERS: "<subject>[ <queue>]" counted over the cluster: here, then on
  // the peers that have clients in the account (NSUBS), answered after their replies or 500 ms.
  void DebugSubscribers(const InternalClient::Message& m);
  // A reply on our $SYS._INBOX.<hash>. prefix: a peer's NSUBS count.
  void InboxReply(const InternalClient::Message& m);
  // Counts the subscriptions of clients of `account` here matching `subject` (a subset of it
  // when it has wildcards), of queue group `queue` when given.
  int64_t CountSubscribers(const std::string& account, const std::string& subject,
                           const std::optional<std::string>& queue);
  // Answers the DEBUG.SUBSCRIBERS requests whose time is up (or whose peers all answered).
  void FinishDebugRequests(bool all);
  // The reference's system hash of this server's name (getHash: 8 base-62 characters).
  static std::string SystemHash(const std::string& name);

  // The reference's ServerInfo, with the next sequence number and the time now.
  Json ServerInfo();
  // The request's filters (server_name, cluster, host, tags, domain): true if they exclude
  // this server.
  bool FilteredOut(const Json& options) const;
  // A request's options: its JSON body ({} when empty). Nothing when the request is done with:
  // its body is not a JSON object (the error is sent to `reply`, in `in`) or its filters
  // exclude this server (no answer).
  std::optional<Json> RequestOptions(const InternalClient::Message& m, const std::string& reply,
                                     Account* in);
  // In the system account, or `in` (a reply to another account asking about itself).
  void Publish(std::string subject, const Json& doc, std::string reply = {}, Account* in = nullptr);
  static std::string EventId();
  // The reference's ClientInfo of a client connection (fields left out when empty; the RTT and
  // stop time only `with_stop`), with `more` before kind and client_type, in the reference's
  // field order.
  static Json ClientInfo(const ConnSnapshot& c, bool with_stop, const Json& more = Json::object());

  Server& server_;
  Account& system_;
  Monitor& monitor_;
  std::unique_ptr<InternalClient> client_;
  std::string id_;

  std::mutex mu_;  // a leaf: guards the queue
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;

  // ---- The events thread ----
  uint64_t seq_ = 0;
  std::chrono::steady_clock::duration statsz_every_ = std::chrono::milliseconds(250);
  std::chrono::steady_clock::time_point next_statsz_;
  std::map<std::string, std::chrono::steady_clock::time_point> peers_;  // by server id
  std::map<std::string, AccountConns> accounts_;
  // $SYS._INBOX.<hash>.: where the peers' replies to our own requests come.
  std::string inbox_prefix_;
  struct DebugRequest {
    std::string reply;
    int64_t nsubs = 0;
    int expected = 0;
    int responses = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  std::map<std::string, DebugRequest> debug_requests_;  // by our inbox subject
  uint64_t next_inbox_ = 0;
  std::chrono::steady_clock::time_point next_debug_deadline_ =
      std::chrono::steady_clock::time_point::max();
  // The peers' counts of each account's clients: account -> server id -> clients.
  std::map<std::string, std::map<std::string, int64_t>> remote_conns_;
};

}  // namespace gannet
