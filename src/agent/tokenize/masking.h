// MASKED tokens: irreversible, shape-keeping masks for display and analytics that need a hint
// of the value (e-mail domain, last four digits, initials) but never the value itself.
#pragma once

#include <string>
#include <string_view>

namespace sdp {

enum class MaskStyle {
  kAuto,     // email if it has an '@', last4 if mostly digits, else initial
  kEmail,    // j***@example.com: first character and the domain
  kLast4,    // ***-**-6789: last four digits (at most half of them) and every separator
  kInitial,  // A**** B***: first character of each word
  kFull,     // every letter and digit replaced, separators kept
};

// Masks `value` (UTF-8; a multi-byte character counts as one) into *out. Never fails. A mask
// never starts with a spreadsheet formula lead-in (= + - @ TAB CR): such a first character is
// replaced by '*'.
void MaskValue(std::string_view value, MaskStyle style, std::string* out);

}  // namespace sdp
