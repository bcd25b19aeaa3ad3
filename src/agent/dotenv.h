// `.env` files: KEY=VALUE settings read at start-up (the seeds' convention).
//
// The real environment always wins; a `.env` in the working directory wins over one at the
// repository root. Values may be quoted ('...' literal, "..." with \n \" \\ escapes); `export `
// prefixes and `#` comments are accepted.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace sdp {

// Parses `.env` text. On error returns false and sets *err to "<source>:<line>: <cause>".
bool ParseDotEnv(std::string_view text, const std::string& source,
                 std::map<std::string, std::string>* out, std::string* err);

// Reads `path` if it exists (a missing file is not an error) and sets every variable not already
// present in the environment. `*applied` (optional) counts the variables set.
bool ApplyDotEnvFile(const std::string& path, int* applied, std::string* err);

// The repository root above `start_dir` (the first directory holding `.git` or `sdp.control`),
// or "" when there is none.
std::string FindRepoRoot(const std::string& start_dir);

// Start-up: working-directory `.env`, then the repository root's.
bool LoadDotEnv(std::string* err);

}  // namespace sdp
