// URL-safe base64 (RFC 4648 section 5: alphabet A-Z a-z 0-9 '-' '_').
//
// Encoding pads with '=' unless asked not to. Decoding accepts padded and unpadded input
// but is otherwise strict, because it decodes SDP_CRYPTO_KEY: only the
// URL-safe alphabet (standard base64's '+' and '/' are rejected, not
// translated), '=' only as 1-2 trailing characters of a 4-aligned input, and
// unused trailing bits must be zero, so every byte string has exactly one
// accepted spelling. Errors name the offending offset, never the character
// or the input, which may be a secret.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sdp {

// Pads with '=' unless pad is false (API keys, which are never decoded here).
std::string Base64UrlEncode(const uint8_t* p, size_t n, bool pad = true);
inline std::string Base64UrlEncode(std::string_view bytes) {
  return Base64UrlEncode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Checks the shape of `in` (padding, length) and computes the decoded length; *data_len is the
// number of base64 characters before any padding.
bool Base64UrlMeasure(std::string_view in, size_t* data_len, size_t* out_len, std::string* err);
// Decodes in[0..data_len) into out[0..out_len) as measured by Base64UrlMeasure.
bool Base64UrlDecodeInto(std::string_view in, size_t data_len, uint8_t* out, std::string* err);

// Replaces *out with the decoded bytes; on failure *out is empty. ByteBuffer is any buffer of
// bytes with clear(), resize() and data(): std::vector<uint8_t>, or the agent's SecretBuffer, so
// that key bytes are decoded in place and never pass through an unwiped temporary.
template <class ByteBuffer>
bool Base64UrlDecode(std::string_view in, ByteBuffer* out, std::string* err) {
  out->clear();
  size_t data_len, out_len;
  if (!Base64UrlMeasure(in, &data_len, &out_len, err)) return false;
  out->resize(out_len);
  if (!Base64UrlDecodeInto(in, data_len, out->data(), err)) {
    out->clear();
    return false;
  }
  return true;
}

}  // namespace sdp
