// How a value that came from outside (a user's argument, a server's answer) is shown in an error
// message: never in full, never able to forge a second log line or reorder the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sdp {

// The first `max_bytes` bytes of `value`, printable ASCII kept and every other byte (control
// characters, line breaks, any byte of a multi-byte character, which may be a bidi override)
// shown as '?', then "..." when it was longer.
std::string ShownValue(std::string_view value, size_t max_bytes = 40);

}  // namespace sdp
