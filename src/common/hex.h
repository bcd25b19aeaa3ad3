// Lowercase hex encoding and strict hex decoding (test vectors, key ids,
// debugging output). Shared by the agent and the tests; no OpenSSL needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sdp {

// Lowercase hex of n bytes at p.
std::string HexEncode(const uint8_t* p, size_t n);
inline std::string HexEncode(std::string_view bytes) {
  return HexEncode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Decodes upper- or lowercase hex (no prefix, no separators) into *out,
// replacing its contents. On failure returns false, leaves *out empty and
// names the offending offset in *err; the input itself is never echoed,
// because callers decode key material with this too.
bool HexDecode(std::string_view in, std::vector<uint8_t>* out, std::string* err);

}  // namespace sdp
