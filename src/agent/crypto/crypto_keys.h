// The agent's key hierarchy. One 32-byte master key comes from the
// environment (SDP_CRYPTO_KEY, URL-safe base64); HKDF-SHA256 derives an
// independent subkey per purpose so that, e.g., the deterministic hash
// tokens can never be used to attack the vault encryption:
//
//   salt "sdp-key-derivation-v1"
//   vault_key = HKDF(master, salt, "sdp/vault/v1", 32)   AES-256-GCM vault
//   hash_key  = HKDF(master, salt, "sdp/hash/v1", 32)    HMAC-SHA256 tokens
//   ff1_key   = HKDF(master, salt, "sdp/fpe/v1", 32)     FPE with FF1
//   ff3_1_key = HKDF(master, salt, "sdp/fpe-ff3-1/v1", 32)  FPE with FF3-1
//   key_id    = hex(HKDF(master, salt, "sdp/key-id/v1", 4))
//
// FF1 and FF3-1 have their own subkeys so that a weakness found in one (FF3 was withdrawn
// after attacks, and NIST's 2025 draft proposes withdrawing FF3-1) reveals nothing about data
// encrypted with the other. FF1 kept the subkey both used to share, so FF1 tokens did not change
// when FF3-1 got its own (FF3-1 tokens did).
//
// key_id is public: it is stored next to tokens to detect a key mismatch
// without revealing anything about the key.
//
// A KeyRing is ONE master key's subkeys plus its key version (1 for the key a deployment started
// with, +1 per rotation; assigned by the key ring file, key_ring_file.h). HASH and RANDOM tokens
// of version >= 2 carry the version as one base62 character after the type letter
// (docs/key_rotation.md); version 1 tokens are unchanged.
#pragma once

#include <string>
#include <string_view>

#include "agent/crypto/secret_buffer.h"

namespace sdp {

class KeyRing {
 public:
  static constexpr size_t kMasterKeySize = 32;

  // Parses the SDP_CRYPTO_KEY value (surrounding ASCII whitespace, such as
  // the newline of a key file, is ignored) and derives the subkeys. Errors
  // never contain the value.
  static bool FromEnvValue(std::string_view sdp_crypto_key, KeyRing* out, std::string* err);
  // Same from raw master key bytes (exactly 32).
  static bool FromMasterKey(const SecretBuffer& master, KeyRing* out, std::string* err);

  const SecretBuffer& vault_key() const { return vault_key_; }
  const SecretBuffer& hash_key() const { return hash_key_; }
  const SecretBuffer& ff1_key() const { return ff1_key_; }
  const SecretBuffer& ff3_1_key() const { return ff3_1_key_; }
  // 8 lowercase hex characters.
  const std::string& key_id() const { return key_id_; }
  // 1..kMaxKeyVersion; 1 unless a key ring file says otherwise.
  int version() const { return version_; }
  void set_version(int version) { version_ = version; }

  // Versions a token can name with one base62 character (2..61; 1 has no character).
  static constexpr int kMaxKeyVersion = 61;

 private:
  SecretBuffer vault_key_;
  SecretBuffer hash_key_;
  SecretBuffer ff1_key_;
  SecretBuffer ff3_1_key_;
  std::string key_id_;
  int version_ = 1;
};

// The base62 digit of a key version in 2..61 ('2'..'9', 'A'..'Z', 'a'..'z'), or '\0' for any
// other version (1 has none).
char KeyVersionChar(int version);
// The version a base62 digit names (2..61), or 0 when `c` names none ('0', '1', any other byte).
int KeyVersionOfChar(char c);

// A fresh random master key as URL-safe base64 (44 characters, padded), for
// `sdp-agent keygen`. Returns "" only if the system RNG fails.
std::string GenerateKeyString();
// Same, into a SecretBuffer (no unwiped copies); false with *err on RNG
// failure.
bool GenerateKeyString(SecretBuffer* key_text, std::string* err);

}  // namespace sdp
