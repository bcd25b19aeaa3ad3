// The differentially private mechanisms of the privacy analytics, on integers only:
//   - privacy parameters as exact rationals (ε from SQL numeric text, never a double);
//   - the discrete Laplace (geometric) mechanism for a count or a fixed-point sum of a given
//     sensitivity, with its confidence interval;
//   - the release threshold for groups that come from the data (δ);
//   - permute-and-flip selection (McKenna and Sheldon, NeurIPS 2020), ε-DP like the exponential
//     mechanism and never worse, used for quantiles over a bounded, binned domain.
// The sensitivities come from contribution bounding done before (at most max_rows_per_unit rows
// per privacy unit, values clamped): docs/privacy_analytics.md derives each one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/dp/exact_sampler.h"

namespace sdp::dp {

// A non-negative rational num/den, den >= 1.
struct Rational {
  uint128 num = 0;
  uint128 den = 1;
};

// Parses a privacy parameter written as a plain decimal ("0.1", "2", "0.000001"): digits, at most
// one '.', nothing else (no sign, exponent, NaN or infinity: those are refused). Digits past the
// ninth after the point are dropped, which rounds the value down: noise is then drawn for a
// slightly smaller ε than the one charged, never a larger one. Refuses values above 10^6.
bool ParsePrivacyParameter(std::string_view text, Rational* out, std::string* err);

// Discrete Laplace noise calibrated to `sensitivity` (the most one privacy unit can move the
// integer released) and ε: scale sensitivity/ε, i.e. the sampler's t/s.
struct LaplaceScale {
  uint128 s = 1;
  uint128 t = 1;
  double scale() const { return static_cast<double>(t) / static_cast<double>(s); }
};
bool LaplaceScaleFor(uint64_t sensitivity, const Rational& epsilon, LaplaceScale* out,
                     std::string* err);

// The smallest k >= 0 with P(|Z| > k) <= alpha for Z ~ discrete Laplace of that scale:
// value ± k is a (1 - alpha) confidence interval around the true value. Post-processing of
// public parameters, so computed in floating point; rounded up, never down.
int64_t ConfidenceHalfWidth(const LaplaceScale& scale, double alpha);

// The noisy count a group that comes from the data must reach to be released. A group that
// exists only because of one privacy unit has a true count of at most max_rows_per_unit, and one
// unit can create at most max_rows_per_unit such groups; the threshold makes the chance that any
// of them is released at most δ (union bound over P(Z >= k) = p^k / (1 + p)).
int64_t ReleaseThreshold(uint64_t max_rows_per_unit, const LaplaceScale& scale, double delta);

// Permute-and-flip: candidate r is accepted with probability exp(-cost_num[r] / cost_den) in a
// random order until one is; the costs must have minimum 0 (that candidate always accepts, so
// one pass ends it). Costs are ε (u* - u_r) / (2 Δ) written over a common denominator.
bool PermuteAndFlip(const std::vector<uint128>& cost_num, uint128 cost_den, ExactSampler* sampler,
                    size_t* chosen, std::string* err);

// The DP quantile of a bounded, binned column: rank_below[r] is how many of the n bounded values
// lie below candidate r (candidates in increasing order), q = q_num/q_den in [0, 1]. Utility of
// r is -|rank_below[r] - q n|, of sensitivity `sensitivity` (rows one unit contributes).
bool QuantileIndex(const std::vector<uint64_t>& rank_below, uint64_t n, uint64_t q_num,
                   uint64_t q_den, const Rational& epsilon, uint64_t sensitivity,
                   ExactSampler* sampler, size_t* chosen, std::string* err);

// A DP quantile with a 95% interval, all from the mechanism and no other look at the data: the
// point spends epsilon/2 (QuantileIndex); each end of the interval spends epsilon/4 choosing the
// bin (between two candidates) whose rank range holds the target rank q n -/+ tau, where
// tau = (2 sensitivity / (epsilon/4)) ln(2 B / 0.05), B the number of bins. By the exponential
// mechanism's utility bound (permute-and-flip is at least as accurate) the chosen bin's rank
// range lies within tau of its target with probability at least 0.975, so the lower bin starts at
// or below rank q n and the upper bin ends above it: [lower edge of the low bin, upper edge of the
// high bin] holds the true quantile with probability at least 0.95, however the data tie.
// Indexes are candidates (low <= point <= high).
struct QuantileRelease {
  size_t point = 0;
  size_t low = 0;
  size_t high = 0;
  uint64_t rank_margin = 0;  // tau
};
bool QuantileWithInterval(const std::vector<uint64_t>& rank_below, uint64_t n, uint64_t q_num,
                          uint64_t q_den, const Rational& epsilon, uint64_t sensitivity,
                          ExactSampler* sampler, QuantileRelease* out, std::string* err);

}  // namespace sdp::dp
