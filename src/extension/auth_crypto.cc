// PostgreSQL-free API-key cryptography; see auth_crypto.h.
#include "auth_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/base64url.h"
#include "error.h"
#include "pg_free.h"

namespace sdp::auth {

std::vector<uint8_t> RandomBytes(size_t n) {
  std::vector<uint8_t> out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    throw sdp::Error(sqlstate::kInternal, "could not generate random bytes (OpenSSL RAND_bytes)");
  }
  return out;
}

std::string NewApiKey() {
  std::vector<uint8_t> raw = RandomBytes(kKeyRandomBytes);
  std::string key =
      std::string(kKeyPrefix) + Base64UrlEncode(raw.data(), raw.size(), /*pad=*/false);
  OPENSSL_cleanse(raw.data(), raw.size());
  return key;
}

std::vector<uint8_t> KeyHash(const uint8_t* secret, size_t secret_len, std::string_view key) {
  if (secret == nullptr || secret_len != kSecretBytes) {
    throw sdp::Error(sqlstate::kObjectNotInPrerequisiteState,
                     "the server key pepper is missing or has the wrong size",
                     "sdp.auth_secret must hold exactly one 32-byte secret",
                     "reinstall the extension or restore sdp.auth_secret from a backup");
  }
  std::vector<uint8_t> out(kHashBytes);
  unsigned int out_len = 0;
  const unsigned char* ok =
      HMAC(EVP_sha256(), secret, static_cast<int>(secret_len),
           reinterpret_cast<const unsigned char*>(key.data()), key.size(), out.data(), &out_len);
  if (ok == nullptr || out_len != kHashBytes) {
    throw sdp::Error(sqlstate::kInternal, "HMAC-SHA-256 failed (OpenSSL)");
  }
  return out;
}

int MatchIndex(const std::vector<uint8_t>& computed, const std::vector<const uint8_t*>& hashes,
               const std::vector<size_t>& lens) {
  int found = 0;
  for (size_t i = 0; i < hashes.size(); ++i) {
    // Length and NULL are public facts about the stored row, not about the key.
    if (hashes[i] == nullptr || lens[i] != computed.size()) continue;
    const int equal = CRYPTO_memcmp(hashes[i], computed.data(), computed.size()) == 0;
    // Branch-free select: keep the first match, keep scanning either way.
    const int take = equal & (found == 0);
    found = take ? static_cast<int>(i + 1) : found;
  }
  return found;
}

}  // namespace sdp::auth
