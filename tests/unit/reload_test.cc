// Config reload's option diff (server/config/reload.h): what may change, the reference's notices
// and refusal texts, and the cluster's changes the routes manager acts on.
#include "server/config/reload.h"

#include <gtest/gtest.h>

namespace gannet {
namespace {

using namespace std::chrono_literals;

TEST(DiffOptions, SameOptionsStillReloadUsersAndAccounts) {
  Options o;
  ReloadChanges changes;
  EXPECT_FALSE(DiffOptions(o, o, changes));
  EXPECT_EQ(changes.notices,
            (std::vector<std::string>{"Reloaded: authorization users", "Reloaded: accounts"}));
  EXPECT_FALSE(changes.logging);
}

TEST(DiffOptions, ReloadableOptionsInTheReferencesOrder) {
  Options cur;
  Options next;
  next.debug = true;
  next.logtime = false;
  next.max_connections = 100;
  next.ping_interval = 30s;
  next.ping_max = 3;
  next.max_control_line = 2048;
  next.max_payload = 2000;
  next.write_deadline = 3s;
  next.auth_timeout = 500ms;
  next.authorization.token = "t";
  ReloadChanges changes;
  EXPECT_FALSE(DiffOptions(cur, next, changes));
  EXPECT_EQ(changes.notices, (std::vector<std::string>{
                                 "Reloaded: debug = true",
                                 "Reloaded: logtime = false",
                                 "Reloaded: max_connections = 100",
                                 "Reloaded: authorization users",
                                 "Reloaded: accounts",
                                 "Reloaded: authorization token",
                                 "Reloaded: ping_interval = 30s",
                                 "Reloaded: ping_max = 3",
                                 "Reloaded: authorization timeout = 0.5",
                                 "Reloaded: max_control_line = 2048",
                                 "Reloaded: max_payload = 2000",
                                 "Reloaded: write_deadline = 3s",
                             }));
  EXPECT_TRUE(changes.logging);
}

TEST(DiffOptions, RefusesWhatTheReferenceCannotReload) {
  auto refused = [](void (*change)(Options&)) {
    Options cur;
    Options next;
    change(next);
    ReloadChanges changes;
    return DiffOptions(cur, next, changes).value_or("");
  };
  EXPECT_EQ(refused([](Options& o) { o.port = 4333; }),
            "config reload not supported for Port: old=4222, new=4333");
  EXPECT_EQ(refused([](Options& o) { o.host = "127.0.0.1"; }),
            "config reload not supported for Host: old=0.0.0.0, new=127.0.0.1");
  EXPECT_EQ(refused([](Options& o) { o.max_pending = 1000; }),
            "config reload not supported for MaxPending: old=67108864, new=1000");
  EXPECT_EQ(refused([](Options& o) { o.max_subscriptions = 5; }),
            "config reload not supported for MaxSubs: old=0, new=5");
  EXPECT_EQ(refused([](Options& o) { o.lame_duck_duration = 40s; }),
            "config reload not supported for LameDuckDuration: old=2m0s, new=40s");
  EXPECT_EQ(refused([](Options& o) { o.no_header_support = true; }),
            "config reload not supported for NoHeaderSupport: old=false, new=true");
  EXPECT_EQ(refused([](Options& o) { o.http_port = 8222; }),
            "config reload not supported for HTTPPort: old=0, new=8222");
  // The first refused field in the reference's order is the one named.
  EXPECT_EQ(refused([](Options& o) {
              o.max_pending = 1000;
              o.port = 1;
            }),
            "config reload not supported for Port: old=4222, new=1");
}

TEST(DiffOptions, NoAuthUserMayOnlyGoWithItsUser) {
  Options cur;
  cur.authorization.users = {User{"a", "pa", "", nullptr, ""}, User{"b", "pb", "", nullptr, ""}};
  cur.authorization.no_auth_user = "a";
  Options gone = cur;
  gone.authorization.users = {User{"b", "pb", "", nullptr, ""}};
  gone.authorization.no_auth_user.clear();
  ReloadChanges changes;
  EXPECT_FALSE(DiffOptions(cur, gone, changes));
  Options kept = cur;
  kept.authorization.no_auth_user.clear();
  EXPECT_EQ(DiffOptions(cur, kept, changes).value_or(""),
            "config reload not supported for NoAuthUser: old=a, new=");
  Options other = cur;
  other.authorization.no_auth_user = "b";
  EXPECT_EQ(DiffOptions(cur, other, changes).value_or(""),
            "config reload not supported for NoAuthUser: old=a, new=b");
}

TEST(DiffOptions, NkeyUsersNoticedOnlyWhenChanged) {
  Options cur;
  cur.authorization.users = {User{"", "", "UKEY", nullptr, ""}};
  ReloadChanges same;
  EXPECT_FALSE(DiffOptions(cur, cur, same));
  EXPECT_EQ(same.notices.size(), 2u);
  Options next = cur;
  auto perms = std::make_shared<Permissions>();
  perms->publish = SubjectPermission{{"foo"}, {}};
  next.authorization.users[0].permissions = perms;
  ReloadChanges changed;
  EXPECT_FALSE(DiffOptions(cur, next, changed));
  EXPECT_EQ(changed.notices.front(), "Reloaded: authorization nkey users");
}

// ---- cluster {} and its routes (reload.go clusterOption, routesOption, validateClusterOpts) ----

Options Clustered() {
  Options o;
  o.cluster.configured = true;
  o.cluster.host = "0.0.0.0";
  o.cluster.port = 6222;
  return o;
}

RouteUrl Route(const char* text) { return *ParseRouteUrl(text); }

std::vector<std::string> Texts(const std::vector<RouteUrl>& routes) {
  std::vector<std::string> out;
  for (const RouteUrl& r : routes) out.push_back(r.text);
  return out;
}

TEST(DiffOptions, ClusterUnchangedIsNotReloaded) {
  Options o = Clustered();
  o.cluster.routes = {Route("nats://a:1"), Route("nats://b:2")};
  Options next = o;
  // The order of the routes does not matter, nor the scheme's case.
  next.cluster.routes = {Route("nats://b:2"), Route("NATS://a:1")};
  ReloadChanges changes;
  EXPECT_FALSE(DiffOptions(o, next, changes));
  EXPECT_FALSE(changes.cluster);
  EXPECT_TRUE(changes.routes_added.empty());
  EXPECT_TRUE(changes.routes_removed.empty());
  EXPECT_EQ(changes.notices.size(), 2u);  // users and accounts, as always
}

TEST(DiffOptions, RoutesAddedAndRemoved) {
  Options cur = Clustered();
  cur.cluster.routes = {Route("nats://c:3"), Route("nats://a:1"), Route("nats://b:2")};
  Options next = Clustered();
  next.cluster.routes = {Route("nats://e:5"), Route("nats://a:1"), Route("nats://d:4")};
  next.debug = true;
  next.log_file = "x.log";
  next.write_deadline = std::chrono::seconds(3);
  ReloadChanges changes;
  ASSERT_FALSE(DiffOptions(cur, next, changes));
  EXPECT_FALSE(changes.cluster);
  EXPECT_EQ(Texts(changes.routes_removed), (std::vector<std::string>{"nats://b:2", "nats://c:3"}));
  EXPECT_EQ(Texts(changes.routes_added), (std::vector<std::string>{"nats://d:4", "nats://e:5"}));
  // In the reference's field order: Routes comes after LogFile, before WriteDeadline.
  EXPECT_EQ(changes.notices, (std::vector<std::string>{
                                 "Reloaded: debug = true", "Reloaded: authorization users",
                                 "Reloaded: accounts", "Reloaded: log_file = x.log",
                                 "Reloaded: cluster routes", "Reloaded: write_deadline = 3s"}));
  // All of them removed.
  next.cluster.routes.clear();
  ReloadChanges removed;
  ASSERT_FALSE(DiffOptions(cur, next, removed));
  EXPECT_EQ(removed.routes_removed.size(), 3u);
  EXPECT_TRUE(removed.routes_added.empty());
}

TEST(DiffOptions, ClusterChangesAreReloaded) {
  auto diff = [](void (*change)(ClusterConfig&)) {
    Options cur = Clustered();
    Options next = Clustered();
    change(next.cluster);
    ReloadChanges changes;
    EXPECT_FALSE(DiffOptions(cur, next, changes));
    return changes;
  };
  ReloadChanges c = diff([](ClusterConfig& n) { n.name = "renamed"; });
  EXPECT_TRUE(c.cluster);
  EXPECT_FALSE(c.cluster_permissions_changed);
  EXPECT_FALSE(c.cluster_auth_changed);
  EXPECT_EQ(c.notices, (std::vector<std::string>{"Reloaded: authorization users",
                                                 "Reloaded: accounts", "Reloaded: cluster"}));
  EXPECT_TRUE(diff([](ClusterConfig& n) { n.no_advertise = true; }).cluster);
  EXPECT_TRUE(diff([](ClusterConfig& n) { n.connect_retries = 3; }).cluster);
  EXPECT_TRUE(diff([](ClusterConfig& n) { n.advertise = "10.0.0.1:6222"; }).cluster);
  c = diff([](ClusterConfig& n) { n.import_permissions = SubjectPermission{{"foo"}, {}}; });
  EXPECT_TRUE(c.cluster);
  EXPECT_TRUE(c.cluster_permissions_changed);
  c = diff([](ClusterConfig& n) { n.export_permissions = SubjectPermission{{}, {"bar"}}; });
  EXPECT_TRUE(c.cluster_permissions_changed);
  c = diff([](ClusterConfig& n) {
    n.username = "ruser";
    n.password = "rpass";
  });
  EXPECT_TRUE(c.cluster_auth_changed);
  EXPECT_FALSE(c.cluster_permissions_changed);
  EXPECT_TRUE(diff([](ClusterConfig& n) {
                n.auth_timeout = std::chrono::seconds(5);
              }).cluster_auth_changed);
  // A port of -1 is the running one.
  EXPECT_FALSE(diff([](ClusterConfig& n) { n.port = -1; }).cluster);
}

TEST(DiffOptions, RouteTlsReloadsTheClusterEveryTime) {
  Options cur = Clustered();
  cur.cluster.tls.configured = true;
  ReloadChanges same;
  ASSERT_FALSE(DiffOptions(cur, cur, same));
  EXPECT_TRUE(same.cluster);  // the reference's tls.Config never compares equal
  EXPECT_FALSE(same.cluster_pinned_certs_changed);
  EXPECT_TRUE(same.warnings.empty());
  EXPECT_FALSE(same.tls);  // the client TLS is another matter
  Options next = cur;
  next.cluster.tls.insecure = true;
  next.cluster.tls.pinned_certs = {std::string(64, 'a')};
  ReloadChanges changes;
  ASSERT_FALSE(DiffOptions(cur, next, changes));
  EXPECT_TRUE(changes.cluster_pinned_certs_changed);
  EXPECT_EQ(changes.warnings, (std::vector<std::string>{kClusterTlsInsecureWarning}));
  next.cluster.tls.verify_and_map = true;  // certificate names stand for the user
  ReloadChanges mapped;
  ASSERT_FALSE(DiffOptions(cur, next, mapped));
  EXPECT_TRUE(mapped.cluster_auth_changed);
}

TEST(DiffOptions, RefusesWhatTheReferenceCannotReloadInTheCluster) {
  auto refused = [](const Options& cur, const Options& next) {
    ReloadChanges changes;
    return DiffOptions(cur, next, changes).value_or("");
  };
  Options cur = Clustered();
  Options next = Clustered();
  next.cluster.port = 6223;
  EXPECT_EQ(refused(cur, next), "config reload not supported for cluster port: old=6222, new=6223");
  next = Clustered();
  next.cluster.host = "127.0.0.1";
  EXPECT_EQ(refused(cur, next),
            "config reload not supported for cluster host: old=0.0.0.0, new=127.0.0.1");
  // Clustering cannot be started or stopped: the host (0.0.0.0 once a port is set) differs.
  EXPECT_EQ(refused(Options{}, cur),
            "config reload not supported for cluster host: old=, new=0.0.0.0");
  EXPECT_EQ(refused(cur, Options{}),
            "config reload not supported for cluster host: old=0.0.0.0, new=");
  next = Clustered();
  next.cluster.advertise = "1.2.3.4:abc";
  EXPECT_EQ(refused(cur, next),
            "invalid Cluster.Advertise value of 1.2.3.4:abc, err=strconv.Atoi: parsing \"abc\": "
            "invalid syntax");
  next.cluster.advertise = "a:b:c";
  EXPECT_EQ(refused(cur, next),
            "invalid Cluster.Advertise value of a:b:c, err=address a:b:c: too many colons in "
            "address");
  next = Clustered();
  next.client_advertise = "1.2.3.4:abc";
  EXPECT_EQ(refused(cur, next),
            "invalid ClientAdvertise value of 1.2.3.4:abc, err=strconv.Atoi: parsing \"abc\": "
            "invalid syntax");
  // In the reference's field order: MaxPending comes before Cluster.
  next = Clustered();
  next.cluster.port = 1;
  next.max_pending = 1000;
  EXPECT_EQ(refused(cur, next),
            "config reload not supported for MaxPending: old=67108864, new=1000");
}

}  // namespace
}  // namespace gannet
