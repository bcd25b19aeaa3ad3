// ASCII folding of look-alike and invisible code points; see fold.h.
#include "common/pii/fold.h"

#include <cstdint>

namespace sdp::pii {
namespace {

// The code point of the well-formed UTF-8 sequence at s[i] and its length in *len, or -1 (and
// *len = 1) when the bytes there are not a well-formed sequence (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
int32_t DecodeAt(std::string_view s, size_t i, size_t* len) {
  *len = 1;
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return b0;
  size_t n;
  uint32_t cp;
  uint32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (s.size() - i < n) return -1;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *len = n;
  return static_cast<int32_t>(cp);
}

bool IsUnicodeSpace(int32_t cp) {
  return cp == 0x00A0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool IsInvisible(int32_t cp) {
  return (cp >= 0x200B && cp <= 0x200D) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF ||
         cp == 0x180E || cp == 0x00AD;
}

bool IsDash(int32_t cp) {
  return (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0x2043 || cp == 0xFE58 ||
         cp == 0xFE63;
}

}  // namespace

namespace {

// One pass; *rejoin says whether its output may fold further: an ill-formed byte (kept as is)
// next to a removed invisible character can join the bytes after it into a new sequence.
std::string FoldOnce(std::string_view text, bool* rejoin) {
  bool removed = false, ill_formed = false;
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {  // the common case: ASCII, copied as is
      out.push_back(text[i]);
      ++i;
      continue;
    }
    size_t len;
    const int32_t cp = DecodeAt(text, i, &len);
    if (cp < 0) ill_formed = true;
    if (cp >= 0xFF01 && cp <= 0xFF5E) {
      out.push_back(static_cast<char>(cp - 0xFEE0));
    } else if (cp == 0x3002 || cp == 0xFF61) {
      out.push_back('.');
    } else if (cp == 0xFE6B) {
      out.push_back('@');
    } else if (IsUnicodeSpace(cp)) {
      out.push_back(' ');
    } else if (IsDash(cp)) {
      out.push_back('-');
    } else if (!IsInvisible(cp)) {
      out.append(text.substr(i, len));
    } else {
      removed = true;
    }
    i += len;
  }
  *rejoin = removed && ill_formed;
  return out;
}

}  // namespace

// Folded until nothing changes, so folding is idempotent even on ill-formed UTF-8 (a second pass
// runs only when a pass both removed a character and kept an ill-formed byte).
std::string FoldObfuscation(std::string_view text) {
  bool rejoin = false;
  std::string out = FoldOnce(text, &rejoin);
  while (rejoin) {
    std::string next = FoldOnce(out, &rejoin);
    if (next == out) break;
    out = std::move(next);
  }
  return out;
}

}  // namespace sdp::pii
