// Lowercase hex encoding and strict decoding.
#include "common/hex.h"

namespace sdp {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string HexEncode(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0x0f];
  }
  return out;
}

bool HexDecode(std::string_view in, std::vector<uint8_t>* out, std::string* err) {
  out->clear();
  if (in.size() % 2 != 0) {
    *err = "hex string has odd length " + std::to_string(in.size());
    return false;
  }
  out->reserve(in.size() / 2);
  for (size_t i = 0; i < in.size(); i += 2) {
    int hi = HexValue(in[i]);
    int lo = HexValue(in[i + 1]);
    if (hi < 0 || lo < 0) {
      out->clear();
      *err = "invalid hex character at offset " + std::to_string(hi < 0 ? i : i + 1);
      return false;
    }
    out->push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

}  // namespace sdp
