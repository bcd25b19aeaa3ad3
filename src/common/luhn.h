// Luhn (mod 10) check digits, used to warn when a column configured as card
// numbers holds values that cannot be card numbers (and vice versa).
#pragma once

#include <string_view>

namespace sdp {

// True iff `digits` is at least 2 ASCII digits and passes the Luhn check.
bool LuhnValid(std::string_view digits);
// Same after removing ' ' and '-' ("4111 1111 1111 1111"); any other
// non-digit makes it invalid.
bool LuhnValidFormatted(std::string_view text);
// The check digit ('0'..'9') to append to `payload` (at least 1 ASCII digit);
// '\0' if payload is empty or has a non-digit.
char LuhnCheckDigit(std::string_view payload);

}  // namespace sdp
