// NKEYs: Ed25519 public keys in NATS's text form (base32 of a type prefix byte, the 32-byte key
// and a CRC16 checksum; "U..." for users), and the signed-nonce check of CONNECT's "sig".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gannet::nkey {

// Type prefix bytes, as the reference's nkeys package defines them (the first base32
// character they give is in the comment).
enum class Prefix : uint8_t {
  kAccount = 0,         // 'A'
  kCluster = 2 << 3,    // 'C'
  kServer = 13 << 3,    // 'N'
  kOperator = 14 << 3,  // 'O'
  kPrivate = 15 << 3,   // 'P'
  kSeed = 18 << 3,      // 'S'
  kUser = 20 << 3,      // 'U'
};

using PublicKey = std::array<uint8_t, 32>;
using SeedBytes = std::array<uint8_t, 32>;

// CRC16/XMODEM, as the nkeys checksum.
uint16_t Crc16(const uint8_t* data, size_t len);

// Decodes an encoded public key of the given type; nullopt if the text is not base32, has the
// wrong length, prefix or checksum.
std::optional<PublicKey> DecodePublic(std::string_view encoded, Prefix type);
std::string EncodePublic(Prefix type, const PublicKey& key);
// A seed ("S" + the type of key it makes, e.g. "SU..." for a user): the Ed25519 seed and type.
std::optional<std::pair<Prefix, SeedBytes>> DecodeSeed(std::string_view encoded);
std::string EncodeSeed(Prefix type, const SeedBytes& seed);

// The public key an Ed25519 seed makes.
std::optional<PublicKey> PublicFromSeed(const SeedBytes& seed);
// Signs with an Ed25519 seed (for tests and clients); 64 bytes.
std::optional<std::string> Sign(const SeedBytes& seed, std::string_view message);

// Checks CONNECT's "sig" over the nonce the server sent: `sig` is base64url without padding
// (what clients send) or standard base64, as the reference accepts both.
bool VerifySignature(const PublicKey& key, std::string_view nonce, std::string_view sig);

// A fresh nonce for INFO: 11 random bytes as unpadded base64url (15 characters).
std::string NewNonce();

// Base64 helpers the checks need (exposed for tests).
std::optional<std::string> DecodeBase64(std::string_view s, bool url_alphabet, bool padded);
std::string EncodeBase64Url(std::string_view bytes);

}  // namespace gannet::nkey
