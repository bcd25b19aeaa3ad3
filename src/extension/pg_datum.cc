#include "pg_datum.h"

namespace sdp::pg {

std::string TextArg(FunctionCallInfo fcinfo, int i) {
  text* value = PgCall([&] { return PG_GETARG_TEXT_PP(i); });
  return std::string(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

Datum TextDatum(std::string_view value) {
  return PgCall([&] {
    return PointerGetDatum(cstring_to_text_with_len(value.data(), static_cast<int>(value.size())));
  });
}

}  // namespace sdp::pg
