// The SQL store's text formats, with no database library behind them (the fuzz target builds
// them alone): driver names, statements adapted to each driver, the reference's MySQL source
// (go-sql-driver's DSN) and the JSON arrays of sequences in SubsPending rows.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "streaming/store/store.h"

namespace gannet::streaming::store::sql {

enum class Driver { kPostgres, kMysql };

// "postgres" | "mysql" (as the reference's --sql_driver); nullopt for anything else.
std::optional<Driver> ParseDriver(std::string_view name);

// The reference's MySQL source (go-sql-driver's DSN), as libmariadb's connect arguments:
//   [user[:password]@][tcp[(host[:port])]|unix(socket)]/dbname[?param=value&...]
// (parameters are ignored).
struct MysqlDsn {
  std::string user;
  std::string password;
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string socket;
  std::string db;
};
Result<MysqlDsn> ParseMysqlDsn(const std::string& source);

// Placeholders '?' to $1, $2, ... (PostgreSQL) and `row` quoting as each driver wants it.
std::string ForDriver(Driver driver, std::string_view sql);

// SubsPending.pending / .acks as the reference writes them: "[5,6,7]". An empty cell or "null"
// is no sequence. False when `json` is not such an array; the sequences read are appended.
bool ParseSeqArray(std::string_view json, std::vector<uint64_t>& out);
std::string FormatSeqArray(const std::set<uint64_t>& seqs);

}  // namespace gannet::streaming::store::sql
