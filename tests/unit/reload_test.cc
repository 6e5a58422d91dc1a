// Config reload's option diff (server/config/reload.h): what may change, the reference's notices
// and refusal texts.
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

}  // namespace
}  // namespace gannet
