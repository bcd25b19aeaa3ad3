// The key ring: SDP_CRYPTO_KEY decoded and split by HKDF into one subkey per purpose.
#include "agent/crypto/crypto_keys.h"

#include <openssl/crypto.h>

#include "agent/crypto/hkdf.h"
#include "agent/crypto/random.h"
#include "common/base64url.h"
#include "common/hex.h"
#include "common/text.h"

namespace sdp {
namespace {

constexpr std::string_view kSalt = "sdp-key-derivation-v1";
constexpr char kFix[] = "; fix: generate one with `sdp-agent keygen`";

}  // namespace

bool KeyRing::FromEnvValue(std::string_view value, KeyRing* out, std::string* err) {
  value = TrimAsciiSpace(value);
  SecretBuffer master;
  std::string decode_err;
  if (!Base64UrlDecode(value, &master, &decode_err)) {
    // decode_err names an offset only, never key characters.
    *err = "SDP_CRYPTO_KEY must be URL-safe base64 of exactly 32 bytes (" + decode_err + ")" + kFix;
    return false;
  }
  if (master.size() != kMasterKeySize) {
    *err = "SDP_CRYPTO_KEY must be URL-safe base64 of exactly 32 bytes (got " +
           std::to_string(master.size()) + " bytes)" + kFix;
    return false;
  }
  return FromMasterKey(master, out, err);
}

bool KeyRing::FromMasterKey(const SecretBuffer& master, KeyRing* out, std::string* err) {
  if (master.size() != kMasterKeySize) {
    *err = "master key must be exactly 32 bytes (got " + std::to_string(master.size()) + " bytes)" +
           kFix;
    return false;
  }
  KeyRing ring;
  SecretBuffer id;
  if (!HkdfSha256(master, kSalt, "sdp/vault/v1", 32, &ring.vault_key_, err) ||
      !HkdfSha256(master, kSalt, "sdp/hash/v1", 32, &ring.hash_key_, err) ||
      !HkdfSha256(master, kSalt, "sdp/fpe/v1", 32, &ring.ff1_key_, err) ||
      !HkdfSha256(master, kSalt, "sdp/fpe-ff3-1/v1", 32, &ring.ff3_1_key_, err) ||
      !HkdfSha256(master, kSalt, "sdp/key-id/v1", 4, &id, err)) {
    return false;
  }
  ring.key_id_ = HexEncode(id.data(), id.size());
  *out = std::move(ring);
  return true;
}

char KeyVersionChar(int version) {
  constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  if (version < 2 || version > KeyRing::kMaxKeyVersion) return '\0';
  return kBase62[version];
}

int KeyVersionOfChar(char c) {
  int v = 0;
  if (c >= '0' && c <= '9') {
    v = c - '0';
  } else if (c >= 'A' && c <= 'Z') {
    v = 10 + (c - 'A');
  } else if (c >= 'a' && c <= 'z') {
    v = 36 + (c - 'a');
  }
  return v >= 2 ? v : 0;
}

bool GenerateKeyString(SecretBuffer* key_text, std::string* err) {
  SecretBuffer master(KeyRing::kMasterKeySize);
  if (!RandomBytes(master.data(), master.size(), err)) return false;
  std::string encoded = Base64UrlEncode(master.data(), master.size());
  SecretBuffer text(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size());
  OPENSSL_cleanse(&encoded[0], encoded.size());  // the temporary held the key too
  *key_text = std::move(text);
  return true;
}

std::string GenerateKeyString() {
  SecretBuffer text;
  std::string err;
  if (!GenerateKeyString(&text, &err)) return std::string();
  return std::string(reinterpret_cast<const char*>(text.data()), text.size());
}

}  // namespace sdp
