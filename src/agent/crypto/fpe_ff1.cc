// FF1 (NIST SP 800-38G) over AES-256.
#include "agent/crypto/fpe_ff1.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include <cstring>
#include <memory>

namespace sdp {
namespace {

using u128 = unsigned __int128;
constexpr u128 kTwo64 = static_cast<u128>(1) << 64;

// Byte buffer that stays on the stack for the common sizes (the fast path
// never allocates) and is wiped on destruction: it holds values derived from
// the plaintext.
class ScratchBytes {
 public:
  explicit ScratchBytes(size_t n) : size_(n) {
    if (n > sizeof(inline_)) heap_.reset(new uint8_t[n]);
    std::memset(data(), 0, n);
  }
  ~ScratchBytes() { OPENSSL_cleanse(data(), size_); }
  uint8_t* data() { return heap_ ? heap_.get() : inline_; }

 private:
  uint8_t inline_[64];
  std::unique_ptr<uint8_t[]> heap_;
  size_t size_;
};

// r ^= block, 16 bytes, as two 64-bit words (the byte loop was not vectorised).
inline void Xor16(uint8_t r[16], const uint8_t* block) {
  uint64_t a[2], b[2];
  std::memcpy(a, r, 16);
  std::memcpy(b, block, 16);
  a[0] ^= b[0];
  a[1] ^= b[1];
  std::memcpy(r, a, 16);
}

uint64_t LoadBigEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

uint32_t LoadBigEndian32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

// The FF1 round function PRF/CIPH (Algorithm 7 steps 5 and 6.i-6.iii) with
// everything that does not depend on the round precomputed: the CBC-MAC
// state after P and after the leading blocks of Q that hold only tweak and
// zero padding.
class RoundFunction {
 public:
  RoundFunction(const fpe_internal::AesEcb& aes, size_t b, size_t d)
      : aes_(aes), b_(b), d_(d), tail_(16 + b), s_((d + 15) / 16 * 16) {}

  bool Setup(uint32_t radix, size_t n, size_t u, std::string_view tweak) {
    const size_t t = tweak.size();
    uint8_t p[16] = {1,
                     2,
                     1,
                     static_cast<uint8_t>(radix >> 16),
                     static_cast<uint8_t>(radix >> 8),
                     static_cast<uint8_t>(radix),
                     10,
                     static_cast<uint8_t>(u),
                     static_cast<uint8_t>(n >> 24),
                     static_cast<uint8_t>(n >> 16),
                     static_cast<uint8_t>(n >> 8),
                     static_cast<uint8_t>(n),
                     static_cast<uint8_t>(t >> 24),
                     static_cast<uint8_t>(t >> 16),
                     static_cast<uint8_t>(t >> 8),
                     static_cast<uint8_t>(t)};
    if (!aes_.EncryptBlocks(p, y0_, 1)) return false;
    // Q = T || 0^pad || [i]^1 || [NUM(B)]^b, a multiple of 16 bytes.
    const size_t pad = (16 - (t + b_ + 1) % 16) % 16;
    const size_t round_at = t + pad;
    const size_t const_blocks = round_at / 16;
    auto q_byte = [&](size_t k) -> uint8_t { return k < t ? static_cast<uint8_t>(tweak[k]) : 0; };
    for (size_t blk = 0; blk < const_blocks; ++blk) {
      for (size_t k = 0; k < 16; ++k) y0_[k] ^= q_byte(blk * 16 + k);
      if (!aes_.EncryptBlocks(y0_, y0_, 1)) return false;
    }
    tail_len_ = round_at + 1 + b_ - const_blocks * 16;
    round_pos_ = round_at - const_blocks * 16;
    uint8_t* tail = tail_.data();
    for (size_t k = 0; k < round_pos_; ++k) tail[k] = q_byte(const_blocks * 16 + k);
    return true;
  }

  // Where the caller writes [NUM_radix(B)]^b before Run().
  uint8_t* num_bytes() { return tail_.data() + round_pos_ + 1; }

  // S for round i (first d bytes of the returned buffer).
  const uint8_t* Run(uint8_t i) {
    uint8_t* tail = tail_.data();
    tail[round_pos_] = i;
    uint8_t r[16];
    std::memcpy(r, y0_, 16);
    for (size_t off = 0; off < tail_len_; off += 16) {
      Xor16(r, tail + off);
      if (!aes_.EncryptBlocks(r, r, 1)) return nullptr;
    }
    uint8_t* s = s_.data();
    std::memcpy(s, r, 16);
    const size_t extra = (d_ + 15) / 16 - 1;
    if (extra > 0) {
      // S = R || CIPH(R ^ [1]^16) || CIPH(R ^ [2]^16) || ...; [j]^16 is j as
      // a 16-byte big-endian integer. The blocks are independent, so they go
      // to AES in one call.
      for (size_t j = 1; j <= extra; ++j) {
        uint8_t* blk = s + 16 * j;
        std::memcpy(blk, r, 16);
        for (size_t k = 0; k < 8; ++k) blk[15 - k] ^= static_cast<uint8_t>(uint64_t{j} >> (8 * k));
      }
      if (!aes_.EncryptBlocks(s + 16, s + 16, extra)) return nullptr;
    }
    OPENSSL_cleanse(r, sizeof(r));
    return s;
  }

 private:
  const fpe_internal::AesEcb& aes_;
  size_t b_, d_;
  uint8_t y0_[16];
  ScratchBytes tail_;
  ScratchBytes s_;
  size_t tail_len_ = 0;
  size_t round_pos_ = 0;
};

// ---- fast path: radix^v <= 2^64 ------------------------------------------

uint64_t NumFast(const uint16_t* x, size_t len, uint32_t radix) {
  uint64_t v = 0;
  for (size_t i = 0; i < len; ++i) v = v * radix + x[i];
  return v;
}

void StrFast(uint64_t v, uint32_t radix, uint16_t* out, size_t len) {
  if (radix == 10) {  // digits, the common case: a constant divisor compiles to a multiply
    for (size_t i = len; i-- > 0;) {
      out[i] = static_cast<uint16_t>(v % 10);
      v /= 10;
    }
    return;
  }
  for (size_t i = len; i-- > 0;) {
    out[i] = static_cast<uint16_t>(v % radix);
    v /= radix;
  }
}

void PutBigEndian(uint64_t v, uint8_t* out, size_t len) {
  for (size_t i = len; i-- > 0;) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

// radix^e if it is <= 2^64, else 0.
u128 PowUpTo2_64(uint32_t radix, size_t e) {
  u128 p = 1;
  for (size_t i = 0; i < e; ++i) {
    p *= radix;
    if (p > kTwo64) return 0;
  }
  return p;
}

size_t ByteLength(u128 x) {
  size_t n = 0;
  while (x != 0) {
    ++n;
    x >>= 8;
  }
  return n;
}

// ---- BIGNUM path ---------------------------------------------------------

struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
  void operator()(BN_CTX* p) const { BN_CTX_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

// Numerals are folded k at a time into one 64-bit word, k being the most
// numerals whose value always fits, so conversions cost one BIGNUM word
// operation per k numerals.
size_t DigitsPerWord(uint32_t radix) {
  size_t k = 0;
  u128 p = 1;
  while (p * radix <= UINT64_MAX) {
    p *= radix;
    ++k;
  }
  return k;
}

uint64_t PowWord(uint32_t radix, size_t e) {
  uint64_t p = 1;
  for (size_t i = 0; i < e; ++i) p *= radix;
  return p;
}

bool NumBig(const uint16_t* x, size_t len, uint32_t radix, BIGNUM* out) {
  const size_t k = DigitsPerWord(radix);
  BN_zero(out);
  for (size_t i = 0; i < len; i += k) {
    size_t chunk = len - i < k ? len - i : k;
    if (!BN_mul_word(out, PowWord(radix, chunk))) return false;
    if (!BN_add_word(out, NumFast(x + i, chunk, radix))) return false;
  }
  return true;
}

bool StrBig(const BIGNUM* v, uint32_t radix, uint16_t* out, size_t len) {
  const size_t k = DigitsPerWord(radix);
  BnPtr tmp(BN_dup(v));
  if (!tmp) return false;
  for (size_t end = len; end > 0;) {
    size_t chunk = end < k ? end : k;
    BN_ULONG w = BN_div_word(tmp.get(), PowWord(radix, chunk));
    if (w == static_cast<BN_ULONG>(-1)) return false;
    StrFast(w, radix, out + end - chunk, chunk);
    end -= chunk;
  }
  return true;
}

bool PowBig(uint32_t radix, size_t e, BIGNUM* out, BN_CTX* ctx) {
  BnPtr base(BN_new()), exp(BN_new());
  return base && exp && BN_set_word(base.get(), radix) && BN_set_word(exp.get(), e) &&
         BN_exp(out, base.get(), exp.get(), ctx);
}

}  // namespace

Ff1::Ff1() = default;
Ff1::~Ff1() = default;
Ff1::Ff1(Ff1&&) noexcept = default;
Ff1& Ff1::operator=(Ff1&&) noexcept = default;

bool Ff1::Init(const SecretBuffer& key, uint32_t radix, std::string* err) {
  return Init(key.data(), key.size(), radix, err);
}

bool Ff1::Init(const uint8_t* key, size_t key_len, uint32_t radix, std::string* err) {
  radix_ = 0;
  if (!fpe_internal::CheckRadix(radix, "FF1", err)) return false;
  if (!aes_.Init(key, key_len, "FF1", err)) return false;
  radix_ = radix;
  min_len_ = FpeMinLength(radix);
  return true;
}

bool Ff1::Encrypt(const std::vector<uint16_t>& in, std::string_view tweak,
                  std::vector<uint16_t>* out, std::string* err) const {
  return Crypt(true, in, tweak, out, err);
}

bool Ff1::Decrypt(const std::vector<uint16_t>& in, std::string_view tweak,
                  std::vector<uint16_t>* out, std::string* err) const {
  return Crypt(false, in, tweak, out, err);
}

bool Ff1::Crypt(bool encrypt, const std::vector<uint16_t>& in, std::string_view tweak,
                std::vector<uint16_t>* out, std::string* err) const {
  out->clear();
  const size_t n = in.size();
  if (!fpe_internal::CheckReadyAndMinLength(aes_.initialized() && radix_ != 0, n, min_len_, radix_,
                                            "FF1", err)) {
    return false;
  }
  if (n > UINT32_MAX) {
    *err = "input has " + std::to_string(n) + " numerals; FF1 allows at most 4294967295";
    return false;
  }
  if (tweak.size() > UINT32_MAX) {
    *err = "FF1 tweak longer than 4294967295 bytes";
    return false;
  }
  if (!fpe_internal::CheckNumerals(in, radix_, err)) return false;

  const size_t u = n / 2;
  const size_t v = n - u;
  const uint32_t radix = radix_;
  const u128 pow_v_fast = force_bignum_ ? 0 : PowUpTo2_64(radix, v);
  const bool fast = pow_v_fast != 0;

  static const char kInternal[] = "FF1: internal OpenSSL failure";
  std::unique_ptr<BN_CTX, BnDeleter> bn_ctx;
  BnPtr pow_u_big, pow_v_big;
  size_t b;
  if (fast) {
    b = ByteLength(pow_v_fast - 1);
  } else {
    bn_ctx.reset(BN_CTX_new());
    pow_u_big.reset(BN_new());
    pow_v_big.reset(BN_new());
    BnPtr tmp(BN_new());
    if (!bn_ctx || !pow_u_big || !pow_v_big || !tmp ||
        !PowBig(radix, u, pow_u_big.get(), bn_ctx.get()) ||
        !PowBig(radix, v, pow_v_big.get(), bn_ctx.get()) || !BN_copy(tmp.get(), pow_v_big.get()) ||
        !BN_sub_word(tmp.get(), 1)) {
      *err = kInternal;
      return false;
    }
    // b = ceil(ceil(v * log2(radix)) / 8) = byte length of radix^v - 1, in
    // exact integer arithmetic.
    b = static_cast<size_t>(BN_num_bytes(tmp.get()));
  }
  const size_t d = 4 * ((b + 3) / 4) + 4;

  RoundFunction prf(aes_, b, d);
  if (!prf.Setup(radix, n, u, tweak)) {
    *err = kInternal;
    return false;
  }
  out->resize(n);

  if (fast) {
    const u128 pow_u = PowUpTo2_64(radix, u);
    // A and B as integers; NUM_radix of each half fits in 64 bits.
    uint64_t a = NumFast(in.data(), u, radix);
    uint64_t bb = NumFast(in.data() + u, v, radix);
    for (int step = 0; step < 10; ++step) {
      const int i = encrypt ? step : 9 - step;
      PutBigEndian(encrypt ? bb : a, prf.num_bytes(), b);
      const uint8_t* s = prf.Run(static_cast<uint8_t>(i));
      if (s == nullptr) {
        out->clear();
        *err = kInternal;
        return false;
      }
      // y = NUM(S), d <= 12 bytes here: 8 or 12 (d is 4 * ceil(b / 4) + 4 and b <= 8).
      u128 y = LoadBigEndian64(s);
      if (d == 12) {
        y = y << 32 | LoadBigEndian32(s + 8);
      } else if (d != 8) {
        y = 0;
        for (size_t k = 0; k < d; ++k) y = y << 8 | s[k];
      }
      const u128 mod = (i % 2 == 0) ? pow_u : pow_v_fast;
      // A 128-bit division is a libgcc call; short inputs (d <= 8, e.g.
      // up to 19 digits) get by with a native 64-bit one.
      const u128 ym = (y < kTwo64 && mod < kTwo64)
                          ? static_cast<uint64_t>(y) % static_cast<uint64_t>(mod)
                          : y % mod;
      // Both operands are below mod, so one conditional subtraction reduces.
      u128 c = encrypt ? static_cast<u128>(a) + ym : static_cast<u128>(bb) + (mod - ym);
      if (c >= mod) c -= mod;
      if (encrypt) {
        a = bb;
        bb = static_cast<uint64_t>(c);
      } else {
        bb = a;
        a = static_cast<uint64_t>(c);
      }
    }
    StrFast(a, radix, out->data(), u);
    StrFast(bb, radix, out->data() + u, v);
    return true;
  }

  BnPtr a(BN_new()), bb(BN_new()), y(BN_new()), c(BN_new());
  bool ok = a && bb && y && c && NumBig(in.data(), u, radix, a.get()) &&
            NumBig(in.data() + u, v, radix, bb.get());
  for (int step = 0; ok && step < 10; ++step) {
    const int i = encrypt ? step : 9 - step;
    ok = BN_bn2binpad(encrypt ? bb.get() : a.get(), prf.num_bytes(), static_cast<int>(b)) >= 0;
    const uint8_t* s = ok ? prf.Run(static_cast<uint8_t>(i)) : nullptr;
    ok = s != nullptr && BN_bin2bn(s, static_cast<int>(d), y.get()) != nullptr;
    if (!ok) break;
    const BIGNUM* mod = (i % 2 == 0) ? pow_u_big.get() : pow_v_big.get();
    if (encrypt) {
      ok = BN_mod_add(c.get(), a.get(), y.get(), mod, bn_ctx.get());
      std::swap(a, bb);  // A = B
      std::swap(bb, c);  // B = C
    } else {
      ok = BN_mod_sub(c.get(), bb.get(), y.get(), mod, bn_ctx.get());
      std::swap(bb, a);  // B = A
      std::swap(a, c);   // A = C
    }
  }
  ok = ok && StrBig(a.get(), radix, out->data(), u) && StrBig(bb.get(), radix, out->data() + u, v);
  if (!ok) {
    out->clear();
    *err = kInternal;
    return false;
  }
  return true;
}

}  // namespace sdp
