// URL-safe base64 (RFC 4648 section 5), strict decoding.
#include "common/base64url.h"

namespace sdp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr const char* kAllowed =
    "only A-Z a-z 0-9 '-' '_' and trailing '=' are allowed; standard base64 '+' and '/' are not";

int Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

bool Base64UrlMeasure(std::string_view in, size_t* data_len, size_t* out_len, std::string* err) {
  size_t pad = 0;
  while (pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  if (pad > 0 && (pad > 2 || in.size() % 4 != 0)) {
    *err = "invalid base64url padding at offset " + std::to_string(in.size() - pad);
    return false;
  }
  size_t len = in.size() - pad;
  if (len % 4 == 1) {
    *err = "invalid base64url length " + std::to_string(len) + " (truncated input)";
    return false;
  }
  *data_len = len;
  *out_len = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
  return true;
}

bool Base64UrlDecodeInto(std::string_view in, size_t data_len, uint8_t* out, std::string* err) {
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < data_len; ++i) {
    int v = Value(in[i]);
    if (v < 0) {
      *err = "invalid base64url character at offset " + std::to_string(i) + " (" + kAllowed + ")";
      return false;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = static_cast<uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) {
    // Non-zero leftover bits would give a second spelling of the same bytes.
    *err = "invalid base64url: non-zero unused bits in the character at offset " +
           std::to_string(data_len - 1);
    return false;
  }
  return true;
}

std::string Base64UrlEncode(const uint8_t* p, size_t n, bool pad) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = uint32_t{p[i]} << 16 | uint32_t{p[i + 1]} << 8 | p[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (n - i == 2) {
    uint32_t v = uint32_t{p[i]} << 16 | uint32_t{p[i + 1]} << 8;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

}  // namespace sdp
