// Text helpers shared by the agent and the server (text.h).
#include "common/text.h"

#include "common/shown_value.h"

namespace sdp {

namespace {

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

std::string_view TrimAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsCanonicalUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_here ? s[i] != '-' : !IsHexDigit(s[i])) return false;
  }
  return true;
}

std::vector<std::string> SplitOn(std::string_view s, char separator) {
  std::vector<std::string> pieces;
  for (;;) {
    const size_t at = s.find(separator);
    pieces.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) return pieces;
    s.remove_prefix(at + 1);
  }
}

std::string ColumnList(const std::vector<std::string>& names, size_t max_listed) {
  std::string list;
  for (size_t i = 0; i < names.size() && i < max_listed; ++i) {
    if (i > 0) list += ", ";
    list += EchoedValue(names[i]);  // header names come from outside
  }
  if (names.size() > max_listed) {
    list += ", ... (" + std::to_string(names.size() - max_listed) + " more)";
  }
  return list;
}

}  // namespace sdp
