#include "auth/nkey.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace gannet::nkey {

namespace {

constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string Base32Encode(const uint8_t* data, size_t len) {
  std::string out;
  out.reserve((len * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
  return out;
}

// Unpadded standard base32; nullopt on a character outside the alphabet or leftover bits
// that are not zero (a non-canonical encoding).
std::optional<std::string> Base32Decode(std::string_view s) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : s) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// Appends the checksum (little endian) and base32-encodes.
std::string Finish(std::string raw) {
  uint16_t crc = Crc16(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
  raw += static_cast<char>(crc & 0xff);
  raw += static_cast<char>(crc >> 8);
  return Base32Encode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

// Decodes and checks the checksum; returns the bytes before it.
std::optional<std::string> Open(std::string_view encoded) {
  auto raw = Base32Decode(encoded);
  if (!raw || raw->size() < 3) return std::nullopt;
  size_t n = raw->size() - 2;
  uint16_t want = static_cast<uint16_t>(static_cast<uint8_t>((*raw)[n]) |
                                        (static_cast<uint8_t>((*raw)[n + 1]) << 8));
  if (Crc16(reinterpret_cast<const uint8_t*>(raw->data()), n) != want) return std::nullopt;
  raw->resize(n);
  return raw;
}

bool IsPublicPrefix(uint8_t b) {
  switch (static_cast<Prefix>(b)) {
    case Prefix::kAccount:
    case Prefix::kCluster:
    case Prefix::kServer:
    case Prefix::kOperator:
    case Prefix::kUser:
      return true;
    default:
      return false;
  }
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

}  // namespace

uint16_t Crc16(const uint8_t* data, size_t len) {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; ++i) {
    crc ^= static_cast<uint16_t>(data[i]) << 8;
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::optional<PublicKey> DecodePublic(std::string_view encoded, Prefix type) {
  auto raw = Open(encoded);
  if (!raw || raw->size() != 33 || static_cast<uint8_t>((*raw)[0]) != static_cast<uint8_t>(type)) {
    return std::nullopt;
  }
  PublicKey key;
  std::copy(raw->begin() + 1, raw->end(), key.begin());
  return key;
}

std::string EncodePublic(Prefix type, const PublicKey& key) {
  std::string raw(1, static_cast<char>(type));
  raw.append(reinterpret_cast<const char*>(key.data()), key.size());
  return Finish(std::move(raw));
}

std::optional<std::pair<Prefix, SeedBytes>> DecodeSeed(std::string_view encoded) {
  auto raw = Open(encoded);
  if (!raw || raw->size() != 34) return std::nullopt;
  auto b1 = static_cast<uint8_t>((*raw)[0]);
  auto b2 = static_cast<uint8_t>((*raw)[1]);
  // The seed prefix and the key type share the first two bytes, 5 bits at a time.
  if ((b1 & 0xf8) != static_cast<uint8_t>(Prefix::kSeed)) return std::nullopt;
  auto type = static_cast<uint8_t>(((b1 & 7) << 5) | ((b2 & 0xf8) >> 3));
  if (!IsPublicPrefix(type)) return std::nullopt;
  SeedBytes seed;
  std::copy(raw->begin() + 2, raw->end(), seed.begin());
  return std::make_pair(static_cast<Prefix>(type), seed);
}

std::string EncodeSeed(Prefix type, const SeedBytes& seed) {
  auto t = static_cast<uint8_t>(type);
  std::string raw;
  raw += static_cast<char>(static_cast<uint8_t>(Prefix::kSeed) | (t >> 5));
  raw += static_cast<char>((t & 31) << 3);
  raw.append(reinterpret_cast<const char*>(seed.data()), seed.size());
  return Finish(std::move(raw));
}

std::optional<PublicKey> PublicFromSeed(const SeedBytes& seed) {
  Pkey pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return std::nullopt;
  PublicKey key;
  size_t len = key.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), key.data(), &len) != 1 || len != key.size()) {
    return std::nullopt;
  }
  return key;
}

std::optional<std::string> Sign(const SeedBytes& seed, std::string_view message) {
  Pkey pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return std::nullopt;
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return std::nullopt;
  }
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return std::nullopt;
  }
  sig.resize(len);
  return sig;
}

bool VerifySignature(const PublicKey& key, std::string_view nonce, std::string_view sig) {
  auto raw = DecodeBase64(sig, /*url_alphabet=*/true, /*padded=*/false);
  if (!raw) raw = DecodeBase64(sig, /*url_alphabet=*/false, /*padded=*/true);
  if (!raw || raw->size() != 64) return false;
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(raw->data()),
                          raw->size(), reinterpret_cast<const unsigned char*>(nonce.data()),
                          nonce.size()) == 1;
}

std::string NewNonce() {
  unsigned char raw[11];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    // The CSPRNG cannot fail on Linux once seeded; fall back to the kernel's directly.
    arc4random_buf(raw, sizeof(raw));
  }
  return EncodeBase64Url(std::string_view(reinterpret_cast<char*>(raw), sizeof(raw)));
}

std::optional<std::string> DecodeBase64(std::string_view s, bool url_alphabet, bool padded) {
  auto value = [&](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (url_alphabet ? '-' : '+')) return 62;
    if (c == (url_alphabet ? '_' : '/')) return 63;
    return -1;
  };
  if (padded) {
    if (s.size() % 4 != 0) return std::nullopt;
    size_t pad = 0;
    while (pad < 2 && !s.empty() && s.back() == '=') {
      s.remove_suffix(1);
      ++pad;
    }
  }
  if (s.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : s) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

std::string EncodeBase64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(buffer >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 63];
  return out;
}

}  // namespace gannet::nkey
