// Arithmetic and validation shared by FF1 and FF3-1 (radix, lengths, numeral strings).
#include "agent/crypto/fpe_common.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>

namespace sdp {

size_t FpeMinLength(uint32_t radix) {
  if (radix < 2) return 0;
  size_t n = 1;
  uint64_t domain = radix;
  while (n < 2 || domain < kFpeMinDomain) {
    domain *= radix;  // cannot overflow: stops before exceeding 65536 * 1e6
    ++n;
  }
  return n;
}

namespace fpe_internal {

void AesEcb::CtxDeleter::operator()(evp_cipher_ctx_st* ctx) const { EVP_CIPHER_CTX_free(ctx); }

AesEcb::AesEcb() = default;
AesEcb::~AesEcb() = default;
AesEcb::AesEcb(AesEcb&&) noexcept = default;
AesEcb& AesEcb::operator=(AesEcb&&) noexcept = default;

bool AesEcb::Init(const uint8_t* key, size_t key_len, const char* algorithm, std::string* err) {
  ctx_.reset();
  const EVP_CIPHER* cipher = nullptr;
  switch (key_len) {
    case 16:
      cipher = EVP_aes_128_ecb();
      break;
    case 24:
      cipher = EVP_aes_192_ecb();
      break;
    case 32:
      cipher = EVP_aes_256_ecb();
      break;
    default:
      *err = std::string(algorithm) + " key must be 16, 24 or 32 bytes, got " +
             std::to_string(key_len);
      return false;
  }
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    ERR_clear_error();
    *err = std::string(algorithm) + ": AES key setup failed";
    return false;
  }
  ctx_ = std::move(ctx);
  return true;
}

bool AesEcb::EncryptBlocks(const uint8_t* in, uint8_t* out, size_t nblocks) const {
  while (nblocks > 0) {
    size_t chunk = nblocks > INT_MAX / 16 ? INT_MAX / 16 : nblocks;
    int len = 0;
    if (EVP_EncryptUpdate(ctx_.get(), out, &len, in, static_cast<int>(chunk * 16)) != 1 ||
        len != static_cast<int>(chunk * 16)) {
      ERR_clear_error();
      return false;
    }
    in += chunk * 16;
    out += chunk * 16;
    nblocks -= chunk;
  }
  return true;
}

bool CheckRadix(uint32_t radix, const char* algorithm, std::string* err) {
  if (radix < 2 || radix > kFpeMaxRadix) {
    *err = std::string(algorithm) + " radix must be 2..65536, got " + std::to_string(radix);
    return false;
  }
  return true;
}

bool CheckReadyAndMinLength(bool initialized, size_t n, size_t min_len, uint32_t radix,
                            const char* algorithm, std::string* err) {
  if (!initialized) {
    *err = std::string(algorithm) + " used before Init";
    return false;
  }
  if (n < min_len) {
    *err = "input has " + std::to_string(n) + " numerals; " + algorithm + " over radix " +
           std::to_string(radix) + " needs at least " + std::to_string(min_len) +
           " (NIST SP 800-38G minimum domain radix^n >= 1000000)";
    return false;
  }
  return true;
}

bool CheckNumerals(const std::vector<uint16_t>& in, uint32_t radix, std::string* err) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] >= radix) {
      *err = "numeral at position " + std::to_string(i) + " is not below the radix " +
             std::to_string(radix);
      return false;
    }
  }
  return true;
}

}  // namespace fpe_internal
}  // namespace sdp
