// Small text helpers the agent and the server share: ASCII case-insensitive comparison, trimming,
// the canonical UUID check, and how a list of column names is split and shown.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sdp {

// Equal but for ASCII case. No locale: under a Turkish LANG "I" still matches "i" only, so
// keywords, header names and schemes compare the same on every machine.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

// `s` without leading and trailing ASCII white space (space, \t, \n, \v, \f, \r).
std::string_view TrimAsciiSpace(std::string_view s);

// A UUID in its canonical text form: 36 characters, hex digits of either case in groups of
// 8-4-4-4-12 separated by '-'. What the server prints for a batch id; checked before such an id
// is spliced into a statement or a URL.
bool IsCanonicalUuid(std::string_view s);

// `s` cut at every `separator`, empty pieces kept ("a,,b" -> "a", "", "b"; "" -> one "").
std::vector<std::string> SplitOn(std::string_view s, char separator);

// How an error lists the columns a file has: "a, b, c", the first `max_listed` names only, then
// ", ... (N more)".
std::string ColumnList(const std::vector<std::string>& names, size_t max_listed = 50);

}  // namespace sdp
