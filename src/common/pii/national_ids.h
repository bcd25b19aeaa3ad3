// Validators for national identification numbers with check digits, one cell already folded
// (fold.h), leading and trailing ASCII space ignored. Each accepts what python3-stdnum's module
// of the same number accepts in the printed forms listed (stdnum is the benchmark's oracle).
#pragma once

#include <string_view>

namespace sdp::pii {

// Germany, Steuerliche Identifikationsnummer (stdnum.de.idnr): 11 digits, optionally grouped
// "36 574 261 809", not starting with 0; in the first 10 digits exactly one digit occurs two or
// three times, the others at most once; ISO 7064 MOD 11,10 check digit.
bool IsDeTaxId(std::string_view cell);

// France, NIR / numéro de sécurité sociale (stdnum.fr.nir): 15 characters, digits except the
// Corsican departments 2A/2B at positions 6-7, optionally grouped by spaces
// "2 82 12 75 108 978 09"; key = 97 - (first 13 digits mod 97).
bool IsFrNir(std::string_view cell);

// Netherlands, Burgerservicenummer (stdnum.nl.bsn): 9 digits, or printed "1234.56.782"; the
// 11-test (9*d1 + 8*d2 + ... + 2*d8 - d9 divisible by 11), not all zero.
bool IsNlBsn(std::string_view cell);

// Spain, DNI (stdnum.es.dni) "12345678Z" and NIE (stdnum.es.nie) "X1234567L": 8 digits (or
// X/Y/Z and 7 digits) and the control letter of mod 23; an optional '-' or ' ' before the
// letter; lower case accepted.
bool IsEsDni(std::string_view cell);

// Italy, codice fiscale of a person (stdnum.it.codicefiscale, 16-character form): 6 letters,
// year, month letter, day (+40 for women), place, with the omocodia digit letters, a valid birth
// date, and the check letter.
bool IsItCodiceFiscale(std::string_view cell);

// Poland, PESEL (stdnum.pl.pesel): 11 digits, a valid birth date in the first 6 (century in the
// month), weights 1-3-7-9 check digit.
bool IsPlPesel(std::string_view cell);

}  // namespace sdp::pii
