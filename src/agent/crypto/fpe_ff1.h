// FF1 format-preserving encryption, NIST SP 800-38G (Rev.1) Algorithms 7/8.
//
// Numerals are uint16_t values below the radix (2..65536); the caller maps
// characters to numerals (see fpe_alphabet.h). Lengths must satisfy
// radix^n >= 1,000,000 (the Rev.1 minimum domain) and n <= 2^32 - 1. The
// tweak is any byte string (< 2^32 bytes).
//
// Two arithmetic paths give identical results: a fast path in 64/128-bit
// integers when radix^ceil(n/2) <= 2^64 (e.g. radix 10 up to 38 digits, so
// every card number), and an OpenSSL BIGNUM path for everything else.
// Measured (OpenSSL 3.0.19, AES-NI, one loaded core): 16-digit card numbers
// ~1.0 M encryptions/s on the fast path vs ~0.15 M/s on the BIGNUM path; the
// 11 single-block AES calls through EVP (~35-40 ns each) dominate.
//
// Encrypt/Decrypt are const but share one EVP context: NOT thread-safe, use
// one instance per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/crypto/fpe_common.h"
#include "agent/crypto/secret_buffer.h"

namespace sdp {

class Ff1 {
 public:
  Ff1();
  ~Ff1();
  Ff1(Ff1&&) noexcept;
  Ff1& operator=(Ff1&&) noexcept;
  Ff1(const Ff1&) = delete;
  Ff1& operator=(const Ff1&) = delete;

  // key: 16, 24 or 32 bytes (AES-128/192/256). radix: 2..65536.
  bool Init(const SecretBuffer& key, uint32_t radix, std::string* err);
  bool Init(const uint8_t* key, size_t key_len, uint32_t radix, std::string* err);

  uint32_t radix() const { return radix_; }
  // Smallest accepted length: radix^min_length() >= 1,000,000.
  size_t min_length() const { return min_len_; }

  bool Encrypt(const std::vector<uint16_t>& in, std::string_view tweak, std::vector<uint16_t>* out,
               std::string* err) const;
  bool Decrypt(const std::vector<uint16_t>& in, std::string_view tweak, std::vector<uint16_t>* out,
               std::string* err) const;

  // Tests only: take the BIGNUM path even where the fast path applies, so
  // both can be checked against each other and the NIST vectors.
  void SetForceBignumPathForTesting(bool force) { force_bignum_ = force; }

 private:
  bool Crypt(bool encrypt, const std::vector<uint16_t>& in, std::string_view tweak,
             std::vector<uint16_t>* out, std::string* err) const;

  fpe_internal::AesEcb aes_;
  uint32_t radix_ = 0;
  size_t min_len_ = 0;
  bool force_bignum_ = false;
};

}  // namespace sdp
