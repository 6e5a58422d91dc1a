// One connection to the database behind the SQL store: PostgreSQL through libpq
// (sql_postgres.cc) or MySQL/MariaDB through libmariadb (sql_mysql.cc), with named prepared
// statements written with '?' placeholders (the PostgreSQL driver numbers them $1, $2, ...),
// results as text cells (integers in decimal, blobs as raw bytes), and a reconnect that
// prepares every statement again.
//
// Threading: a Connection is used by one thread at a time (neither library allows more).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "streaming/store/sql_text.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store::sql {

// A statement parameter: the referenced bytes must outlive the call.
struct Param {
  enum class Kind { kInt, kText, kBlob, kNull } kind = Kind::kNull;
  int64_t i = 0;
  std::string_view s;

  static Param Int(int64_t v) { return {Kind::kInt, v, {}}; }
  static Param Uint(uint64_t v) { return {Kind::kInt, static_cast<int64_t>(v), {}}; }
  static Param Text(std::string_view v) { return {Kind::kText, 0, v}; }
  static Param Blob(std::string_view v) { return {Kind::kBlob, 0, v}; }
  static Param Null() { return {}; }
};

// A query's rows: every cell as bytes (NULL is empty and flagged).
class Rows {
 public:
  Rows() = default;
  explicit Rows(size_t columns) : columns_(columns) {}
  size_t size() const { return columns_ == 0 ? 0 : cells_.size() / columns_; }
  bool empty() const { return size() == 0; }
  size_t columns() const { return columns_; }
  bool IsNull(size_t row, size_t col) const { return nulls_[row * columns_ + col]; }
  std::string_view Bytes(size_t row, size_t col) const { return cells_[row * columns_ + col]; }
  int64_t Int(size_t row, size_t col) const;
  uint64_t Uint(size_t row, size_t col) const { return static_cast<uint64_t>(Int(row, col)); }

  void Add(std::string cell, bool null) {
    cells_.push_back(std::move(cell));
    nulls_.push_back(null);
  }

 private:
  size_t columns_ = 0;
  std::vector<std::string> cells_;
  std::vector<bool> nulls_;
};

struct ExecResult {
  Rows rows;
  int64_t affected = 0;  // rows changed (matched, for MySQL's UPDATE) by a write
};

class Connection {
 public:
  virtual ~Connection() = default;

  // Connects with the driver's source string: libpq's "key=value ..." or URI for postgres;
  // the reference's go-sql-driver DSN "user:pass@tcp(host:port)/db" or "user@unix(/sock)/db"
  // for mysql.
  static Result<std::unique_ptr<Connection>> Open(Driver driver, const std::string& source);

  virtual Driver driver() const = 0;
  // Prepares `sql` under `name` (once; a later Prepare of the same name is a no-op).
  virtual Status Prepare(const std::string& name, const std::string& sql) = 0;
  virtual bool Prepared(const std::string& name) const = 0;
  virtual Result<ExecResult> Exec(const std::string& name, std::span<const Param> params) = 0;
  // A statement without parameters or results (BEGIN, COMMIT, ROLLBACK, DDL).
  virtual Status Run(const std::string& sql) = 0;
  // The last failure was the connection's (server gone, connection reset): Reconnect may help.
  virtual bool Broken() const = 0;
  // Connects again and prepares every statement again.
  virtual Status Reconnect() = 0;
};

}  // namespace gannet::streaming::store::sql
