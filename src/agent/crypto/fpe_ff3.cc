// FF3-1 (NIST SP 800-38G Rev. 1) over AES-256.
#include "agent/crypto/fpe_ff3.h"

#include <endian.h>
#include <openssl/crypto.h>

#include <cstring>

namespace sdp {
namespace {

using u128 = unsigned __int128;

// NUM_radix(REV(X)): X[0] is the least significant numeral.
u128 NumRev(const uint16_t* x, size_t len, uint32_t radix) {
  u128 v = 0;
  for (size_t i = len; i-- > 0;) v = v * radix + x[i];
  return v;
}

// REV(STR^len_radix(v)).
void StrRev(u128 v, uint32_t radix, uint16_t* out, size_t len) {
  if (v >> 64 == 0 && radix == 10) {
    // Digits of a value that fits a machine word (e.g. a card number's halves): a 128-bit
    // division is a library call, a 64-bit one by the constant 10 is a multiply.
    uint64_t w = static_cast<uint64_t>(v);
    for (size_t i = 0; i < len; ++i) {
      out[i] = static_cast<uint16_t>(w % 10);
      w /= 10;
    }
    return;
  }
  for (size_t i = 0; i < len; ++i) {
    out[i] = static_cast<uint16_t>(v % radix);
    v /= radix;
  }
}

u128 Pow(uint32_t radix, size_t e) {
  u128 p = 1;
  for (size_t i = 0; i < e; ++i) p *= radix;
  return p;
}

}  // namespace

size_t Ff3MaxLength(uint32_t radix) {
  if (radix < 2) return 0;
  const u128 limit = static_cast<u128>(1) << 96;
  size_t k = 0;
  u128 p = 1;
  while (p * radix <= limit) {
    p *= radix;
    ++k;
  }
  return 2 * k;
}

Ff3::Ff3() = default;
Ff3::~Ff3() = default;
Ff3::Ff3(Ff3&&) noexcept = default;
Ff3& Ff3::operator=(Ff3&&) noexcept = default;

const char* Ff3::name() const {
  return variant_ == Ff3Variant::kFf3_1 ? "FF3-1" : "FF3 (withdrawn)";
}

size_t Ff3::tweak_size() const { return variant_ == Ff3Variant::kFf3_1 ? 7 : 8; }

bool Ff3::Init(const SecretBuffer& key, uint32_t radix, std::string* err, Ff3Variant variant) {
  return Init(key.data(), key.size(), radix, err, variant);
}

bool Ff3::Init(const uint8_t* key, size_t key_len, uint32_t radix, std::string* err,
               Ff3Variant variant) {
  radix_ = 0;
  variant_ = variant;
  if (!fpe_internal::CheckRadix(radix, name(), err)) return false;
  // FF3 encrypts under REVB(K), the key with its bytes reversed.
  uint8_t reversed[32];
  const size_t n = key_len <= sizeof(reversed) ? key_len : 0;  // AesEcb rejects the length
  for (size_t i = 0; i < n; ++i) reversed[i] = key[n - 1 - i];
  const bool ok = aes_.Init(n ? reversed : key, key_len, name(), err);
  OPENSSL_cleanse(reversed, sizeof(reversed));
  if (!ok) return false;
  radix_ = radix;
  min_len_ = FpeMinLength(radix);
  max_len_ = Ff3MaxLength(radix);
  return true;
}

bool Ff3::Encrypt(const std::vector<uint16_t>& in, std::string_view tweak,
                  std::vector<uint16_t>* out, std::string* err) const {
  return Crypt(true, in, tweak, out, err);
}

bool Ff3::Decrypt(const std::vector<uint16_t>& in, std::string_view tweak,
                  std::vector<uint16_t>* out, std::string* err) const {
  return Crypt(false, in, tweak, out, err);
}

bool Ff3::Crypt(bool encrypt, const std::vector<uint16_t>& in, std::string_view tweak,
                std::vector<uint16_t>* out, std::string* err) const {
  out->clear();
  const size_t n = in.size();
  if (!fpe_internal::CheckReadyAndMinLength(aes_.initialized() && radix_ != 0, n, min_len_, radix_,
                                            name(), err)) {
    return false;
  }
  if (n > max_len_) {
    *err = "input has " + std::to_string(n) + " numerals; " + name() + " over radix " +
           std::to_string(radix_) + " allows at most " + std::to_string(max_len_) +
           " (2 * floor(log_radix(2^96)))";
    return false;
  }
  if (tweak.size() != tweak_size()) {
    *err = std::string(name()) + " tweak must be " + std::to_string(tweak_size()) + " bytes (" +
           std::to_string(8 * tweak_size()) + " bits), got " + std::to_string(tweak.size());
    return false;
  }
  if (!fpe_internal::CheckNumerals(in, radix_, err)) return false;

  const auto* t = reinterpret_cast<const uint8_t*>(tweak.data());
  uint8_t tl[4], tr[4];
  if (variant_ == Ff3Variant::kFf3_1) {
    // Rev.1: TL = T[0..27] || 0^4, TR = T[32..55] || T[28..31] || 0^4.
    tl[0] = t[0], tl[1] = t[1], tl[2] = t[2], tl[3] = t[3] & 0xF0;
    tr[0] = t[4], tr[1] = t[5], tr[2] = t[6], tr[3] = static_cast<uint8_t>((t[3] & 0x0F) << 4);
  } else {
    std::memcpy(tl, t, 4);
    std::memcpy(tr, t + 4, 4);
  }

  const uint32_t radix = radix_;
  const size_t u = (n + 1) / 2;
  const size_t v = n - u;
  const u128 pow_u = Pow(radix, u);  // <= 2^96 because n <= max_len_
  const u128 pow_v = Pow(radix, v);
  u128 a = NumRev(in.data(), u, radix);
  u128 b = NumRev(in.data() + u, v, radix);

  for (int step = 0; step < 8; ++step) {
    const int i = encrypt ? step : 7 - step;
    const bool even = i % 2 == 0;
    const uint8_t* w = even ? tr : tl;
    // P = W ^ [i]^4 || [NUM_radix(REV(B or A))]^12, then S = REVB(CIPH(REVB(P)));
    // building REVB(P) directly saves two byte reversals.
    u128 x = encrypt ? b : a;
    uint8_t revp[16];
    for (int k = 0; k < 12; ++k) {
      revp[k] = static_cast<uint8_t>(x);
      x >>= 8;
    }
    revp[12] = w[3] ^ static_cast<uint8_t>(i);
    revp[13] = w[2];
    revp[14] = w[1];
    revp[15] = w[0];
    uint8_t c_bytes[16];
    if (!aes_.EncryptBlocks(revp, c_bytes, 1)) {
      out->clear();
      *err = std::string(name()) + ": internal OpenSSL failure";
      return false;
    }
    // y = NUM(S) = NUM(REVB(c_bytes)): c_bytes read little-endian.
    uint64_t y_low, y_high;
    std::memcpy(&y_low, c_bytes, 8);
    std::memcpy(&y_high, c_bytes + 8, 8);
    const u128 y = static_cast<u128>(le64toh(y_high)) << 64 | le64toh(y_low);
    OPENSSL_cleanse(revp, sizeof(revp));
    const u128 mod = even ? pow_u : pow_v;
    const u128 ym = y % mod;
    // Both operands are below mod (<= 2^96, no overflow): one conditional subtraction reduces.
    if (encrypt) {
      u128 c = a + ym;
      if (c >= mod) c -= mod;
      a = b;
      b = c;
    } else {
      u128 c = b + (mod - ym);
      if (c >= mod) c -= mod;
      b = a;
      a = c;
    }
  }
  out->resize(n);
  StrRev(a, radix, out->data(), u);
  StrRev(b, radix, out->data() + u, v);
  return true;
}

}  // namespace sdp
