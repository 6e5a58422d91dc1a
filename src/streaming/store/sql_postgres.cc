// The PostgreSQL driver of the SQL store (see sql_conn.h), over libpq: statements prepared on
// the server (PQprepare), integers and text sent as text, blobs as binary parameters, results
// in text format with bytea cells unescaped.
#include <libpq-fe.h>

#include <map>

#include "streaming/store/sql_conn.h"

namespace gannet::streaming::store::sql {

namespace {

constexpr Oid kByteaOid = 17;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(std::string source) : source_(std::move(source)) {}
  ~PostgresConnection() override {
    if (conn_) PQfinish(conn_);
  }

  Status Connect() {
    if (conn_) PQfinish(conn_);
    conn_ = PQconnectdb(source_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      broken_ = true;
      return Status(Code::kIo, "postgres: " + LastError());
    }
    broken_ = false;
    // Notices (e.g. "there is no transaction in progress") are not ours to print.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    return Status::Ok();
  }

  Driver driver() const override { return Driver::kPostgres; }

  Status Prepare(const std::string& name, const std::string& sql) override {
    if (statements_.count(name)) return Status::Ok();
    if (Status s = PrepareOnServer(name, sql); !s) return s;
    statements_.emplace(name, sql);
    return Status::Ok();
  }

  bool Prepared(const std::string& name) const override { return statements_.count(name) != 0; }

  Result<ExecResult> Exec(const std::string& name, std::span<const Param> params) override {
    std::vector<std::string> ints;
    ints.reserve(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Param& p = params[i];
      switch (p.kind) {
        case Param::Kind::kInt:
          ints.push_back(std::to_string(p.i));
          values[i] = ints.back().c_str();
          break;
        case Param::Kind::kText:
        case Param::Kind::kBlob:
          // A binary parameter may point at bytes with no terminator; so may a text one, as
          // long as its length is given with the binary format.
          values[i] = p.s.empty() ? "" : p.s.data();
          lengths[i] = static_cast<int>(p.s.size());
          formats[i] = 1;
          break;
        case Param::Kind::kNull:
          values[i] = nullptr;
          break;
      }
    }
    PgResult r(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()), values.data(),
                              lengths.data(), formats.data(), 0));
    return Collect(r.get());
  }

  Status Run(const std::string& sql) override {
    PgResult r(PQexec(conn_, sql.c_str()));
    auto res = Collect(r.get());
    return res.ok() ? Status::Ok() : res.status();
  }

  bool Broken() const override { return broken_ || !conn_ || PQstatus(conn_) == CONNECTION_BAD; }

  Status Reconnect() override {
    if (Status s = Connect(); !s) return s;
    for (const auto& [name, sql] : statements_) {
      if (Status s = PrepareOnServer(name, sql); !s) return s;
    }
    return Status::Ok();
  }

 private:
  std::string LastError() const {
    std::string e = conn_ ? PQerrorMessage(conn_) : "no connection";
    while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
    return e;
  }

  Status PrepareOnServer(const std::string& name, const std::string& sql) {
    PgResult r(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
    auto res = Collect(r.get());
    if (!res.ok()) {
      return Status(res.status().code(),
                    "unable to prepare statement \"" + sql + "\": " + res.status().message());
    }
    return Status::Ok();
  }

  Result<ExecResult> Collect(PGresult* r) {
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK) {
      ExecResult out;
      const char* n = PQcmdTuples(r);
      out.affected = (n && *n) ? std::stoll(n) : 0;
      return out;
    }
    if (st == PGRES_TUPLES_OK) {
      const int cols = PQnfields(r);
      const int rows = PQntuples(r);
      ExecResult out;
      out.rows = Rows(static_cast<size_t>(cols));
      for (int i = 0; i < rows; ++i) {
        for (int c = 0; c < cols; ++c) {
          if (PQgetisnull(r, i, c)) {
            out.rows.Add({}, true);
            continue;
          }
          const char* v = PQgetvalue(r, i, c);
          if (PQftype(r, c) == kByteaOid) {
            size_t len = 0;
            unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &len);
            out.rows.Add(std::string(reinterpret_cast<char*>(raw), len), false);
            PQfreemem(raw);
          } else {
            out.rows.Add(std::string(v, static_cast<size_t>(PQgetlength(r, i, c))), false);
          }
        }
      }
      return out;
    }
    std::string msg = r ? PQresultErrorMessage(r) : "";
    if (msg.empty()) msg = LastError();
    // One line for the log: libpq's messages may span several.
    for (char& ch : msg) {
      if (ch == '\n' || ch == '\t') ch = ' ';
    }
    while (!msg.empty() && msg.back() == ' ') msg.pop_back();
    if (PQstatus(conn_) == CONNECTION_BAD) broken_ = true;
    return Status(Code::kIo, "postgres: " + msg);
  }

  std::string source_;
  PGconn* conn_ = nullptr;
  bool broken_ = false;
  std::map<std::string, std::string> statements_;
};

}  // namespace

Result<std::unique_ptr<Connection>> OpenPostgres(const std::string& source) {
  auto c = std::make_unique<PostgresConnection>(source);
  if (Status s = c->Connect(); !s) return s;
  return std::unique_ptr<Connection>(std::move(c));
}

}  // namespace gannet::streaming::store::sql
