// How a user's value appears in an error message: bounded, control and bidi characters replaced.
#include "common/shown_value.h"

namespace sdp {

std::string ShownValue(std::string_view value, size_t max_bytes) {
  std::string shown;
  const std::string_view head = value.substr(0, max_bytes);
  shown.reserve(head.size() + 3);
  for (const char c : head) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (value.size() > max_bytes) shown += "...";
  return shown;
}

}  // namespace sdp
