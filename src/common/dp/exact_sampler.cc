// Exact samplers (uniform, Bernoulli, Bernoulli(exp(-γ)), discrete Laplace) on random bits.
#include "common/dp/exact_sampler.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <limits>

namespace sdp::dp {
namespace {

// Iteration bounds. Each is reached with probability below 2^-100 by a correct run:
// a rejection step succeeds with probability >= 1/2 (UniformBelow), the Taylor loop of
// Algorithm 1 passes K with probability 1/K!, a run of e^-1 events of length k has probability
// e^-k, and one round of Algorithm 2 succeeds with probability >= e^-1 / 2.
constexpr int kMaxRejections = 256;
constexpr uint128 kMaxTaylorTerms = 64;
constexpr int kMaxExpMinusOneRun = 256;
constexpr int kMaxLaplaceRounds = 512;

int BitLength(uint128 v) {
  int bits = 0;
  while (v != 0) {
    ++bits;
    v >>= 1;
  }
  return bits;
}

}  // namespace

OpenSslRandomBits::~OpenSslRandomBits() { OPENSSL_cleanse(buffer_, sizeof(buffer_)); }

bool OpenSslRandomBits::Fill(uint8_t* p, size_t n, std::string* err) {
  while (n > 0) {
    if (available_ == 0) {
      if (RAND_bytes(buffer_, sizeof(buffer_)) != 1) {
        *err = "OpenSSL's random generator could not be seeded";
        return false;
      }
      available_ = sizeof(buffer_);
    }
    const size_t take = n < available_ ? n : available_;
    uint8_t* from = buffer_ + sizeof(buffer_) - available_;
    std::memcpy(p, from, take);
    OPENSSL_cleanse(from, take);  // a byte handed out is never handed out, or readable, again
    available_ -= take;
    p += take;
    n -= take;
  }
  return true;
}

bool ExactSampler::Fail(const std::string& why) {
  error_ = why;
  return false;
}

bool ExactSampler::UniformBelow(uint128 n, uint128* out) {
  if (n == 0) return Fail("UniformBelow(0): the range is empty");
  if (n == 1) {
    *out = 0;
    return true;
  }
  const int bits = BitLength(n - 1);
  const size_t bytes = static_cast<size_t>((bits + 7) / 8);
  const uint128 mask =
      bits == 128 ? ~static_cast<uint128>(0) : (static_cast<uint128>(1) << bits) - 1;
  uint8_t raw[16];
  for (int attempt = 0; attempt < kMaxRejections; ++attempt) {
    if (!bits_->Fill(raw, bytes, &error_)) return false;
    uint128 v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | raw[i];
    v &= mask;
    if (v < n) {
      *out = v;
      OPENSSL_cleanse(raw, sizeof(raw));
      return true;
    }
  }
  return Fail("uniform sampling was rejected " + std::to_string(kMaxRejections) +
              " times in a row: the random source is broken");
}

bool ExactSampler::Bernoulli(uint128 num, uint128 den, bool* out) {
  if (den == 0 || num > den) return Fail("Bernoulli(num/den) needs 0 <= num <= den, den >= 1");
  uint128 u;
  if (!UniformBelow(den, &u)) return false;
  *out = u < num;
  return true;
}

bool ExactSampler::BernoulliExpMinus(uint128 num, uint128 den, bool* out) {
  if (den == 0 || num > kMaxOperand || den > kMaxOperand) {
    return Fail("Bernoulli(exp(-num/den)) needs den >= 1 and both at most 2^119");
  }
  if (num <= den) {
    // exp(-γ) for γ in [0, 1]: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, ... until the first 0;
    // the index K of that 0 is odd with probability exactly exp(-γ).
    uint128 k = 1;
    for (;; ++k) {
      if (k > kMaxTaylorTerms) return Fail("Bernoulli(exp(-γ)) passed its iteration bound");
      bool a;
      if (!Bernoulli(num, den * k, &a)) return false;
      if (!a) break;
    }
    *out = (k % 2) == 1;
    return true;
  }
  // γ > 1: exp(-γ) = exp(-1)^floor(γ) * exp(-(γ - floor(γ))); stop at the first failure.
  const uint128 whole = num / den;
  int run = 0;
  for (uint128 i = 0; i < whole; ++i) {
    if (++run > kMaxExpMinusOneRun) return Fail("Bernoulli(exp(-γ)) passed its iteration bound");
    bool b;
    if (!BernoulliExpMinus(1, 1, &b)) return false;
    if (!b) {
      *out = false;
      return true;
    }
  }
  return BernoulliExpMinus(num % den, den, out);
}

bool ExactSampler::DiscreteLaplace(uint128 s, uint128 t, int64_t* out) {
  if (s == 0 || t == 0 || s > kMaxOperand || t > kMaxOperand) {
    return Fail("discrete Laplace needs a scale t/s with s, t >= 1 and both at most 2^119");
  }
  for (int round = 0; round < kMaxLaplaceRounds; ++round) {
    uint128 u;
    if (!UniformBelow(t, &u)) return false;
    bool d;
    if (!BernoulliExpMinus(u, t, &d)) return false;
    if (!d) continue;
    // V ~ geometric: the number of exp(-1) successes before the first failure.
    uint128 v = 0;
    for (;;) {
      if (v >= static_cast<uint128>(kMaxExpMinusOneRun)) {
        return Fail("discrete Laplace passed its iteration bound");
      }
      bool a;
      if (!BernoulliExpMinus(1, 1, &a)) return false;
      if (!a) break;
      ++v;
    }
    const uint128 x = u + t * v;  // t <= 2^119, v < 2^8: no overflow
    const uint128 y = x / s;
    bool negative;
    if (!Bernoulli(1, 2, &negative)) return false;
    if (negative && y == 0) continue;  // zero must not be counted twice
    if (y > static_cast<uint128>(std::numeric_limits<int64_t>::max())) {
      return Fail("discrete Laplace sample does not fit in 64 bits; use a larger epsilon");
    }
    *out = negative ? -static_cast<int64_t>(y) : static_cast<int64_t>(y);
    return true;
  }
  return Fail("discrete Laplace passed its iteration bound");
}

bool ExactSampler::Permutation(size_t n, size_t* order) {
  for (size_t i = 0; i < n; ++i) order[i] = i;
  for (size_t i = n; i > 1; --i) {
    uint128 j;
    if (!UniformBelow(i, &j)) return false;
    const size_t k = static_cast<size_t>(j);
    const size_t tmp = order[i - 1];
    order[i - 1] = order[k];
    order[k] = tmp;
  }
  return true;
}

}  // namespace sdp::dp
