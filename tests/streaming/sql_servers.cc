// Real database servers for the SQL store's tests (see sql_servers.h).
#include "sql_servers.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "server_process.h"

#ifndef GANNET_SOURCE_DIR
#define GANNET_SOURCE_DIR "."
#endif

namespace gannet::streaming::test {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin/";
constexpr const char* kTables[] = {"ServerInfo",    "Clients",     "Channels", "Messages",
                                   "Subscriptions", "SubsPending", "StoreLock"};

// The unprivileged user the servers run as when the tests run as root.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  bool drop = false;
};

RunAs ServerUser() {
  RunAs r;
  if (::geteuid() != 0) return r;
  if (const passwd* pw = ::getpwnam("nobody")) {
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
    r.drop = true;
  }
  return r;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `cond` until it holds or the deadline passes.
bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

class PostgresServer final : public SqlServer {
 public:
  PostgresServer() : SqlServer("postgres", SIGINT) {}  // SIGINT: "fast" shutdown

 protected:
  std::string Initialize() override {
    return RunTool({std::string(kPgBin) + "initdb", "-D", data_, "-U", "gannet", "--auth=trust",
                    "--no-sync", "-E", "UTF8", "--locale=C"});
  }
  std::vector<std::string> ServerArgv() const override {
    return {std::string(kPgBin) + "postgres",
            "-D",
            data_,
            "-k",
            dir_,
            "-p",
            std::to_string(port_),
            "-h",
            "127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=50"};
  }
  std::string CreateDatabase(const std::string& name) override {
    // WITH (FORCE): a killed client's backend may not have noticed yet.
    return RunAdmin(
        store::sql::Driver::kPostgres,
        {"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "CREATE DATABASE " + name});
  }
  std::string AdminSource() const override {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=gannet dbname=postgres sslmode=disable connect_timeout=5";
  }
};

class MariadbServer final : public SqlServer {
 public:
  MariadbServer() : SqlServer("mysql", SIGTERM) {}

 protected:
  std::string Initialize() override {
    return RunTool({"/usr/bin/mariadb-install-db", "--no-defaults", "--datadir=" + data_,
                    "--auth-root-authentication-method=normal", "--skip-test-db"});
  }
  std::vector<std::string> ServerArgv() const override {
    return {"/usr/sbin/mariadbd",
            "--no-defaults",
            "--datadir=" + data_,
            "--socket=" + dir_ + "/mysqld.sock",
            "--pid-file=" + dir_ + "/mysqld.pid",
            "--port=" + std::to_string(port_),
            "--bind-address=127.0.0.1",
            "--skip-grant-tables",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M"};
  }
  std::string CreateDatabase(const std::string& name) override {
    return RunAdmin(store::sql::Driver::kMysql,
                    {"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name});
  }
  std::string AdminSource() const override {
    return "root@tcp(127.0.0.1:" + std::to_string(port_) + ")/mysql";
  }
};

}  // namespace

std::string SchemaPath(const std::string& driver) {
  return std::string(GANNET_SOURCE_DIR) + "/tools/sql/" +
         (driver == "postgres" ? "postgres" : "mysql") + ".db.sql";
}

SqlServer* SharedServer(const std::string& driver, std::string* error) {
  static std::map<std::string, std::unique_ptr<SqlServer>> servers;
  auto it = servers.find(driver);
  if (it == servers.end()) {
    auto s = SqlServer::Make(driver);
    if (std::string err = s->Start(); !err.empty()) {
      if (error) *error = err;
      return nullptr;
    }
    it = servers.emplace(driver, std::move(s)).first;
  }
  return it->second.get();
}

std::unique_ptr<SqlServer> SqlServer::Make(const std::string& driver) {
  if (driver == "postgres") return std::make_unique<PostgresServer>();
  return std::make_unique<MariadbServer>();
}

SqlServer::SqlServer(std::string driver, int stop_signal)
    : driver_(std::move(driver)), stop_signal_(stop_signal) {
  std::string tmpl = (fs::temp_directory_path() / ("gannet-" + driver_ + "-XXXXXX")).string();
  dir_ = ::mkdtemp(tmpl.data());
  data_ = dir_ + "/data";
  RunAs as = ServerUser();
  if (as.drop && ::chown(dir_.c_str(), as.uid, as.gid) != 0) dir_.clear();
}

SqlServer::~SqlServer() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

store::sql::Driver SqlServer::driver() const {
  return driver_ == "postgres" ? store::sql::Driver::kPostgres : store::sql::Driver::kMysql;
}

std::string SqlServer::Source(const std::string& database) const {
  if (driver_ == "postgres") {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=gannet dbname=" + database +
           " sslmode=disable connect_timeout=5";
  }
  return "root@tcp(127.0.0.1:" + std::to_string(port_) + ")/" + database;
}

std::string SqlServer::RunAdmin(store::sql::Driver driver, const std::vector<std::string>& stmts) {
  auto c = store::sql::Connection::Open(driver, AdminSource());
  if (!c.ok()) return c.status().message();
  for (const std::string& stmt : stmts) {
    if (store::Status s = (*c)->Run(stmt); !s) return s.message() + " in: " + stmt;
  }
  return "";
}

std::string SqlServer::AddDatabase(const std::string& name) {
  if (std::string err = CreateDatabase(name); !err.empty()) return err;
  return RunScript(ReadAll(SchemaPath(driver_)), name);
}

pid_t SqlServer::Spawn(const std::vector<std::string>& argv) const {
  const std::string log = dir_ + "/server.log";
  const RunAs as = ServerUser();
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
  }
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, 0);
  if (as.drop && (::setgid(as.gid) != 0 || ::setuid(as.uid) != 0)) ::_exit(126);
  gannet::test::DieWithParent(parent);
  if (::chdir(dir_.c_str()) != 0) ::_exit(126);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

std::string SqlServer::RunTool(const std::vector<std::string>& argv) const {
  pid_t pid = Spawn(argv);
  if (pid < 0) return "fork failed";
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return argv[0] + " failed (status " + std::to_string(status) + "):\n" + Log();
}

std::string SqlServer::Log() const { return ReadAll(dir_ + "/server.log"); }

std::string SqlServer::Start() {
  if (dir_.empty()) return "could not make the server's directory";
  if (pid_ > 0) return "";
  if (!initialized_) {
    if (std::string err = Initialize(); !err.empty()) return err;
    initialized_ = true;
  }
  if (port_ == 0) port_ = gannet::test::FreeTcpPort();
  pid_ = Spawn(ServerArgv());
  if (pid_ < 0) return "fork failed";
  const std::string admin = AdminSource();
  std::string last;
  // After a kill -9, PostgreSQL refuses to start until the old server's backends have noticed
  // and exited: a server that exits at once is started again until the deadline.
  bool up = WaitUntil(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          last = "the server exited (status " + std::to_string(status) + ")";
          pid_ = Spawn(ServerArgv());
          return pid_ < 0;
        }
        auto c = store::sql::Connection::Open(driver(), admin);
        if (c.ok()) return true;
        last = c.status().message();
        return false;
      },
      std::chrono::seconds(60));
  if (!up || pid_ < 0) return "the " + driver_ + " server did not start: " + last + "\n" + Log();
  if (!created_) {
    if (std::string err = AddDatabase("gannet"); !err.empty()) return err;
    created_ = true;
  }
  return "";
}

void SqlServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, stop_signal_);
  int status = 0;
  bool gone = WaitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; },
                        std::chrono::seconds(30));
  if (!gone) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

void SqlServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::unique_ptr<store::sql::Connection> SqlServer::Connect(std::string* error) const {
  auto c = store::sql::Connection::Open(driver(), Source());
  if (!c.ok()) {
    if (error) *error = c.status().message();
    return nullptr;
  }
  return std::move(c).value();
}

std::string SqlServer::RunScript(const std::string& text, const std::string& database) {
  auto opened = store::sql::Connection::Open(driver(), Source(database));
  if (!opened.ok()) return opened.status().message();
  auto c = std::move(opened).value();
  std::string stmt;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("--", 0) == 0 || line.rfind("#", 0) == 0) continue;
    stmt += line + "\n";
    auto end = line.find_last_not_of(" \t\r");
    if (end != std::string::npos && line[end] == ';') {
      if (store::Status s = c->Run(stmt); !s) return s.message() + " in: " + stmt;
      stmt.clear();
    }
  }
  return "";
}

std::string SqlServer::Truncate() {
  std::string error;
  auto c = Connect(&error);
  if (!c) return error;
  for (const char* t : kTables) {
    if (store::Status s = c->Run(std::string("TRUNCATE TABLE ") + t); !s) return s.message();
  }
  return "";
}

}  // namespace gannet::streaming::test
