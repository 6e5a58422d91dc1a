// The SQL store: the connection's retry policy, the server's and clients' rows, channels, and
// recovery (see sql_store.h; the channels' message and subscription stores are in
// sql_channel.cc).
#include "streaming/store/sql_store.h"

#include <algorithm>
#include <thread>

#include "streaming/log.h"
#include "streaming/store/limits.h"
#include "streaming/store/records.h"

namespace gannet::streaming::store {

using sql::Param;
using sql::Stmt;

namespace {

constexpr int kSchemaVersion = 1;

int64_t WallClockNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- SqlDb ----

Status SqlDb::PrepareAll() {
  for (int i = 0; i < static_cast<int>(Stmt::kCount); ++i) {
    auto stmt = static_cast<Stmt>(i);
    if (Status s = conn_->Prepare(sql::StatementName(stmt), sql::StatementText(driver_, stmt));
        !s) {
      return s;
    }
  }
  return Status::Ok();
}

Status SqlDb::PrepareBulk(int rows) {
  return conn_->Prepare(sql::BulkInsertName(rows), sql::BulkInsertText(driver_, rows));
}

Result<sql::ExecResult> SqlDb::ExecOnce(Stmt stmt, std::span<const Param> params) {
  auto r = conn_->Exec(sql::StatementName(stmt), params);
  if (!r.ok()) {
    return Status(r.status().code(), "sql: error executing \"" + sql::StatementText(driver_, stmt) +
                                         "\": " + r.status().message());
  }
  return r;
}

namespace {

bool Writes(Stmt stmt) {
  switch (stmt) {
    case Stmt::kLockSelect:
    case Stmt::kLockPeek:
    case Stmt::kLockFence:
    case Stmt::kLockSessionTry:
    case Stmt::kLockSessionRelease:
    case Stmt::kHasServerInfo:
    case Stmt::kLookupMsg:
    case Stmt::kLookupMsgs:
    case Stmt::kMaxSeq:
    case Stmt::kRecoverServerInfo:
    case Stmt::kRecoverClients:
    case Stmt::kRecoverMaxChannelId:
    case Stmt::kRecoverMaxSubId:
    case Stmt::kRecoverMaxRow:
    case Stmt::kRecoverChannels:
    case Stmt::kRecoverMsgIndex:
    case Stmt::kRecoverSubs:
    case Stmt::kRecoverSubPending:
      return false;
    default:
      return true;
  }
}

}  // namespace

Status SqlDb::CheckFence() {
  auto r = ExecOnce(Stmt::kLockFence, {});
  if (!r.ok()) return r.status();
  if (r->rows.empty() || !sql::RowNamesOwner(r->rows.Bytes(0, 0), fence_owner_)) {
    return Status(Code::kIo, "sql: the store lock is held by another server now");
  }
  return Status::Ok();
}

Status SqlDb::Transaction(const std::function<Status()>& body) {
  if (Status s = conn_->Run("BEGIN"); !s) return s;
  Status s = fenced() ? CheckFence() : Status::Ok();
  if (s) s = body();
  if (s) s = conn_->Run("COMMIT");
  if (!s && !conn_->Broken()) conn_->Run("ROLLBACK");
  return s;
}

Result<sql::ExecResult> SqlDb::Exec(Stmt stmt, std::initializer_list<Param> params) {
  Result<sql::ExecResult> out = Status::Ok();
  const std::span<const Param> p(params.begin(), params.size());
  // Fencing each write (--sql_no_caching's statements, and the rarer ones of the caching mode)
  // costs three more round trips; a flush's transaction checks once for the whole batch.
  const bool fence = fenced() && Writes(stmt);
  Status s = Retry("statement", [&] {
    if (fence) {
      return Transaction([&] {
        out = ExecOnce(stmt, p);
        return out.ok() ? Status::Ok() : out.status();
      });
    }
    out = ExecOnce(stmt, p);
    return out.ok() ? Status::Ok() : out.status();
  });
  if (!s) return s;
  return out;
}

Status SqlDb::Retry(const char* what, const std::function<Status()>& op) {
  const auto deadline = std::chrono::steady_clock::now() + kReconnectWindow;
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    Status s = op();
    if (s || !conn_->Broken()) return s;
    STAN_ERROR("SQL store: connection to the database lost during %s (%s), reconnecting", what,
               s.message().c_str());
    for (;;) {
      if (std::chrono::steady_clock::now() >= deadline) {
        STAN_ERROR("SQL store: unable to reconnect to the database within %llds: %s",
                   static_cast<long long>(kReconnectWindow.count()), s.message().c_str());
        return Status(Code::kIo, "sql: connection to the database lost: " + s.message());
      }
      // Waiting is what a lost database leaves to do: nothing can be stored meanwhile.
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      if (Status r = conn_->Reconnect(); !r) {
        s = r;
        continue;
      }
      STAN_INFO("SQL store: reconnected to the database");
      break;
    }
  }
}

// ---- SqlStore ----

Result<std::unique_ptr<Store>> SqlStore::Create(const StoreOptions& options) {
  const SqlStoreOptions& o = options.sql;
  auto driver = sql::ParseDriver(o.driver);
  if (o.driver.empty()) return Status(Code::kInvalid, "SQL driver not specified");
  if (!driver) return Status(Code::kInvalid, "unsupported SQL driver \"" + o.driver + "\"");
  if (o.source.empty()) return Status(Code::kInvalid, "SQL source not specified");
  if (o.bulk_insert_limit < 0) {
    return Status(Code::kInvalid, "sql_bulk_insert_limit cannot be negative");
  }
  auto conn = sql::Connection::Open(*driver, o.source);
  if (!conn.ok()) return conn.status();
  auto db = std::make_unique<SqlDb>(std::move(conn).value(), *driver, o.fence_owner);
  if (Status s = db->PrepareAll(); !s) return s;
  std::unique_ptr<SqlStore> store(new SqlStore(std::move(db), o));
  if (o.max_open_conns > 1 && !o.no_caching) {
    store->pool_ =
        std::make_unique<SqlFlushPool>(*driver, o.source, o.fence_owner, o.max_open_conns - 1);
  }
  if (Status s = store->SetLimits(options.limits); !s) return s;
  // Ids are never reused, whether or not Recover runs.
  auto cid = store->db_->Exec(Stmt::kRecoverMaxChannelId, {});
  auto sid = store->db_->Exec(Stmt::kRecoverMaxSubId, {});
  auto row = store->db_->Exec(Stmt::kRecoverMaxRow, {});
  if (!cid.ok()) return cid.status();
  if (!sid.ok()) return sid.status();
  if (!row.ok()) return row.status();
  store->max_channel_id_ = cid->rows.Int(0, 0);
  store->max_sub_id_ = sid->rows.Uint(0, 0);
  store->next_row_ = row->rows.Uint(0, 0) + 1;
  return std::unique_ptr<Store>(std::move(store));
}

Status SqlStore::Drop(const SqlStoreOptions& o) {
  auto driver = sql::ParseDriver(o.driver);
  if (!driver) return Status(Code::kInvalid, "unsupported SQL driver \"" + o.driver + "\"");
  auto conn = sql::Connection::Open(*driver, o.source);
  if (!conn.ok()) return conn.status();
  SqlDb db(std::move(conn).value(), *driver, /*fence_owner=*/"");
  return db.Retry("dropping the store", [&] {
    return db.Transaction([&]() -> Status {
      for (const char* t :
           {"SubsPending", "Subscriptions", "Messages", "Channels", "Clients", "ServerInfo"}) {
        if (Status s = db.conn().Run(std::string("DELETE FROM ") + t); !s) {
          return Status(s.code(), std::string("sql: unable to empty ") + t + ": " + s.message());
        }
      }
      return Status::Ok();
    });
  });
}

SqlStore::~SqlStore() { Close(); }

Result<std::unique_ptr<ExclusiveLock>> CreateSqlLock(const SqlStoreOptions& options);

// The StoreLock row, taken only when free or ours (without the FT heartbeats that tell a dead
// owner from a live one, a stale row is not stolen here).
Result<bool> SqlStore::GetExclusiveLock() {
  if (!lock_) {
    auto l = CreateSqlLock(opts_);
    if (!l.ok()) return l.status();
    lock_ = std::move(l).value();
  }
  return lock_->TryLock(/*peer_silent=*/false);
}

Status SqlStore::Init(const ServerInfo& info) {
  auto count = db_->Exec(Stmt::kHasServerInfo, {});
  if (!count.ok()) return count.status();
  const std::string proto = EncodeServerInfo(info);
  const Stmt stmt = count->rows.Int(0, 0) == 0 ? Stmt::kAddServerInfo : Stmt::kUpdateServerInfo;
  auto r = db_->Exec(
      stmt, {Param::Text(info.cluster_id), Param::Blob(proto), Param::Int(kSchemaVersion)});
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::optional<RecoveredState>> SqlStore::Recover() {
  auto info_rows = db_->Exec(Stmt::kRecoverServerInfo, {});
  if (!info_rows.ok()) return info_rows.status();
  const sql::Rows& ir = info_rows->rows;
  if (ir.empty()) return std::optional<RecoveredState>();
  if (ir.Int(0, 2) != kSchemaVersion) {
    return Status(Code::kCorrupt, "sql: unsupported version: " + std::to_string(ir.Int(0, 2)) +
                                      " (supports [1..1])");
  }
  RecoveredState state;
  if (!DecodeServerInfo(ir.Bytes(0, 1), state.info)) {
    return Status(Code::kCorrupt, "sql: unable to decode the server info");
  }
  if (state.info.cluster_id != ir.Bytes(0, 0)) {
    return Status(Code::kCorrupt, "sql: id \"" + std::string(ir.Bytes(0, 0)) +
                                      "\" in column does not match cluster ID in data \"" +
                                      state.info.cluster_id + "\"");
  }

  auto clients = db_->Exec(Stmt::kRecoverClients, {});
  if (!clients.ok()) return clients.status();
  for (size_t i = 0; i < clients->rows.size(); ++i) {
    ClientInfo ci;
    if (clients->rows.IsNull(i, 2) || clients->rows.Bytes(i, 2).empty()) {
      // Written before the reference kept the whole record (0.10.0).
      ci.id = clients->rows.Bytes(i, 0);
      ci.hb_inbox = clients->rows.Bytes(i, 1);
    } else if (!DecodeClientInfo(clients->rows.Bytes(i, 2), ci)) {
      return Status(Code::kCorrupt,
                    "sql: unable to decode client " + std::string(clients->rows.Bytes(i, 0)));
    }
    state.clients.push_back(std::move(ci));
  }

  auto channels = db_->Exec(Stmt::kRecoverChannels, {});
  if (!channels.ok()) return channels.status();
  for (size_t i = 0; i < channels->rows.size(); ++i) {
    if (Status s = RecoverChannel(channels->rows, i, state); !s) return s;
  }
  return std::optional<RecoveredState>(std::move(state));
}

Status SqlStore::RecoverChannel(const sql::Rows& rows, size_t i, RecoveredState& state) {
  const int64_t id = rows.Int(i, 0);
  std::string name(rows.Bytes(i, 1));
  const uint64_t max_seq = rows.Uint(i, 2);
  const ChannelLimits cl = LimitsForChannel(limits_, name);
  auto channel = MakeChannel(name, id, cl);
  auto* msgs = static_cast<SqlMsgStore*>(channel->msgs.get());
  auto* subs = static_cast<SqlSubStore*>(channel->subs.get());

  auto index = db_->Exec(Stmt::kRecoverMsgIndex, {Param::Int(id)});
  if (!index.ok()) return index.status();
  std::vector<std::pair<int64_t, uint32_t>> entries;
  uint64_t first = 0;
  uint64_t expect = 0;
  for (size_t r = 0; r < index->rows.size(); ++r) {
    const uint64_t seq = index->rows.Uint(r, 0);
    const int64_t ts = index->rows.Int(r, 1);
    if (first == 0) {
      first = seq;
    } else {
      // A hole (never written by either server): entries of size 0 that Lookup will not find.
      for (; expect < seq; ++expect) entries.emplace_back(ts, 0);
    }
    entries.emplace_back(ts, static_cast<uint32_t>(index->rows.Uint(r, 2)));
    expect = seq + 1;
  }
  msgs->Recovered(first, max_seq, entries);
  if (Status s = msgs->ApplyLimits(WallClockNs()); !s) return s;
  // The limits in force are the ones the row remembers.
  if (rows.Int(i, 3) != cl.max_msgs || rows.Int(i, 4) != cl.max_bytes ||
      rows.Int(i, 5) != cl.max_age.count()) {
    auto r =
        db_->Exec(Stmt::kUpdateChannelLimits, {Param::Int(cl.max_msgs), Param::Int(cl.max_bytes),
                                               Param::Int(cl.max_age.count()), Param::Int(id)});
    if (!r.ok()) return r.status();
  }

  RecoveredChannel rc;
  auto sub_rows = db_->Exec(Stmt::kRecoverSubs, {Param::Int(id)});
  if (!sub_rows.ok()) return sub_rows.status();
  for (size_t r = 0; r < sub_rows->rows.size(); ++r) {
    if (sub_rows->rows.IsNull(r, 1)) continue;
    RecoveredSubscription rs;
    if (!DecodeSubState(sub_rows->rows.Bytes(r, 1), rs.state)) {
      return Status(Code::kCorrupt, "sql: unable to decode a subscription of " + name);
    }
    rs.state.last_sent = std::max(rs.state.last_sent, sub_rows->rows.Uint(r, 0));
    auto pend = db_->Exec(Stmt::kRecoverSubPending, {Param::Uint(rs.state.id)});
    if (!pend.ok()) return pend.status();
    std::set<uint64_t> pending;
    std::vector<uint64_t> acks;
    for (size_t p = 0; p < pend->rows.size(); ++p) {
      const uint64_t seq = pend->rows.Uint(p, 1);
      if (seq > 0) {
        // A row of a run without caching: one sequence sent and not acknowledged.
        pending.insert(seq);
        rs.state.last_sent = std::max(rs.state.last_sent, seq);
        continue;
      }
      rs.state.last_sent = std::max(rs.state.last_sent, pend->rows.Uint(p, 2));
      std::vector<uint64_t> seqs;
      if (!sql::ParseSeqArray(pend->rows.Bytes(p, 3), seqs) ||
          !sql::ParseSeqArray(pend->rows.Bytes(p, 4), acks)) {
        return Status(Code::kCorrupt,
                      "sql: unable to decode the pending messages of "
                      "subscription " +
                          std::to_string(rs.state.id));
      }
      pending.insert(seqs.begin(), seqs.end());
    }
    for (uint64_t a : acks) pending.erase(a);
    rs.pending.assign(pending.begin(), pending.end());
    subs->Recovered(rs.state.id, rs.state.last_sent, rs.pending);
    rc.subscriptions.push_back(std::move(rs));
  }
  rc.channel = channel.get();
  state.channels.emplace(name, std::move(rc));
  channels_.emplace(std::move(name), std::move(channel));
  return Status::Ok();
}

Status SqlStore::SetLimits(const StoreLimits& limits) {
  StoreLimits built = limits;
  if (Status s = BuildLimits(built); !s) return s;
  limits_ = std::move(built);
  return Status::Ok();
}

ChannelLimits SqlStore::GetChannelLimits(std::string_view channel) const {
  return LimitsForChannel(limits_, channel);
}

std::unique_ptr<ChannelStore> SqlStore::MakeChannel(std::string name, int64_t id,
                                                    const ChannelLimits& limits) {
  auto c = std::make_unique<ChannelStore>();
  c->name = std::move(name);
  c->msgs = std::make_unique<SqlMsgStore>(*db_, opts_, c->name, id, limits);
  c->subs = std::make_unique<SqlSubStore>(*db_, opts_, id, limits, &max_sub_id_, &next_row_);
  return c;
}

Result<ChannelStore*> SqlStore::CreateChannel(std::string_view name) {
  if (closed_) return Status(Code::kClosed, "store closed");
  if (channels_.find(name) != channels_.end()) {
    return Status(Code::kAlreadyExists, "already exists");
  }
  if (limits_.max_channels > 0 && channels_.size() >= static_cast<size_t>(limits_.max_channels)) {
    return Status::TooManyChannels();
  }
  const ChannelLimits cl = LimitsForChannel(limits_, name);
  const int64_t id = max_channel_id_ + 1;
  auto r = db_->Exec(Stmt::kAddChannel, {Param::Int(id), Param::Text(name), Param::Int(cl.max_msgs),
                                         Param::Int(cl.max_bytes), Param::Int(cl.max_age.count())});
  if (!r.ok()) return r.status();
  max_channel_id_ = id;
  auto c = MakeChannel(std::string(name), id, cl);
  ChannelStore* raw = c.get();
  channels_.emplace(raw->name, std::move(c));
  return raw;
}

Status SqlStore::FlushBatch(std::span<ChannelStore* const> channels) {
  std::vector<SqlMsgStore*> busy;
  for (ChannelStore* c : channels) {
    auto* m = static_cast<SqlMsgStore*>(c->msgs.get());
    if (m->has_unflushed()) {
      busy.push_back(m);
    } else if (Status s = m->Flush(); !s) {  // deletions of messages the limits removed
      return s;
    }
  }
  if (pool_ && busy.size() > 1) return pool_->Flush(*db_, busy);
  for (SqlMsgStore* m : busy) {
    if (Status s = m->Flush(); !s) return s;
  }
  return Status::Ok();
}

ChannelStore* SqlStore::LookupChannel(std::string_view name) {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second.get();
}

Status SqlStore::DeleteChannel(std::string_view name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return Status(Code::kNotFound, "not found");
  const int64_t id = static_cast<SqlMsgStore*>(it->second->msgs.get())->channel_id();
  // Marked first, so that a crash in the middle does not bring the channel back.
  if (auto r = db_->Exec(Stmt::kDeleteChannelMark, {Param::Int(id)}); !r.ok()) return r.status();
  it->second->msgs->Close();
  it->second->subs->Close();
  channels_.erase(it);
  for (Stmt s : {Stmt::kDeleteChannelSubsPending, Stmt::kDeleteChannelSubs,
                 Stmt::kDeleteChannelMsgs, Stmt::kDeleteChannelRow}) {
    if (auto r = db_->Exec(s, {Param::Int(id)}); !r.ok()) {
      STAN_ERROR("Unable to completely delete channel \"%.*s\": %s", static_cast<int>(name.size()),
                 name.data(), r.status().message().c_str());
      break;
    }
  }
  return Status::Ok();
}

Status SqlStore::AddClient(const ClientInfo& info) {
  const std::string proto = EncodeClientInfo(info);
  const Param params[] = {Param::Text(info.id), Param::Text(info.hb_inbox), Param::Blob(proto)};
  if (db_->fenced()) {
    // In one fenced transaction, where a failed INSERT would end it (PostgreSQL): replace.
    return db_->Retry("AddClient", [&] {
      return db_->Transaction([&] {
        const Param id[] = {Param::Text(info.id)};
        if (auto d = db_->ExecOnce(Stmt::kDeleteClient, id); !d.ok()) return d.status();
        return db_->ExecOnce(Stmt::kAddClient, params).status();
      });
    });
  }
  return db_->Retry("AddClient", [&] {
    auto r = db_->ExecOnce(Stmt::kAddClient, params);
    if (r.ok() || db_->conn().Broken()) return r.status();
    // Already there (a client that was not removed): replace it.
    const Param id[] = {Param::Text(info.id)};
    if (auto d = db_->ExecOnce(Stmt::kDeleteClient, id); !d.ok()) return d.status();
    return db_->ExecOnce(Stmt::kAddClient, params).status();
  });
}

Status SqlStore::DeleteClient(std::string_view client_id) {
  auto r = db_->Exec(Stmt::kDeleteClient, {Param::Text(client_id)});
  return r.ok() ? Status::Ok() : r.status();
}

Status SqlStore::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  lock_.reset();
  Status first;
  for (auto& [name, c] : channels_) {
    if (Status s = c->msgs->Close(); !s && first) first = s;
    if (Status s = c->subs->Close(); !s && first) first = s;
  }
  pool_.reset();
  return first;
}

}  // namespace gannet::streaming::store
