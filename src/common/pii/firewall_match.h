// What the PII firewall (firewall.h) matches candidates with: the shared validators of
// src/common/pii/ (folding, e-mail shape, IIN ranges + Luhn, SSN rules), plus the one rule of
// its own, which number shapes it refuses as phone numbers.
#pragma once

#include <string>
#include <string_view>

namespace sdp::pii {

// `value` with its obfuscations undone, into *out: full-width forms as ASCII, NBSP and the other
// Unicode spaces as ' ', zero-width characters and soft hyphens removed, Unicode dashes as '-'.
void FoldForMatching(std::string_view value, std::string* out);

// True when folded `text` contains an e-mail address anywhere.
bool ContainsEmail(std::string_view text);

// `digits` (ASCII digits only) is a payment card number: a known IIN range, a length that range
// issues, and the Luhn check digit.
bool PaymentCardValid(std::string_view digits);

// `digits` (9 ASCII digits) is an SSN the SSA could have issued: area not 000, 666 or 900-999,
// group not 00, serial not 0000.
bool UsSsnValid(std::string_view digits);

// The digits of one number and how they were written (led by '+', the
// group lengths) form a phone number: E.164 with '+' (8 to 15 digits), an international "00"
// prefix with grouping, a NANP number (10 digits, or 11 with the leading 1, valid area code and
// exchange), or a national number with a trunk '0' (10 or 11 digits).
bool PhoneShape(std::string_view digits, bool plus, const int* groups, int ngroups);

}  // namespace sdp::pii
