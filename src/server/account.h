// Accounts: subject spaces of their own (the reference's Account). Every client belongs to one
// — the global account $G unless its user is bound to another — and its subscriptions and
// publishes live in that account's Sublist. Accounts share only what one exports and another
// imports:
//
//  - a stream import: messages published in the exporting account on the imported subject are
//    also delivered to the importing account's subscribers, under the subject the import maps
//    them to (a prefix, or `to`). Gannet routes these at publish time: the exporting account
//    keeps a StreamRoute per import, so an account nobody imports from pays nothing;
//  - a service import: requests published in the importing account on the imported subject go
//    to the exporting account's subscribers, with a reply subject of the exporting account
//    (_R_.<account prefix>.<random>) that routes the response back to the requestor's reply
//    subject in its own account: once (the export's response_type singleton, the default),
//    or until an empty message or two minutes without one (stream, chunked).
//
// Accounts live as long as the server: a reload that adds one makes it (Accounts::AddNew), one
// that removes it only marks it no longer live (Find no longer returns it, its clients are
// closed), so pointers to an account never dangle; configured again, it comes back. Their import,
// export, mapping and limit tables are immutable once published, so publishers on any worker read
// them without locking; a reload publishes new ones (Accounts::Reload) and the old ones are
// freed once no worker can be reading them. The pending responses change at run time, under
// their own lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/reclaimer.h"
#include "core/subject_transform.h"
#include "core/sublist.h"
#include "server/config/options.h"

namespace gannet {

class Account {
 public:
  using Clock = std::chrono::steady_clock;

  // How long a request's reply mapping waits for its response (the reference's default
  // response threshold, DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD).
  static constexpr std::chrono::minutes kResponseTimeout{2};

  Account(std::string name, size_t index);
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

  const std::string& name() const { return name_; }
  // In the configuration in force: false once a reload removed it (or while a reload that adds
  // it is still preparing the workers). Any thread.
  bool live() const { return live_.load(std::memory_order_acquire); }
  // Position among the server's accounts: workers index their match caches with it.
  size_t index() const { return index_; }
  Sublist& sublist() { return sublist_; }
  const Sublist& sublist() const { return sublist_; }
  // As configured, for monitoring (/accountz?acc=): copies, any thread.
  std::vector<AccountExport> exports() const;
  std::vector<AccountImport> imports() const;
  std::chrono::system_clock::time_point created() const { return created_; }

  // ---- Limits (accounts { A: { limits {} } }) ----
  const AccountLimits& limits() const { return tables().limits; }
  // A client of the account authenticated: counted, unless max_connections is reached (then
  // false, not counted). RemoveClient when it closes. Any thread.
  bool AddClient();
  void RemoveClient() { clients_.fetch_sub(1, std::memory_order_relaxed); }
  // The account's clients on the other servers of the cluster, as their CONNS events say
  // (the system events thread): counted against max_connections too, as the reference.
  void SetRemoteClients(int64_t n) { remote_clients_.store(n, std::memory_order_relaxed); }

  // ---- Subject mappings (mappings {}) ----
  bool has_mappings() const { return !tables().mappings.empty(); }
  // The subject a publish on `subject` is routed under instead (a weighted destination picked
  // at random), into `out`; false when it keeps its subject. Any thread.
  bool MapSubject(std::string_view subject, std::string& out) const;

  // ---- Streams other accounts import from this one ----
  struct StreamRoute {
    Account* importer;
    std::string from;    // the subject imported here (may have wildcards)
    std::string prefix;  // with its trailing '.', or empty
    std::string to;      // the subject in the importer when `from` is literal; empty: same
    std::optional<SubjectTransform> transform;  // `from` has wildcards mapped elsewhere
  };
  const std::vector<StreamRoute>& stream_routes() const { return tables().stream_routes; }
  // The subject a message published here on `subject` (matching route.from) has in the
  // importing account.
  static void MapStreamSubject(const StreamRoute& route, std::string_view subject,
                               std::string& out);

  // ---- Services this account imports from others ----
  struct ServiceImport {
    Account* exporter;
    std::string from;  // what clients of this account publish to (may have wildcards)
    std::string to;    // the subject in the exporter; empty: the published subject
    std::optional<SubjectTransform> transform;  // wildcards of `from` into the exporter's
    ResponseType response_type = ResponseType::kSingleton;  // of the export it goes to
    Clock::duration response_threshold = kResponseTimeout;  // of the export it goes to
    // The export's latency tracking: where its metrics go (empty: none) and the percentage
    // of requests sampled.
    std::string latency_subject = {};
    int latency_sampling = 0;
    bool latency_headers = false;  // sampling: headers (only trace headers decide)
  };
  // A request sampled for its service latency: what the metric needs once the response comes.
  struct LatencyTrack {
    Account* exporter;
    std::string subject;  // where the metric is published, in the exporter
    std::string requestor_account;
    int64_t requestor_rtt_ns = 0;
    std::chrono::system_clock::time_point start;  // when the request came in
    // The trace headers that had it sampled (canonical name, value), if they did.
    std::vector<std::pair<std::string, std::string>> header;
  };
  bool has_service_imports() const { return !tables().service_imports.empty(); }
  // The import a publish on `subject` (literal) goes through, or null.
  const ServiceImport* MatchServiceImport(std::string_view subject) const;

  // ---- Responses to requests that came in through a service import ----
  bool exports_services() const { return tables().exports_services; }
  // Remembers where the responses to a request go (the requestor's account and reply
  // subject) and returns the reply subject to give the request here. Any thread.
  std::string NewResponse(Account* requestor, std::string_view reply, ResponseType type,
                          Clock::time_point now, Clock::duration threshold = kResponseTimeout,
                          std::unique_ptr<LatencyTrack> track = nullptr);
  // If `subject` is a pending response's reply subject: where it goes. A singleton's mapping
  // is taken (routed once); a streamed or chunked one stays (`kept`), its time renewed, until
  // an empty message (`empty`) or its threshold (the export's response_threshold, else
  // kResponseTimeout) without a response. Any thread.
  // `track`, if given, takes the request's latency tracking with its first response.
  bool TakeResponse(std::string_view subject, bool empty, Account*& requestor, std::string& reply,
                    bool& kept, Clock::time_point now,
                    std::unique_ptr<LatencyTrack>* track = nullptr);
  // A kept response could not be delivered: forget it, as the reference. Any thread.
  void EndResponse(std::string_view subject);
  size_t pending_responses() const;
  // "_R_.<random>.": the reply subjects of requests into this account's services start with
  // it (a cluster routes responses back to this server by it).
  const std::string& response_prefix() const { return response_prefix_; }

 private:
  friend class Accounts;
  struct PendingResponse {
    Account* requestor;
    std::string reply;
    Clock::time_point created;  // or, streamed and chunked, the last response
    ResponseType type;
    Clock::duration threshold;
    std::unique_ptr<LatencyTrack> track;  // null unless sampled for latency
  };
  void SweepResponses(Clock::time_point now);  // responses_mu_ held

  struct MappingTarget {
    std::optional<SubjectTransform> transform;  // null: the subject is kept
    int upto;  // cumulative weight: picked when the random percent is below it
  };
  struct Mapping {
    std::string source;
    std::vector<MappingTarget> targets;
  };

 public:
  // What the configuration says of the account, and what is derived from it: immutable once
  // published; a reload publishes new ones (Accounts::Reload).
  struct Tables {
    std::vector<AccountExport> exports;
    std::vector<AccountImport> imports;
    AccountLimits limits;
    std::vector<Mapping> mappings;
    std::vector<StreamRoute> stream_routes;  // the imports of this account's streams
    std::unordered_map<std::string, ServiceImport> literal_service_imports;
    std::vector<ServiceImport> service_imports;  // all, wildcard ones matched in order
    bool exports_services = false;
  };
  // The tables in force. Worker threads only: they read them without a lock, and tables
  // replaced by a reload are freed once every worker has passed a quiescent point (the
  // reclaimer); other threads use exports() and imports(), copies made under `tables_mu_`.
  // (The routes manager keeps its own copy of the stream imports: Routes::AccountsReloaded.)
  const Tables& tables() const { return *tables_.load(std::memory_order_acquire); }

 private:
  static void AddMappings(Tables& tables, const std::vector<SubjectMapping>& mappings);
  void SetTables(std::shared_ptr<const Tables> next, Reclaimer* reclaimer);

  const std::string name_;
  const size_t index_;
  std::atomic<bool> live_{true};
  const std::chrono::system_clock::time_point created_ = std::chrono::system_clock::now();
  mutable std::mutex tables_mu_;  // a leaf: guards owner_
  std::shared_ptr<const Tables> owner_;
  std::atomic<const Tables*> tables_;
  std::atomic<int64_t> clients_{0};
  std::atomic<int64_t> remote_clients_{0};
  Sublist sublist_;

  std::string response_prefix_;      // "_R_.xxxxxx."
  mutable std::mutex responses_mu_;  // a leaf: never held while taking another lock
  std::unordered_map<std::string, PendingResponse> responses_;
  Clock::time_point next_sweep_{};
};

// The server's accounts: $G first, then the configured ones in configuration order, then $SYS
// when it is the system account and was not configured.
class Accounts {
 public:
  // The options were checked when read (config_auth.cc ApplyAccounts): every import names an
  // account that exists and is authorized by its export.
  explicit Accounts(const Options& opts);

  Account& global() { return *all_.front(); }
  // The system account (system_account, else $SYS, made here when not configured); null with
  // no_system_account.
  Account* system() { return system_; }
  const Account* system() const { return system_; }
  // How many accounts one server may have made (the index space of the workers' match caches
  // and the routes' interest, reserved once so that adding one moves nothing).
  static constexpr size_t kMaxAccounts = 4096;

  // Null if no such live account.
  Account* Find(std::string_view name);
  // Every account ever made, by index, removed ones included (test live()). Any thread: the
  // storage never moves, a reload only appends.
  std::span<const std::unique_ptr<Account>> all() const {
    return {all_.data(), count_.load(std::memory_order_acquire)};
  }
  size_t size() const { return count_.load(std::memory_order_acquire); }
  // A reload, first step: makes the accounts of `next` that do not exist yet, not live (so the
  // workers and the routes can make room for them before anyone finds them). Returns how many,
  // or -1 when kMaxAccounts would be exceeded (nothing made). Main thread, reload lock held.
  int AddNew(const Options& next);
  // A reload, second step: the accounts of `next` are live (the others are not: their clients
  // are closed by the workers' re-check, as their users are gone) and take its exports,
  // imports, mappings and limits. Clients and subscriptions of the accounts that stay, stay;
  // publishes on the workers see the new tables from their next message. Returns the accounts
  // that became live and those that stopped being live. Main thread, reload lock held.
  struct ReloadResult {
    std::vector<Account*> added;
    std::vector<Account*> removed;
  };
  ReloadResult Reload(const Options& next, Reclaimer& reclaimer);
  // The subject indexes' figures summed over the accounts (for /varz and /subsz).
  SublistStats SublistTotals() const;

 private:
  // Every account's tables for `opts`, by account index.
  std::vector<std::shared_ptr<Account::Tables>> BuildTables(const Options& opts);

  // Live or not, by name.
  Account* FindAny(std::string_view name);

  std::vector<std::unique_ptr<Account>> all_;  // capacity kMaxAccounts: never reallocated
  std::atomic<size_t> count_{0};               // published size of all_
  Account* system_ = nullptr;
};

}  // namespace gannet
