// The SQL store's text formats (see sql_text.h).
#include "streaming/store/sql_text.h"

#include <charconv>

namespace gannet::streaming::store::sql {

std::optional<Driver> ParseDriver(std::string_view name) {
  if (name == "postgres") return Driver::kPostgres;
  if (name == "mysql") return Driver::kMysql;
  return std::nullopt;
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

Result<MysqlDsn> ParseMysqlDsn(const std::string& source) {
  MysqlDsn d;
  std::string rest = source;
  if (auto q = rest.find('?'); q != std::string::npos) rest = rest.substr(0, q);
  // The database name follows the last '/' outside the address's parentheses.
  const auto close_paren = rest.rfind(')');
  const auto slash = rest.find('/', close_paren == std::string::npos ? 0 : close_paren);
  if (slash == std::string::npos) {
    return Status(Code::kInvalid, "mysql: invalid DSN: missing the slash before the database name");
  }
  d.db = rest.substr(slash + 1);
  std::string head = rest.substr(0, slash);
  if (auto at = head.rfind('@'); at != std::string::npos) {
    std::string cred = head.substr(0, at);
    head = head.substr(at + 1);
    if (auto colon = cred.find(':'); colon != std::string::npos) {
      d.user = cred.substr(0, colon);
      d.password = cred.substr(colon + 1);
    } else {
      d.user = cred;
    }
  }
  std::string proto = head;
  std::string addr;
  if (auto open = head.find('('); open != std::string::npos) {
    proto = head.substr(0, open);
    auto end = head.rfind(')');
    if (end == std::string::npos || end < open) {
      return Status(Code::kInvalid, "mysql: invalid DSN: unterminated address");
    }
    addr = head.substr(open + 1, end - open - 1);
  }
  if (proto == "unix") {
    d.socket = addr;
    d.host = "localhost";
  } else if (proto.empty() || proto == "tcp") {
    if (!addr.empty()) {
      if (auto colon = addr.rfind(':'); colon != std::string::npos) {
        d.host = addr.substr(0, colon);
        const std::string port = addr.substr(colon + 1);
        unsigned n = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
        if (ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535) {
          return Status(Code::kInvalid, "mysql: invalid DSN: bad port \"" + port + "\"");
        }
        d.port = n;
      } else {
        d.host = addr;
      }
    }
  } else {
    return Status(Code::kInvalid, "mysql: invalid DSN: unknown network " + proto);
  }
  return d;
}

bool ParseSeqArray(std::string_view json, std::vector<uint64_t>& out) {
  size_t i = 0;
  auto skip = [&] {
    while (i < json.size() &&
           (json[i] == ' ' || json[i] == '\n' || json[i] == '\t' || json[i] == '\r')) {
      ++i;
    }
  };
  auto at_end = [&] {
    skip();
    return i == json.size();
  };
  skip();
  if (i == json.size()) return true;  // an empty cell
  if (json.substr(i, 4) == "null") {
    i += 4;
    return at_end();
  }
  if (json[i] != '[') return false;
  ++i;
  skip();
  if (i < json.size() && json[i] == ']') {
    ++i;
    return at_end();
  }
  for (;;) {
    skip();
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(json.data() + i, json.data() + json.size(), v);
    if (ec != std::errc() || end == json.data() + i) return false;  // not a number, or too large
    i = static_cast<size_t>(end - json.data());
    out.push_back(v);
    skip();
    if (i < json.size() && json[i] == ',') {
      ++i;
      continue;
    }
    if (i < json.size() && json[i] == ']') {
      ++i;
      return at_end();
    }
    return false;
  }
}

std::string FormatSeqArray(const std::set<uint64_t>& seqs) {
  std::string out = "[";
  for (uint64_t s : seqs) {
    if (out.size() > 1) out += ',';
    out += std::to_string(s);
  }
  out += ']';
  return out;
}

}  // namespace gannet::streaming::store::sql
