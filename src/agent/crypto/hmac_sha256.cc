// The fast path uses OpenSSL's low-level SHA256_CTX, deprecated in OpenSSL 3
// but still exported. Measured with a throwaway benchmark on this project's
// 2-core box (OpenSSL 3.0.19, SHA-NI, g++ -O2, load average ~3, so +-15%),
// 20-byte messages, one core:
//   SHA256_CTX clone, bare loop          ~7.5 M MACs/s
//   HmacSha256Key::Mac (this file)       ~6.5-7 M MACs/s (also wipes the clone)
//   EVP_MD_CTX_copy_ex clone             ~3.5-4 M MACs/s (provider dupctx)
//   HMAC() one-shot                      ~0.4-0.5 M MACs/s (fetch + key setup)
// so the deprecation is suppressed here, and only here.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "agent/crypto/hmac_sha256.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

namespace sdp {

struct HmacSha256Key::State {
  SHA256_CTX inner;  // after absorbing key ^ ipad
  SHA256_CTX outer;  // after absorbing key ^ opad
  ~State() { OPENSSL_cleanse(this, sizeof(*this)); }
};

HmacSha256Key::HmacSha256Key(const SecretBuffer& key) : HmacSha256Key(key.data(), key.size()) {}

HmacSha256Key::HmacSha256Key(const uint8_t* key, size_t key_len) : state_(new State) {
  uint8_t block[SHA256_CBLOCK] = {0};
  if (key_len > SHA256_CBLOCK) {
    SHA256(key, key_len, block);
  } else if (key_len != 0) {
    std::memcpy(block, key, key_len);
  }
  uint8_t pad[SHA256_CBLOCK];
  for (size_t i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&state_->inner);
  SHA256_Update(&state_->inner, pad, sizeof(pad));
  for (size_t i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&state_->outer);
  SHA256_Update(&state_->outer, pad, sizeof(pad));
  OPENSSL_cleanse(pad, sizeof(pad));
  OPENSSL_cleanse(block, sizeof(block));
}

HmacSha256Key::~HmacSha256Key() = default;
HmacSha256Key::HmacSha256Key(HmacSha256Key&&) noexcept = default;
HmacSha256Key& HmacSha256Key::operator=(HmacSha256Key&&) noexcept = default;

void HmacSha256Key::MacParts(const std::string_view* parts, size_t count,
                             uint8_t out[kHmacSha256Size]) const {
  SHA256_CTX ctx = state_->inner;
  for (size_t i = 0; i < count; ++i) SHA256_Update(&ctx, parts[i].data(), parts[i].size());
  uint8_t inner_hash[SHA256_DIGEST_LENGTH];
  SHA256_Final(inner_hash, &ctx);
  ctx = state_->outer;
  SHA256_Update(&ctx, inner_hash, sizeof(inner_hash));
  SHA256_Final(out, &ctx);
  // The cloned states are key-equivalent (they let anyone compute MACs).
  OPENSSL_cleanse(&ctx, sizeof(ctx));
}

void HmacSha256Key::Mac(const uint8_t* data, size_t n, uint8_t out[kHmacSha256Size]) const {
  std::string_view part(reinterpret_cast<const char*>(data), n);
  MacParts(&part, 1, out);
}

void HmacSha256Key::Mac2(std::string_view prefix, std::string_view data,
                         uint8_t out[kHmacSha256Size]) const {
  std::string_view parts[2] = {prefix, data};
  MacParts(parts, 2, out);
}

std::array<uint8_t, kHmacSha256Size> HmacSha256(const uint8_t* key, size_t key_len,
                                                const uint8_t* data, size_t n) {
  // Built on the same code as the fast path so it cannot fail (EVP_Q_mac can
  // return NULL and would need an error path); the tests check both against
  // OpenSSL's HMAC().
  std::array<uint8_t, kHmacSha256Size> out;
  HmacSha256Key(key, key_len).Mac(data, n, out.data());
  return out;
}

std::array<uint8_t, kHmacSha256Size> HmacSha256(const SecretBuffer& key, std::string_view data) {
  return HmacSha256(key.data(), key.size(), reinterpret_cast<const uint8_t*>(data.data()),
                    data.size());
}

}  // namespace sdp
