// Reading a whole (small) file into memory: configs, `.env` files, stamps. Bounded, EINTR-safe,
// with one-line errors that name the file and the fix.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace sdp {

// Everything there is to read from `fd` into *text, or, when there is more than `max_bytes`,
// the first max_bytes + 1 bytes (so the caller can say the file is too large without reading all
// of it). The bytes are read straight into *text, with no copy elsewhere in memory, so a caller
// holding a secret wipes *text alone. On failure *err is
// "<path>: cannot read: <cause>; fix: <fix>".
bool ReadWholeFd(int fd, const std::string& path, std::string* text, std::string* err,
                 size_t max_bytes = std::numeric_limits<size_t>::max(),
                 std::string_view fix = "check the file");

// Opens `path` (read-only, close-on-exec) and reads it as ReadWholeFd does. On failure *err is
// "<path>: cannot open: <cause>; fix: <fix>" (or "cannot read").
bool ReadWholeFile(const std::string& path, std::string* text, std::string* err,
                   size_t max_bytes = std::numeric_limits<size_t>::max(),
                   std::string_view fix = "check the path and its permissions");

}  // namespace sdp
