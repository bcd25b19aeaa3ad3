// The Luhn check digit (payment cards and other identifiers).
#include "common/luhn.h"

#include <string>

namespace sdp {
namespace {

// Luhn sum of `digits`, doubling every second digit from the right starting
// with the rightmost when `double_rightmost`; -1 on a non-digit.
int LuhnSum(std::string_view digits, bool double_rightmost) {
  int sum = 0;
  bool dbl = double_rightmost;
  for (size_t i = digits.size(); i-- > 0;) {
    const char c = digits[i];
    if (c < '0' || c > '9') return -1;
    int d = c - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum;
}

}  // namespace

bool LuhnValid(std::string_view digits) {
  if (digits.size() < 2) return false;
  const int sum = LuhnSum(digits, false);
  return sum >= 0 && sum % 10 == 0;
}

bool LuhnValidFormatted(std::string_view text) {
  std::string digits;
  digits.reserve(text.size());
  for (char c : text) {
    if (c != ' ' && c != '-') digits.push_back(c);
  }
  return LuhnValid(digits);
}

char LuhnCheckDigit(std::string_view payload) {
  if (payload.empty()) return '\0';
  const int sum = LuhnSum(payload, true);
  if (sum < 0) return '\0';
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

}  // namespace sdp
