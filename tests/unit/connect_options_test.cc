// Unit tests of CONNECT JSON parsing (protocol/connect_options.h).
#include "protocol/connect_options.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace gannet {
namespace {

TEST(ConnectOptionsTest, Defaults) {
  ConnectOptions o;
  EXPECT_TRUE(o.verbose);
  EXPECT_TRUE(o.pedantic);
  EXPECT_TRUE(o.echo);
  EXPECT_FALSE(o.tls_required);
  EXPECT_FALSE(o.headers);
  EXPECT_FALSE(o.no_responders);
  EXPECT_FALSE(o.new_account);
  EXPECT_EQ(o.protocol, 0);
  EXPECT_EQ(o.user, "");
  EXPECT_EQ(o.name, "");
}

TEST(ConnectOptionsTest, EmptyObjectKeepsDefaults) {
  ConnectOptions o;
  EXPECT_EQ(ParseConnectOptions("{}", o), std::nullopt);
  EXPECT_TRUE(o.verbose);
  EXPECT_TRUE(o.pedantic);
  EXPECT_TRUE(o.echo);
  EXPECT_FALSE(o.headers);
}

TEST(ConnectOptionsTest, AllFields) {
  ConnectOptions o;
  auto err = ParseConnectOptions(
      R"({"verbose":false,"pedantic":false,"tls_required":true,"echo":false,"headers":true,
          "no_responders":true,"new_account":true,"protocol":1,"auth_token":"tok",
          "user":"u","pass":"p","name":"n","lang":"go","version":"1.2.3","sig":"s",
          "jwt":"j","nkey":"k","account":"acc"})",
      o);
  ASSERT_EQ(err, std::nullopt);
  EXPECT_FALSE(o.verbose);
  EXPECT_FALSE(o.pedantic);
  EXPECT_TRUE(o.tls_required);
  EXPECT_FALSE(o.echo);
  EXPECT_TRUE(o.headers);
  EXPECT_TRUE(o.no_responders);
  EXPECT_TRUE(o.new_account);
  EXPECT_EQ(o.protocol, 1);
  EXPECT_EQ(o.auth_token, "tok");
  EXPECT_EQ(o.user, "u");
  EXPECT_EQ(o.pass, "p");
  EXPECT_EQ(o.name, "n");
  EXPECT_EQ(o.lang, "go");
  EXPECT_EQ(o.version, "1.2.3");
  EXPECT_EQ(o.sig, "s");
  EXPECT_EQ(o.jwt, "j");
  EXPECT_EQ(o.nkey, "k");
  EXPECT_EQ(o.account, "acc");
}

TEST(ConnectOptionsTest, KeysAreCaseInsensitive) {
  ConnectOptions o;
  ASSERT_EQ(ParseConnectOptions(
                R"({"VERBOSE":false,"Pedantic":false,"eChO":false,"HEADERS":true,"User":"u",)"
                R"("PASS":"p","No_Responders":true,"PROTOCOL":1})",
                o),
            std::nullopt);
  EXPECT_FALSE(o.verbose);
  EXPECT_FALSE(o.pedantic);
  EXPECT_FALSE(o.echo);
  EXPECT_TRUE(o.headers);
  EXPECT_TRUE(o.no_responders);
  EXPECT_EQ(o.user, "u");
  EXPECT_EQ(o.pass, "p");
  EXPECT_EQ(o.protocol, 1);
}

TEST(ConnectOptionsTest, UnknownKeysAreIgnored) {
  ConnectOptions o;
  ASSERT_EQ(ParseConnectOptions(R"({"foo":1,"bar":{"x":[1,2,{"y":null}]},"verbose":false,)"
                                R"("ssl_required":"whatever","tls_required2":7})",
                                o),
            std::nullopt);
  EXPECT_FALSE(o.verbose);
  EXPECT_TRUE(o.pedantic);
  EXPECT_FALSE(o.tls_required);
}

TEST(ConnectOptionsTest, NullFieldsKeepTheirValues) {
  ConnectOptions o;
  ASSERT_EQ(ParseConnectOptions(
                R"({"verbose":null,"pedantic":null,"echo":null,"user":null,"protocol":null})", o),
            std::nullopt);
  EXPECT_TRUE(o.verbose);
  EXPECT_TRUE(o.pedantic);
  EXPECT_TRUE(o.echo);
  EXPECT_EQ(o.user, "");
  EXPECT_EQ(o.protocol, 0);
  // Also when they were set before.
  o.verbose = false;
  o.user = "kept";
  o.protocol = 1;
  ASSERT_EQ(ParseConnectOptions(R"({"verbose":null,"user":null,"protocol":null})", o),
            std::nullopt);
  EXPECT_FALSE(o.verbose);
  EXPECT_EQ(o.user, "kept");
  EXPECT_EQ(o.protocol, 1);
}

TEST(ConnectOptionsTest, NullDocumentIsAccepted) {
  ConnectOptions o;
  EXPECT_EQ(ParseConnectOptions("null", o), std::nullopt);
  EXPECT_TRUE(o.verbose);
  EXPECT_TRUE(o.echo);
}

TEST(ConnectOptionsTest, FieldsLeftOutKeepEarlierValues) {
  ConnectOptions o;
  o.name = "before";
  o.headers = true;
  ASSERT_EQ(ParseConnectOptions(R"({"verbose":false})", o), std::nullopt);
  EXPECT_EQ(o.name, "before");
  EXPECT_TRUE(o.headers);
  EXPECT_FALSE(o.verbose);
}

TEST(ConnectOptionsTest, WrongTypesAreErrors) {
  for (std::string_view json :
       {R"({"verbose":"false"})", R"({"verbose":0})", R"({"pedantic":1})", R"({"echo":[]})",
        R"({"headers":{}})", R"({"tls_required":"yes"})", R"({"no_responders":0})", R"({"user":1})",
        R"({"pass":true})", R"({"name":["n"]})", R"({"auth_token":{}})", R"({"lang":false})",
        R"({"protocol":"1"})", R"({"protocol":1.5})", R"({"protocol":true})",
        R"({"VERBOSE":"x"})"}) {
    ConnectOptions o;
    auto err = ParseConnectOptions(json, o);
    ASSERT_TRUE(err.has_value()) << json;
    EXPECT_FALSE(err->empty()) << json;
  }
  // The message names the field.
  ConnectOptions o;
  auto err = ParseConnectOptions(R"({"Verbose":"x"})", o);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("verbose"), std::string::npos) << *err;
}

TEST(ConnectOptionsTest, InvalidJsonIsAnError) {
  for (std::string_view json : {"", "{", "}", "{\"verbose\":}", "{verbose:true}", "{'a':1}",
                                "{\"verbose\":false", "{\"a\":1}}", "{\"a\":1} x", "nul", "tru"}) {
    ConnectOptions o;
    auto err = ParseConnectOptions(json, o);
    ASSERT_TRUE(err.has_value()) << json;
    EXPECT_TRUE(o.verbose) << json;
  }
}

TEST(ConnectOptionsTest, NonObjectDocumentsAreErrors) {
  for (std::string_view json : {"[]", "1", "\"s\"", "true", "[{\"verbose\":false}]"}) {
    ConnectOptions o;
    auto err = ParseConnectOptions(json, o);
    ASSERT_TRUE(err.has_value()) << json;
    EXPECT_TRUE(o.verbose) << json;
  }
}

TEST(ConnectOptionsTest, ProtocolAcceptsIntegers) {
  ConnectOptions o;
  ASSERT_EQ(ParseConnectOptions(R"({"protocol":0})", o), std::nullopt);
  EXPECT_EQ(o.protocol, 0);
  ASSERT_EQ(ParseConnectOptions(R"({"protocol":2})", o), std::nullopt);
  EXPECT_EQ(o.protocol, 2);
  ASSERT_EQ(ParseConnectOptions(R"({"protocol":-1})", o), std::nullopt);
  EXPECT_EQ(o.protocol, -1);
}

TEST(ConnectOptionsTest, StringsAreUnescaped) {
  ConnectOptions o;
  ASSERT_EQ(ParseConnectOptions(R"({"name":"a\"b\\c\u00e9","pass":"p w"})", o), std::nullopt);
  EXPECT_EQ(o.name, "a\"b\\c\xc3\xa9");
  EXPECT_EQ(o.pass, "p w");
}

}  // namespace
}  // namespace gannet
