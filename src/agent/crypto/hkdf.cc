// HKDF-SHA-256 (RFC 5869) through OpenSSL.
#include "agent/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

namespace sdp {
namespace {

struct KdfDeleter {
  void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
};

std::string OpenSslError(const char* what) {
  char buf[256];
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return what;
  ERR_error_string_n(code, buf, sizeof(buf));
  return std::string(what) + ": " + buf;
}

bool Run(const SecretBuffer& ikm, std::string_view salt, std::string_view info, int mode,
         size_t out_len, SecretBuffer* out, std::string* err) {
  constexpr size_t kMaxOut = 255 * 32;
  if (out_len == 0 || out_len > kMaxOut) {
    *err = "HKDF-SHA256 output length must be 1.." + std::to_string(kMaxOut) + ", got " +
           std::to_string(out_len);
    return false;
  }
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) {
    *err = OpenSslError("EVP_KDF_fetch(HKDF) failed");
    return false;
  }
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) {
    *err = OpenSslError("EVP_KDF_CTX_new failed");
    return false;
  }
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads them. A non-null
  // pointer is passed even for empty strings, which some providers require.
  static char kEmpty[1] = {0};
  auto ptr = [](const void* p, size_t n) {
    return n == 0 ? static_cast<void*>(kEmpty) : const_cast<void*>(p);
  };
  char digest[] = "SHA256";
  OSSL_PARAM params[6];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ptr(ikm.data(), ikm.size()),
                                                  ikm.size());
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                  ptr(salt.data(), salt.size()), salt.size());
  if (mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    ptr(info.data(), info.size()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  SecretBuffer result(out_len);
  if (EVP_KDF_derive(ctx.get(), result.data(), result.size(), params) != 1) {
    *err = OpenSslError("HKDF-SHA256 derivation failed");
    return false;
  }
  *out = std::move(result);
  return true;
}

}  // namespace

bool HkdfSha256(const SecretBuffer& ikm, std::string_view salt, std::string_view info,
                size_t out_len, SecretBuffer* out, std::string* err) {
  return Run(ikm, salt, info, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, out_len, out, err);
}

bool HkdfSha256Extract(const SecretBuffer& ikm, std::string_view salt, SecretBuffer* prk,
                       std::string* err) {
  return Run(ikm, salt, {}, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, 32, prk, err);
}

}  // namespace sdp
