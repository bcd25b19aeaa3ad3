// The classes `sdp-agent scan` assigns to a column, their names in reports and configs, and the
// token type each one gets in a proposed tokenization config.
#pragma once

#include <cstdint>
#include <string_view>

namespace sdp::scan {

// In order of specificity: when two classes match the same share of a column's cells, the one
// listed first wins (a check-digit class rarely matches by chance, a shape class often does).
enum class PiiClass : uint8_t {
  kIban,
  kPaymentCard,
  kItCodiceFiscale,
  kFrNir,
  kEsDni,
  kDeTaxId,
  kPlPesel,
  kUsSsn,
  kNlBsn,
  kEmail,
  kIpv6,
  kIpv4,
  kPhone,
  kDateOfBirth,
  kPostalAddress,
  kPersonName,
  kFreeTextPii,
  kNotPii,
};
constexpr int kPiiClassCount = static_cast<int>(PiiClass::kNotPii) + 1;

// "iban", "payment_card", ..., "free_text_pii", "not_pii".
const char* PiiClassName(PiiClass c);
// The class of a name PiiClassName returns; false for anything else.
bool ParsePiiClass(std::string_view name, PiiClass* out);

// True for the classes whose values carry a check digit (what the benchmark's recall target of
// 0.995 covers).
bool HasCheckDigits(PiiClass c);

// The token type a proposed config gives a column of class `c` (configs/README.md): HASH for
// identifiers and e-mail, FPE for card, SSN and IBAN, MASKED for phones, RANDOM for names,
// addresses, dates of birth and free text. Empty for kNotPii (the column is not listed).
std::string_view ProposedTokenType(PiiClass c);

// A bit per class, for the classes one cell matches.
using ClassMask = uint32_t;
constexpr ClassMask Bit(PiiClass c) { return ClassMask{1} << static_cast<int>(c); }

}  // namespace sdp::scan
