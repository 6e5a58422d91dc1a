#include "server/account.h"

#include <algorithm>
#include <random>
#include <utility>

#include "auth/permissions.h"
#include "core/fast_random.h"
#include "core/subject.h"

namespace gannet {
namespace {

constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// `n` base-62 characters, as the reference's reply tokens.
void AppendRandomToken(std::string& out, uint64_t bits, int n) {
  for (int i = 0; i < n; ++i) {
    out += kDigits[bits % 62];
    bits /= 62;
  }
}

uint64_t Seed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

}  // namespace

Account::Account(std::string name, size_t index)
    : name_(std::move(name)), index_(index), owner_(std::make_shared<const Tables>()) {
  tables_.store(owner_.get(), std::memory_order_release);
  response_prefix_ = "_R_.";
  AppendRandomToken(response_prefix_, Seed(), 6);
  response_prefix_ += '.';
}

void Account::SetTables(std::shared_ptr<const Tables> next, Reclaimer* reclaimer) {
  std::shared_ptr<const Tables> previous;
  {
    std::lock_guard lock(tables_mu_);
    previous = std::exchange(owner_, std::move(next));
    tables_.store(owner_.get(), std::memory_order_release);
  }
  // Publishers on the workers may still be reading the previous tables until their next
  // quiescent point.
  if (reclaimer) reclaimer->Retire([previous = std::move(previous)] {});
}

std::vector<AccountExport> Account::exports() const {
  std::lock_guard lock(tables_mu_);
  return owner_->exports;
}

std::vector<AccountImport> Account::imports() const {
  std::lock_guard lock(tables_mu_);
  return owner_->imports;
}

void Account::MapStreamSubject(const StreamRoute& route, std::string_view subject,
                               std::string& out) {
  out.clear();
  if (!route.prefix.empty()) {
    out.append(route.prefix);
    out.append(subject);
  } else if (route.transform) {
    route.transform->Apply(subject, out);
  } else if (!route.to.empty()) {
    out.append(route.to);
  } else {
    out.append(subject);
  }
}

bool Account::MapSubject(std::string_view subject, std::string& out) const {
  for (const Mapping& m : tables().mappings) {
    if (m.source != subject && !SubjectMatchesPattern(subject, m.source)) continue;
    thread_local FastRandom random(Seed());
    int percent = static_cast<int>(random.Below(100));
    for (const MappingTarget& t : m.targets) {
      if (percent >= t.upto) continue;
      if (!t.transform) return false;
      t.transform->Apply(subject, out);
      return true;
    }
    return false;
  }
  return false;
}

void Account::AddMappings(Tables& tables, const std::vector<SubjectMapping>& mappings) {
  for (const SubjectMapping& m : mappings) {
    Mapping mapping{m.source, {}};
    std::vector<std::pair<int, std::optional<SubjectTransform>>> weighted;
    int total = 0;
    bool lists_source = false;
    for (const MappingDestination& d : m.destinations) {
      // Cluster-scoped destinations apply in that cluster only; without one, as in a
      // cluster of another name, the reference ignores them.
      if (!d.cluster.empty()) continue;
      std::string error;
      auto t = SubjectTransform::Create(m.source, d.subject, &error);
      if (!t) continue;  // refused when the options were read
      lists_source |= d.subject == m.source;
      total += d.weight;
      weighted.emplace_back(d.weight, std::move(t));
    }
    // What the weights leave below 100% keeps its subject, unless the source is listed.
    if (total < 100 && !lists_source)
      weighted.emplace_back(weighted.empty() ? 100 : 100 - total, std::nullopt);
    std::stable_sort(weighted.begin(), weighted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    int upto = 0;
    for (auto& [weight, transform] : weighted) {
      upto += weight;
      mapping.targets.push_back(MappingTarget{std::move(transform), upto});
    }
    tables.mappings.push_back(std::move(mapping));
  }
}

const Account::ServiceImport* Account::MatchServiceImport(std::string_view subject) const {
  const Tables& t = tables();
  if (auto it = t.literal_service_imports.find(std::string(subject));
      it != t.literal_service_imports.end()) {
    return &it->second;
  }
  for (const ServiceImport& si : t.service_imports) {
    if (SubjectHasWildcard(si.from) && SubjectMatchesPattern(subject, si.from)) return &si;
  }
  return nullptr;
}

std::string Account::NewResponse(Account* requestor, std::string_view reply, ResponseType type,
                                 Clock::time_point now, Clock::duration threshold,
                                 std::unique_ptr<LatencyTrack> track) {
  thread_local FastRandom random(Seed());
  std::string subject;
  std::lock_guard<std::mutex> lock(responses_mu_);
  SweepResponses(now);
  do {
    subject = response_prefix_;
    AppendRandomToken(subject, random.Next(), 6);
  } while (responses_.count(subject) > 0);
  responses_.emplace(subject, PendingResponse{requestor, std::string(reply), now, type, threshold,
                                              std::move(track)});
  return subject;
}

bool Account::TakeResponse(std::string_view subject, bool empty, Account*& requestor,
                           std::string& reply, bool& kept, Clock::time_point now,
                           std::unique_ptr<LatencyTrack>* track) {
  kept = false;
  if (subject.size() <= response_prefix_.size() ||
      subject.compare(0, response_prefix_.size(), response_prefix_) != 0) {
    return false;
  }
  std::lock_guard<std::mutex> lock(responses_mu_);
  auto it = responses_.find(std::string(subject));
  if (it == responses_.end()) return false;
  PendingResponse& p = it->second;
  bool live = now - p.created <= p.threshold;
  if (live) {
    requestor = p.requestor;
    if (track) *track = std::move(p.track);  // measured at the first response
    // As the reference: a streamed or chunked response ends with an empty message.
    if (p.type != ResponseType::kSingleton && !empty) {
      reply = p.reply;
      p.created = now;
      kept = true;
      return true;
    }
    reply = std::move(p.reply);
  }
  responses_.erase(it);
  return live;
}

void Account::EndResponse(std::string_view subject) {
  std::lock_guard<std::mutex> lock(responses_mu_);
  responses_.erase(std::string(subject));
}

size_t Account::pending_responses() const {
  std::lock_guard<std::mutex> lock(responses_mu_);
  return responses_.size();
}

void Account::SweepResponses(Clock::time_point now) {
  if (now < next_sweep_) return;
  next_sweep_ = now + std::chrono::seconds(1);
  for (auto it = responses_.begin(); it != responses_.end();) {
    if (now - it->second.created > it->second.threshold) {
      it = responses_.erase(it);
    } else {
      ++it;
    }
  }
}

Accounts::Accounts(const Options& opts) {
  all_.reserve(kMaxAccounts);
  all_.push_back(std::make_unique<Account>(kGlobalAccountName, 0));
  for (const AccountConfig& c : opts.accounts) {
    all_.push_back(std::make_unique<Account>(c.name, all_.size()));
  }
  if (!opts.no_system_account || !opts.system_account.empty()) {
    // As the reference: a system_account that names a configured account is it (ValidateOptions
    // refused any other name but the default); the default one is made if missing.
    const std::string& name =
        opts.system_account.empty() ? kDefaultSystemAccountName : opts.system_account;
    system_ = FindAny(name);
    if (!system_) {
      all_.push_back(std::make_unique<Account>(name, all_.size()));
      system_ = all_.back().get();
    }
  }
  count_.store(all_.size(), std::memory_order_release);
  auto tables = BuildTables(opts);
  for (size_t i = 0; i < all_.size(); ++i) all_[i]->SetTables(std::move(tables[i]), nullptr);
}

int Accounts::AddNew(const Options& next) {
  std::vector<std::string> missing;
  for (const AccountConfig& c : next.accounts) {
    if (!FindAny(c.name)) missing.push_back(c.name);
  }
  if (all_.size() + missing.size() > kMaxAccounts) return -1;
  for (std::string& name : missing) {
    auto account = std::make_unique<Account>(std::move(name), all_.size());
    account->live_.store(false, std::memory_order_relaxed);
    // Within the reserved capacity: readers holding all()'s span see the same storage.
    all_.push_back(std::move(account));
  }
  count_.store(all_.size(), std::memory_order_release);
  return static_cast<int>(missing.size());
}

Accounts::ReloadResult Accounts::Reload(const Options& next, Reclaimer& reclaimer) {
  ReloadResult result;
  std::vector<bool> configured(all_.size(), false);
  configured[0] = true;  // $G
  if (system_) configured[system_->index()] = true;
  for (const AccountConfig& c : next.accounts) {
    if (Account* a = FindAny(c.name)) configured[a->index()] = true;
  }
  // The tables first: an account becoming live has its imports and exports when it is found.
  auto tables = BuildTables(next);
  for (size_t i = 0; i < all_.size(); ++i) all_[i]->SetTables(std::move(tables[i]), &reclaimer);
  for (size_t i = 0; i < all_.size(); ++i) {
    Account& a = *all_[i];
    if (configured[i] == a.live()) continue;
    a.live_.store(configured[i], std::memory_order_release);
    (configured[i] ? result.added : result.removed).push_back(&a);
  }
  return result;
}

std::vector<std::shared_ptr<Account::Tables>> Accounts::BuildTables(const Options& opts) {
  std::vector<std::shared_ptr<Account::Tables>> tables;
  for (size_t i = 0; i < all_.size(); ++i) tables.push_back(std::make_shared<Account::Tables>());
  auto of = [&](const Account* a) -> Account::Tables& { return *tables[a->index()]; };
  Account::AddMappings(*tables[0], opts.mappings);
  // Its services answer the requests the other accounts forward to it (the reference's
  // imports of $SYS.REQ.ACCOUNT.*.CONNZ and STATZ): their responses route back.
  if (system_) of(system_).exports_services = true;
  for (const AccountConfig& c : opts.accounts) {
    Account::Tables& t = of(FindAny(c.name));
    Account::AddMappings(t, c.mappings);
    t.limits = c.limits;
    t.exports = c.exports;
    t.imports = c.imports;
    for (const AccountExport& ex : c.exports) {
      if (ex.service) t.exports_services = true;
    }
  }
  for (const AccountConfig& c : opts.accounts) {
    Account* importer = FindAny(c.name);
    for (const AccountImport& im : c.imports) {
      Account* exporter = FindAny(im.account);
      if (!exporter) continue;  // refused when the options were read
      if (im.service) {
        Account::ServiceImport si{exporter, im.to.empty() ? im.subject : im.to, im.subject, {}};
        // The response type of the export that authorized it (the first that covers it).
        for (const AccountExport& ex : of(exporter).exports) {
          if (ex.service &&
              (ex.subject == im.subject || auth::SubjectIsSubset(im.subject, ex.subject))) {
            si.response_type = ex.response_type;
            if (ex.response_threshold.count() > 0) {
              si.response_threshold =
                  std::chrono::duration_cast<Account::Clock::duration>(ex.response_threshold);
            }
            si.latency_subject = ex.latency_subject;
            si.latency_sampling = ex.latency_sampling;
            si.latency_headers = ex.latency_headers;
            break;
          }
        }
        if (SubjectHasWildcard(si.to)) {
          // Onto itself: delivered under the published subject; else the local subject's
          // wildcards fill the exporter's, in order.
          if (si.to != si.from) {
            std::string error;
            si.transform =
                SubjectTransform::Create(si.from, SubjectTransform::NumberWildcards(si.to), &error);
          }
          si.to.clear();
        }
        Account::Tables& t = of(importer);
        if (!SubjectHasWildcard(si.from)) t.literal_service_imports.emplace(si.from, si);
        t.service_imports.push_back(std::move(si));
      } else {
        Account::StreamRoute route{importer, im.subject, {}, {}, {}};
        if (!im.prefix.empty()) {
          route.prefix = im.prefix;
          if (route.prefix.back() != '.') route.prefix += '.';
        } else if (!im.to.empty() && im.to != im.subject) {
          if (SubjectHasWildcard(im.subject)) {
            std::string error;
            route.transform = SubjectTransform::Create(
                im.subject, SubjectTransform::NumberWildcards(im.to), &error);
          } else {
            route.to = im.to;
          }
        }
        of(exporter).stream_routes.push_back(std::move(route));
      }
    }
  }
  return tables;
}

bool Account::AddClient() {
  int64_t n = clients_.load(std::memory_order_relaxed);
  do {
    const int64_t max = limits().max_connections;
    if (max >= 0 && n + remote_clients_.load(std::memory_order_relaxed) >= max) return false;
  } while (!clients_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

SublistStats Accounts::SublistTotals() const {
  SublistStats total;
  for (const auto& a : all()) {
    SublistStats s = a->sublist().Stats();
    total.subscriptions += s.subscriptions;
    total.inserts += s.inserts;
    total.removes += s.removes;
    total.matches += s.matches;
  }
  return total;
}

Account* Accounts::Find(std::string_view name) {
  for (const auto& a : all()) {
    if (a->name() == name && a->live()) return a.get();
  }
  return nullptr;
}

Account* Accounts::FindAny(std::string_view name) {
  for (const auto& a : all_) {
    if (a->name() == name) return a.get();
  }
  return nullptr;
}

}  // namespace gannet
