// Differentially private mechanisms on integers: discrete Laplace, thresholds, permute-and-flip.
#include "common/dp/mechanisms.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sdp::dp {
namespace {

constexpr int kMaxFractionDigits = 9;
constexpr uint64_t kMaxWholePart = 1000000;

uint128 Gcd(uint128 a, uint128 b) {
  while (b != 0) {
    const uint128 r = a % b;
    a = b;
    b = r;
  }
  return a;
}

// a * b, or false when it would pass ExactSampler::kMaxOperand.
bool MultiplyWithin(uint128 a, uint128 b, uint128* out) {
  if (a != 0 && b > ExactSampler::kMaxOperand / a) return false;
  *out = a * b;
  return true;
}

}  // namespace

bool ParsePrivacyParameter(std::string_view text, Rational* out, std::string* err) {
  uint128 whole = 0, fraction = 0, den = 1;
  bool seen_point = false, seen_digit = false;
  int fraction_digits = 0;
  for (char c : text) {
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') {
      *err =
          "a privacy parameter must be a plain decimal number such as 0.1 (no sign, exponent, "
          "NaN or infinity)";
      return false;
    }
    seen_digit = true;
    if (!seen_point) {
      whole = whole * 10 + static_cast<uint128>(c - '0');
      if (whole > kMaxWholePart) {
        *err = "a privacy parameter above 1000000 protects nothing; use a smaller one";
        return false;
      }
    } else if (fraction_digits < kMaxFractionDigits) {  // later digits: rounded down
      fraction = fraction * 10 + static_cast<uint128>(c - '0');
      den *= 10;
      ++fraction_digits;
    }
  }
  if (!seen_digit) {
    *err = "a privacy parameter must be a plain decimal number such as 0.1";
    return false;
  }
  uint128 num = whole * den + fraction;
  const uint128 g = num == 0 ? den : Gcd(num, den);
  out->num = num / g;
  out->den = den / g;
  return true;
}

bool LaplaceScaleFor(uint64_t sensitivity, const Rational& epsilon, LaplaceScale* out,
                     std::string* err) {
  if (epsilon.num == 0 || epsilon.den == 0) {
    *err = "epsilon must be greater than 0";
    return false;
  }
  if (sensitivity == 0) {
    *err = "the sensitivity of a released value is at least 1";
    return false;
  }
  uint128 t;
  if (!MultiplyWithin(sensitivity, epsilon.den, &t)) {
    *err = "the noise scale does not fit the exact sampler; use a smaller max_rows_per_unit";
    return false;
  }
  const uint128 g = Gcd(epsilon.num, t);
  out->s = epsilon.num / g;
  out->t = t / g;
  return true;
}

int64_t ConfidenceHalfWidth(const LaplaceScale& scale, double alpha) {
  // P(|Z| > k) = 2 p^(k+1) / (1 + p) with p = exp(-s/t): solve for the smallest such k, then
  // check the float solution against the formula and widen it if rounding made it too narrow.
  const long double log_p = -static_cast<long double>(scale.s) / static_cast<long double>(scale.t);
  const long double p = std::exp(log_p);
  const long double a = static_cast<long double>(alpha);
  const long double bound = std::log(a * (1 + p) / 2) / log_p;  // the least k + 1
  if (!(bound > 1)) return 0;
  if (bound >= static_cast<long double>(std::numeric_limits<int64_t>::max() / 2)) {
    return std::numeric_limits<int64_t>::max();
  }
  auto tail = [&](int64_t k) { return 2 * std::exp((k + 1) * log_p) / (1 + p); };
  int64_t k = static_cast<int64_t>(std::ceil(bound)) - 1;
  while (tail(k) > a) ++k;
  return k;
}

int64_t ReleaseThreshold(uint64_t max_rows_per_unit, const LaplaceScale& scale, double delta) {
  // m groups, each released with probability P(Z >= tau - m) = p^(tau - m) / (1 + p) <= delta / m.
  const long double log_p = -static_cast<long double>(scale.s) / static_cast<long double>(scale.t);
  const long double p = std::exp(log_p);
  const long double m = static_cast<long double>(max_rows_per_unit);
  const long double k = std::log(static_cast<long double>(delta) * (1 + p) / m) / log_p;
  const long double margin = k > 1 ? std::ceil(k) + 1 : 2;  // +1: float error never lowers it
  const long double tau = m + margin;
  if (tau >= static_cast<long double>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(tau);
}

bool PermuteAndFlip(const std::vector<uint128>& cost_num, uint128 cost_den, ExactSampler* sampler,
                    size_t* chosen, std::string* err) {
  if (cost_num.empty()) {
    *err = "no candidates to choose from";
    return false;
  }
  std::vector<size_t> order(cost_num.size());
  if (!sampler->Permutation(order.size(), order.data())) {
    *err = sampler->error();
    return false;
  }
  for (size_t r : order) {
    bool accept;
    if (!sampler->BernoulliExpMinus(cost_num[r], cost_den, &accept)) {
      *err = sampler->error();
      return false;
    }
    if (accept) {
      *chosen = r;
      return true;
    }
  }
  *err = "permute-and-flip needs a candidate of cost 0";
  return false;
}

namespace {

// Permute-and-flip over utilities -distance / q_den of the given sensitivity.
bool ChooseNearest(const std::vector<uint128>& distance, uint64_t q_den, const Rational& epsilon,
                   uint64_t sensitivity, ExactSampler* sampler, size_t* chosen, std::string* err) {
  if (epsilon.num == 0 || sensitivity == 0) {
    *err = "epsilon and the sensitivity must be greater than 0";
    return false;
  }
  uint128 nearest = ~static_cast<uint128>(0);
  for (uint128 d : distance) nearest = std::min(nearest, d);
  // cost_r = ε (distance_r - nearest) / (2 Δ q_den), over the common denominator.
  uint128 den;
  if (!MultiplyWithin(static_cast<uint128>(2) * sensitivity, epsilon.den, &den) ||
      !MultiplyWithin(den, q_den, &den)) {
    *err = "the quantile's parameters do not fit the exact sampler";
    return false;
  }
  std::vector<uint128> cost(distance.size());
  for (size_t r = 0; r < distance.size(); ++r) {
    if (!MultiplyWithin(epsilon.num, distance[r] - nearest, &cost[r])) {
      *err = "too many rows for an exact quantile at this epsilon's precision";
      return false;
    }
  }
  return PermuteAndFlip(cost, den, sampler, chosen, err);
}

// The permute-and-flip choice of the candidate whose rank is nearest target_scaled / q_den (a
// target that may lie outside [0, n]).
bool QuantileIndexAt(const std::vector<uint64_t>& rank_below, __int128 target_scaled,
                     uint64_t q_den, const Rational& epsilon, uint64_t sensitivity,
                     ExactSampler* sampler, size_t* chosen, std::string* err) {
  // |rank * q_den - target| is q_den times the distance to the target rank.
  std::vector<uint128> distance(rank_below.size());
  for (size_t r = 0; r < rank_below.size(); ++r) {
    const __int128 scaled = static_cast<__int128>(static_cast<uint128>(rank_below[r]) * q_den);
    distance[r] = static_cast<uint128>(scaled > target_scaled ? scaled - target_scaled
                                                              : target_scaled - scaled);
  }
  return ChooseNearest(distance, q_den, epsilon, sensitivity, sampler, chosen, err);
}

// The permute-and-flip choice of the bin (between candidates b and b + 1) whose rank interval
// [rank_below[b], rank_below[b+1]] is nearest the target rank target_scaled / q_den (0 inside
// it). A bin holding many tied values is one candidate here, so the target inside it is found
// exactly; the edge utility of QuantileIndex would see its two edges as both far away.
// Sensitivity: each edge's rank and the target move by at most `sensitivity`.
bool QuantileBinAt(const std::vector<uint64_t>& rank_below, __int128 target_scaled, uint64_t q_den,
                   const Rational& epsilon, uint64_t sensitivity, ExactSampler* sampler,
                   size_t* chosen, std::string* err) {
  if (rank_below.size() < 2) {
    *err = "a quantile interval needs at least one bin";
    return false;
  }
  std::vector<uint128> distance(rank_below.size() - 1);
  for (size_t b = 0; b + 1 < rank_below.size(); ++b) {
    const __int128 lo = static_cast<__int128>(static_cast<uint128>(rank_below[b]) * q_den);
    const __int128 hi = static_cast<__int128>(static_cast<uint128>(rank_below[b + 1]) * q_den);
    distance[b] = static_cast<uint128>(target_scaled < lo   ? lo - target_scaled
                                       : target_scaled > hi ? target_scaled - hi
                                                            : 0);
  }
  return ChooseNearest(distance, q_den, epsilon, sensitivity, sampler, chosen, err);
}

}  // namespace

bool QuantileIndex(const std::vector<uint64_t>& rank_below, uint64_t n, uint64_t q_num,
                   uint64_t q_den, const Rational& epsilon, uint64_t sensitivity,
                   ExactSampler* sampler, size_t* chosen, std::string* err) {
  if (q_den == 0 || q_num > q_den) {
    *err = "a quantile must lie between 0 and 1";
    return false;
  }
  const __int128 target = static_cast<__int128>(static_cast<uint128>(q_num) * n);
  return QuantileIndexAt(rank_below, target, q_den, epsilon, sensitivity, sampler, chosen, err);
}

bool QuantileWithInterval(const std::vector<uint64_t>& rank_below, uint64_t n, uint64_t q_num,
                          uint64_t q_den, const Rational& epsilon, uint64_t sensitivity,
                          ExactSampler* sampler, QuantileRelease* out, std::string* err) {
  if (rank_below.empty()) {
    *err = "a quantile needs candidates";
    return false;
  }
  Rational half = epsilon, quarter = epsilon;
  if (!MultiplyWithin(half.den, 2, &half.den) || !MultiplyWithin(quarter.den, 4, &quarter.den)) {
    *err = "the quantile's parameters do not fit the exact sampler";
    return false;
  }
  if (!QuantileIndex(rank_below, n, q_num, q_den, half, sensitivity, sampler, &out->point, err)) {
    return false;
  }
  // tau is public: it depends on the parameters only (a double is fine for a published bound;
  // it is rounded up).
  const double quarter_eps = static_cast<double>(quarter.num) / static_cast<double>(quarter.den);
  const double tau = 2.0 * static_cast<double>(sensitivity) / quarter_eps *
                     std::log(2.0 * static_cast<double>(rank_below.size()) / 0.05);
  if (!(tau < 1e15)) {
    *err = "epsilon is too small for a quantile interval";
    return false;
  }
  out->rank_margin = static_cast<uint64_t>(std::ceil(tau));
  const __int128 target = static_cast<__int128>(static_cast<uint128>(q_num) * n);
  const __int128 shift = static_cast<__int128>(out->rank_margin) * q_den;
  const __int128 top = static_cast<__int128>(static_cast<uint128>(n) * q_den);
  size_t low_bin = 0, high_bin = 0;
  if (!QuantileBinAt(rank_below, std::max<__int128>(target - shift, 0), q_den, quarter, sensitivity,
                     sampler, &low_bin, err) ||
      !QuantileBinAt(rank_below, std::min<__int128>(target + shift + q_den, top), q_den, quarter,
                     sensitivity, sampler, &high_bin, err)) {
    return false;
  }
  // The lower end is the chosen bin's lower edge, the upper end the upper edge of its bin.
  const size_t low = low_bin, high = high_bin + 1;
  out->low = std::min(low, out->point);
  out->high = std::max(high, out->point);
  return true;
}

}  // namespace sdp::dp
