// IBAN checks: country length and ISO 7064 mod-97.
#include "common/iban.h"

#include <cstdint>
#include <cstring>

namespace sdp {
namespace {

struct CountryLength {
  char code[3];
  unsigned char length;
};

// SWIFT IBAN Registry (release 2024), sorted by code.
constexpr CountryLength kLengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

size_t IbanLengthForCountry(std::string_view country) {
  if (country.size() != 2) return 0;
  // The registry is sorted by code: a binary search keeps the scan's per-cell cost flat.
  size_t lo = 0, hi = sizeof(kLengths) / sizeof(kLengths[0]);
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    const CountryLength& e = kLengths[mid];
    const int cmp = e.code[0] != country[0] ? e.code[0] - country[0] : e.code[1] - country[1];
    if (cmp == 0) return e.length;
    if (cmp < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return 0;
}

bool IbanValid(std::string_view iban, std::string* why) {
  auto fail = [why](std::string msg) {
    if (why != nullptr) *why = std::move(msg);
    return false;
  };
  // The PII scan calls this for every IBAN-shaped cell: a stack buffer, no allocation unless
  // the answer is "no" and the caller asked why.
  constexpr size_t kMaxIban = 34;
  char s[kMaxIban];
  size_t n = 0;
  for (size_t i = 0; i < iban.size(); ++i) {
    const char c = Upper(iban[i]);
    if (c == ' ') continue;
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return fail("character at offset " + std::to_string(i) + " is not A-Z or 0-9");
    }
    if (n == kMaxIban) return fail("longer than the 34 characters of any IBAN");
    s[n++] = c;
  }
  if (n < 4) return fail("too short for an IBAN");
  const std::string_view country(s, 2);
  if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z')) {
    return fail("does not start with a two-letter country code");
  }
  if (!(s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9')) {
    return fail("characters 3-4 are not check digits");
  }
  const size_t expected = IbanLengthForCountry(country);
  if (expected == 0) return fail("unknown IBAN country code " + std::string(country));
  if (n != expected) {
    return fail("IBAN for " + std::string(country) + " must have " + std::to_string(expected) +
                " characters, got " + std::to_string(n));
  }
  // ISO 7064 MOD 97-10 over BBAN || country || check digits, letters as 10..35. The digits are
  // gathered into a 64-bit accumulator and reduced only when another two would overflow 10^17,
  // so the division runs a few times per IBAN instead of once per character.
  uint64_t acc = 0, scale_left = 0;
  auto take = [&](unsigned value, unsigned width) {  // width: 1 digit, or 2 for a letter
    if (scale_left < width) {
      acc %= 97;
      scale_left = 15;  // acc < 97 has 2 digits: 15 more fit below 10^17
    }
    acc = acc * (width == 1 ? 10 : 100) + value;
    scale_left -= width;
  };
  for (size_t k = 0; k < n; ++k) {
    const char c = s[k + 4 < n ? k + 4 : k + 4 - n];
    if (c >= '0' && c <= '9') {
      take(static_cast<unsigned>(c - '0'), 1);
    } else {
      take(static_cast<unsigned>(c - 'A' + 10), 2);
    }
  }
  if (acc % 97 != 1) return fail("IBAN check digits do not match (mod 97 != 1)");
  return true;
}

}  // namespace sdp
