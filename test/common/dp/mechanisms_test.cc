// Privacy parameters, noise calibration, intervals, thresholds and permute-and-flip: exact
// values, hostile inputs, and the privacy guarantee itself measured on neighbouring datasets.
#include "common/dp/mechanisms.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "test/support/dp_test_util.h"

namespace sdp::dp {
namespace {

Rational Parse(const std::string& text) {
  Rational r;
  std::string err;
  EXPECT_TRUE(ParsePrivacyParameter(text, &r, &err)) << text << ": " << err;
  return r;
}

TEST(PrivacyParameterTest, ParsesExactDecimalsInLowestTerms) {
  Rational r = Parse("0.1");
  EXPECT_EQ(r.num, 1u);
  EXPECT_EQ(r.den, 10u);
  r = Parse("2.50");
  EXPECT_EQ(r.num, 5u);
  EXPECT_EQ(r.den, 2u);
  r = Parse("1");
  EXPECT_EQ(r.num, 1u);
  EXPECT_EQ(r.den, 1u);
  r = Parse("0.000001");
  EXPECT_EQ(r.num, 1u);
  EXPECT_EQ(r.den, 1000000u);
}

TEST(PrivacyParameterTest, DigitsPastTheNinthRoundDown) {
  Rational r = Parse("0.1234567899");
  EXPECT_EQ(r.num, 123456789u);
  EXPECT_EQ(r.den, 1000000000u);
  r = Parse("0.0000000009");  // below the precision: zero, which the caller refuses
  EXPECT_EQ(r.num, 0u);
}

TEST(PrivacyParameterTest, RefusesEverythingButAPlainDecimal) {
  for (const char* bad : {"", ".", "-1", "+1", "1e-3", "NaN", "Infinity", " 1", "1 ", "1.2.3",
                          "0x10", "1000001", "99999999999999999999999999999999999999999"}) {
    Rational r;
    std::string err;
    EXPECT_FALSE(ParsePrivacyParameter(bad, &r, &err)) << "'" << bad << "'";
    EXPECT_FALSE(err.empty());
  }
}

TEST(LaplaceScaleTest, ScaleIsSensitivityOverEpsilon) {
  LaplaceScale scale;
  std::string err;
  ASSERT_TRUE(LaplaceScaleFor(3, Parse("0.5"), &scale, &err));
  EXPECT_DOUBLE_EQ(scale.scale(), 6.0);
  EXPECT_EQ(scale.s, 1u);
  EXPECT_EQ(scale.t, 6u);
  EXPECT_FALSE(LaplaceScaleFor(3, Rational{0, 1}, &scale, &err));
  EXPECT_FALSE(LaplaceScaleFor(0, Parse("1"), &scale, &err));
}

double Tail(const LaplaceScale& scale, int64_t k) {
  const double p = std::exp(-double(scale.s) / double(scale.t));
  return 2 * std::pow(p, double(k + 1)) / (1 + p);
}

TEST(ConfidenceIntervalTest, IsTheSmallestCoveringHalfWidth) {
  for (const char* eps : {"0.01", "0.1", "0.5", "1", "3", "20"}) {
    LaplaceScale scale;
    std::string err;
    ASSERT_TRUE(LaplaceScaleFor(1, Parse(eps), &scale, &err));
    const int64_t k = ConfidenceHalfWidth(scale, 0.05);
    EXPECT_LE(Tail(scale, k), 0.05) << eps;
    if (k > 0) {
      EXPECT_GT(Tail(scale, k - 1), 0.05) << eps;
    }
  }
}

// The accuracy target: on ε = 1, noisy counts fall inside their 95% interval at least
// 94% of the time.
TEST(ConfidenceIntervalTest, CoversAtLeastNinetyFourPercent) {
  SeededBits bits(11);
  ExactSampler sampler(&bits);
  LaplaceScale scale;
  std::string err;
  ASSERT_TRUE(LaplaceScaleFor(1, Parse("1"), &scale, &err));
  const int64_t k = ConfidenceHalfWidth(scale, 0.05);
  int inside = 0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    int64_t z;
    ASSERT_TRUE(sampler.DiscreteLaplace(scale.s, scale.t, &z));
    inside += std::llabs(z) <= k;
  }
  EXPECT_GE(inside, kDraws * 94 / 100);
}

TEST(ReleaseThresholdTest, OneUnitsGroupsPassWithProbabilityAtMostDelta) {
  for (uint64_t m : {1u, 5u, 100u}) {
    for (const char* eps : {"0.1", "1", "4"}) {
      LaplaceScale scale;
      std::string err;
      ASSERT_TRUE(LaplaceScaleFor(m, Parse(eps), &scale, &err));
      const double delta = 1e-6;
      const int64_t tau = ReleaseThreshold(m, scale, delta);
      EXPECT_GT(tau, static_cast<int64_t>(m));
      // m groups of true count m each: P(m + Z >= tau) = p^(tau-m)/(1+p), union over m groups.
      const double p = std::exp(-double(scale.s) / double(scale.t));
      const double leak = double(m) * std::pow(p, double(tau - int64_t(m))) / (1 + p);
      EXPECT_LE(leak, delta) << "m=" << m << " eps=" << eps;
    }
  }
}

// ε-DP measured: the releases of a count c and of its neighbour c + Δ (one unit added, Δ rows)
// have, output by output, probabilities within a factor e^ε of each other, within sampling error.
TEST(PrivacyGuaranteeTest, NeighbouringCountsStayWithinExpEpsilon) {
  const double epsilon = 1.0;
  const uint64_t sensitivity = 2;
  LaplaceScale scale;
  std::string err;
  ASSERT_TRUE(LaplaceScaleFor(sensitivity, Parse("1"), &scale, &err));
  constexpr int kDraws = 1000000;
  std::map<int64_t, double> a, b;
  SeededBits bits(12);
  ExactSampler sampler(&bits);
  for (int i = 0; i < kDraws; ++i) {
    int64_t z1, z2;
    ASSERT_TRUE(sampler.DiscreteLaplace(scale.s, scale.t, &z1));
    ASSERT_TRUE(sampler.DiscreteLaplace(scale.s, scale.t, &z2));
    a[100 + z1] += 1;
    b[100 + int64_t(sensitivity) + z2] += 1;
  }
  int compared = 0;
  for (auto& [y, na] : a) {
    const double nb = b.count(y) ? b[y] : 0;
    if (na < 2000 || nb < 2000) continue;  // only outputs with enough mass to measure
    const double ratio = na / nb;
    const double slack = 5 * std::sqrt(1 / na + 1 / nb);  // relative sampling error, 5 sigma
    EXPECT_LE(ratio, std::exp(epsilon) * (1 + slack)) << "output " << y;
    EXPECT_GE(ratio, std::exp(-epsilon) * (1 - slack)) << "output " << y;
    ++compared;
  }
  EXPECT_GE(compared, 5);
}

TEST(PermuteAndFlipTest, ChoosesWithTheExactProbabilities) {
  // Two candidates of costs 0 and c: candidate 1 wins only if it comes first and accepts,
  // with probability e^-c / 2.
  SeededBits bits(13);
  ExactSampler sampler(&bits);
  const std::vector<uint128> cost = {0, 3};
  constexpr int kDraws = 200000;
  int ones = 0;
  for (int i = 0; i < kDraws; ++i) {
    size_t chosen;
    std::string err;
    ASSERT_TRUE(PermuteAndFlip(cost, 4, &sampler, &chosen, &err)) << err;
    ones += chosen == 1;
  }
  const double p = std::exp(-0.75) / 2;
  EXPECT_NEAR(ones / double(kDraws), p, 5 * std::sqrt(p * (1 - p) / kDraws));
}

TEST(PermuteAndFlipTest, RefusesWithoutACandidateOfCostZero) {
  SeededBits bits(14);
  ExactSampler sampler(&bits);
  size_t chosen;
  std::string err;
  EXPECT_FALSE(PermuteAndFlip({}, 1, &sampler, &chosen, &err));
  // Costs 1000/1 each: all reject (e^-1000), and the function says why instead of looping.
  EXPECT_FALSE(PermuteAndFlip({1000, 1000}, 1, &sampler, &chosen, &err));
  EXPECT_NE(err.find("cost 0"), std::string::npos);
}

TEST(QuantileTest, FindsTheMedianAtHighEpsilonAndAnyCandidateAtLowEpsilon) {
  // 1000 values spread evenly over 11 candidates' gaps: rank_below grows by 100 per candidate.
  std::vector<uint64_t> rank_below;
  for (uint64_t r = 0; r <= 10; ++r) rank_below.push_back(r * 100);
  SeededBits bits(15);
  ExactSampler sampler(&bits);
  std::string err;
  size_t chosen = 99;
  ASSERT_TRUE(QuantileIndex(rank_below, 1000, 1, 2, Parse("10"), 1, &sampler, &chosen, &err))
      << err;
  EXPECT_EQ(chosen, 5u);
  std::map<size_t, int> seen;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(QuantileIndex(rank_below, 1000, 1, 2, Parse("0.0001"), 1, &sampler, &chosen, &err));
    seen[chosen]++;
  }
  EXPECT_EQ(seen.size(), 11u);  // ε tiny: every candidate is about equally likely
}

// The interval's coverage, measured: on 20,000 values over 1000 bins, a third of them tied on
// one value (a bin far heavier than the rank margin), at several levels, epsilons and
// contribution bounds, the true quantile lies between the interval's ends in at least 95% of
// releases (asserted at 93% for the sampling error of 300 trials), and the point inside it.
TEST(QuantileTest, IntervalCoversTheTrueQuantile) {
  std::mt19937_64 rng(2026);
  std::vector<double> values;
  std::exponential_distribution<double> spread(1.0 / 150.0);
  for (int i = 0; i < 20000; ++i) {
    values.push_back(i % 3 == 0 ? 420.5 : std::min(999.9, spread(rng)));
  }
  std::sort(values.begin(), values.end());
  const size_t bins = 1000;
  std::vector<uint64_t> rank_below(bins + 1, 0);
  for (size_t r = 0; r <= bins; ++r) {
    rank_below[r] = static_cast<uint64_t>(
        std::lower_bound(values.begin(), values.end(), static_cast<double>(r)) - values.begin());
  }
  SeededBits bits(17);
  ExactSampler sampler(&bits);
  std::string err;
  for (const char* eps : {"1", "0.2"}) {
    for (uint64_t m : {1u, 5u}) {
      for (uint64_t q_num : {100u, 500u, 620u, 900u}) {  // per mille; 0.62 falls in the tie
        const double truth = values[static_cast<size_t>(q_num * values.size() / 1000)];
        int covered = 0;
        const int trials = 300;
        for (int t = 0; t < trials; ++t) {
          QuantileRelease rel;
          ASSERT_TRUE(QuantileWithInterval(rank_below, values.size(), q_num, 1000, Parse(eps), m,
                                           &sampler, &rel, &err))
              << err;
          ASSERT_LE(rel.low, rel.point);
          ASSERT_LE(rel.point, rel.high);
          ASSERT_LE(rel.high, bins);
          covered +=
              static_cast<double>(rel.low) <= truth && truth <= static_cast<double>(rel.high);
        }
        EXPECT_GE(covered, trials * 93 / 100)
            << "epsilon " << eps << ", bound " << m << ", q " << q_num << "/1000";
      }
    }
  }
}

TEST(QuantileTest, IntervalNarrowsAsEpsilonGrows) {
  std::vector<uint64_t> rank_below;
  for (uint64_t r = 0; r <= 1000; ++r) rank_below.push_back(r * 100);  // 100,000 even values
  SeededBits bits(18);
  ExactSampler sampler(&bits);
  std::string err;
  auto mean_width = [&](const char* eps) {
    double total = 0;
    for (int t = 0; t < 100; ++t) {
      QuantileRelease rel;
      EXPECT_TRUE(
          QuantileWithInterval(rank_below, 100000, 1, 2, Parse(eps), 1, &sampler, &rel, &err));
      total += static_cast<double>(rel.high - rel.low);
    }
    return total / 100;
  };
  const double wide = mean_width("0.1"), narrow = mean_width("10");
  EXPECT_LT(narrow, wide / 5);
  EXPECT_LE(narrow, 4);  // the margin of one candidate each side, and little else
}

TEST(QuantileTest, RefusesBadParameters) {
  SeededBits bits(16);
  ExactSampler sampler(&bits);
  std::string err;
  size_t chosen;
  EXPECT_FALSE(QuantileIndex({0, 1}, 1, 3, 2, Parse("1"), 1, &sampler, &chosen, &err));
  EXPECT_FALSE(QuantileIndex({0, 1}, 1, 1, 0, Parse("1"), 1, &sampler, &chosen, &err));
  EXPECT_FALSE(QuantileIndex({0, 1}, 1, 1, 2, Rational{0, 1}, 1, &sampler, &chosen, &err));
  EXPECT_FALSE(QuantileIndex({0, 1}, 1, 1, 2, Parse("1"), 0, &sampler, &chosen, &err));
  QuantileRelease rel;
  EXPECT_FALSE(QuantileWithInterval({}, 0, 1, 2, Parse("1"), 1, &sampler, &rel, &err));
  EXPECT_FALSE(
      QuantileWithInterval({0, 1}, 1, 1, 2, Parse("0.000001"), 1000000000, &sampler, &rel, &err));
}

}  // namespace
}  // namespace sdp::dp
