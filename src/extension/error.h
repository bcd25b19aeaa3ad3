// sdp::Error: the only exception type the extension throws.
//
// It carries the SQLSTATE the client will see, so the bridge (pg_bridge.h) can turn it into a
// proper ereport(ERROR) and PostgREST can map it to the right HTTP status (docs/postgrest.md §5):
// 22023/22P02 -> 400, PT401/PT403 -> 401/403, PT404 -> 404, PT409 -> 409, PT413 -> 413.
// Never 40001: PostgREST v12 retries that forever.
#pragma once

#include <string>
#include <utility>

namespace sdp {

struct Error {
  std::string sqlstate;  // five characters, e.g. "22P02" or "PT409"
  std::string message;
  std::string detail;
  std::string hint;

  Error(std::string state, std::string msg, std::string det = {}, std::string hnt = {})
      : sqlstate(std::move(state)),
        message(std::move(msg)),
        detail(std::move(det)),
        hint(std::move(hnt)) {}
};

// SQLSTATEs we use, named by what they mean to a caller.
namespace sqlstate {
inline constexpr const char* kInvalidParameter = "22023";  // HTTP 400
inline constexpr const char* kInvalidText = "22P02";       // HTTP 400
inline constexpr const char* kBadCopyFormat = "22P04";     // HTTP 400 (malformed CSV)
inline constexpr const char* kProgramLimit = "54000";      // HTTP 500 unless mapped
inline constexpr const char* kOutOfMemory = "53200";
inline constexpr const char* kInternal = "XX000";
inline constexpr const char* kInsufficientPrivilege = "42501";  // HTTP 403
inline constexpr const char* kObjectNotInPrerequisiteState = "55000";
inline constexpr const char* kUnauthorized = "PT401";
inline constexpr const char* kForbidden = "PT403";
inline constexpr const char* kNotFound = "PT404";
inline constexpr const char* kConflict = "PT409";
inline constexpr const char* kPayloadTooLarge = "PT413";
inline constexpr const char* kUnsupportedMediaType = "PT415";
inline constexpr const char* kUnprocessable = "PT422";
}  // namespace sqlstate

}  // namespace sdp
