// Validators for one cell that may be PII: e-mail, payment card, IBAN, US SSN, phone. Pure C++17
// without third-party code: the agent's scanner and the server's PII firewall share them.
//
// Each takes one cell already folded (FoldObfuscation, fold.h); leading and trailing ASCII white
// space is ignored, anything else around the value makes it a non-match (free text is the
// scanner's job, not the validators'). Each is linear in the cell's length and gives up early on
// cells far longer than the value it checks, so huge or binary cells cost next to nothing.
#pragma once

#include <string_view>

namespace sdp::pii {

// An addr-spec as people write it (RFC 5321 limits, no quoted local parts or IP literals):
// local part of 1..64 characters from RFC 5322's atext and '.', no leading, trailing or double
// '.'; a domain of at least two labels (1..63 of [A-Za-z0-9-], no '-' at either end), a top-level
// label of letters (2+) or an IDNA "xn--" label; at most 254 characters in all.
bool LooksLikeEmail(std::string_view cell);

enum class CardScheme {
  kNone,
  kVisa,
  kMastercard,
  kAmex,
  kDiscover,
  kJcb,
  kDiners,
  kUnionPay,
  kMaestro,
};

// The scheme of a payment card number: digits with optional single ' ' or '-' between groups,
// an issuer identification number (IIN) of a known scheme, a length that scheme issues, and a
// valid Luhn check digit. kNone otherwise. IIN ranges and lengths as the schemes publish them:
//   Visa 4 (13, 16, 19); Mastercard 51-55 and 2221-2720 (16); Amex 34, 37 (15);
//   Discover 6011, 622126-622925, 644-649, 65 (16-19); JCB 3528-3589 (16-19);
//   Diners 300-305, 3095, 36, 38, 39 (14-19); UnionPay 62 (16-19);
//   Maestro 5018, 5020, 5038, 5893, 6304, 6759, 6761-6763 (12-19).
CardScheme PaymentCardScheme(std::string_view cell);
inline bool IsPaymentCard(std::string_view cell) {
  return PaymentCardScheme(cell) != CardScheme::kNone;
}
// "visa", "mastercard", ... ; "none" for kNone.
const char* CardSchemeName(CardScheme scheme);

// An IBAN (ISO 13616): registered country and length, MOD 97-10 check digits; printed form with
// spaces and lower case accepted (common/iban.h does the checking).
bool IsIban(std::string_view cell);

// A US Social Security Number that the SSA could have issued: "AAA-GG-SSSS", "AAA GG SSSS" or
// "AAAGGSSSS" (each of the two separators '-', ' ' or '.'; both or neither), area not 000, 666 or
// 900-999, group not 00, serial not 0000, and not one of the numbers the SSA voided after they
// were printed in advertising (078-05-1120, 219-09-9999, 457-55-5462).
bool IsUsSsn(std::string_view cell);

// The shape of a telephone number (not its validity in a numbering plan: the agent's scanner asks
// libphonenumber for that). Characters: digits, single separators ' ', '.', '-', '/' between digit
// groups, at most one parenthesised group of 1..5 digits, an optional leading '+'. Accepted:
//   - international: '+' (or "00") then 7..15 digits (E.164), the first not 0;
//   - national with a trunk prefix: a leading '0', 9..12 digits;
//   - North American: 10 digits, or 11 starting with 1, in groups of at most 4 digits (with at
//     least one separator or a parenthesised area code).
// Not accepted, because they are other data of the same digits: a bare number without separators
// or leading '0'/'+', a decimal number (one '.' as the only separator), a dotted quad (IPv4).
bool LooksLikePhone(std::string_view cell);

}  // namespace sdp::pii
