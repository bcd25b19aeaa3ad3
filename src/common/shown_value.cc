// How an outside value appears in an error message: bounded, control and non-ASCII bytes (bidi
// overrides among them) replaced.
#include "common/shown_value.h"

#include <algorithm>

namespace sdp {

namespace {

std::string Shown(std::string_view value, size_t max_bytes, bool blanks_as_spaces) {
  std::string shown;
  const std::string_view head = value.substr(0, max_bytes);
  shown.reserve(head.size() + 3);
  for (const char c : head) {
    if (c >= 0x20 && c < 0x7f) {
      shown += c;
    } else if (blanks_as_spaces && (c == '\n' || c == '\r' || c == '\t')) {
      shown += ' ';
    } else {
      shown += '?';
    }
  }
  if (value.size() > max_bytes) return shown + "...";
  if (blanks_as_spaces) {
    while (!shown.empty() && shown.back() == ' ') shown.pop_back();
  }
  return shown;
}

}  // namespace

std::string ShownValue(std::string_view value, size_t max_bytes) {
  return Shown(value, max_bytes, /*blanks_as_spaces=*/false);
}

std::string QuotedValue(std::string_view value, size_t max_bytes) {
  return "'" + ShownValue(value, max_bytes) + "'";
}

std::string ShownServerText(std::string_view text, size_t max_bytes) {
  return Shown(text, max_bytes, /*blanks_as_spaces=*/true);
}

std::string EchoedValue(std::string_view v, size_t max_chars) {
  std::string out;
  size_t chars = 0, i = 0;
  const auto byte = [&](size_t k) { return k < v.size() ? static_cast<unsigned char>(v[k]) : 0; };
  while (i < v.size() && chars < max_chars) {
    const unsigned char c = byte(i);
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    len = std::min(len, v.size() - i);
    const bool control =
        c < 0x20 || c == 0x7F || (c == 0xC2 && byte(i + 1) >= 0x80 && byte(i + 1) <= 0x9F);
    // U+2028..U+202E (separators, embeddings, overrides) and U+2066..U+2069 (isolates).
    const bool format =
        c == 0xE2 && ((byte(i + 1) == 0x80 && byte(i + 2) >= 0xA8 && byte(i + 2) <= 0xAE) ||
                      (byte(i + 1) == 0x81 && byte(i + 2) >= 0xA6 && byte(i + 2) <= 0xA9));
    if (control || format) {
      out += '?';
    } else {
      out.append(v.data() + i, len);
    }
    i += len;
    ++chars;
  }
  if (i < v.size()) out += "\xE2\x80\xA6";  // …
  return out;
}

}  // namespace sdp
