// Test support for the differential privacy samplers: a seeded random source (so a statistical
// test always sees the same sample and cannot flake), χ² against an exact pmf, and the textbook
// floating-point Laplace sampler with Mironov's reachability check.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/dp/exact_sampler.h"

namespace sdp::dp {

class SeededBits final : public RandomBits {
 public:
  explicit SeededBits(uint64_t seed) : gen_(seed) {}
  bool Fill(uint8_t* p, size_t n, std::string*) override {
    while (n > 0) {
      const uint64_t v = gen_();
      const size_t take = n < 8 ? n : 8;
      std::memcpy(p, &v, take);
      p += take;
      n -= take;
    }
    return true;
  }

 private:
  std::mt19937_64 gen_;
};

inline double ChiSquare(const std::vector<double>& observed, const std::vector<double>& expected) {
  double chi = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double d = observed[i] - expected[i];
    chi += d * d / expected[i];
  }
  return chi;
}

// The χ² value exceeded with probability about 10^-6 for `df` degrees of freedom
// (Wilson-Hilferty), so a correct sampler fails a fixed-seed test essentially never.
inline double ChiSquareCritical(size_t df) {
  const double k = static_cast<double>(df), z = 4.753;
  const double a = 2.0 / (9.0 * k);
  return k * std::pow(1 - a + z * std::sqrt(a), 3);
}

// P(X = x) for the discrete Laplace of scale b: (1-p)/(1+p) p^|x|, p = exp(-1/b).
inline std::function<double(int64_t)> DiscreteLaplacePmf(double scale) {
  const double p = std::exp(-1.0 / scale);
  return [p](int64_t x) { return (1 - p) / (1 + p) * std::pow(p, std::fabs(double(x))); };
}

// Bins the symmetric range around 0 where every expected count is >= 20, and the two tails.
inline void BinAgainstPmf(const std::map<int64_t, double>& counts,
                          const std::function<double(int64_t)>& pmf, int draws,
                          std::vector<double>* observed, std::vector<double>* expected) {
  int64_t k = 0;
  while (pmf(k + 1) * draws >= 20) ++k;
  double inside = 0, inside_mass = 0;
  for (int64_t x = -k; x <= k; ++x) {
    auto it = counts.find(x);
    const double o = it == counts.end() ? 0 : it->second;
    observed->push_back(o);
    expected->push_back(pmf(x) * draws);
    inside += o;
    inside_mass += pmf(x);
  }
  observed->push_back(draws - inside);  // both tails together
  expected->push_back((1 - inside_mass) * draws);
  if (expected->back() < 5) {  // tails too thin to test: fold them into the outermost bins
    observed->pop_back();
    expected->pop_back();
  }
}

// The textbook sampler: x + b * sign * (-ln u), u uniform on the doubles k / 2^53.
inline double NaiveFloatLaplace(double x, double b, std::mt19937_64* gen) {
  const uint64_t k = ((*gen)() >> 11) + 1;  // 1 .. 2^53
  const double u = std::ldexp(static_cast<double>(k), -53);
  const double z = b * -std::log(u);
  return ((*gen)() & 1) ? x + z : x - z;
}

// Whether the naive sampler run on input x can output exactly y: binary search over the 2^53
// possible u for each sign (the output is monotone in u).
inline bool NaiveFloatLaplaceCanProduce(double x, double b, double y) {
  for (int sign : {1, -1}) {
    auto out = [&](uint64_t k) {
      const double z = b * -std::log(std::ldexp(static_cast<double>(k), -53));
      return sign > 0 ? x + z : x - z;
    };
    // sign +1: out decreases with k; sign -1: out increases with k.
    uint64_t lo = 1, hi = uint64_t{1} << 53;
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      const bool past = sign > 0 ? out(mid) <= y : out(mid) >= y;
      if (past) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    if (out(lo) == y) return true;
  }
  return false;
}

}  // namespace sdp::dp
