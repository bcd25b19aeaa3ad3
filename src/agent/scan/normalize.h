// What a cell goes through before it is matched: the ASCII folding of look-alike and invisible
// characters (common/pii/fold.h), Unicode NFKC (ICU), the folding again, ASCII space trimmed.
#pragma once

#include <string>
#include <string_view>

namespace sdp::scan {

// Normalizes `cell` into *out. ASCII cells (nearly all of them in practice) skip ICU: NFKC
// leaves ASCII unchanged, so the result is the same and the cost is one pass over the bytes.
// Ill-formed UTF-8 is folded but not NFKC-normalized (ICU would replace it with U+FFFD and hide
// what was there).
void NormalizeCell(std::string_view cell, std::string* out);

// The same without a copy for ASCII cells: the result is `cell` trimmed, or lives in *scratch
// (valid until the next call with the same scratch).
std::string_view NormalizedView(std::string_view cell, std::string* scratch);

}  // namespace sdp::scan
