// Reservoir sampling; see sampler.h.
#include "agent/scan/sampler.h"

namespace sdp::scan {

uint64_t SplitMix64::Below(uint64_t bound) {
  // Multiply-shift maps a 64-bit draw onto [0, bound); draws in the short first interval are
  // redrawn so every value is equally likely.
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const unsigned __int128 m = static_cast<unsigned __int128>(Next()) * bound;
    if (static_cast<uint64_t>(m) >= threshold) return static_cast<uint64_t>(m >> 64);
  }
}

long ReservoirSlots::Offer() {
  const uint64_t i = seen_++;
  if (i < capacity_) return static_cast<long>(i);
  const uint64_t j = rng_.Below(i + 1);
  return j < capacity_ ? static_cast<long>(j) : -1;
}

}  // namespace sdp::scan
