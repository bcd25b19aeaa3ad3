// How a value that came from outside (a user's argument, a config, a file, a server's answer) is
// shown in an error message: never in full, never able to forge a second log line or reorder the
// terminal. Every error that names such a value goes through one of these.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sdp {

// The first `max_bytes` bytes of `value`, printable ASCII kept and every other byte (control
// characters, line breaks, any byte of a multi-byte character, which may be a bidi override)
// shown as '?', then "..." when it was longer.
std::string ShownValue(std::string_view value, size_t max_bytes = 40);

// ShownValue in single quotes, the way errors name a value: unknown normalize 'upper'.
std::string QuotedValue(std::string_view value, size_t max_bytes = 40);

// Text a server sent (a message, a hint, a field of a reply), for one stderr or log line: the
// same rules as ShownValue, except that line breaks and tabs read as spaces and trailing ones are
// dropped (PostgreSQL ends its messages with a newline and spreads some over several lines).
std::string ShownServerText(std::string_view text, size_t max_bytes = 1000);

// The server's rule (sdp._echo() in SQL, and the C++ of sdp.so): the first `max_chars` characters
// (code points of UTF-8 text) kept as they are, so names in any script stay readable, except
// control characters (C0, DEL, C1), line and paragraph separators and bidi embeddings, overrides
// and isolates, each shown as '?'; then "…" when there were more.
std::string EchoedValue(std::string_view value, size_t max_chars = 64);

}  // namespace sdp
