// AES-256-GCM sealing and opening through OpenSSL (vault entries, RANDOM-with-vault).
#include "agent/crypto/aes_gcm.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>

namespace sdp {
namespace {

std::string OpenSslError(const char* what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return what;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return std::string(what) + ": " + buf;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

void AesGcm256::CtxDeleter::operator()(evp_cipher_ctx_st* ctx) const {
  EVP_CIPHER_CTX_free(ctx);  // the provider wipes the key schedule
}

AesGcm256::AesGcm256() = default;
AesGcm256::~AesGcm256() = default;
AesGcm256::AesGcm256(AesGcm256&&) noexcept = default;
AesGcm256& AesGcm256::operator=(AesGcm256&&) noexcept = default;

bool AesGcm256::Init(const SecretBuffer& key, std::string* err) {
  return Init(key.data(), key.size(), err);
}

bool AesGcm256::Init(const uint8_t* key, size_t key_len, std::string* err) {
  ctx_.reset();
  if (key_len != kKeySize) {
    *err = "AES-256-GCM key must be 32 bytes, got " + std::to_string(key_len);
    return false;
  }
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) {
    *err = OpenSslError("EVP_CIPHER_CTX_new failed");
    return false;
  }
  // Default 12-byte IV length; the nonce comes per call.
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, nullptr) != 1) {
    *err = OpenSslError("AES-256-GCM key setup failed");
    return false;
  }
  ctx_ = std::move(ctx);
  return true;
}

bool AesGcm256::Seal(const uint8_t nonce[kNonceSize], std::string_view aad,
                     std::string_view plaintext, std::string* ciphertext_and_tag,
                     std::string* err) {
  ciphertext_and_tag->clear();
  if (!ctx_) {
    *err = "AES-256-GCM used before Init";
    return false;
  }
  if (plaintext.size() > static_cast<size_t>(INT_MAX) - kTagSize || aad.size() > INT_MAX) {
    *err = "AES-256-GCM input too large";
    return false;
  }
  EVP_CIPHER_CTX* ctx = ctx_.get();
  // cipher and key NULL: keep the key schedule, set only the nonce.
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, 1) != 1) {
    *err = OpenSslError("AES-256-GCM nonce setup failed");
    return false;
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    *err = OpenSslError("AES-256-GCM AAD failed");
    return false;
  }
  // Written in place: a caller sealing many values reuses one buffer (no allocation per value).
  std::string& out = *ciphertext_and_tag;
  out.resize(plaintext.size() + kTagSize);
  auto* o = reinterpret_cast<unsigned char*>(&out[0]);
  int total = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx, o, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) !=
        1) {
      out.clear();
      *err = OpenSslError("AES-256-GCM encryption failed");
      return false;
    }
    total = len;
  }
  if (EVP_EncryptFinal_ex(ctx, o + total, &len) != 1) {
    out.clear();
    *err = OpenSslError("AES-256-GCM encryption failed");
    return false;
  }
  total += len;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, o + total) != 1) {
    out.clear();
    *err = OpenSslError("AES-256-GCM tag failed");
    return false;
  }
  out.resize(static_cast<size_t>(total) + kTagSize);
  return true;
}

bool AesGcm256::Open(const uint8_t nonce[kNonceSize], std::string_view aad,
                     std::string_view ciphertext_and_tag, std::string* plaintext,
                     std::string* err) {
  plaintext->clear();
  if (!ctx_) {
    *err = "AES-256-GCM used before Init";
    return false;
  }
  if (ciphertext_and_tag.size() < kTagSize) {
    *err = "AES-256-GCM authentication failed: input of " +
           std::to_string(ciphertext_and_tag.size()) + " bytes is shorter than the 16-byte tag";
    return false;
  }
  if (ciphertext_and_tag.size() > INT_MAX || aad.size() > INT_MAX) {
    *err = "AES-256-GCM input too large";
    return false;
  }
  std::string_view ct = ciphertext_and_tag.substr(0, ciphertext_and_tag.size() - kTagSize);
  std::string_view tag = ciphertext_and_tag.substr(ct.size());
  EVP_CIPHER_CTX* ctx = ctx_.get();
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, 0) != 1) {
    *err = OpenSslError("AES-256-GCM nonce setup failed");
    return false;
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    *err = OpenSslError("AES-256-GCM AAD failed");
    return false;
  }
  std::string out(ct.size(), '\0');
  auto* o = reinterpret_cast<unsigned char*>(&out[0]);
  int total = 0;
  if (!ct.empty()) {
    if (EVP_DecryptUpdate(ctx, o, &len, Bytes(ct), static_cast<int>(ct.size())) != 1) {
      *err = OpenSslError("AES-256-GCM decryption failed");
      return false;
    }
    total = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, const_cast<char*>(tag.data())) !=
      1) {
    *err = OpenSslError("AES-256-GCM tag setup failed");
    return false;
  }
  if (EVP_DecryptFinal_ex(ctx, o + total, &len) != 1) {
    ERR_clear_error();
    OPENSSL_cleanse(&out[0], out.size());  // unauthenticated plaintext
    *err =
        "AES-256-GCM authentication failed: wrong key, nonce or associated data, or the "
        "ciphertext or tag was modified";
    return false;
  }
  out.resize(static_cast<size_t>(total + len));
  *plaintext = std::move(out);
  return true;
}

}  // namespace sdp
