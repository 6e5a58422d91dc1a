// Real database servers for the SQL store's tests: PostgreSQL 15 (initdb, then postgres with
// its socket in the data directory) and MariaDB (mariadb-install-db, then mariadbd with
// --skip-grant-tables), each in a temporary directory of its own, on a free port, with the
// schema of tools/sql/ loaded into a database named "gannet"; stopped (and their directory
// removed) by Stop or the destructor. As root (CI), the servers run as the user "nobody":
// both refuse to run as root.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "streaming/store/sql_conn.h"

namespace gannet::streaming::test {

class SqlServer {
 public:
  virtual ~SqlServer();
  SqlServer(const SqlServer&) = delete;
  SqlServer& operator=(const SqlServer&) = delete;

  // "postgres" or "mysql": a new, stopped server.
  static std::unique_ptr<SqlServer> Make(const std::string& driver);

  // Creates the data directory (the first time), starts the server and waits until it accepts
  // connections, then creates the database and its tables (the first time). "" or the error.
  std::string Start();
  // A clean shutdown; the data stays for another Start.
  void Stop();
  // kill -9 of the server process; the data stays for another Start.
  void Kill();
  bool running() const { return pid_ > 0; }

  const std::string& driver_name() const { return driver_; }
  store::sql::Driver driver() const;
  int port() const { return port_; }
  // The --sql_source of the "gannet" database, or of another one (AddDatabase).
  std::string Source(const std::string& database = "gannet") const;
  // Creates the database `name` (dropped first if it exists) with the schema's tables: one
  // per node of a clustered test. "" or the error.
  std::string AddDatabase(const std::string& name);
  // A connection to it, or null with `error` set.
  std::unique_ptr<store::sql::Connection> Connect(std::string* error = nullptr) const;
  // Empties every table of the schema.
  std::string Truncate();
  // Runs statements separated by ';' at line ends (a schema file, a fixture) in `database`.
  std::string RunScript(const std::string& text, const std::string& database = "gannet");
  // The server's log (for a failure message).
  std::string Log() const;

 protected:
  SqlServer(std::string driver, int stop_signal);
  virtual std::string Initialize() = 0;  // the data directory
  virtual std::vector<std::string> ServerArgv() const = 0;
  virtual std::string CreateDatabase(const std::string& name) = 0;
  virtual std::string AdminSource() const = 0;

  // Runs statements on the administrative connection (no database of ours). "" or the error.
  std::string RunAdmin(store::sql::Driver driver, const std::vector<std::string>& stmts);
  // Runs argv to completion (as the server's user); "" or its failure with its output.
  std::string RunTool(const std::vector<std::string>& argv) const;
  pid_t Spawn(const std::vector<std::string>& argv) const;

  std::string driver_;
  int stop_signal_;   // a clean shutdown
  std::string dir_;   // ours: removed at the end
  std::string data_;  // the data directory inside it
  int port_ = 0;
  pid_t pid_ = -1;
  bool initialized_ = false;
  bool created_ = false;
};

// The test program's server for `driver`, started by the first call and stopped at exit;
// null (with `error` set) when it cannot start.
SqlServer* SharedServer(const std::string& driver, std::string* error);

// The schema file shipped in tools/sql/ for the driver.
std::string SchemaPath(const std::string& driver);

}  // namespace gannet::streaming::test
