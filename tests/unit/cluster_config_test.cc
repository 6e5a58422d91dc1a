// Clustering's configuration as nats-server 2.9.10 reads it: the cluster {} block (every key,
// every error and warning text with its position, as `nats-server -t` prints them for the same
// text), the cluster flags over the file, the defaults derived afterwards, and route URLs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "conf/parser.h"
#include "server/config/config.h"
#include "server/config/options.h"
#include "tls_support.h"

namespace gannet {
namespace {

using namespace std::chrono_literals;

struct Loaded {
  Options opts;
  std::optional<std::string> error;
  std::vector<std::string> warnings;
};

// The text mapped onto Options as -c does (strict: as -t does).
Loaded Load(std::string_view text, bool strict = false) {
  Loaded out;
  conf::ParseResult r = conf::ParseString(text);
  if (!r.ok()) {
    out.error = "parse: " + r.error->ToString();
    return out;
  }
  out.error = OptionsFromConfig(r.root, out.opts, out.warnings, strict);
  return out;
}

TEST(ClusterConfig, EveryKey) {
  const test::TestCerts& certs = test::Certs();
  Loaded l = Load(R"(cluster {
    name: c1
    listen: 127.0.0.1:6222
    advertise: "10.0.0.1:6222"
    no_advertise: true
    connect_retries: 5
    routes: [
      nats-route://ruser:rpass@127.0.0.1:6223
      "nats://127.0.0.1:6224"
    ]
    authorization { user: ruser, password: rpass, timeout: 0.5 }
    permissions {
      import: ["foo.>", "bar"]
      export: { allow: "baz.>", deny: "baz.secret" }
    }
    tls {
      cert_file: ")" +
                  certs.server_cert + R"("
      key_file: ")" +
                  certs.server_key + R"("
      ca_file: ")" +
                  certs.ca + R"("
      verify_cert_and_check_known_urls: true
      connection_rate_limit: 5
      timeout: 3
      insecure: true
    }
  })");
  ASSERT_FALSE(l.error) << *l.error;
  const ClusterConfig& c = l.opts.cluster;
  EXPECT_TRUE(c.configured);
  EXPECT_TRUE(c.Enabled());
  EXPECT_EQ(c.name, "c1");
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 6222);
  EXPECT_EQ(c.advertise, "10.0.0.1:6222");
  EXPECT_TRUE(c.no_advertise);
  EXPECT_EQ(c.connect_retries, 5);
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].text, "nats-route://ruser:rpass@127.0.0.1:6223");
  EXPECT_EQ(c.routes[0].host, "127.0.0.1");
  EXPECT_EQ(c.routes[0].port, 6223);
  EXPECT_EQ(c.routes[0].user, "ruser");
  EXPECT_EQ(c.routes[0].password, "rpass");
  EXPECT_EQ(c.routes[1].text, "nats://127.0.0.1:6224");
  EXPECT_EQ(c.routes[1].user, "");
  EXPECT_EQ(c.username, "ruser");
  EXPECT_EQ(c.password, "rpass");
  EXPECT_EQ(c.auth_timeout, 500ms);
  EXPECT_TRUE(c.auth_timeout_set);
  ASSERT_TRUE(c.import_permissions);
  EXPECT_EQ(c.import_permissions->allow, (std::vector<std::string>{"foo.>", "bar"}));
  EXPECT_TRUE(c.import_permissions->deny.empty());
  ASSERT_TRUE(c.export_permissions);
  EXPECT_EQ(c.export_permissions->allow, (std::vector<std::string>{"baz.>"}));
  EXPECT_EQ(c.export_permissions->deny, (std::vector<std::string>{"baz.secret"}));
  EXPECT_TRUE(c.tls.configured);
  EXPECT_EQ(c.tls.ca_file, certs.ca);
  EXPECT_TRUE(c.tls.verify_cert_and_check_known_urls);
  EXPECT_TRUE(c.tls.verify);  // implied, as the reference
  EXPECT_TRUE(c.tls.insecure);
  EXPECT_EQ(c.tls.timeout, 3s);
  // The client side is untouched.
  EXPECT_FALSE(l.opts.tls.configured);
  EXPECT_TRUE(l.opts.authorization.username.empty());
}

TEST(ClusterConfig, HostPortAndNameForms) {
  Loaded l = Load("cluster { host: 10.0.0.2, port: 7222, name: \"a b\" }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.host, "10.0.0.2");
  EXPECT_EQ(l.opts.cluster.port, 7222);
  // 2.9.10 takes a cluster name with spaces (2.10 refuses it).
  EXPECT_EQ(l.opts.cluster.name, "a b");
  l = Load("cluster { listen: 7000 }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.port, 7000);
  EXPECT_EQ(l.opts.cluster.host, "");
  l = Load("cluster { listen: \"[::1]:-1\" }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.host, "::1");
  EXPECT_EQ(l.opts.cluster.port, -1);
  l = Load("cluster { net: \"0.0.0.0\", listen: \":+6222\" }");  // strconv.Atoi takes a sign
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.host, "");
  EXPECT_EQ(l.opts.cluster.port, 6222);
  // A port no listener takes is the listener's error, as in the reference.
  l = Load("cluster { port: 70000 }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.port, 70000);
  // A block without a port: configured, but clustering does not run.
  l = Load("cluster { name: x, routes: [nats://127.0.0.1:1] }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_TRUE(l.opts.cluster.configured);
  EXPECT_FALSE(l.opts.cluster.Enabled());
  EXPECT_FALSE(Load("port: 4222").opts.cluster.configured);
}

// Each error as `nats-server -t` prints it for the same text (checked with the 2.9.10 binary).
TEST(ClusterConfig, ErrorsAsTheReference) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"port: 4222\ncluster: 5", "<string>:2:1: Expected map to define cluster, got int64"},
      {"cluster {\n  name: 1\n}",
       "<string>:2:3: interface conversion: interface {} is int64, not string"},
      {"cluster {\n  port: \"x\"\n}",
       "<string>:2:3: interface conversion: interface {} is string, not int64"},
      {"cluster {\n  host: 1\n}",
       "<string>:2:3: interface conversion: interface {} is int64, not string"},
      {"cluster {\n  listen: 1.5\n}", "<string>:2:3: expected port or host:port, got float64"},
      {"cluster {\n  listen: \"127.0.0.1\"\n}",
       "<string>:2:3: could not parse address string \"127.0.0.1\""},
      {"cluster {\n  listen: \"a:b:1\"\n}",
       "<string>:2:3: could not parse address string \"a:b:1\""},
      {"cluster {\n  listen: \":abc\"\n}", "<string>:2:3: could not parse port \"abc\""},
      {"cluster {\n  routes: \"nats://a:1\"\n}",
       "<string>:2:3: interface conversion: interface {} is string, not []interface {}"},
      {"cluster {\n  routes: [\n    nats://a:1\n    1\n  ]\n}",
       "<string>:4:5: interface conversion: interface {} is int64, not string"},
      {"cluster {\n  routes: [\n    nats://a:1\n    nats://x:abc\n  ]\n}",
       "<string>:4:5: error parsing route url [\"nats://x:abc\"]"},
      {"cluster {\n  advertise: 5\n}",
       "<string>:2:3: interface conversion: interface {} is int64, not string"},
      {"cluster {\n  no_advertise: \"yes\"\n}",
       "<string>:2:3: interface conversion: interface {} is string, not bool"},
      {"cluster {\n  connect_retries: \"x\"\n}",
       "<string>:2:3: interface conversion: interface {} is string, not int64"},
      // nats-server 2.10's keys are unknown to 2.9.10.
      {"cluster {\n  pool_size: 3\n}", "<string>:2:3: unknown field \"pool_size\""},
      {"cluster {\n  compression: s2_auto\n}", "<string>:2:3: unknown field \"compression\""},
      {"cluster {\n  authorization { users: [{user: a, password: b}] }\n}",
       "<string>:2:3: Cluster authorization does not allow multiple users"},
      {"cluster {\n  authorization { token: abc }\n}",
       "<string>:2:3: Cluster authorization does not support tokens"},
      {"cluster {\n  authorization { user: a, token: b }\n}",
       "<string>:2:3: Cluster authorization does not support tokens"},
      // A failed type assertion in the authorization block, then the reference's nil
      // dereference of the missing result.
      {"cluster {\n  authorization { user: 1 }\n}",
       "<string>:2:19: interface conversion: interface {} is int64, not string\n"
       "<string>:2:3: runtime error: invalid memory address or nil pointer dereference"},
      {"cluster {\n  authorization: 1\n}",
       "<string>:2:3: interface conversion: interface {} is int64, not map[string]interface {}\n"
       "<string>:2:3: runtime error: invalid memory address or nil pointer dereference"},
      {"cluster {\n  authorization { user: a, bogus: 1 }\n}",
       "<string>:2:28: unknown field \"bogus\""},
      {"cluster {\n  permissions { import: foo, allow_responses: true }\n}",
       "<string>:2:3: Cluster permissions do not support dynamic responses"},
      {"cluster {\n  permissions { import: foo, bogus: 1 }\n}",
       "<string>:2:30: Unknown field \"bogus\" parsing permissions"},
      {"cluster {\n  permissions: x\n}", "Expected permissions to be a map/struct, got x"},
      {"cluster {\n  permissions { export: \"a..b\" }\n}",
       "subject \"a..b\" is not a valid subject"},
      {"cluster {\n  permissions { import: { allow: x, foo: 1 } }\n}",
       "<string>:2:37: Unknown field name \"foo\" parsing subject permissions, only 'allow' or "
       "'deny' are permitted"},
      {"cluster {\n  tls: 1\n}",
       "<string>:2:3: interface conversion: interface {} is int64, not map[string]interface {}"},
      {"cluster {\n  tls {\n    foo: 1\n  }\n}",
       "<string>:3:5: error parsing tls config, unknown field [\"foo\"]"},
      {"cluster {\n  tls {\n    cert_file: srv.pem\n  }\n}",
       "<string>:2:3: missing 'key_file' in TLS configuration"},
      {"cluster {\n  tls {\n    timeout: \"x\"\n  }\n}",
       "<string>:3:5: error parsing tls config, 'timeout' time: invalid duration \"x\""},
      {"cluster {\n  tls {\n    timeout: true\n  }\n}",
       "<string>:3:5: error parsing tls config, 'timeout' wrong type"},
      {"cluster {\n  tls {\n    verify: 1\n  }\n}",
       "<string>:3:5: error parsing tls config, expected 'verify' to be a boolean"},
      {"cluster {\n  tls {\n    cipher_suites: x\n  }\n}",
       "<string>:3:5: interface conversion: interface {} is string, not []interface {}"},
      {"cluster {\n  tls {\n    connection_rate_limit: x\n  }\n}",
       "<string>:3:5: error parsing tls config, 'connection_rate_limit' wrong type"},
      // The client block refuses what only routes take.
      {"tls {\n  verify_cert_and_check_known_urls: true\n}",
       "<string>:2:3: verify_cert_and_check_known_urls not supported in this context"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Loaded l = Load(c.text);
    EXPECT_EQ(l.error.value_or("(no error)"), c.error);
  }
}

TEST(ClusterConfig, ErrorsAreListedAndTheBlockGoesOn) {
  // Errors that are not failed type assertions do not stop the block: all are listed.
  Loaded l = Load("cluster {\n  listen: \"x\"\n  routes: [\n    nats://a:b\n  ]\n  foo: 1\n}");
  EXPECT_EQ(l.error.value_or(""),
            "<string>:2:3: could not parse address string \"x\"\n"
            "<string>:4:5: error parsing route url [\"nats://a:b\"]\n"
            "<string>:6:3: unknown field \"foo\"");
  // A failed type assertion ends the block.
  l = Load("cluster {\n  port: x\n  foo: 1\n}");
  EXPECT_EQ(l.error.value_or(""),
            "<string>:2:3: interface conversion: interface {} is string, not int64");
  // The whole routes list is refused when one URL is.
  l = Load("cluster {\n  routes: [\n    nats://a:1\n    \"nats://a b:1\"\n  ]\n}");
  ASSERT_TRUE(l.error);
  EXPECT_TRUE(l.opts.cluster.routes.empty());
}

TEST(ClusterConfig, DuplicateRouteIsAWarning) {
  const char* text =
      "cluster {\n  routes: [\n    nats://a:1\n    nats://a:1\n    nats://b:2\n  ]\n}";
  Loaded l = Load(text);
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.warnings, (std::vector<std::string>{"<string>:4:5: invalid use of field "
                                                  "\"nats://a:1\": Duplicate route entry "
                                                  "detected"}));
  ASSERT_EQ(l.opts.cluster.routes.size(), 2u);
  EXPECT_EQ(l.opts.cluster.routes[1].text, "nats://b:2");
  // Under -t a warning fails the check, listed before the errors.
  l = Load("cluster {\n  routes: [\n    nats://a:1\n    nats://a:1\n  ]\n  foo: 1\n}", true);
  EXPECT_EQ(l.error.value_or(""),
            "<string>:4:5: invalid use of field \"nats://a:1\": Duplicate route entry detected\n"
            "<string>:6:3: unknown field \"foo\"");
  l = Load(text, true);
  EXPECT_EQ(l.error.value_or(""),
            "<string>:4:5: invalid use of field \"nats://a:1\": Duplicate route entry detected");
}

TEST(ClusterConfig, PermissionsInTheAuthorizationBlockAreDeprecated) {
  Loaded l = Load(
      "cluster {\n  authorization { user: a, password: b, permissions: { import: foo, export: "
      "bar } }\n}");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.warnings,
            (std::vector<std::string>{"<string>:2:3: invalid use of field \"authorization\": "
                                      "setting \"permissions\" within cluster authorization "
                                      "block is deprecated"}));
  ASSERT_TRUE(l.opts.cluster.import_permissions);
  EXPECT_EQ(l.opts.cluster.import_permissions->allow, (std::vector<std::string>{"foo"}));
  EXPECT_EQ(l.opts.cluster.export_permissions->allow, (std::vector<std::string>{"bar"}));
  // The cluster's own permissions win, before or after.
  for (const char* text :
       {"cluster {\n  permissions { import: mine }\n  authorization { permissions: { import: "
        "theirs } }\n}",
        "cluster {\n  authorization { permissions: { import: theirs } }\n  permissions { import: "
        "mine }\n}"}) {
    l = Load(text);
    ASSERT_FALSE(l.error) << *l.error;
    EXPECT_EQ(l.opts.cluster.import_permissions->allow, (std::vector<std::string>{"mine"}));
  }
  EXPECT_TRUE(Load("cluster {\n  authorization { permissions: { import: x } }\n}", true).error);
}

TEST(ClusterConfig, AuthorizationTimeoutOtherThanANumberIsOneSecond) {
  Loaded l = Load("cluster { authorization { user: a, password: b, timeout: \"5s\" } }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.auth_timeout, 1s);
  l = Load("cluster { authorization { user: a, password: \"$2a$11$abc\", timeout: 0 } }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.password, "$2a$11$abc");  // bcrypt: kept as given
  EXPECT_FALSE(l.opts.cluster.auth_timeout_set);     // 0: the default
}

TEST(ClusterConfig, TlsPinnedCertsAreLowerCase) {
  const test::TestCerts& certs = test::Certs();
  std::string pin(64, 'A');
  Loaded l = Load("cluster { tls { cert_file: \"" + certs.server_cert + "\", key_file: \"" +
                  certs.server_key + "\", pinned_certs: [\"" + pin + "\"] } }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_EQ(l.opts.cluster.tls.pinned_certs, (std::vector<std::string>{std::string(64, 'a')}));
  // An empty block is a route TLS configuration without a certificate, as in the reference.
  l = Load("cluster { tls {} }");
  ASSERT_FALSE(l.error) << *l.error;
  EXPECT_TRUE(l.opts.cluster.tls.configured);
}

// ---- The command line: flags over the file, and the defaults derived after both ----

class ClusterFlags : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "gannet-cc-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& text) {
    std::string path = dir_ + "/f" + std::to_string(++files_) + ".conf";
    std::ofstream(path) << text;
    return path;
  }
  // Parses `args` (the program name is added); the error, if any.
  std::optional<std::string> Parse(std::vector<std::string> args) {
    cl_ = CommandLine{};
    args.insert(args.begin(), "gannet-server");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), cl_);
  }
  const ClusterConfig& cluster() const { return cl_.options.cluster; }

  CommandLine cl_;
  std::string dir_;
  int files_ = 0;
};

TEST_F(ClusterFlags, EveryFlag) {
  ASSERT_FALSE(Parse({"--cluster", "nats://ruser:rpass@127.0.0.1:7244", "--cluster_name", "c9",
                      "--routes", "nats://127.0.0.1:7245, nats-route://u:p@10.0.0.1:7246",
                      "--cluster_advertise", "10.1.1.1:7244", "--no_advertise", "--connect_retries",
                      "7", "--client_advertise", "10.1.1.1:4222"}));
  EXPECT_TRUE(cluster().configured);
  EXPECT_EQ(cluster().host, "127.0.0.1");
  EXPECT_EQ(cluster().port, 7244);
  EXPECT_EQ(cluster().username, "ruser");
  EXPECT_EQ(cluster().password, "rpass");
  EXPECT_EQ(cluster().name, "c9");
  ASSERT_EQ(cluster().routes.size(), 2u);
  EXPECT_EQ(cluster().routes[0].text, "nats://127.0.0.1:7245");
  EXPECT_EQ(cluster().routes[1].text, "nats-route://u:p@10.0.0.1:7246");
  EXPECT_EQ(cluster().routes[1].user, "u");
  EXPECT_EQ(cluster().advertise, "10.1.1.1:7244");
  EXPECT_TRUE(cluster().no_advertise);
  EXPECT_EQ(cluster().connect_retries, 7);
  EXPECT_EQ(cl_.options.client_advertise, "10.1.1.1:4222");
  EXPECT_EQ(cluster().auth_timeout, 2s);  // the reference's default without route TLS

  ASSERT_FALSE(Parse({"--cluster_listen", "nats://0.0.0.0:-1"}));
  EXPECT_EQ(cluster().port, -1);
  EXPECT_EQ(cluster().host, "0.0.0.0");
  ASSERT_FALSE(Parse({"-cluster=nats://[::1]:7000"}));
  EXPECT_EQ(cluster().host, "::1");
  EXPECT_EQ(cluster().port, 7000);
}

TEST_F(ClusterFlags, FlagsOverTheFile) {
  std::string file = Write(R"(cluster {
    name: file
    listen: 127.0.0.1:6222
    advertise: "file:1"
    no_advertise: true
    connect_retries: 2
    routes: [nats://127.0.0.1:6223]
    authorization { user: fu, password: fp }
  })");
  ASSERT_FALSE(Parse({"-c", file}));
  EXPECT_EQ(cluster().name, "file");
  EXPECT_EQ(cluster().username, "fu");

  ASSERT_FALSE(Parse({"-c", file, "--cluster_name", "flag", "--cluster_advertise", "flag:2",
                      "--no_advertise=false", "--connect_retries", "9", "--routes",
                      "nats://127.0.0.1:7000"}));
  EXPECT_EQ(cluster().name, "flag");
  EXPECT_EQ(cluster().advertise, "flag:2");
  EXPECT_FALSE(cluster().no_advertise);
  EXPECT_EQ(cluster().connect_retries, 9);
  ASSERT_EQ(cluster().routes.size(), 1u);
  EXPECT_EQ(cluster().routes[0].port, 7000);
  EXPECT_EQ(cluster().port, 6222);      // from the file
  EXPECT_EQ(cluster().username, "fu");  // --cluster not given: the file's authorization stays

  // --cluster replaces host, port and the authorization's user and password, even with none.
  ASSERT_FALSE(Parse({"-c", file, "--cluster", "nats://127.0.0.2:7001"}));
  EXPECT_EQ(cluster().host, "127.0.0.2");
  EXPECT_EQ(cluster().port, 7001);
  EXPECT_EQ(cluster().username, "");
  EXPECT_EQ(cluster().password, "");
  ASSERT_FALSE(Parse({"-c", file, "--cluster", "nats://a:b@127.0.0.2:7001"}));
  EXPECT_EQ(cluster().username, "a");
  EXPECT_EQ(cluster().password, "b");
  // --cluster "" turns clustering off (the host stays); --routes "" drops the file's routes.
  ASSERT_FALSE(Parse({"-c", file, "--cluster", "", "--routes", ""}));
  EXPECT_EQ(cluster().port, 0);
  EXPECT_FALSE(cluster().Enabled());
  EXPECT_TRUE(cluster().routes.empty());
  // Under -t the file is checked alone: the reference applies no flag then.
  ASSERT_FALSE(Parse({"-t", "-c", file, "--cluster_name", "flag", "--cluster", "bad url"}));
  EXPECT_EQ(cluster().name, "file");
}

TEST_F(ClusterFlags, RoutesNeedACluster) {
  EXPECT_EQ(Parse({"--routes", "nats://127.0.0.1:1"}).value_or(""),
            "solicited routes require cluster capabilities, e.g. --cluster");
  EXPECT_TRUE(cl_.config_error);  // "gannet-server: ..." and exit status 1, no usage
  EXPECT_EQ(Parse({"--routes", "nats://127.0.0.1:1", "--cluster", ""}).value_or(""),
            "solicited routes require cluster capabilities, e.g. --cluster");
  // A host or a port from the file is enough.
  EXPECT_FALSE(Parse({"-c", Write("cluster { port: 6222 }"), "--routes", "nats://h:1"}));
  EXPECT_FALSE(Parse({"-c", Write("cluster { host: h }"), "--routes", "nats://h:1"}));
  EXPECT_TRUE(Parse({"-c", Write("cluster { name: n }"), "--routes", "nats://h:1"}));
  EXPECT_FALSE(Parse({"--routes", ""}));
  // A route URL that does not parse: the reference crashes when it dials it; refused here.
  EXPECT_EQ(Parse({"--cluster", "nats://h:1", "--routes", "nats://a b:1"}).value_or(""),
            "error parsing route url [\"nats://a b:1\"]");
}

// The reference's texts (Go's url.Parse, net.SplitHostPort, fmt.Sscan), checked with its binary.
TEST_F(ClusterFlags, ClusterUrlErrors) {
  struct Case {
    const char* url;
    const char* error;
  };
  const Case cases[] = {
      {"nats://u@127.0.0.1:-1", "expected cluster password to be set"},
      {"127.0.0.1:6222",
       "parse \"127.0.0.1:6222\": first path segment in URL cannot contain colon"},
      {"nats://127.0.0.1", "address 127.0.0.1: missing port in address"},
      {"nats://127.0.0.1:abc", "parse \"nats://127.0.0.1:abc\": invalid port \":abc\" after host"},
      {"nats://a b:1", "parse \"nats://a b:1\": invalid character \" \" in host name"},
      {"nats://127.0.0.1:", "EOF"},
      {"nats://127.0.0.1:99999999999999999999",
       "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"},
      {"nats://127.0.0.1:-1#frag",
       "parse \"nats://127.0.0.1:-1\": invalid port \":-1\" after host"},
      {"nats://%41:-1", "parse \"nats://%41:0\": invalid URL escape \"%41\""},
      {"://127.0.0.1:-1", "parse \"://127.0.0.1:0\": missing protocol scheme"},
      {"nats://u:p%zz@127.0.0.1:-1",
       "parse \"nats://u:p%zz@127.0.0.1:0\": invalid URL escape \"%zz\""},
      {"nats://a:b:1", "address a:b:1: too many colons in address"},
      {"nats:127.0.0.1:-1", "missing port in address"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    EXPECT_EQ(Parse({"--cluster", c.url}).value_or("(no error)"), c.error);
    EXPECT_TRUE(cl_.config_error);
  }
}

TEST_F(ClusterFlags, FlagSyntaxErrors) {
  // Go's flag package: the error, then the usage (config_error unset).
  EXPECT_EQ(Parse({"--connect_retries", "x"}).value_or(""),
            "invalid value \"x\" for flag -connect_retries: parse error");
  EXPECT_FALSE(cl_.config_error);
  EXPECT_EQ(Parse({"--no_advertise=maybe"}).value_or(""),
            "invalid boolean value \"maybe\" for -no_advertise: parse error");
  EXPECT_EQ(Parse({"--cluster_listen"}).value_or(""), "flag needs an argument: -cluster_listen");
  // Flags stop at the first other argument, which may be the command "version" or "help".
  EXPECT_EQ(Parse({"frob", "--cluster", "nats://a b"}).value_or(""),
            "unrecognized command: \"frob\"");
  EXPECT_TRUE(cl_.config_error);
  EXPECT_FALSE(Parse({"--cluster_name", "x", "VERSION", "--cluster", "nats://a b"}));
  EXPECT_TRUE(cl_.show_version);
  EXPECT_FALSE(Parse({"--", "help"}));
  EXPECT_TRUE(cl_.show_help);
  // -t needs a file.
  EXPECT_EQ(Parse({"-t"}).value_or(""),
            "must specify [-c, --config] option to check configuration file syntax");
  EXPECT_TRUE(cl_.config_error);
}

TEST_F(ClusterFlags, DefaultsDerivedAfterFileAndFlags) {
  // With a port and no host: every interface.
  ASSERT_FALSE(Parse({"-c", Write("cluster { port: 6222 }")}));
  EXPECT_EQ(cluster().host, "0.0.0.0");
  EXPECT_EQ(cluster().auth_timeout, 2s);
  // Without a port the host stays empty (a reload adding the port is refused for the host).
  ASSERT_FALSE(Parse({"-c", Write("cluster { name: x }")}));
  EXPECT_EQ(cluster().host, "");
  // Route TLS: the auth timeout is the TLS timeout plus a second, unless given.
  const test::TestCerts& certs = test::Certs();
  std::string tls = "tls { cert_file: \"" + certs.server_cert + "\", key_file: \"" +
                    certs.server_key + "\", timeout: 4 }";
  ASSERT_FALSE(Parse({"-c", Write("cluster { port: 6222, " + tls + " }")}));
  EXPECT_EQ(cluster().auth_timeout, 5s);
  ASSERT_FALSE(
      Parse({"-c", Write("cluster { port: 6222, authorization { timeout: 3 }, " + tls + " }")}));
  EXPECT_EQ(cluster().auth_timeout, 3s);
  // The client's auth timeout is not the cluster's.
  EXPECT_EQ(cl_.options.auth_timeout, 2s);
}

// ---- Route URLs ----

TEST(RouteUrl, ParsedAsTheReference) {
  std::string error;
  auto url = ParseRouteUrl("  nats-route://ruser:rpass@127.0.0.1:6222  ", &error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->text, "nats-route://ruser:rpass@127.0.0.1:6222");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 6222);
  EXPECT_EQ(url->user, "ruser");
  EXPECT_EQ(url->password, "rpass");
  // What peers gossip (INFO "ip"), with its trailing slash.
  url = ParseRouteUrl("nats-route://10.0.0.7:6222/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "10.0.0.7");
  EXPECT_EQ(url->port, 6222);
  url = ParseRouteUrl("nats://[::1]:4248");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 4248);
  url = ParseRouteUrl("nats://u%40x:p%3Aw@h:1");  // escapes in the credentials
  ASSERT_TRUE(url);
  EXPECT_EQ(url->user, "u@x");
  EXPECT_EQ(url->password, "p:w");
  // Taken as the reference takes them, and failing when dialed: no port, no host.
  url = ParseRouteUrl("nats://h");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "h");
  EXPECT_EQ(url->port, 0);
  url = ParseRouteUrl("a:1");  // scheme "a", opaque "1"
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "");
  EXPECT_EQ(url->port, 0);
  EXPECT_TRUE(ParseRouteUrl(""));

  EXPECT_TRUE(ParseRouteUrl("h:1:2"));  // scheme "h", opaque "1:2"
  for (const char* bad : {"nats://a b:1", "nats://x:abc", "nats://%zz:1", "://h:1",
                          "nats://h:1\x01", "nats://[::1:2"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseRouteUrl(bad, &error));
  }
  EXPECT_FALSE(ParseRouteUrl(" nats://a b:1 ", &error));
  EXPECT_EQ(error, "error parsing route url [\"nats://a b:1\"]");
  EXPECT_FALSE(ParseRouteUrl("nats://\"a b:1", &error));
  EXPECT_EQ(error, "error parsing route url [\"nats://\\\"a b:1\"]");  // Go's %q
  EXPECT_FALSE(ParseRouteUrl("nats://a b:1", nullptr));                // the error is optional
}

TEST(RouteUrl, SameAsTheReferenceComparesThem) {
  auto same = [](const char* a, const char* b) {
    return SameRouteUrl(*ParseRouteUrl(a), *ParseRouteUrl(b));
  };
  EXPECT_TRUE(same("nats://h:1", "nats://h:1"));
  EXPECT_TRUE(same("NATS://h:1", "nats://h:1"));  // the scheme is lower-cased
  EXPECT_TRUE(same(" nats://h:1", "nats://h:1"));
  EXPECT_FALSE(same("nats://H:1", "nats://h:1"));
  EXPECT_FALSE(same("nats://h:1", "nats-route://h:1"));
  EXPECT_FALSE(same("nats://u:p@h:1", "nats://h:1"));
  EXPECT_FALSE(same("nats://h:1/", "nats://h:1"));
}

}  // namespace
}  // namespace gannet
