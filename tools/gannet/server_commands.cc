// gannet server list | info | ping | report connections | report accounts: a cluster seen
// through the system account's requests ($SYS.REQ.SERVER.PING[.<ENDPOINT>]), as a table, or
// with --json the servers' documents. The user must be one of the system account's.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"

namespace gannet::cli {

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* kUsage =
    "usage: gannet server COMMAND [options]\n"
    "  list                  every server of the cluster, one line each\n"
    "  info [SERVER]         one server's details (by name or id; default: the first to answer)\n"
    "  ping                  the round-trip time to every server\n"
    "  report connections    every connection of the cluster (--account A to see one account)\n"
    "  report accounts       connections and traffic per account\n"
    "options:\n"
    "  -s, --server URL      server(s) (default $NATS_URL or nats://127.0.0.1:4222)\n"
    "  --user U --password P | --token T   credentials of a system account user\n"
    "  --expect N            stop waiting once N servers answered\n"
    "  --timeout D           how long to wait for the servers' answers (default 2s)\n"
    "  --json                the servers' JSON documents instead of a table\n";

int UsageError() {
  std::fputs(kUsage, stderr);
  return 2;
}

struct Reply {
  Json doc;
  double rtt_ms = 0;
};

// Sends one request and gathers the replies of every server that answers within the timeout
// (or until `expect` answered).
std::vector<Reply> Gather(client::Connection& nc, const std::string& subject,
                          const std::string& body, int64_t expect,
                          std::chrono::milliseconds timeout, std::string* error) {
  std::vector<Reply> out;
  std::string inbox = nc.NewInbox();
  auto sub = nc.SubscribeSync(inbox);
  if (!sub.ok()) {
    *error = sub.error();
    return out;
  }
  auto start = Clock::now();
  if (client::Status st = nc.Publish(subject, body, inbox); st != client::Status::kOk) {
    *error = client::StatusText(st);
    return out;
  }
  auto deadline = start + timeout;
  while (expect <= 0 || static_cast<int64_t>(out.size()) < expect) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto m = sub->NextMessage(left);
    if (!m.ok()) break;
    Reply r;
    r.rtt_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    r.doc = Json::parse(m->data(), nullptr, false);
    if (r.doc.is_discarded()) continue;
    out.push_back(std::move(r));
  }
  sub->Unsubscribe();
  return out;
}

// A table with a header row, columns padded to their widest cell; numbers right-aligned.
// The width of a cell on a terminal: its UTF-8 characters ("219µs" is 5).
size_t Width(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = Width(header[i]);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], Width(row[i]));
    }
  }
  // A count or a figure ("12", "0.5"), not a version ("2.9.10").
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos &&
           std::count(s.begin(), s.end(), '.') <= 1;
  };
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string pad(width[i] - Width(cells[i]), ' ');
      out += i ? " | " : "";
      out += numeric(cells[i]) ? pad + cells[i] : cells[i] + pad;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::printf("%s\n", out.c_str());
  };
  line(header);
  std::string rule;
  for (size_t i = 0; i < width.size(); ++i) {
    rule += (i ? "-+-" : "") + std::string(width[i], '-');
  }
  std::printf("%s\n", rule.c_str());
  for (const auto& row : rows) line(row);
}

// j[key], or null when j is not an object or has no such key (const operator[] would assert).
const Json& At(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

int64_t Int(const Json& j, const char* key) {
  const Json& v = At(j, key);
  return v.is_number() ? v.get<int64_t>() : 0;
}

// j[key] when it is an array, else an empty one.
Json Array(const Json& j, const char* key) {
  const Json& v = At(j, key);
  return v.is_array() ? v : Json::array();
}

std::string Num(const Json& j) {
  if (j.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", j.get<double>());
    return buf;
  }
  return j.is_number() ? j.dump() : std::string();
}

// 1234567 -> "1.2 MiB" (as the nats tool shows sizes).
std::string Bytes(const Json& j) {
  double v = j.is_number() ? j.get<double>() : 0;
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The name to show for a server: its name, else its id.
std::string ServerName(const Json& server) {
  std::string name = Str(server, "name");
  return name.empty() ? Str(server, "id") : name;
}

void PrintJson(const Json& j) { std::printf("%s\n", j.dump(2).c_str()); }

int List(client::Connection& nc, int64_t expect, std::chrono::milliseconds timeout, bool json) {
  std::string err;
  auto replies = Gather(nc, "$SYS.REQ.SERVER.PING", "", expect, timeout, &err);
  if (!err.empty()) return std::fprintf(stderr, "gannet server list: %s\n", err.c_str()), 1;
  std::sort(replies.begin(), replies.end(), [](const Reply& a, const Reply& b) {
    return ServerName(At(a.doc, "server")) < ServerName(At(b.doc, "server"));
  });
  if (json) {
    Json all = Json::array();
    for (const Reply& r : replies) all.push_back(r.doc);
    PrintJson(all);
  } else {
    std::vector<std::vector<std::string>> rows;
    int64_t conns = 0, subs = 0;
    for (const Reply& r : replies) {
      const Json& s = At(r.doc, "server");
      const Json& z = At(r.doc, "statsz");
      conns += Int(z, "connections");
      subs += Int(z, "subscriptions");
      char rtt[32];
      std::snprintf(rtt, sizeof rtt, "%.2fms", r.rtt_ms);
      rows.push_back({ServerName(s), Str(s, "cluster"), Str(s, "host"), Str(s, "ver"),
                      Num(At(z, "connections")), Num(At(z, "subscriptions")),
                      std::to_string(Array(z, "routes").size()), Bytes(At(z, "mem")),
                      Num(At(z, "cpu")), Num(At(z, "slow_consumers")), rtt});
    }
    PrintTable({"Name", "Cluster", "Host", "Version", "Conns", "Subs", "Routes", "Mem", "CPU %",
                "Slow", "RTT"},
               rows);
    std::printf("\n%zu servers, %lld connections, %lld subscriptions\n", replies.size(),
                static_cast<long long>(conns), static_cast<long long>(subs));
  }
  if (expect > 0 && static_cast<int64_t>(replies.size()) != expect) {
    std::fprintf(stderr, "gannet server list: %zu servers answered, %lld expected\n",
                 replies.size(), static_cast<long long>(expect));
    return 1;
  }
  return replies.empty() ? 1 : 0;
}

int Ping(client::Connection& nc, int64_t expect, std::chrono::milliseconds timeout, bool json) {
  std::string err;
  auto replies = Gather(nc, "$SYS.REQ.SERVER.PING", "", expect, timeout, &err);
  if (!err.empty()) return std::fprintf(stderr, "gannet server ping: %s\n", err.c_str()), 1;
  if (json) {
    Json all = Json::array();
    for (const Reply& r : replies) {
      all.push_back({{"name", ServerName(At(r.doc, "server"))},
                     {"id", Str(At(r.doc, "server"), "id")},
                     {"rtt_ms", r.rtt_ms}});
    }
    PrintJson(all);
  } else {
    double min = 0, max = 0, sum = 0;
    for (const Reply& r : replies) {
      std::printf("%-40s rtt=%.3fms\n", ServerName(At(r.doc, "server")).c_str(), r.rtt_ms);
      min = min == 0 ? r.rtt_ms : std::min(min, r.rtt_ms);
      max = std::max(max, r.rtt_ms);
      sum += r.rtt_ms;
    }
    std::printf("\n---- ping statistics ----\n%zu replies max: %.3f min: %.3f avg: %.3f\n",
                replies.size(), max, min, replies.empty() ? 0.0 : sum / replies.size());
  }
  if (expect > 0 && static_cast<int64_t>(replies.size()) != expect) return 1;
  return replies.empty() ? 1 : 0;
}

int Info(client::Connection& nc, const std::string& which, std::chrono::milliseconds timeout,
         bool json) {
  // An id (56 characters starting with N) asks that server; a name filters the PING.
  bool by_id = which.size() == 56 && which[0] == 'N';
  std::string subject = by_id ? "$SYS.REQ.SERVER." + which + ".VARZ" : "$SYS.REQ.SERVER.PING.VARZ";
  std::string body = !which.empty() && !by_id ? Json{{"server_name", which}}.dump() : "";
  std::string err;
  auto replies = Gather(nc, subject, body, 1, timeout, &err);
  if (!err.empty()) return std::fprintf(stderr, "gannet server info: %s\n", err.c_str()), 1;
  if (replies.empty()) {
    std::fprintf(stderr, "gannet server info: no server%s answered\n",
                 which.empty() ? "" : (" named " + which).c_str());
    return 1;
  }
  const Json& v = At(replies[0].doc, "data");
  if (json) {
    PrintJson(v);
    return 0;
  }
  auto row = [](const char* label, const std::string& value) {
    std::printf("%24s: %s\n", label, value.c_str());
  };
  std::printf("Server information for %s (%s)\n\n", Str(v, "server_name").c_str(),
              Str(v, "server_id").c_str());
  row("Version", Str(v, "version"));
  row("Host", Str(v, "host") + ":" + Num(At(v, "port")));
  row("Cluster", Str(At(v, "cluster"), "name"));
  row("Up Since", Str(v, "start"));
  row("Uptime", Str(v, "uptime"));
  row("System Account", Str(v, "system_account"));
  row("Max Payload", Bytes(At(v, "max_payload")));
  row("Max Connections", Num(At(v, "max_connections")));
  row("Connections", Num(At(v, "connections")));
  row("Total Connections", Num(At(v, "total_connections")));
  row("Routes", Num(At(v, "routes")));
  row("Subscriptions", Num(At(v, "subscriptions")));
  row("Messages In", Num(At(v, "in_msgs")));
  row("Messages Out", Num(At(v, "out_msgs")));
  row("Bytes In", Bytes(At(v, "in_bytes")));
  row("Bytes Out", Bytes(At(v, "out_bytes")));
  row("Slow Consumers", Num(At(v, "slow_consumers")));
  row("Memory", Bytes(At(v, "mem")));
  row("CPU %", Num(At(v, "cpu")));
  return 0;
}

// Every server's connections (auth: the account and user of each).
std::vector<std::pair<Json, Json>> ClusterConnections(client::Connection& nc,
                                                      const std::string& account, int64_t expect,
                                                      std::chrono::milliseconds timeout,
                                                      std::string* err) {
  Json opts = {{"auth", true}, {"limit", 100000}};
  std::string subject = "$SYS.REQ.SERVER.PING.CONNZ";
  if (!account.empty()) subject = "$SYS.REQ.ACCOUNT." + account + ".CONNZ";
  std::vector<std::pair<Json, Json>> out;  // (server, connection)
  for (const Reply& r : Gather(nc, subject, opts.dump(), expect, timeout, err)) {
    for (const Json& c : Array(At(r.doc, "data"), "connections")) {
      out.emplace_back(At(r.doc, "server"), c);
    }
  }
  return out;
}

int ReportConnections(client::Connection& nc, const std::string& account, int64_t expect,
                      std::chrono::milliseconds timeout, bool json) {
  std::string err;
  auto conns = ClusterConnections(nc, account, expect, timeout, &err);
  if (!err.empty()) return std::fprintf(stderr, "gannet server report: %s\n", err.c_str()), 1;
  // Busiest first, as the nats tool sorts them.
  std::stable_sort(conns.begin(), conns.end(), [](const auto& a, const auto& b) {
    return Int(a.second, "in_msgs") + Int(a.second, "out_msgs") >
           Int(b.second, "in_msgs") + Int(b.second, "out_msgs");
  });
  if (json) {
    Json all = Json::array();
    for (const auto& [server, c] : conns) {
      Json e = c;
      e["server"] = server;
      all.push_back(std::move(e));
    }
    PrintJson(all);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [server, c] : conns) {
    rows.push_back({Num(At(c, "cid")), Str(c, "name"), ServerName(server), Str(c, "account"),
                    Str(c, "authorized_user"), Str(c, "ip") + ":" + Num(At(c, "port")),
                    Str(c, "rtt"), Str(c, "uptime"), Num(At(c, "in_msgs")), Num(At(c, "out_msgs")),
                    Bytes(At(c, "in_bytes")), Bytes(At(c, "out_bytes")),
                    Num(At(c, "subscriptions"))});
  }
  PrintTable({"CID", "Name", "Server", "Account", "User", "Address", "RTT", "Uptime", "In Msgs",
              "Out Msgs", "In Bytes", "Out Bytes", "Subs"},
             rows);
  std::printf("\n%zu connections\n", conns.size());
  return 0;
}

int ReportAccounts(client::Connection& nc, int64_t expect, std::chrono::milliseconds timeout,
                   bool json) {
  std::string err;
  auto conns = ClusterConnections(nc, {}, expect, timeout, &err);
  if (!err.empty()) return std::fprintf(stderr, "gannet server report: %s\n", err.c_str()), 1;
  struct Totals {
    int64_t connections = 0, subs = 0, in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
    std::map<std::string, int> servers;
  };
  std::map<std::string, Totals> accounts;
  for (const auto& [server, c] : conns) {
    Totals& t = accounts[Str(c, "account")];
    t.connections++;
    t.subs += Int(c, "subscriptions");
    t.in_msgs += Int(c, "in_msgs");
    t.out_msgs += Int(c, "out_msgs");
    t.in_bytes += Int(c, "in_bytes");
    t.out_bytes += Int(c, "out_bytes");
    t.servers[ServerName(server)]++;
  }
  if (json) {
    Json all = Json::array();
    for (const auto& [name, t] : accounts) {
      all.push_back({{"account", name},
                     {"connections", t.connections},
                     {"servers", t.servers.size()},
                     {"subscriptions", t.subs},
                     {"in_msgs", t.in_msgs},
                     {"out_msgs", t.out_msgs},
                     {"in_bytes", t.in_bytes},
                     {"out_bytes", t.out_bytes}});
    }
    PrintJson(all);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, t] : accounts) {
    rows.push_back({name, std::to_string(t.connections), std::to_string(t.servers.size()),
                    std::to_string(t.subs), std::to_string(t.in_msgs), std::to_string(t.out_msgs),
                    Bytes(t.in_bytes), Bytes(t.out_bytes)});
  }
  PrintTable(
      {"Account", "Connections", "Servers", "Subs", "In Msgs", "Out Msgs", "In Bytes", "Out Bytes"},
      rows);
  std::printf("\n%zu accounts, %zu connections\n", accounts.size(), conns.size());
  return 0;
}

}  // namespace

int RunServer(int argc, char** argv) {
  std::vector<std::string> with_value = kConnectOptions;
  for (const char* o : {"expect", "timeout", "account"}) with_value.emplace_back(o);
  Args args;
  std::string err;
  if (!args.Parse(argc, argv, 2, with_value, {"json", "help"}, kConnectAliases, &err)) {
    std::fprintf(stderr, "gannet server: %s\n", err.c_str());
    return UsageError();
  }
  if (args.Has("help")) return std::fputs(kUsage, stdout), 0;
  const auto& pos = args.positional();
  if (pos.empty()) return UsageError();
  std::string cmd = pos[0];
  if (cmd == "report") {
    if (pos.size() != 2 || (pos[1] != "connections" && pos[1] != "accounts")) return UsageError();
  } else if (cmd == "info") {
    if (pos.size() > 2) return UsageError();
  } else if ((cmd != "list" && cmd != "ls" && cmd != "ping") || pos.size() != 1) {
    return UsageError();
  }
  int64_t expect = 0;
  std::chrono::milliseconds timeout;
  if (!args.GetCount("expect", 0, &expect, &err) ||
      !args.GetDuration("timeout", std::chrono::seconds(2), &timeout, &err)) {
    std::fprintf(stderr, "gannet server: %s\n", err.c_str());
    return 2;
  }
  auto nc = ConnectOrReport(ConnectOptionsFrom(args, "gannet server"));
  if (!nc.valid()) return 1;
  bool json = args.Has("json");
  int rc = 0;
  if (cmd == "list" || cmd == "ls") {
    rc = List(nc, expect, timeout, json);
  } else if (cmd == "ping") {
    rc = Ping(nc, expect, timeout, json);
  } else if (cmd == "info") {
    rc = Info(nc, pos.size() == 2 ? pos[1] : "", timeout, json);
  } else if (pos[1] == "connections") {
    rc = ReportConnections(nc, args.Get("account"), expect, timeout, json);
  } else {
    rc = ReportAccounts(nc, expect, timeout, json);
  }
  nc.Close();
  return rc;
}

}  // namespace gannet::cli
