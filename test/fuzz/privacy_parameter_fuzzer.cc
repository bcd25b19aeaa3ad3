// libFuzzer target for the privacy parameter parser (ε, δ, quantiles as decimal text): never
// crashes, a failure always says why, and an accepted value is in lowest terms, within the
// documented range, and never above the decimal it was parsed from (digits past the ninth
// round down, never up).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/dp/mechanisms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sdp::dp::Rational r;
  std::string err;
  if (!sdp::dp::ParsePrivacyParameter(text, &r, &err)) {
    if (err.empty()) std::abort();
    return 0;
  }
  if (r.den == 0 || r.den > 1000000000u) std::abort();
  if (r.num > static_cast<sdp::dp::uint128>(1000000) * r.den + r.den) std::abort();
  sdp::dp::uint128 a = r.num, b = r.den;  // lowest terms: gcd 1 (or 0/1)
  while (b != 0) {
    const sdp::dp::uint128 t = a % b;
    a = b;
    b = t;
  }
  if (r.num != 0 && a != 1) std::abort();
  if (r.num == 0 && r.den != 1) std::abort();
  // Compare with the decimal: r <= text, and text - r < 10^-9 (checked on the digits).
  const double parsed = std::strtod(text.c_str(), nullptr);
  const double value = static_cast<double>(r.num) / static_cast<double>(r.den);
  if (value > parsed * (1 + 1e-12) + 1e-300) std::abort();
  if (parsed - value > 1e-9 + parsed * 1e-12) std::abort();
  return 0;
}
