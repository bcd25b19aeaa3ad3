// `.env` files: KEY=VALUE settings read at start-up (the seeds' convention).
//
// Only one file is read: `--env-file PATH`, or else `.env` in the working directory (never one
// found further up the tree: a directory above the user's may belong to someone else). It must
// be a regular file owned by the user and not writable by group or others, or the agent refuses
// to start; only `SDP_*` variables are taken from it (a `.env` shared with other tools may hold
// PGSSLMODE, http_proxy and the like: those are ignored, so a file cannot redirect libpq or
// libcurl). The real environment always wins. Values may be quoted ('...' literal, "..." with
// \n \" \\ escapes); `export ` prefixes and `#` comments are accepted.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace sdp {

// Parses `.env` text. On error returns false and sets *err to "<source>:<line>: <cause>".
bool ParseDotEnv(std::string_view text, const std::string& source,
                 std::map<std::string, std::string>* out, std::string* err);

// True for the names a `.env` may set: SDP_ followed by at least one character.
bool IsDotEnvVariable(const std::string& name);

struct DotEnvResult {
  int applied = 0;  // variables set
  int ignored = 0;  // names outside SDP_*, never set
};

// Reads `path` and sets every SDP_* variable not already present in the environment. A missing
// file is an error only when `must_exist`. Refuses (false, *err) a file that is not a regular
// file, not owned by the effective user, or writable by group or others. `result` may be null.
bool ApplyDotEnvFile(const std::string& path, bool must_exist, DotEnvResult* result,
                     std::string* err);

// Start-up: `explicit_path` (from --env-file) when not empty, else `.env` in the working
// directory if there is one.
bool LoadDotEnv(const std::string& explicit_path, std::string* err);

}  // namespace sdp
