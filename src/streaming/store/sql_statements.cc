// The SQL store's statements (see sql_statements.h).
#include "streaming/store/sql_statements.h"

namespace gannet::streaming::store::sql {

namespace {

const char* Text(Stmt s) {
  switch (s) {
    case Stmt::kLockSelect:
      return "SELECT id, tick FROM StoreLock FOR UPDATE";
    case Stmt::kLockPeek:
      return "SELECT id, tick FROM StoreLock";
    case Stmt::kLockInsert:
      return "INSERT INTO StoreLock (id, tick) VALUES (?, ?)";
    case Stmt::kLockFence:
    case Stmt::kLockSessionTry:
    case Stmt::kLockSessionRelease:
      return "";  // per driver, in StatementText
    case Stmt::kLockUpdate:
      return "UPDATE StoreLock SET id=?, tick=?";
    case Stmt::kHasServerInfo:
      return "SELECT COUNT(uniquerow) FROM ServerInfo";
    case Stmt::kUpdateServerInfo:
      return "UPDATE ServerInfo SET id=?, proto=?, version=? WHERE uniquerow=1";
    case Stmt::kAddServerInfo:
      return "INSERT INTO ServerInfo (id, proto, version) VALUES (?, ?, ?)";
    case Stmt::kAddClient:
      return "INSERT INTO Clients (id, hbinbox, proto) VALUES (?, ?, ?)";
    case Stmt::kDeleteClient:
      return "DELETE FROM Clients WHERE id=?";
    case Stmt::kAddChannel:
      return "INSERT INTO Channels (id, name, maxmsgs, maxbytes, maxage) VALUES (?, ?, ?, ?, ?)";
    case Stmt::kStoreMsg:
      return "INSERT INTO Messages (id, seq, timestamp, size, data) VALUES (?, ?, ?, ?, ?)";
    case Stmt::kLookupMsg:
      return "SELECT timestamp, data FROM Messages WHERE id=? AND seq=?";
    case Stmt::kLookupMsgs:
      return "SELECT seq, timestamp, data FROM Messages WHERE id=? AND seq>=? AND seq<=? ORDER BY "
             "seq";
    case Stmt::kMaxSeq:
      return "SELECT COALESCE(MAX(seq), 0) FROM Messages WHERE id=?";
    case Stmt::kUpdateChannelMaxSeq:
      return "UPDATE Channels SET maxseq=? WHERE id=?";
    case Stmt::kDeleteMsgsUpTo:
      return "DELETE FROM Messages WHERE id=? AND seq<=?";
    case Stmt::kCreateSub:
      return "INSERT INTO Subscriptions (id, subid, proto) VALUES (?, ?, ?)";
    case Stmt::kUpdateSub:
      return "UPDATE Subscriptions SET proto=? WHERE id=? AND subid=?";
    case Stmt::kMarkSubDeleted:
      return "UPDATE Subscriptions SET deleted=TRUE WHERE id=? AND subid=?";
    case Stmt::kDeleteSub:
      return "DELETE FROM Subscriptions WHERE id=? AND subid=?";
    case Stmt::kDeleteSubsMarkedDeleted:
      return "DELETE FROM Subscriptions WHERE id=? AND deleted=TRUE";
    case Stmt::kDeleteSubPending:
      return "DELETE FROM SubsPending WHERE subid=?";
    case Stmt::kSubUpdateLastSent:
      return "UPDATE Subscriptions SET lastsent=? WHERE id=? AND subid=?";
    case Stmt::kSubAddPendingSeq:
      return "INSERT INTO SubsPending (subid, `row`, seq) VALUES (?, ?, ?)";
    case Stmt::kSubAddPendingRow:
      return "INSERT INTO SubsPending (subid, `row`, lastsent, pending, acks) VALUES (?, ?, ?, ?, "
             "?)";
    case Stmt::kSubDeletePendingSeq:
      return "DELETE FROM SubsPending WHERE subid=? AND seq=?";
    case Stmt::kRecoverServerInfo:
      return "SELECT id, proto, version FROM ServerInfo WHERE uniquerow=1";
    case Stmt::kRecoverClients:
      return "SELECT id, hbinbox, proto FROM Clients";
    case Stmt::kRecoverMaxChannelId:
      return "SELECT COALESCE(MAX(id), 0) FROM Channels";
    case Stmt::kRecoverMaxSubId:
      return "SELECT COALESCE(MAX(subid), 0) FROM Subscriptions";
    case Stmt::kRecoverMaxRow:
      return "SELECT COALESCE(MAX(`row`), 0) FROM SubsPending";
    case Stmt::kRecoverChannels:
      return "SELECT id, name, maxseq, maxmsgs, maxbytes, maxage FROM Channels WHERE deleted=FALSE";
    case Stmt::kRecoverMsgIndex:
      return "SELECT seq, timestamp, size FROM Messages WHERE id=? ORDER BY seq";
    case Stmt::kRecoverSubs:
      return "SELECT lastsent, proto FROM Subscriptions WHERE id=? AND deleted=FALSE";
    case Stmt::kRecoverSubPending:
      return "SELECT `row`, seq, lastsent, pending, acks FROM SubsPending WHERE subid=? ORDER BY "
             "`row`";
    case Stmt::kUpdateChannelLimits:
      return "UPDATE Channels SET maxmsgs=?, maxbytes=?, maxage=? WHERE id=?";
    case Stmt::kDeleteChannelMark:
      return "UPDATE Channels SET deleted=TRUE WHERE id=?";
    case Stmt::kDeleteChannelSubsPending:
      return "DELETE FROM SubsPending WHERE subid IN (SELECT subid FROM Subscriptions WHERE id=?)";
    case Stmt::kDeleteChannelSubs:
      return "DELETE FROM Subscriptions WHERE id=?";
    case Stmt::kDeleteChannelMsgs:
      return "DELETE FROM Messages WHERE id=?";
    case Stmt::kDeleteChannelRow:
      return "DELETE FROM Channels WHERE id=?";
    case Stmt::kDeleteMsgsAfter:
      return "DELETE FROM Messages WHERE id=? AND seq>?";
    case Stmt::kCount:
      break;
  }
  return "";
}

}  // namespace

std::string StatementText(Driver driver, Stmt stmt) {
  if (stmt == Stmt::kLockFence) {
    return driver == Driver::kPostgres ? "SELECT id FROM StoreLock FOR SHARE"
                                       : "SELECT id FROM StoreLock LOCK IN SHARE MODE";
  }
  // The FT lock's session lock (sql_lock.cc): held by the connection, so the database frees it
  // the moment that connection ends. PostgreSQL's advisory locks are per database; MariaDB's
  // named locks are per server, hence the database's name in the lock's.
  if (stmt == Stmt::kLockSessionTry) {
    return driver == Driver::kPostgres
               ? "SELECT pg_try_advisory_lock(1398034252)::int"
               : "SELECT COALESCE(GET_LOCK(CONCAT('gannet_stan_storelock.', DATABASE()), 0), 0)";
  }
  if (stmt == Stmt::kLockSessionRelease) {
    return driver == Driver::kPostgres
               ? "SELECT pg_advisory_unlock(1398034252)::int"
               : "SELECT COALESCE(RELEASE_LOCK(CONCAT('gannet_stan_storelock.', DATABASE())), 0)";
  }
  return ForDriver(driver, Text(stmt));
}

std::string StatementName(Stmt stmt) { return "gannet_" + std::to_string(static_cast<int>(stmt)); }

std::string BulkInsertText(Driver driver, int rows) {
  std::string sql = "INSERT INTO Messages (id, seq, timestamp, size, data) VALUES ";
  for (int i = 0; i < rows; ++i) {
    if (i > 0) sql += ", ";
    sql += "(?, ?, ?, ?, ?)";
  }
  return ForDriver(driver, sql);
}

std::string BulkInsertName(int rows) { return "gannet_bulk_" + std::to_string(rows); }

}  // namespace gannet::streaming::store::sql
