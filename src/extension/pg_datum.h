// Small, bridge-safe conversions between Datums and C++ values.
#pragma once

#include <string>
#include <string_view>

#include "pg_bridge.h"

namespace sdp::pg {

// The text argument `i` as a std::string (detoasted through the bridge).
std::string TextArg(FunctionCallInfo fcinfo, int i);
// A palloc'ed text Datum in the current memory context.
Datum TextDatum(std::string_view value);

}  // namespace sdp::pg
