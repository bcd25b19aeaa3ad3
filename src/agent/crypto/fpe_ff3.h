// FF3-1 format-preserving encryption, NIST SP 800-38G Rev.1 Algorithms 9/10.
//
// Prefer FF1 (fpe_ff1.h) for new data. FF3-1 exists for interoperability; it
// has a 56-bit tweak only, and NIST's 2025 second public draft of Rev.1
// proposes to drop it altogether after further cryptanalysis.
//
// Numerals are uint16_t values below the radix (2..65536). Lengths must
// satisfy radix^n >= 1,000,000 and n <= 2 * floor(log_radix(2^96)); the
// tweak is exactly 7 bytes, expanded as TL = t0 t1 t2 (t3 & 0xF0),
// TR = t4 t5 t6 ((t3 & 0x0F) << 4).
//
// Every intermediate value is below 2^128 (radix^ceil(n/2) <= 2^96), so FF3
// needs no bignum arithmetic.
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

enum class Ff3Variant {
  // SP 800-38G Rev.1 FF3-1: 56-bit (7-byte) tweak. The only variant for data.
  kFf3_1,
  // The withdrawn 2016 FF3 with a 64-bit (8-byte) tweak, broken by
  // Durak-Vaudenay (2017) and Beyne (2021). Kept ONLY to check NIST's
  // published FF3 sample vectors; never use it on data.
  kWithdrawnFf3ForTestVectorsOnly,
};

class Ff3 {
 public:
  Ff3();
  ~Ff3();
  Ff3(Ff3&&) noexcept;
  Ff3& operator=(Ff3&&) noexcept;
  Ff3(const Ff3&) = delete;
  Ff3& operator=(const Ff3&) = delete;

  // key: 16, 24 or 32 bytes. radix: 2..65536.
  bool Init(const SecretBuffer& key, uint32_t radix, std::string* err,
            Ff3Variant variant = Ff3Variant::kFf3_1);
  bool Init(const uint8_t* key, size_t key_len, uint32_t radix, std::string* err,
            Ff3Variant variant = Ff3Variant::kFf3_1);

  uint32_t radix() const { return radix_; }
  size_t min_length() const { return min_len_; }
  // 2 * floor(log_radix(2^96)).
  size_t max_length() const { return max_len_; }
  // 7 for FF3-1, 8 for the withdrawn FF3.
  size_t tweak_size() const;

  bool Encrypt(const std::vector<uint16_t>& in, std::string_view tweak, std::vector<uint16_t>* out,
               std::string* err) const;
  bool Decrypt(const std::vector<uint16_t>& in, std::string_view tweak, std::vector<uint16_t>* out,
               std::string* err) const;

 private:
  bool Crypt(bool encrypt, const std::vector<uint16_t>& in, std::string_view tweak,
             std::vector<uint16_t>* out, std::string* err) const;
  const char* name() const;

  fpe_internal::AesEcb aes_;  // keyed with REVB(K)
  Ff3Variant variant_ = Ff3Variant::kFf3_1;
  uint32_t radix_ = 0;
  size_t min_len_ = 0;
  size_t max_len_ = 0;
};

// 2 * floor(log_radix(2^96)) for radix in [2, 65536], computed exactly.
size_t Ff3MaxLength(uint32_t radix);

}  // namespace sdp
