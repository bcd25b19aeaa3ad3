// AES-256-GCM authenticated encryption (token vault values).
//
// The key schedule is set up once in Init() and kept in one EVP_CIPHER_CTX
// that every Seal/Open reuses (only the nonce is re-initialised), so an
// instance is NOT thread-safe: use one per thread. Nonces are 96 bits and
// must never repeat under one key; callers draw them with RandomBytes().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/crypto/secret_buffer.h"

struct evp_cipher_ctx_st;  // EVP_CIPHER_CTX, without pulling in <openssl/evp.h>

namespace sdp {

class AesGcm256 {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  AesGcm256();
  ~AesGcm256();
  AesGcm256(AesGcm256&&) noexcept;
  AesGcm256& operator=(AesGcm256&&) noexcept;
  AesGcm256(const AesGcm256&) = delete;
  AesGcm256& operator=(const AesGcm256&) = delete;

  // The key must be exactly 32 bytes. May be called again to re-key.
  bool Init(const SecretBuffer& key, std::string* err);
  bool Init(const uint8_t* key, size_t key_len, std::string* err);

  // *ciphertext_and_tag = ciphertext || 16-byte tag.
  bool Seal(const uint8_t nonce[kNonceSize], std::string_view aad, std::string_view plaintext,
            std::string* ciphertext_and_tag, std::string* err);
  // Inverse of Seal. On a wrong key, nonce, AAD, ciphertext or tag it returns
  // false with *err = "AES-256-GCM authentication failed: ..." and leaves
  // *plaintext empty (unauthenticated plaintext is never released).
  bool Open(const uint8_t nonce[kNonceSize], std::string_view aad,
            std::string_view ciphertext_and_tag, std::string* plaintext, std::string* err);

 private:
  struct CtxDeleter {
    void operator()(evp_cipher_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> ctx_;
};

}  // namespace sdp
