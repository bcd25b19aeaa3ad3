// UTF-8 encoding and validation (RFC 3629), shared by the JSON scanner, JSONPath and the RFC 8785
// canonicalizer: one definition of what a well-formed sequence is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sdp {

// Appends the UTF-8 of code point `cp` (at most U+10FFFF; the caller never passes a surrogate).
void AppendUtf8(uint32_t cp, std::string* out);

// Length of the well-formed UTF-8 sequence at s[i]: 1 for ASCII, 2 to 4, or 0 when it is not
// well formed (a stray continuation byte, an overlong form, a surrogate, above U+10FFFF, or cut
// off by the end of `s`). i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace sdp
