// The ASCII folding that undoes what people and attackers use to slip PII past a matcher, without
// ICU: the server links this (the agent runs ICU's NFKC first, then this).
#pragma once

#include <string>
#include <string_view>

namespace sdp::pii {

// `text` with, per code point of well-formed UTF-8:
//   - full-width forms U+FF01..U+FF5E (digits, letters, '@', '.', '-', '+', ...) -> their ASCII
//     twin; the ideographic and half-width full stops U+3002, U+FF61 and the small '@' U+FE6B too;
//   - NBSP and the other Unicode spaces (U+00A0, U+1680, U+2000..U+200A, U+202F, U+205F, U+3000)
//     -> ' ';
//   - zero-width and invisible characters (U+200B..U+200D, U+2060..U+2064, U+FEFF, U+180E) and the
//     soft hyphen U+00AD removed;
//   - Unicode dashes and minus signs (U+2010..U+2015, U+2212, U+2043, U+FE58, U+FE63) -> '-'.
// Everything else is copied byte for byte, including ill-formed UTF-8 (each stray byte stays as
// it was, so nothing is hidden by the folding itself and binary input is never rejected).
std::string FoldObfuscation(std::string_view text);

}  // namespace sdp::pii
