// Pieces shared by FF1 and FF3-1 (NIST SP 800-38G): the AES-ECB block
// function both use as CIPH/PRF, and the Rev.1 domain rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct evp_cipher_ctx_st;

namespace sdp {

// Largest radix SP 800-38G allows (numerals are uint16_t).
constexpr uint32_t kFpeMaxRadix = 65536;
// SP 800-38G Rev.1: radix^minlen >= 1,000,000.
constexpr uint64_t kFpeMinDomain = 1000000;

// Smallest length n >= 2 with radix^n >= 1,000,000 (radix in [2, 65536]).
size_t FpeMinLength(uint32_t radix);

namespace fpe_internal {

// AES-ECB on whole 16-byte blocks through EVP. The EVP context is mutated by
// every call, so users of this class are not thread-safe.
class AesEcb {
 public:
  AesEcb();
  ~AesEcb();
  AesEcb(AesEcb&&) noexcept;
  AesEcb& operator=(AesEcb&&) noexcept;

  // key_len must be 16, 24 or 32; `algorithm` names the caller in errors.
  bool Init(const uint8_t* key, size_t key_len, const char* algorithm, std::string* err);
  bool initialized() const { return ctx_ != nullptr; }
  // out[0..16*nblocks) = AES_K(in[...]) block by block; in may equal out.
  bool EncryptBlocks(const uint8_t* in, uint8_t* out, size_t nblocks) const;

 private:
  struct CtxDeleter {
    void operator()(evp_cipher_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> ctx_;
};

// Checks radix is in [2, 65536] for `algorithm`.
bool CheckRadix(uint32_t radix, const char* algorithm, std::string* err);
// Checks that the cipher was initialised and that `n` numerals meet the NIST minimum domain
// (radix^n >= 1,000,000); the error names the algorithm, radix and minimum, never the value.
bool CheckReadyAndMinLength(bool initialized, size_t n, size_t min_len, uint32_t radix,
                            const char* algorithm, std::string* err);
// Checks every numeral is below radix. The error names the position only:
// numerals are plaintext (PII), which must not reach logs.
bool CheckNumerals(const std::vector<uint16_t>& in, uint32_t radix, std::string* err);

}  // namespace fpe_internal
}  // namespace sdp
