// The SQL store's statements, on the reference's schema (tools/sql/*.db.sql): ServerInfo,
// Clients, Channels, Messages, Subscriptions, SubsPending, StoreLock. Written for MySQL with
// '?' placeholders and `row` quoted; sql::ForDriver adapts them to PostgreSQL.
#pragma once

#include <string>
#include <string_view>

#include "streaming/store/sql_conn.h"

namespace gannet::streaming::store::sql {

enum class Stmt {
  kLockSelect,
  kLockPeek,
  kLockInsert,
  kLockUpdate,
  kLockFence,
  kLockSessionTry,
  kLockSessionRelease,
  kHasServerInfo,
  kUpdateServerInfo,
  kAddServerInfo,
  kAddClient,
  kDeleteClient,
  kAddChannel,
  kStoreMsg,
  kLookupMsg,
  kLookupMsgs,  // a range, read ahead (catch-up answers, replays)
  kMaxSeq,
  kUpdateChannelMaxSeq,
  kDeleteMsgsUpTo,
  kCreateSub,
  kUpdateSub,
  kMarkSubDeleted,
  kDeleteSub,
  kDeleteSubsMarkedDeleted,
  kDeleteSubPending,
  kSubUpdateLastSent,
  kSubAddPendingSeq,
  kSubAddPendingRow,
  kSubDeletePendingSeq,
  kRecoverServerInfo,
  kRecoverClients,
  kRecoverMaxChannelId,
  kRecoverMaxSubId,
  kRecoverMaxRow,
  kRecoverChannels,
  kRecoverMsgIndex,
  kRecoverSubs,
  kRecoverSubPending,
  kUpdateChannelLimits,
  kDeleteChannelMark,
  kDeleteChannelSubsPending,
  kDeleteChannelSubs,
  kDeleteChannelMsgs,
  kDeleteChannelRow,
  kDeleteMsgsAfter,
  kCount,
};

// The statement's text for `driver`, and the name it is prepared under.
std::string StatementText(Driver driver, Stmt stmt);
std::string StatementName(Stmt stmt);

// StoreLock.id as the FT lock writes it (sql_lock.cc): the owner's id, with kSessionMark
// appended while the owner holds its session lock. True when `row_id` names `owner`.
inline constexpr std::string_view kSessionMark = ".sl";
inline bool RowNamesOwner(std::string_view row_id, std::string_view owner) {
  return row_id.starts_with(owner) &&
         (row_id.size() == owner.size() || row_id.substr(owner.size()) == kSessionMark);
}

// The multi-row INSERT of `rows` messages (--sql_bulk_insert_limit), and its name.
std::string BulkInsertText(Driver driver, int rows);
std::string BulkInsertName(int rows);

}  // namespace gannet::streaming::store::sql
