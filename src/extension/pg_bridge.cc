// Implementation of the error bridge declared in pg_bridge.h.
#include "pg_bridge.h"

#include <cstring>
#include <string>

namespace sdp::pg {

int PackSqlState(const char* state) {
  if (state == nullptr || std::strlen(state) != 5) return ERRCODE_INTERNAL_ERROR;
  for (int i = 0; i < 5; ++i) {
    const char c = state[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return ERRCODE_INTERNAL_ERROR;
  }
  return MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
}

std::string UnpackSqlState(int code) {
  // unpack_sql_state() returns a static buffer; copy it straight away.
  return std::string(unpack_sql_state(code));
}

void CopyTruncated(char* dst, size_t cap, const std::string& src) {
  if (src.size() < cap) {
    std::memcpy(dst, src.data(), src.size());
    dst[src.size()] = '\0';
    return;
  }
  std::memcpy(dst, src.data(), cap - 4);
  std::memcpy(dst + cap - 4, "...", 4);
}

void RaiseCopiedError(int sqlerrcode, const char* message, const char* detail, const char* hint,
                      bool log_internal) {
  if (log_internal) {
    // Unexpected C++ exceptions are bugs: leave a trace in the server log as well.
    ereport(LOG, (errmsg_internal("sdp: unexpected C++ exception: %s", message)));
  }
  ereport(ERROR,
          (errcode(sqlerrcode), errmsg_internal("%s", message),
           detail[0] ? errdetail_internal("%s", detail) : 0, hint[0] ? errhint("%s", hint) : 0));
  pg_unreachable();
}

sdp::Error TakeCurrentPgError(MemoryContext restore_to) {
  // CopyErrorData() refuses to run in ErrorContext; go back to where the caller was.
  MemoryContextSwitchTo(restore_to);
  ErrorData* edata = CopyErrorData();
  FlushErrorState();
  sdp::Error error(UnpackSqlState(edata->sqlerrcode), edata->message ? edata->message : "",
                   edata->detail ? edata->detail : "", edata->hint ? edata->hint : "");
  FreeErrorData(edata);
  return error;
}

}  // namespace sdp::pg
