// URL-safe base64 (RFC 4648 section 5: alphabet A-Z a-z 0-9 '-' '_').
//
// Encoding always pads with '='. Decoding accepts padded and unpadded input
// but is otherwise strict, because it decodes SDP_CRYPTO_KEY: only the
// URL-safe alphabet (standard base64's '+' and '/' are rejected, not
// translated), '=' only as 1-2 trailing characters of a 4-aligned input, and
// unused trailing bits must be zero, so every byte string has exactly one
// accepted spelling. Errors name the offending offset, never the character
// or the input, which may be a secret.
#ifndef SDP_AGENT_BASE64URL_H_
#define SDP_AGENT_BASE64URL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/secret_buffer.h"

namespace sdp {

std::string Base64UrlEncode(const uint8_t* p, size_t n);
inline std::string Base64UrlEncode(std::string_view bytes) {
  return Base64UrlEncode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Replace *out with the decoded bytes. On failure *out is empty.
bool Base64UrlDecode(std::string_view in, std::vector<uint8_t>* out, std::string* err);
// Same, decoding straight into a SecretBuffer so that key bytes never pass
// through an unwiped temporary.
bool Base64UrlDecode(std::string_view in, SecretBuffer* out, std::string* err);

}  // namespace sdp

#endif  // SDP_AGENT_BASE64URL_H_
