// What the SQL drivers share (see sql_conn.h): driver names, cells as integers, statement text
// per driver, and the choice of driver at Open.
#include "streaming/store/sql_conn.h"

#include <charconv>

namespace gannet::streaming::store::sql {

Result<std::unique_ptr<Connection>> OpenPostgres(const std::string& source);
Result<std::unique_ptr<Connection>> OpenMysql(const std::string& source);

std::optional<Driver> ParseDriver(std::string_view name) {
  if (name == "postgres") return Driver::kPostgres;
  if (name == "mysql") return Driver::kMysql;
  return std::nullopt;
}

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

std::string ForDriver(Driver driver, std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql.substr(i, 5) == "`row`") {
      out += driver == Driver::kMysql ? "`row`" : "row";
      i += 4;
      continue;
    }
    if (sql[i] == '?' && driver == Driver::kPostgres) {
      out += '$';
      out += std::to_string(++n);
      continue;
    }
    out += sql[i];
  }
  return out;
}

Result<std::unique_ptr<Connection>> Connection::Open(Driver driver, const std::string& source) {
  return driver == Driver::kPostgres ? OpenPostgres(source) : OpenMysql(source);
}

}  // namespace gannet::streaming::store::sql
