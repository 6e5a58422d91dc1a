// The MySQL/MariaDB driver of the SQL store (see sql_conn.h), over libmariadb's prepared
// statement API (mysql_stmt_*): integers bound as LONGLONG, text and blobs as bytes; result
// cells fetched as bytes whatever their type (the library converts numbers to decimal text).
// The source is the reference's go-sql-driver DSN:
//   [user[:password]@][tcp[(host[:port])]|unix(socket)]/dbname[?param=value&...]
#include <mysql.h>

#include <charconv>
#include <cstring>
#include <map>

#include "streaming/store/sql_conn.h"

namespace gannet::streaming::store::sql {

namespace {

// libmariadb's client error numbers (errmsg.h) that mean the connection is gone.
bool IsConnectionError(unsigned int err) {
  return err == 2002 || err == 2003 || err == 2006 || err == 2013 || err == 2055;
}

class MysqlConnection final : public Connection {
 public:
  explicit MysqlConnection(MysqlDsn dsn) : dsn_(std::move(dsn)) {}
  ~MysqlConnection() override { Disconnect(); }

  Status Connect() {
    Disconnect();
    conn_ = mysql_init(nullptr);
    if (!conn_) return Status(Code::kIo, "mysql: out of memory");
    unsigned timeout = 10;
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    // UPDATE reports the rows it matched, not only those it changed (UpdateSub needs it).
    if (!mysql_real_connect(conn_, dsn_.host.c_str(), dsn_.user.c_str(),
                            dsn_.password.empty() ? nullptr : dsn_.password.c_str(),
                            dsn_.db.empty() ? nullptr : dsn_.db.c_str(), dsn_.port,
                            dsn_.socket.empty() ? nullptr : dsn_.socket.c_str(),
                            CLIENT_FOUND_ROWS)) {
      broken_ = true;
      return Status(Code::kIo, std::string("mysql: ") + mysql_error(conn_));
    }
    broken_ = false;
    return Status::Ok();
  }

  Driver driver() const override { return Driver::kMysql; }

  Status Prepare(const std::string& name, const std::string& sql) override {
    if (statements_.count(name)) return Status::Ok();
    auto st = PrepareOnServer(sql);
    if (!st.ok()) return st.status();
    statements_.emplace(name, Statement{sql, *st});
    return Status::Ok();
  }

  bool Prepared(const std::string& name) const override { return statements_.count(name) != 0; }

  Result<ExecResult> Exec(const std::string& name, std::span<const Param> params) override {
    auto it = statements_.find(name);
    if (it == statements_.end()) return Status(Code::kInvalid, "no statement " + name);
    MYSQL_STMT* stmt = it->second.stmt;
    if (!stmt || !conn_) {
      // A Reconnect that failed left no statement behind (the FT lock's ticker and standby
      // carry on trying with it).
      broken_ = true;
      return Status(Code::kIo, "mysql: not connected to the server");
    }
    std::vector<MYSQL_BIND> binds(params.size());
    std::vector<long long> ints(params.size());
    std::vector<unsigned long> lengths(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      MYSQL_BIND& b = binds[i];
      std::memset(&b, 0, sizeof b);
      const Param& p = params[i];
      switch (p.kind) {
        case Param::Kind::kInt:
          ints[i] = p.i;
          b.buffer_type = MYSQL_TYPE_LONGLONG;
          b.buffer = &ints[i];
          break;
        case Param::Kind::kText:
        case Param::Kind::kBlob:
          lengths[i] = static_cast<unsigned long>(p.s.size());
          b.buffer_type = p.kind == Param::Kind::kText ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
          b.buffer = const_cast<char*>(p.s.data());
          b.buffer_length = lengths[i];
          b.length = &lengths[i];
          break;
        case Param::Kind::kNull:
          b.buffer_type = MYSQL_TYPE_NULL;
          break;
      }
    }
    if (!params.empty() && mysql_stmt_bind_param(stmt, binds.data())) return StmtError(stmt);
    if (mysql_stmt_execute(stmt)) return StmtError(stmt);
    ExecResult out;
    const unsigned cols = mysql_stmt_field_count(stmt);
    if (cols == 0) {
      out.affected = static_cast<int64_t>(mysql_stmt_affected_rows(stmt));
      return out;
    }
    if (mysql_stmt_store_result(stmt)) return StmtError(stmt);
    out.rows = Rows(cols);
    std::vector<MYSQL_BIND> res(cols);
    std::vector<unsigned long> res_len(cols);
    std::vector<my_bool> res_null(cols);
    for (unsigned c = 0; c < cols; ++c) {
      std::memset(&res[c], 0, sizeof res[c]);
      res[c].buffer_type = MYSQL_TYPE_STRING;
      res[c].length = &res_len[c];
      res[c].is_null = &res_null[c];
    }
    if (mysql_stmt_bind_result(stmt, res.data())) return StmtError(stmt);
    for (;;) {
      int rc = mysql_stmt_fetch(stmt);
      if (rc == MYSQL_NO_DATA) break;
      if (rc == 1) return StmtError(stmt);
      // Every cell is "truncated" into the empty buffer: fetch each at its real length.
      for (unsigned c = 0; c < cols; ++c) {
        if (res_null[c]) {
          out.rows.Add({}, true);
          continue;
        }
        std::string cell(res_len[c], '\0');
        if (res_len[c] > 0) {
          MYSQL_BIND one;
          std::memset(&one, 0, sizeof one);
          unsigned long got = 0;
          one.buffer_type = MYSQL_TYPE_STRING;
          one.buffer = cell.data();
          one.buffer_length = res_len[c];
          one.length = &got;
          if (mysql_stmt_fetch_column(stmt, &one, c, 0)) return StmtError(stmt);
        }
        out.rows.Add(std::move(cell), false);
      }
    }
    mysql_stmt_free_result(stmt);
    return out;
  }

  Status Run(const std::string& sql) override {
    if (mysql_real_query(conn_, sql.data(), static_cast<unsigned long>(sql.size()))) {
      return ConnError();
    }
    if (MYSQL_RES* r = mysql_store_result(conn_)) mysql_free_result(r);
    return Status::Ok();
  }

  bool Broken() const override { return broken_ || !conn_; }

  Status Reconnect() override {
    // Connect() closes the old statements first (client memory that mysql_close does not free;
    // over a dead connection the close frees it without a reply), then the old connection.
    if (Status s = Connect(); !s) return s;
    for (auto& [name, s] : statements_) {
      auto st = PrepareOnServer(s.sql);
      if (!st.ok()) return st.status();
      s.stmt = *st;
    }
    return Status::Ok();
  }

 private:
  struct Statement {
    std::string sql;
    MYSQL_STMT* stmt = nullptr;
  };

  void Disconnect() {
    for (auto& [name, s] : statements_) {
      if (s.stmt) mysql_stmt_close(s.stmt);
      s.stmt = nullptr;
    }
    if (conn_) mysql_close(conn_);
    conn_ = nullptr;
  }

  Result<MYSQL_STMT*> PrepareOnServer(const std::string& sql) {
    MYSQL_STMT* stmt = mysql_stmt_init(conn_);
    if (!stmt) return ConnError();
    if (mysql_stmt_prepare(stmt, sql.data(), static_cast<unsigned long>(sql.size()))) {
      Status err = StmtError(stmt);
      mysql_stmt_close(stmt);
      return Status(err.code(), "unable to prepare statement \"" + sql + "\": " + err.message());
    }
    return stmt;
  }

  Status StmtError(MYSQL_STMT* stmt) {
    if (IsConnectionError(mysql_stmt_errno(stmt))) broken_ = true;
    return Status(Code::kIo, std::string("mysql: ") + mysql_stmt_error(stmt));
  }

  Status ConnError() {
    if (IsConnectionError(mysql_errno(conn_))) broken_ = true;
    return Status(Code::kIo, std::string("mysql: ") + mysql_error(conn_));
  }

  MysqlDsn dsn_;
  MYSQL* conn_ = nullptr;
  bool broken_ = false;
  std::map<std::string, Statement> statements_;
};

}  // namespace

Result<std::unique_ptr<Connection>> OpenMysql(const std::string& source) {
  auto dsn = ParseMysqlDsn(source);
  if (!dsn.ok()) return dsn.status();
  auto c = std::make_unique<MysqlConnection>(std::move(dsn).value());
  if (Status s = c->Connect(); !s) return s;
  return std::unique_ptr<Connection>(std::move(c));
}

}  // namespace gannet::streaming::store::sql
