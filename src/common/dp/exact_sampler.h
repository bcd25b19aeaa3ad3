// Exact samplers for differential privacy: uniform integers, Bernoulli(p) and Bernoulli(exp(-γ))
// for rational p and γ, and the discrete Laplace distribution, after Canonne, Kamath and Steinke,
// "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1 and 2.
//
// Why exact: a floating-point Laplace sample added to a floating-point value leaks the value
// through which doubles can come out (Mironov, CCS 2012), and the later "fixed" float samplers
// fell to precision and timing attacks. Here every draw is integer arithmetic on random bits:
// no float is ever computed, rounded or added. Every loop has a bound far beyond what a correct
// run can reach (the chance of hitting one is below 2^-100); reaching it fails the draw, so a
// result is never released on a truncated distribution.
//
// PostgreSQL-free: linked into sdp.so (the privacy analytics) and tested by GoogleTest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sdp::dp {

using uint128 = unsigned __int128;

// Where random bits come from. Production draws from OpenSSL's CSPRNG; tests may use a seeded
// generator so that a statistical test always sees the same sample.
class RandomBits {
 public:
  virtual ~RandomBits() = default;
  // Fills p[0..n) with uniformly random bytes; false with *err when no randomness is available.
  virtual bool Fill(uint8_t* p, size_t n, std::string* err) = 0;
};

// OpenSSL's DRBG (RAND_bytes), read 4 KiB at a time. The buffer is wiped when refilled and on
// destruction: unused bytes would let someone who reads the memory predict the next noise.
class OpenSslRandomBits final : public RandomBits {
 public:
  OpenSslRandomBits() = default;
  ~OpenSslRandomBits() override;
  OpenSslRandomBits(const OpenSslRandomBits&) = delete;
  OpenSslRandomBits& operator=(const OpenSslRandomBits&) = delete;
  bool Fill(uint8_t* p, size_t n, std::string* err) override;

 private:
  uint8_t buffer_[4096];
  size_t available_ = 0;  // unread bytes at the end of buffer_
};

// The samplers. Each returns false when randomness fails or an iteration bound is reached, with
// error() saying which; the output is then unset and must not be used.
class ExactSampler {
 public:
  // Largest numerator or denominator the samplers accept (2^119), so that every intermediate
  // product (a denominator times an iteration count <= 64, t times a geometric count < 256)
  // fits in 128 bits.
  static constexpr uint128 kMaxOperand = static_cast<uint128>(1) << 119;

  explicit ExactSampler(RandomBits* bits) : bits_(bits) {}

  // Uniform on {0, ..., n-1}, n >= 1, by rejection from the next power of two (never modulo).
  bool UniformBelow(uint128 n, uint128* out);
  // True with probability num/den (0 <= num <= den, den >= 1).
  bool Bernoulli(uint128 num, uint128 den, bool* out);
  // True with probability exp(-num/den) (num >= 0, den >= 1). Algorithm 1.
  bool BernoulliExpMinus(uint128 num, uint128 den, bool* out);
  // Discrete Laplace with scale t/s (s, t >= 1): P(x) = (1-p)/(1+p) * p^|x|, p = exp(-s/t),
  // for every integer x. Algorithm 2. Fails if the sample does not fit in int64.
  bool DiscreteLaplace(uint128 s, uint128 t, int64_t* out);
  // A uniformly random permutation of {0, ..., n-1} into order[0..n) (Fisher-Yates).
  bool Permutation(size_t n, size_t* order);

  const std::string& error() const { return error_; }

 private:
  bool Fail(const std::string& why);

  RandomBits* bits_;
  std::string error_;
};

}  // namespace sdp::dp
