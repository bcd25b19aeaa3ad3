// A reproducible uniform sample of rows of unknown count: reservoir sampling (Algorithm R) with a
// seeded SplitMix64 generator, so the same file and seed always give the same sample.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace sdp::scan {

// The default sample size: the smallest n with 1 - 0.99^n >= 0.99, so that a column in which at
// least 1% of the cells are PII has at least one PII cell in the sample with probability 99% or
// more (sampling without replacement only raises it).
constexpr size_t kDefaultSampleRows = 459;

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), bound > 0 (Lemire's multiply-shift with rejection).
  uint64_t Below(uint64_t bound);

 private:
  uint64_t state_;
};

// Decides, row by row, whether the row enters a reservoir of `capacity` slots and which slot it
// replaces. The caller keeps the rows.
class ReservoirSlots {
 public:
  ReservoirSlots(size_t capacity, uint64_t seed) : capacity_(capacity), rng_(seed) {}
  // For the next row: the slot it goes to, or -1 if it is skipped.
  long Offer();
  uint64_t seen() const { return seen_; }

 private:
  size_t capacity_;
  SplitMix64 rng_;
  uint64_t seen_ = 0;
};

}  // namespace sdp::scan
