// What the SQL drivers share (see sql_conn.h): cells as integers and the choice of driver at
// Open.
#include "streaming/store/sql_conn.h"

#include <charconv>

namespace gannet::streaming::store::sql {

#ifndef GANNET_NO_SQL_DRIVERS
Result<std::unique_ptr<Connection>> OpenPostgres(const std::string& source);
Result<std::unique_ptr<Connection>> OpenMysql(const std::string& source);
#endif

int64_t Rows::Int(size_t row, size_t col) const {
  std::string_view v = Bytes(row, col);
  if (v.empty()) return 0;
  // PostgreSQL's booleans are "t" and "f"; MySQL's are 0 and 1.
  if (v == "t") return 1;
  if (v == "f") return 0;
  int64_t n = 0;
  if (v[0] == '-') {
    std::from_chars(v.data(), v.data() + v.size(), n);
    return n;
  }
  uint64_t u = 0;  // BIGINT UNSIGNED columns may hold values above INT64_MAX
  std::from_chars(v.data(), v.data() + v.size(), u);
  return static_cast<int64_t>(u);
}

Result<std::unique_ptr<Connection>> Connection::Open(Driver driver, const std::string& source) {
#ifdef GANNET_NO_SQL_DRIVERS
  (void)driver;
  (void)source;
  return Status(Code::kNotSupported,
                "this gannet-streaming was linked statically, without the SQL drivers (Debian "
                "ships no static GSSAPI and LDAP libraries for libpq): use the dynamically "
                "linked build for -st SQL");
#else
  return driver == Driver::kPostgres ? OpenPostgres(source) : OpenMysql(source);
#endif
}

}  // namespace gannet::streaming::store::sql
