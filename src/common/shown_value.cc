// How an outside value appears in an error message: bounded, control and non-ASCII bytes (bidi
// overrides among them) replaced.
#include "common/shown_value.h"

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

}  // namespace sdp
