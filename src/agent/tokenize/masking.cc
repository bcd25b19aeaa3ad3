// MASKED tokens: irreversible, shape-keeping masks (e-mail domain, last digits, initials).
#include "agent/tokenize/masking.h"

#include <algorithm>

namespace sdp {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
// What a spreadsheet may read as the start of a formula (= + - @), including the TAB and CR
// lead-ins that some importers strip before evaluating the rest of the cell.
bool IsFormulaLeadIn(char c) {
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}
// Letters of any script count as maskable; ASCII punctuation and spaces are separators.
bool IsMaskable(char c) { return IsAsciiAlnum(c) || (static_cast<unsigned char>(c) & 0x80) != 0; }

// Appends one UTF-8 character starting at value[i] and returns the index after it.
size_t CopyChar(std::string_view value, size_t i, std::string* out) {
  size_t j = i + 1;
  while (j < value.size() && IsContinuationByte(value[j])) ++j;
  out->append(value.data() + i, j - i);
  return j;
}

size_t SkipChar(std::string_view value, size_t i) {
  size_t j = i + 1;
  while (j < value.size() && IsContinuationByte(value[j])) ++j;
  return j;
}

// At most four digits, and never more than half of them: "1234" keeps "34", "123" keeps "3", so
// a short value (PIN, CVV, house number) is never returned whole.
void MaskLast4(std::string_view value, std::string* out) {
  size_t digits = 0;
  for (char c : value) digits += IsDigit(c);
  const size_t shown = std::min<size_t>(4, digits / 2);
  size_t seen = 0;
  for (size_t i = 0; i < value.size();) {
    const char c = value[i];
    if (IsDigit(c)) {
      ++seen;
      out->push_back(seen + shown > digits ? c : '*');
      ++i;
    } else if (IsMaskable(c)) {
      out->push_back('*');
      i = SkipChar(value, i);
    } else {
      out->push_back(c);
      ++i;
    }
  }
}

void MaskInitials(std::string_view value, std::string* out) {
  bool word_start = true;
  for (size_t i = 0; i < value.size();) {
    const char c = value[i];
    if (!IsMaskable(c)) {
      out->push_back(c);
      word_start = true;
      ++i;
    } else if (word_start) {
      i = CopyChar(value, i, out);
      word_start = false;
    } else {
      out->push_back('*');
      i = SkipChar(value, i);
    }
  }
}

void MaskFull(std::string_view value, std::string* out) {
  for (size_t i = 0; i < value.size();) {
    if (IsMaskable(value[i])) {
      out->push_back('*');
      i = SkipChar(value, i);
    } else {
      out->push_back(value[i++]);
    }
  }
}

void MaskEmail(std::string_view value, std::string* out) {
  const size_t at = value.rfind('@');
  if (at == std::string_view::npos || at == 0) {
    MaskFull(value, out);
    return;
  }
  CopyChar(value, 0, out);
  out->append("***");
  out->append(value.substr(at));
}

}  // namespace

void MaskValue(std::string_view value, MaskStyle style, std::string* out) {
  out->clear();
  if (value.empty()) return;
  if (style == MaskStyle::kAuto) {
    size_t digits = 0;
    for (char c : value) digits += IsDigit(c);
    style = value.find('@') != std::string_view::npos ? MaskStyle::kEmail
            : digits * 2 >= value.size()              ? MaskStyle::kLast4
                                                      : MaskStyle::kInitial;
  }
  switch (style) {
    case MaskStyle::kEmail:
      MaskEmail(value, out);
      break;
    case MaskStyle::kLast4:
      MaskLast4(value, out);
      break;
    case MaskStyle::kInitial:
      MaskInitials(value, out);
      break;
    case MaskStyle::kFull:
    case MaskStyle::kAuto:
      MaskFull(value, out);
      break;
  }
  if (IsFormulaLeadIn((*out)[0])) (*out)[0] = '*';
}

}  // namespace sdp
