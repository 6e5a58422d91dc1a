// The SQL store's statements, on the reference's schema (tools/sql/*.db.sql): ServerInfo,
// Clients, Channels, Messages, Subscriptions, SubsPending, StoreLock. Written for MySQL with
// '?' placeholders and `row` quoted; sql::ForDriver adapts them to PostgreSQL.
#pragma once

#include <string>

#include "streaming/store/sql_conn.h"

namespace gannet::streaming::store::sql {

enum class Stmt {
  kLockSelect,
  kLockInsert,
  kLockUpdate,
  kLockFence,
  kHasServerInfo,
  kUpdateServerInfo,
  kAddServerInfo,
  kAddClient,
  kDeleteClient,
  kAddChannel,
  kStoreMsg,
  kLookupMsg,
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
  kCount,
};

// The statement's text for `driver`, and the name it is prepared under.
std::string StatementText(Driver driver, Stmt stmt);
std::string StatementName(Stmt stmt);

// The multi-row INSERT of `rows` messages (--sql_bulk_insert_limit), and its name.
std::string BulkInsertText(Driver driver, int rows);
std::string BulkInsertName(int rows);

}  // namespace gannet::streaming::store::sql
