#include <gtest/gtest.h>

#include "auth/nkey.h"
#include "auth/password.h"

namespace gannet {
namespace {

using nkey::Prefix;

// A seed and the user key it makes, from the reference's own tests
// (server/config_check_test.go).
constexpr const char* kSeed = "SUAEL6RU3BSDAFKOHNTEOK5Q6FTM5FTAMWVIKBET6FHPO4JRII3CYELVNM";
constexpr const char* kUser = "UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3";

TEST(Nkey, ReferenceSeedMakesReferenceUserKey) {
  auto seed = nkey::DecodeSeed(kSeed);
  ASSERT_TRUE(seed.has_value());
  EXPECT_EQ(seed->first, Prefix::kUser);
  auto pub = nkey::PublicFromSeed(seed->second);
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(nkey::EncodePublic(Prefix::kUser, *pub), kUser);
  EXPECT_EQ(nkey::EncodeSeed(Prefix::kUser, seed->second), kSeed);
  auto decoded = nkey::DecodePublic(kUser, Prefix::kUser);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, *pub);
}

TEST(Nkey, RejectsBadKeys) {
  EXPECT_FALSE(nkey::DecodePublic(kUser, Prefix::kAccount));  // wrong type
  std::string bad = kUser;
  bad[10] = bad[10] == 'A' ? 'B' : 'A';  // checksum no longer matches
  EXPECT_FALSE(nkey::DecodePublic(bad, Prefix::kUser));
  EXPECT_FALSE(nkey::DecodePublic(std::string(kUser) + "A", Prefix::kUser));
  EXPECT_FALSE(nkey::DecodePublic("ucarks2e3kvb7yorl2dg34xlt7pucol2svm7yxv6ethlw6z46uuj2vz3",
                                  Prefix::kUser));
  EXPECT_FALSE(nkey::DecodePublic("", Prefix::kUser));
  // The reference's test of a seed given where a public key belongs.
  EXPECT_FALSE(nkey::DecodePublic("SCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3",
                                  Prefix::kUser));
  EXPECT_FALSE(nkey::DecodeSeed(kUser));
}

TEST(Nkey, SignedNonceVerifies) {
  auto seed = nkey::DecodeSeed(kSeed);
  ASSERT_TRUE(seed.has_value());
  auto pub = *nkey::PublicFromSeed(seed->second);
  std::string nonce = nkey::NewNonce();
  EXPECT_EQ(nonce.size(), 15u);
  auto sig = nkey::Sign(seed->second, nonce);
  ASSERT_TRUE(sig.has_value());
  std::string url = nkey::EncodeBase64Url(*sig);  // what clients send
  EXPECT_EQ(url.size(), 86u);
  EXPECT_TRUE(nkey::VerifySignature(pub, nonce, url));
  EXPECT_FALSE(nkey::VerifySignature(pub, nonce + "x", url));
  EXPECT_FALSE(nkey::VerifySignature(pub, nonce, url.substr(1)));
  EXPECT_FALSE(nkey::VerifySignature(pub, nonce, ""));
  // Standard, padded base64 is accepted too.
  std::string std_b64 = url;
  for (char& c : std_b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  std_b64 += "==";
  EXPECT_TRUE(nkey::VerifySignature(pub, nonce, std_b64));
  EXPECT_NE(nkey::NewNonce(), nonce);
}

TEST(Nkey, Base64) {
  EXPECT_EQ(nkey::EncodeBase64Url("\xfb\xff"), "-_8");
  EXPECT_EQ(nkey::DecodeBase64("-_8", true, false), std::string("\xfb\xff"));
  EXPECT_EQ(nkey::DecodeBase64("+/8=", false, true), std::string("\xfb\xff"));
  EXPECT_FALSE(nkey::DecodeBase64("-_9", true, false));  // non-canonical tail bits
  EXPECT_FALSE(nkey::DecodeBase64("a", true, false));
  EXPECT_FALSE(nkey::DecodeBase64("+/8", false, true));  // padding missing
}

TEST(Password, PlainAndBcrypt) {
  EXPECT_TRUE(auth::PasswordMatches("s3cr3t", "s3cr3t"));
  EXPECT_FALSE(auth::PasswordMatches("s3cr3t", "s3cr3"));
  EXPECT_FALSE(auth::PasswordMatches("s3cr3t", ""));
  // Hashes made by Go's bcrypt, from the reference's tests (test/auth_test.go,
  // test/client_auth_test.go): libcrypt must agree with them.
  const char* hash = "$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq";
  EXPECT_TRUE(auth::IsBcrypt(hash));
  EXPECT_TRUE(auth::PasswordMatches(hash, "IW@$6v(y1(t@fhPDvf!5^%"));
  EXPECT_FALSE(auth::PasswordMatches(hash, "IW@$6v(y1(t@fhPDvf!5^"));
  EXPECT_FALSE(auth::PasswordMatches(hash, hash));  // the hash itself is no password
  EXPECT_TRUE(auth::PasswordMatches("$2a$04$u5ZClXpcjHgpfc61Ee0VKuwI1K3vTC4zq7SjphjnlHMeb1Llkb5Y6",
                                    "0uhJOSr3GW7xvHvtd^K6pa"));
  EXPECT_TRUE(auth::PasswordMatches("$2a$05$3sSWEVA1eMCbV0hWavDjXOx.ClBjI6u1CuUdLqf22cbJjXsnzz8/.",
                                    "test"));
  // And one made by libxcrypt itself ($2b$), a NUL never matches.
  const char* b = "$2b$04$abcdefghijklmnopqrstuu35fBIWlNgF8BcAW/t2cO158N8svSFHy";
  EXPECT_TRUE(auth::PasswordMatches(b, "s3cr3t"));
  EXPECT_FALSE(auth::PasswordMatches(b, std::string("s3cr3t\0x", 8)));
  // The $2a$ and $2y$ variants name the same algorithm.
  std::string a = hash;
  a[2] = 'a';
  EXPECT_TRUE(auth::IsBcrypt(a));
  EXPECT_FALSE(auth::IsBcrypt("$1$abc$def"));
  EXPECT_FALSE(auth::PasswordMatches("$2b$04$broken", "x"));
}

}  // namespace
}  // namespace gannet
