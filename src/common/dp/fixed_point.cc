// numeric's storage format, as numeric.c lays it out (PostgreSQL 9.1 and later):
//   uint16 header: top two bits 10 = short form, 11 = special (NaN, ±Infinity), 00/01 = long
//   form with the sign in bit 14. Short: bit 13 sign, bits 7..12 display scale, bit 6 weight sign,
//   bits 0..5 weight magnitude. Long: a second int16, the weight.
//   then base-10000 digits (int16, native order), the first one times 10000^weight.
#include "common/dp/fixed_point.h"

#include <algorithm>
#include <cstring>

namespace sdp::dp {
namespace {

using int128 = __int128;

constexpr uint16_t kSignMask = 0xC000;
constexpr uint16_t kNegative = 0x4000;
constexpr uint16_t kShort = 0x8000;
constexpr uint16_t kSpecial = 0xC000;
constexpr uint16_t kNaN = 0xC000;
constexpr uint16_t kPositiveInfinity = 0xD000;
constexpr uint16_t kNegativeInfinity = 0xF000;
constexpr uint16_t kShortSign = 0x2000;
constexpr uint16_t kShortWeightSign = 0x0040;
constexpr uint16_t kShortWeightMask = 0x003F;
constexpr int kDecimalDigitsPerDigit = 4;
constexpr int128 kSaturated = static_cast<int128>(1) << 100;  // far beyond any clamp bound

int128 PowerOfTen(int n) {
  int128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

bool NumericToFixed(const uint8_t* payload, size_t size, int scale, int64_t lower, int64_t upper,
                    int64_t* out) {
  if (size < 2 || scale < 0 || scale > 18 || lower > upper) return false;
  const uint16_t header = Load16(payload);
  bool negative;
  int weight;
  size_t offset;
  if ((header & kSignMask) == kSpecial) {
    if (size != 2) return false;
    if (header == kNaN || header == kNegativeInfinity) {
      *out = lower;
    } else if (header == kPositiveInfinity) {
      *out = upper;
    } else {
      return false;
    }
    return true;
  }
  if ((header & kSignMask) == kShort) {
    negative = (header & kShortSign) != 0;
    weight = (header & kShortWeightSign) != 0 ? static_cast<int>(header & kShortWeightMask) - 64
                                              : static_cast<int>(header & kShortWeightMask);
    offset = 2;
  } else {
    if (size < 4) return false;
    negative = (header & kSignMask) == kNegative;
    int16_t w;
    std::memcpy(&w, payload + 2, 2);
    weight = w;
    offset = 4;
  }
  if ((size - offset) % 2 != 0) return false;
  const size_t ndigits = (size - offset) / 2;

  // magnitude * 10^scale, rounded half away from zero; digit i is worth 10^(4*(weight-i)).
  int128 magnitude = 0;
  for (size_t i = 0; i < ndigits; ++i) {
    const uint16_t d = Load16(payload + offset + 2 * i);
    if (d > 9999) return false;
    const long exponent =
        kDecimalDigitsPerDigit * (static_cast<long>(weight) - static_cast<long>(i)) + scale;
    if (exponent >= 0) {
      if (exponent > 30 || magnitude >= kSaturated) {
        if (d != 0) magnitude = kSaturated;
        continue;
      }
      magnitude += static_cast<int128>(d) * PowerOfTen(static_cast<int>(exponent));
      if (magnitude > kSaturated) magnitude = kSaturated;
      continue;
    }
    // The first digit reaching below the granularity decides the rounding; those after it
    // cannot move the dropped fraction across one half (they are worth less than its last
    // decimal place).
    const long dropped = -exponent;  // decimal places of d below the granularity
    if (dropped < kDecimalDigitsPerDigit) {
      const int128 unit = PowerOfTen(static_cast<int>(dropped));
      magnitude += d / unit;
      if (d % unit >= 5 * PowerOfTen(static_cast<int>(dropped) - 1)) magnitude += 1;
    } else if (dropped == kDecimalDigitsPerDigit && d >= 5000) {
      magnitude += 1;
    }
    break;
  }
  const int128 value = negative ? -magnitude : magnitude;
  *out = static_cast<int64_t>(std::clamp<int128>(value, lower, upper));
  return true;
}

}  // namespace sdp::dp
