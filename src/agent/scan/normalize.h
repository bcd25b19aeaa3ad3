// What a cell goes through before it is matched: Unicode NFKC (ICU), then the ASCII folding of
// look-alike and invisible characters (common/pii/fold.h), then ASCII space trimmed.
#pragma once

#include <string>
#include <string_view>

namespace sdp::scan {

// Normalizes `cell` into *out. ASCII cells (nearly all of them in practice) skip ICU: NFKC
// leaves ASCII unchanged, so the result is the same and the cost is one pass over the bytes.
// Ill-formed UTF-8 is folded but not NFKC-normalized (ICU would replace it with U+FFFD and hide
// what was there).
void NormalizeCell(std::string_view cell, std::string* out);

}  // namespace sdp::scan
