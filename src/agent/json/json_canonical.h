// RFC 8785 (JSON Canonicalization Scheme) form of a JSON text: members sorted by their names'
// UTF-16 code units, no white space, strings with the minimal escapes, numbers as ECMAScript
// writes an IEEE 754 double. Two documents that mean the same JSON have the same canonical form;
// the round-trip property of pseudonymization is stated in it.
#pragma once

#include <string>
#include <string_view>

namespace sdp {

// false with *err (nlohmann's reason) when `json` is not valid JSON.
bool CanonicalJson(std::string_view json, std::string* out, std::string* err);

// ECMAScript Number::toString of a finite double (RFC 8785 3.2.2.3): "0" for -0, "1e+21",
// "1e-7", "0.000001", "333333333.3333332".
std::string CanonicalNumber(double value);

}  // namespace sdp
