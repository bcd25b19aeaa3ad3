// IBAN validation (ISO 13616): known country, registered length, ISO 7064
// MOD 97-10 check digits. Used to warn on IBAN columns; it does not prove an
// account exists.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sdp {

// Registered IBAN length for an upper-case ISO 3166 country code (SWIFT IBAN
// Registry), or 0 if the country does not use IBANs or is unknown.
size_t IbanLengthForCountry(std::string_view country);

// True iff `iban` is valid. Spaces (the printed form, "GB82 WEST 1234 ...")
// are ignored and lower-case letters accepted. On false, *why (if not null)
// says what is wrong without echoing the value.
bool IbanValid(std::string_view iban, std::string* why = nullptr);

}  // namespace sdp
