// Common given names and surnames (lower-case ASCII), the evidence that a column of capitalised
// words holds people's names rather than cities, products or categories.
#pragma once

#include <string_view>

namespace sdp::scan {

// True if `word` (any ASCII case; letters with Latin-1 accents are folded to their base letter)
// is a common given name or surname in the languages the agent's users write in (English,
// German, French, Spanish, Portuguese, Italian, Dutch, Polish, Nordic, Irish, and common names
// of Arabic, Chinese, Indian, Japanese, Korean, Vietnamese and West-African origin in
// Latin script). Place names that are also given names (Paris, Milan, Florence, ...) are left
// out so that a column of cities does not read as names.
bool IsCommonNameWord(std::string_view word);

}  // namespace sdp::scan
