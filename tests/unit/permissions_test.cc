// Permission matching (auth/permissions) and reading authorization {} (server/config_auth).
#include <gtest/gtest.h>

#include "auth/permissions.h"
#include "conf/parser.h"
#include "server/config/config_auth.h"

namespace gannet {
namespace {

using auth::CompiledPermissions;

TEST(Permissions, SplitSubjectQueue) {
  auto e = auth::SplitSubjectQueue("foo.bar");
  EXPECT_EQ(e.subject, "foo.bar");
  EXPECT_EQ(e.queue, "");
  e = auth::SplitSubjectQueue("  foo.*   v1 ");
  EXPECT_EQ(e.subject, "foo.*");
  EXPECT_EQ(e.queue, "v1");
}

TEST(Permissions, SubscriptionSubjectTokensAreLiteral) {
  EXPECT_TRUE(auth::PermissionMatches("foo.bar", "foo.*"));
  EXPECT_TRUE(auth::PermissionMatches("foo.*", "foo.*"));
  EXPECT_TRUE(auth::PermissionMatches("foo.>", "foo.*"));  // as the reference's sublist
  EXPECT_TRUE(auth::PermissionMatches("foo.*", "foo.>"));
  EXPECT_FALSE(auth::PermissionMatches("foo.*", "foo.bar"));
  EXPECT_FALSE(auth::PermissionMatches("foo", "foo.>"));
}

TEST(Permissions, SubsetMatch) {
  EXPECT_TRUE(auth::SubjectIsSubset("foo.bar", "foo.*"));
  EXPECT_TRUE(auth::SubjectIsSubset("foo.*", "foo.>"));
  EXPECT_TRUE(auth::SubjectIsSubset("foo.*.x", "foo.>"));
  EXPECT_FALSE(auth::SubjectIsSubset("foo.>", "foo.*"));
  EXPECT_FALSE(auth::SubjectIsSubset("foo.*", "*.x"));
  EXPECT_FALSE(auth::SubjectIsSubset("bar.x", "foo.*"));
}

Permissions Perms(std::vector<std::string> pub_allow, std::vector<std::string> pub_deny,
                  std::vector<std::string> sub_allow, std::vector<std::string> sub_deny) {
  Permissions p;
  p.publish = SubjectPermission{std::move(pub_allow), std::move(pub_deny)};
  p.subscribe = SubjectPermission{std::move(sub_allow), std::move(sub_deny)};
  return p;
}

TEST(Permissions, PublishAllowThenDenyWins) {
  CompiledPermissions p(Perms({"foo.>", "bar"}, {"foo.secret"}, {}, {}));
  EXPECT_TRUE(p.restricts_publish());
  EXPECT_TRUE(p.PublishAllowed("foo.a"));
  EXPECT_TRUE(p.PublishAllowed("bar"));
  EXPECT_FALSE(p.PublishAllowed("foo.secret"));
  EXPECT_FALSE(p.PublishAllowed("baz"));
  CompiledPermissions deny_only(Perms({}, {"x.*"}, {}, {}));
  EXPECT_TRUE(deny_only.PublishAllowed("anything"));
  EXPECT_FALSE(deny_only.PublishAllowed("x.y"));
  CompiledPermissions none(Permissions{});
  EXPECT_FALSE(none.restricts_publish());
}

TEST(Permissions, AllowResponsesTurnsOffTheBlanketPublishAllow) {
  Permissions p;
  p.response = ResponsePermission{};
  CompiledPermissions c(p);
  EXPECT_TRUE(c.restricts_publish());
  EXPECT_FALSE(c.PublishAllowed("anything"));
}

TEST(Permissions, QueueEntries) {
  // allow = ["foo", "foo v1"]: plain foo, and queue foo only with v1.
  CompiledPermissions p(Perms({}, {}, {"foo", "foo v1", "bar v.*", "baz"}, {"baz q"}));
  EXPECT_TRUE(p.SubscribeAllowed("foo", ""));
  EXPECT_TRUE(p.SubscribeAllowed("foo", "v1"));
  EXPECT_FALSE(p.SubscribeAllowed("foo", "v2"));
  EXPECT_FALSE(p.SubscribeAllowed("bar", ""));  // queue entries only
  EXPECT_TRUE(p.SubscribeAllowed("bar", "v.1"));
  EXPECT_FALSE(p.SubscribeAllowed("bar", "w"));
  EXPECT_TRUE(p.SubscribeAllowed("baz", ""));
  EXPECT_TRUE(p.SubscribeAllowed("baz", "other"));
  EXPECT_FALSE(p.SubscribeAllowed("baz", "q"));
  EXPECT_FALSE(p.SubscribeAllowed("nope", ""));
}

TEST(Permissions, DenyFilterForOverlappingWildcards) {
  CompiledPermissions p(Perms({}, {}, {}, {"foo.secret", "baz.*.x"}));
  EXPECT_FALSE(p.SubscribeAllowed("foo.secret", ""));
  EXPECT_TRUE(p.SubscribeAllowed("foo.>", ""));  // allowed, and filtered on delivery
  EXPECT_TRUE(p.SubscribeAllowed("foo.*", ""));
  ASSERT_NE(p.DenyFilterFor("foo.*"), nullptr);
  EXPECT_NE(p.DenyFilterFor("baz.>"), nullptr);
  EXPECT_EQ(p.DenyFilterFor("bar.*"), nullptr);
  EXPECT_EQ(p.DenyFilterFor("foo.ok"), nullptr);  // literal: cannot receive a denied subject
  const auth::DeliveryDenyFilter* f = p.DenyFilterFor("foo.*");
  EXPECT_TRUE(f->Denies("foo.secret"));
  EXPECT_TRUE(f->Denies("baz.y.x"));
  EXPECT_FALSE(f->Denies("foo.ok"));
}

// ---- Reading the config ----

struct Loaded {
  Options opts;
  std::optional<std::string> error;
};

Loaded Load(std::string_view text) {
  Loaded out;
  conf::ParseResult r = conf::ParseString(text);
  if (!r.ok()) {
    out.error = "parse: " + r.error->ToString();
    return out;
  }
  const conf::Value* block = r.root.Find("authorization");
  if (!block) {
    out.error = "no authorization";
    return out;
  }
  std::vector<std::string> warnings;
  out.error = ApplyAuthorization(*block, out.opts, warnings);
  return out;
}

// The error without its "file:line:col: " prefix.
std::string Message(const std::optional<std::string>& error) {
  if (!error) return "";
  auto p = error->find(": ");
  return p == std::string::npos ? *error : error->substr(p + 2);
}

TEST(ConfigAuth, UsersWithPermissions) {
  Loaded l = Load(R"(authorization {
    timeout: 3
    default_permissions: {publish: {deny: "x"}}
    users = [
      {user: alice, password: a, permissions: {
         publish: ["a.>", "b"], subscribe: {allow: "c", deny: ["d", "e"]},
         allow_responses: {max: 3, expires: "5s"}}}
      {user: bob, pass: b}
      {nkey: UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3, permissions: {sub: ">"}}
    ]
  })");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.auth_timeout, std::chrono::seconds(3));
  ASSERT_EQ(l.opts.authorization.users.size(), 3u);
  const User& alice = l.opts.authorization.users[0];
  EXPECT_EQ(alice.username, "alice");
  EXPECT_EQ(alice.password, "a");
  ASSERT_TRUE(alice.permissions);
  EXPECT_EQ(alice.permissions->publish->allow, (std::vector<std::string>{"a.>", "b"}));
  EXPECT_EQ(alice.permissions->subscribe->allow, (std::vector<std::string>{"c"}));
  EXPECT_EQ(alice.permissions->subscribe->deny, (std::vector<std::string>{"d", "e"}));
  ASSERT_TRUE(alice.permissions->response);
  EXPECT_EQ(alice.permissions->response->max_msgs, 3);
  EXPECT_EQ(alice.permissions->response->expires, std::chrono::seconds(5));
  // bob gets the default permissions; the nkey user keeps its own.
  ASSERT_TRUE(l.opts.authorization.users[1].permissions);
  EXPECT_EQ(l.opts.authorization.users[1].permissions->publish->deny,
            (std::vector<std::string>{"x"}));
  EXPECT_EQ(l.opts.authorization.users[2].nkey,
            "UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3");
  EXPECT_EQ(l.opts.authorization.users[2].permissions->subscribe->allow,
            (std::vector<std::string>{">"}));
  ASSERT_TRUE(l.opts.authorization.default_permissions);
}

TEST(ConfigAuth, AllowResponsesTrueTakesTheDefaults) {
  Loaded l = Load(
      "authorization { users = [ {user: a, password: b, permissions: "
      "{allow_responses: true}} ] }");
  ASSERT_FALSE(l.error) << *l.error;
  const auto& rp = l.opts.authorization.users[0].permissions->response;
  ASSERT_TRUE(rp);
  EXPECT_EQ(rp->max_msgs, 1);
  EXPECT_EQ(rp->expires, std::chrono::minutes(2));
}

TEST(ConfigAuth, SingleUserAndToken) {
  Loaded l = Load("authorization { user: u, password: p, timeout: 0.5 }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.authorization.username, "u");
  EXPECT_EQ(l.opts.authorization.password, "p");
  EXPECT_EQ(l.opts.auth_timeout, std::chrono::milliseconds(500));
  l = Load("authorization { token: t }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.authorization.token, "t");
}

// The reference's words (checked with nats-server -t on the same files).
TEST(ConfigAuth, BadConfigs) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"authorization { users = [ {nkey: UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3, "
       "password: x} ] }",
       "Nkey users do not take usernames or passwords"},
      {"authorization { users = [ {user: a, password: x}, {user: a, password: y} ] }",
       "Duplicate user \"a\" detected"},
      {"authorization { user: x, users = [ {user: a, password: x} ] }",
       "Can not have a single user/pass and a users array"},
      {"authorization { token: x, users = [ {user: a, password: x} ] }",
       "Can not have a token and a users array"},
      {"authorization { user: x, token: y }", "Cannot have a user/pass and token"},
      {"authorization { users = [ {password: x} ] }", "User entry requires a user"},
      {"authorization { users = [ {nkey: UBAD} ] }", "Not a valid public nkey for a user"},
      {"authorization { users = [ {user: a, password: x, permissions: "
       "{publish: {allow: \"a\", foo: \"b\"}}} ] }",
       "Unknown field name \"foo\" parsing subject permissions, only 'allow' or 'deny' are "
       "permitted"},
      {"authorization { users = [ {user: a, password: x, permissions: {bogus: 1}} ] }",
       "Unknown field \"bogus\" parsing permissions"},
      {"authorization { users = [ {user: a, password: x, permissions: "
       "{allow_responses: {max: 2, expires: \"zz\"}}} ] }",
       "error parsing expires: time: invalid duration \"zz\""},
      {"authorization { users = [ {user: a, password: x, permissions: {allow_responses: \"yes\"}} "
       "] }",
       "error parsing response permissions, expected a boolean or a map"},
      {"authorization { users = [ {user: a, password: x, color: red} ] }",
       "unknown field \"color\""},
      {"authorization { users2 = 4 }", "unknown field \"users2\""},
      {"authorization { users = 4 }", "Expected users field to be an array, got 4"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Loaded l = Load(c.text);
    ASSERT_TRUE(l.error);
    EXPECT_EQ(Message(l.error), c.message) << *l.error;
    EXPECT_TRUE(l.error->starts_with("<string>:1:")) << *l.error;
  }
}

// Where the reference has no token for the value (publish/subscribe given as a bare value),
// its message names no position.
TEST(ConfigAuth, BareSubjectListErrorsHaveNoPosition) {
  Loaded l = Load("authorization { default_permissions = { publish = 5 } }");
  EXPECT_EQ(l.error.value_or(""),
            "Expected subject permissions to be a subject, or array of subjects, got int64");
  l = Load("authorization { default_permissions = { publish = \"a..b\" } }");
  EXPECT_EQ(l.error.value_or(""), "subject \"a..b\" is not a valid subject");
  l = Load("authorization { default_permissions = { subscribe = [\"a b c\"] } }");
  EXPECT_EQ(l.error.value_or(""), "subject \"a b c\" is not a valid subject");
  // A queue-group entry ("subject queue") is valid; its subject is checked.
  l = Load("authorization { default_permissions = { subscribe = [\"a.* q\", \">\"] } }");
  EXPECT_FALSE(l.error) << *l.error;
  l = Load("authorization { default_permissions = { subscribe = [\"a..b q\"] } }");
  EXPECT_EQ(l.error.value_or(""), "subject \"a..b\" is not a valid subject");
  // Inside {allow, deny} the reference names the key's position.
  l = Load("authorization {\n  default_permissions = { publish = { deny: 5 } }\n}");
  EXPECT_EQ(l.error.value_or(""),
            "<string>:2:39: Expected subject permissions to be a subject, or array of subjects, "
            "got int64");
}

TEST(ConfigAuth, ErrorsCarryThePosition) {
  Loaded l = Load("authorization {\n  users = [\n    {password: x}\n  ]\n}\n");
  ASSERT_TRUE(l.error);
  EXPECT_TRUE(l.error->starts_with("<string>:3:")) << *l.error;
}

TEST(ConfigAuth, NoAuthUserMustNameAUser) {
  Options opts;
  opts.authorization.no_auth_user = "bob";
  EXPECT_EQ(ValidateAuthOptions(opts), "no_auth_user: \"bob\" present, but users are not defined");
  User alice;
  alice.username = "alice";
  alice.password = "x";
  opts.authorization.users.push_back(alice);
  EXPECT_EQ(ValidateAuthOptions(opts),
            "no_auth_user: \"bob\" not present as user in authorization block or account "
            "configuration");
  opts.authorization.no_auth_user = "alice";
  EXPECT_FALSE(ValidateAuthOptions(opts));
}

TEST(ConfigAuth, ReadPermissionsAcceptsEveryForm) {
  conf::ParseResult r = conf::ParseString(
      "p { publish: \"a\", subscribe: [\"b\", \"c q\"], allow_responses: false }");
  ASSERT_TRUE(r.ok());
  Permissions perms;
  EXPECT_FALSE(ReadPermissions(*r.root.Find("p"), nullptr, perms));
  EXPECT_EQ(perms.publish->allow, (std::vector<std::string>{"a"}));
  EXPECT_EQ(perms.subscribe->allow, (std::vector<std::string>{"b", "c q"}));
  EXPECT_FALSE(perms.response);
}

}  // namespace
}  // namespace gannet
