// The SQL store's text formats (sql_text.h), which need no database: the reference's MySQL DSN,
// statements adapted to each driver, SubsPending's JSON arrays.
#include <gtest/gtest.h>

#include "streaming/store/sql_conn.h"
#include "streaming/store/sql_statements.h"

namespace gannet::streaming::store::sql {
namespace {

TEST(SqlDsn, TheReferencesForms) {
  auto d = ParseMysqlDsn("nss:s3:cr@t@tcp(db.local:3307)/nss_db?charset=utf8");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->user, "nss");
  EXPECT_EQ(d->password, "s3:cr@t");
  EXPECT_EQ(d->host, "db.local");
  EXPECT_EQ(d->port, 3307u);
  EXPECT_EQ(d->db, "nss_db");
  EXPECT_TRUE(d->socket.empty());

  d = ParseMysqlDsn("root@unix(/run/mysqld/mysqld.sock)/stan");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->user, "root");
  EXPECT_EQ(d->password, "");
  EXPECT_EQ(d->socket, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(d->db, "stan");

  d = ParseMysqlDsn("/stan");  // everything defaulted
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "127.0.0.1");
  EXPECT_EQ(d->port, 3306u);
  EXPECT_EQ(d->db, "stan");

  d = ParseMysqlDsn("u@tcp(h)/db");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "h");
  EXPECT_EQ(d->port, 3306u);
}

TEST(SqlDsn, Errors) {
  EXPECT_EQ(ParseMysqlDsn("u@tcp(h:3306)").status().message(),
            "mysql: invalid DSN: missing the slash before the database name");
  EXPECT_EQ(ParseMysqlDsn("u@tcp(h:x)/db").status().message(),
            "mysql: invalid DSN: bad port \"x\"");
  EXPECT_EQ(ParseMysqlDsn("u@tcp(h:99999)/db").status().code(), Code::kInvalid);
  EXPECT_EQ(ParseMysqlDsn("u@udp(h:1)/db").status().message(),
            "mysql: invalid DSN: unknown network udp");
  EXPECT_EQ(ParseMysqlDsn("u@tcp(h:1/db").status().code(), Code::kInvalid);
}

TEST(SqlStatements, AdaptedToEachDriver) {
  EXPECT_EQ(ForDriver(Driver::kPostgres, "DELETE FROM SubsPending WHERE subid=? AND `row`=?"),
            "DELETE FROM SubsPending WHERE subid=$1 AND row=$2");
  EXPECT_EQ(ForDriver(Driver::kMysql, "DELETE FROM SubsPending WHERE subid=? AND `row`=?"),
            "DELETE FROM SubsPending WHERE subid=? AND `row`=?");
  EXPECT_EQ(BulkInsertText(Driver::kPostgres, 2),
            "INSERT INTO Messages (id, seq, timestamp, size, data) VALUES ($1, $2, $3, $4, $5), "
            "($6, $7, $8, $9, $10)");
  EXPECT_EQ(StatementText(Driver::kPostgres, Stmt::kLockFence),
            "SELECT id FROM StoreLock FOR SHARE");
  EXPECT_EQ(StatementText(Driver::kMysql, Stmt::kLockFence),
            "SELECT id FROM StoreLock LOCK IN SHARE MODE");
  EXPECT_EQ(ParseDriver("postgres"), Driver::kPostgres);
  EXPECT_EQ(ParseDriver("mysql"), Driver::kMysql);
  EXPECT_EQ(ParseDriver("Postgres"), std::nullopt);  // as the reference: exact names
}

TEST(SqlSeqArray, TheReferencesJson) {
  std::vector<uint64_t> got;
  EXPECT_TRUE(ParseSeqArray("[5,6,18446744073709551615]", got));
  EXPECT_EQ(got, (std::vector<uint64_t>{5, 6, 18446744073709551615u}));
  got.clear();
  EXPECT_TRUE(ParseSeqArray(" [ 1 , 2 ]\n", got));
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 2}));
  got.clear();
  EXPECT_TRUE(ParseSeqArray("", got));
  EXPECT_TRUE(ParseSeqArray("null", got));
  EXPECT_TRUE(ParseSeqArray("[]", got));
  EXPECT_TRUE(got.empty());
  for (const char* bad : {"[1,", "[1 2]", "[-1]", "{}", "[1,]", "nul", "[1]x", "[a]"}) {
    std::vector<uint64_t> v;
    EXPECT_FALSE(ParseSeqArray(bad, v)) << bad;
  }
  EXPECT_EQ(FormatSeqArray({}), "[]");
  EXPECT_EQ(FormatSeqArray({7, 3, 5}), "[3,5,7]");
}

}  // namespace
}  // namespace gannet::streaming::store::sql
