#include "agent/scan/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sdp::scan {
namespace {

TEST(Sampler, DefaultSizeIsTheLeastWithTheStatedGuarantee) {
  EXPECT_GE(1 - std::pow(0.99, kDefaultSampleRows), 0.99);
  EXPECT_LT(1 - std::pow(0.99, kDefaultSampleRows - 1), 0.99);
}

std::vector<long> Draw(size_t capacity, uint64_t seed, int rows) {
  ReservoirSlots slots(capacity, seed);
  std::vector<long> out;
  for (int i = 0; i < rows; ++i) out.push_back(slots.Offer());
  return out;
}

TEST(Sampler, ReproducibleForASeedAndDifferentForAnother) {
  EXPECT_EQ(Draw(10, 1, 1000), Draw(10, 1, 1000));
  EXPECT_NE(Draw(10, 1, 1000), Draw(10, 2, 1000));
}

TEST(Sampler, FirstRowsFillTheReservoir) {
  const auto d = Draw(5, 1, 5);
  EXPECT_EQ(d, (std::vector<long>{0, 1, 2, 3, 4}));
}

TEST(Sampler, EveryRowIsEquallyLikelyToEndInTheSample) {
  // 20 rows, 5 slots, 20,000 runs: each row should end in the sample 25% of the time.
  const int rows = 20, runs = 20000;
  std::vector<int> kept(rows, 0);
  for (int r = 0; r < runs; ++r) {
    ReservoirSlots slots(5, 1000 + r);
    std::vector<int> slot_row(5, -1);
    for (int i = 0; i < rows; ++i) {
      const long s = slots.Offer();
      if (s >= 0) slot_row[static_cast<size_t>(s)] = i;
    }
    for (int i : slot_row) ++kept[static_cast<size_t>(i)];
  }
  for (int i = 0; i < rows; ++i) EXPECT_NEAR(kept[i] / double(runs), 0.25, 0.02) << i;
}

TEST(Sampler, BelowIsInRange) {
  SplitMix64 rng(7);
  for (uint64_t bound : {1ull, 2ull, 3ull, 1000ull, (1ull << 63) + 5}) {
    for (int i = 0; i < 1000; ++i) EXPECT_LT(rng.Below(bound), bound);
  }
}

}  // namespace
}  // namespace sdp::scan
