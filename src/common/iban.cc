// IBAN checks: country length and ISO 7064 mod-97.
#include "common/iban.h"

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
  for (const CountryLength& e : kLengths) {
    if (e.code[0] == country[0] && e.code[1] == country[1]) return e.length;
  }
  return 0;
}

bool IbanValid(std::string_view iban, std::string* why) {
  auto fail = [why](std::string msg) {
    if (why != nullptr) *why = std::move(msg);
    return false;
  };
  std::string s;
  s.reserve(iban.size());
  for (size_t i = 0; i < iban.size(); ++i) {
    const char c = Upper(iban[i]);
    if (c == ' ') continue;
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return fail("character at offset " + std::to_string(i) + " is not A-Z or 0-9");
    }
    s.push_back(c);
  }
  if (s.size() < 4) return fail("too short for an IBAN");
  if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z')) {
    return fail("does not start with a two-letter country code");
  }
  if (!(s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9')) {
    return fail("characters 3-4 are not check digits");
  }
  const size_t expected = IbanLengthForCountry(s.substr(0, 2));
  if (expected == 0) return fail("unknown IBAN country code " + s.substr(0, 2));
  if (s.size() != expected) {
    return fail("IBAN for " + s.substr(0, 2) + " must have " + std::to_string(expected) +
                " characters, got " + std::to_string(s.size()));
  }
  // ISO 7064 MOD 97-10 over BBAN || country || check digits, letters as
  // 10..35, computed incrementally so no big integer is needed.
  unsigned remainder = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    const char c = s[(k + 4) % s.size()];
    if (c >= '0' && c <= '9') {
      remainder = (remainder * 10 + static_cast<unsigned>(c - '0')) % 97;
    } else {
      remainder = (remainder * 100 + static_cast<unsigned>(c - 'A' + 10)) % 97;
    }
  }
  if (remainder != 1) return fail("IBAN check digits do not match (mod 97 != 1)");
  return true;
}

}  // namespace sdp
