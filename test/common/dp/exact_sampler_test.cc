// The exact samplers against their exact distributions (χ² over 10^6 draws), on hostile random
// sources, and against the floating-point attack they exist to prevent.
#include "common/dp/exact_sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "test/support/dp_test_util.h"

namespace sdp::dp {
namespace {

TEST(ExactSamplerTest, UniformBelowIsUniform) {
  SeededBits bits(1);
  ExactSampler sampler(&bits);
  constexpr int kN = 7, kDraws = 700000;
  std::vector<double> observed(kN), expected(kN, kDraws / double(kN));
  for (int i = 0; i < kDraws; ++i) {
    uint128 v;
    ASSERT_TRUE(sampler.UniformBelow(kN, &v)) << sampler.error();
    ASSERT_LT(v, static_cast<uint128>(kN));
    observed[static_cast<size_t>(v)] += 1;
  }
  EXPECT_LT(ChiSquare(observed, expected), ChiSquareCritical(kN - 1));
}

TEST(ExactSamplerTest, UniformBelowEdges) {
  SeededBits bits(2);
  ExactSampler sampler(&bits);
  uint128 v = 99;
  EXPECT_FALSE(sampler.UniformBelow(0, &v));
  EXPECT_NE(sampler.error().find("empty"), std::string::npos);
  ASSERT_TRUE(sampler.UniformBelow(1, &v));
  EXPECT_EQ(v, 0u);
  const uint128 huge = ~static_cast<uint128>(0);
  ASSERT_TRUE(sampler.UniformBelow(huge, &v));
  EXPECT_LT(v, huge);
}

TEST(ExactSamplerTest, BernoulliExpMinusHasProbabilityExpMinusGamma) {
  SeededBits bits(3);
  ExactSampler sampler(&bits);
  const std::pair<uint64_t, uint64_t> gammas[] = {{0, 1}, {1, 3}, {1, 1},
                                                  {5, 2}, {7, 1}, {1, 1000}};
  constexpr int kDraws = 200000;
  for (auto [num, den] : gammas) {
    int ones = 0;
    for (int i = 0; i < kDraws; ++i) {
      bool b;
      ASSERT_TRUE(sampler.BernoulliExpMinus(num, den, &b)) << sampler.error();
      ones += b;
    }
    const double p = std::exp(-double(num) / double(den));
    const double sigma = std::sqrt(p * (1 - p) / kDraws);
    EXPECT_NEAR(ones / double(kDraws), p, 5 * sigma + 1e-12) << num << "/" << den;
  }
}

// χ² of 10^6 draws against the exact pmf, for scales from below 1 to 100.
TEST(ExactSamplerTest, DiscreteLaplaceMatchesItsPmf) {
  const std::pair<uint64_t, uint64_t> scales[] = {{1, 1}, {3, 1}, {1, 3}, {2, 7}, {1, 100}};
  for (auto [s, t] : scales) {
    SeededBits bits(4 + s * 1000 + t);
    ExactSampler sampler(&bits);
    constexpr int kDraws = 1000000;
    std::map<int64_t, double> counts;
    for (int i = 0; i < kDraws; ++i) {
      int64_t x;
      ASSERT_TRUE(sampler.DiscreteLaplace(s, t, &x)) << sampler.error();
      counts[x] += 1;
    }
    std::vector<double> observed, expected;
    BinAgainstPmf(counts, DiscreteLaplacePmf(double(t) / double(s)), kDraws, &observed, &expected);
    ASSERT_GE(observed.size(), 3u);
    EXPECT_LT(ChiSquare(observed, expected), ChiSquareCritical(observed.size() - 1))
        << "scale " << t << "/" << s;
  }
}

TEST(ExactSamplerTest, DiscreteLaplaceIsSymmetricAroundZero) {
  SeededBits bits(5);
  ExactSampler sampler(&bits);
  long double sum = 0;
  constexpr int kDraws = 200000;
  int zeros = 0;
  for (int i = 0; i < kDraws; ++i) {
    int64_t x;
    ASSERT_TRUE(sampler.DiscreteLaplace(1, 10, &x));
    sum += x;
    zeros += x == 0;
  }
  // Variance 2p/(1-p)^2 with p = e^-0.1: about 199; the mean's sd is about 0.03.
  EXPECT_NEAR(double(sum / kDraws), 0.0, 0.2);
  const double p0 = DiscreteLaplacePmf(10.0)(0);
  EXPECT_NEAR(zeros / double(kDraws), p0, 5 * std::sqrt(p0 * (1 - p0) / kDraws));
}

// A random source that never changes: every rejection loop and every Taylor series must stop at
// its bound with an error, never hang and never return a value.
class StuckBits final : public RandomBits {
 public:
  explicit StuckBits(uint8_t byte) : byte_(byte) {}
  bool Fill(uint8_t* p, size_t n, std::string*) override {
    std::memset(p, byte_, n);
    return true;
  }

 private:
  uint8_t byte_;
};

TEST(ExactSamplerTest, BrokenRandomSourceFailsInsteadOfReleasing) {
  StuckBits all_ones(0xff);
  ExactSampler ones(&all_ones);
  uint128 v;
  EXPECT_FALSE(ones.UniformBelow(3, &v));
  EXPECT_NE(ones.error().find("random source is broken"), std::string::npos);
  int64_t x = 12345;
  EXPECT_FALSE(ones.DiscreteLaplace(1, 3, &x));
  EXPECT_EQ(x, 12345);

  StuckBits all_zeros(0x00);
  ExactSampler zeros(&all_zeros);
  bool b;
  EXPECT_FALSE(zeros.BernoulliExpMinus(1, 2, &b));  // every A_k = 1: the series never ends
  EXPECT_NE(zeros.error().find("iteration bound"), std::string::npos);
}

class FailingBits final : public RandomBits {
 public:
  bool Fill(uint8_t*, size_t, std::string* err) override {
    *err = "no entropy";
    return false;
  }
};

TEST(ExactSamplerTest, RandomnessFailureIsReported) {
  FailingBits none;
  ExactSampler sampler(&none);
  int64_t x;
  EXPECT_FALSE(sampler.DiscreteLaplace(1, 1, &x));
  EXPECT_EQ(sampler.error(), "no entropy");
}

TEST(ExactSamplerTest, RefusesOperandsThatCouldOverflow) {
  SeededBits bits(6);
  ExactSampler sampler(&bits);
  int64_t x;
  EXPECT_FALSE(sampler.DiscreteLaplace(0, 1, &x));
  EXPECT_FALSE(sampler.DiscreteLaplace(1, 0, &x));
  EXPECT_FALSE(sampler.DiscreteLaplace(1, ExactSampler::kMaxOperand + 1, &x));
  bool b;
  EXPECT_FALSE(sampler.BernoulliExpMinus(1, 0, &b));
  EXPECT_FALSE(sampler.Bernoulli(3, 2, &b));
}

TEST(ExactSamplerTest, OpenSslSourceDrawsAndWipes) {
  OpenSslRandomBits bits;
  ExactSampler sampler(&bits);
  std::map<int64_t, int> seen;
  for (int i = 0; i < 20000; ++i) {
    int64_t x;
    ASSERT_TRUE(sampler.DiscreteLaplace(1, 2, &x)) << sampler.error();
    seen[x]++;
  }
  EXPECT_GT(seen.size(), 10u);  // scale 2: values well beyond ±5 occur in 20,000 draws
  EXPECT_GT(seen[0], 20000 * 0.2);
}

TEST(ExactSamplerTest, PermutationIsAPermutationAndUniform) {
  SeededBits bits(7);
  ExactSampler sampler(&bits);
  std::map<std::vector<size_t>, double> counts;
  constexpr int kDraws = 60000;
  for (int i = 0; i < kDraws; ++i) {
    std::vector<size_t> order(3);
    ASSERT_TRUE(sampler.Permutation(3, order.data()));
    counts[order] += 1;
  }
  ASSERT_EQ(counts.size(), 6u);
  std::vector<double> observed, expected;
  for (auto& [order, n] : counts) {
    observed.push_back(n);
    expected.push_back(kDraws / 6.0);
  }
  EXPECT_LT(ChiSquare(observed, expected), ChiSquareCritical(5));
}

// Mironov (CCS 2012): a textbook floating-point Laplace sample added to a floating-point value
// produces doubles that the neighbouring input can never produce, so one output can reveal the
// input. The distinguisher below checks, for each output of input 0, whether input 1 could have
// produced it; the naive sampler fails it on a large share of outputs, ours on none (its outputs
// are integers, and every integer is possible from every input).
TEST(ExactSamplerTest, NaiveFloatLaplaceFailsMironovsDistinguisherAndOursPasses) {
  std::mt19937_64 gen(8);
  constexpr int kDraws = 20000;
  int naive_impossible = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double y = NaiveFloatLaplace(0.0, 1.0, &gen);
    if (!NaiveFloatLaplaceCanProduce(1.0, 1.0, y)) ++naive_impossible;
  }
  EXPECT_GT(naive_impossible, kDraws / 10) << "the naive sampler should be distinguishable";

  SeededBits bits(9);
  ExactSampler sampler(&bits);
  int ours_impossible = 0;
  for (int i = 0; i < kDraws; ++i) {
    int64_t z;
    ASSERT_TRUE(sampler.DiscreteLaplace(1, 1, &z));
    const int64_t released = 0 + z;
    // From input 1 the release is 1 + z' for the integer z' = released - 1, which has positive
    // probability under the discrete Laplace: never impossible.
    if (DiscreteLaplacePmf(1.0)(released - 1) <= 0) ++ours_impossible;
  }
  EXPECT_EQ(ours_impossible, 0);
}

}  // namespace
}  // namespace sdp::dp
