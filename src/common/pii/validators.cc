// E-mail, payment card, IBAN, US SSN and phone validators; see validators.h.
#include "common/pii/validators.h"

#include <cstddef>
#include <string>

#include "common/iban.h"
#include "common/luhn.h"
#include "common/text.h"

namespace sdp::pii {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }

// RFC 5322 atext.
bool IsAtext(char c) {
  if (IsAlnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool ValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  size_t labels = 0;
  size_t start = 0;
  std::string_view last;
  while (true) {
    const size_t dot = d.find('.', start);
    const std::string_view label =
        d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    ++labels;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2) return false;
  if (last.size() >= 4 && StartsWithIgnoreCase(last, "xn--")) return true;
  if (last.size() < 2) return false;
  for (char c : last) {
    if (!IsAlpha(c)) return false;
  }
  return true;
}

// The digits of `cell` if it is digits with single ' ' or '-' between groups (no separator at
// either end), at most `max_digits` of them; empty otherwise.
std::string GroupedDigits(std::string_view cell, size_t max_digits) {
  std::string digits;
  if (cell.size() > max_digits * 2) return digits;
  bool prev_sep = true;  // no separator first
  for (char c : cell) {
    if (IsDigit(c)) {
      if (digits.size() == max_digits) return std::string();
      digits.push_back(c);
      prev_sep = false;
    } else if ((c == ' ' || c == '-') && !prev_sep) {
      prev_sep = true;
    } else {
      return std::string();
    }
  }
  if (prev_sep) return std::string();
  return digits;
}

unsigned Prefix(const std::string& digits, size_t n) {
  unsigned v = 0;
  for (size_t i = 0; i < n && i < digits.size(); ++i)
    v = v * 10 + static_cast<unsigned>(digits[i] - '0');
  return v;
}

CardScheme SchemeByIin(const std::string& d) {
  const size_t n = d.size();
  const unsigned p1 = Prefix(d, 1), p2 = Prefix(d, 2), p3 = Prefix(d, 3), p4 = Prefix(d, 4),
                 p6 = Prefix(d, 6);
  if (p2 == 34 || p2 == 37) return n == 15 ? CardScheme::kAmex : CardScheme::kNone;
  if ((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39) {
    return n >= 14 && n <= 19 ? CardScheme::kDiners : CardScheme::kNone;
  }
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19 ? CardScheme::kJcb : CardScheme::kNone;
  if (p1 == 4) {
    return n == 13 || n == 16 || n == 19 ? CardScheme::kVisa : CardScheme::kNone;
  }
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) {
    return n == 16 ? CardScheme::kMastercard : CardScheme::kNone;
  }
  if (p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 || p4 == 6759 ||
      (p4 >= 6761 && p4 <= 6763)) {
    return n >= 12 && n <= 19 ? CardScheme::kMaestro : CardScheme::kNone;
  }
  if (p4 == 6011 || (p6 >= 622126 && p6 <= 622925) || (p3 >= 644 && p3 <= 649) || p2 == 65) {
    return n >= 16 && n <= 19 ? CardScheme::kDiscover : CardScheme::kNone;
  }
  if (p2 == 62) return n >= 16 && n <= 19 ? CardScheme::kUnionPay : CardScheme::kNone;
  return CardScheme::kNone;
}

}  // namespace

bool LooksLikeEmail(std::string_view cell) {
  const std::string_view s = TrimAsciiSpace(cell);
  if (s.size() < 6 || s.size() > 254) return false;  // "a@b.cd" is the shortest
  const size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return false;
  const std::string_view local = s.substr(0, at);
  if (local.front() == '.' || local.back() == '.') return false;
  char prev = 0;
  for (char c : local) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!IsAtext(c)) {
      return false;
    }
    prev = c;
  }
  return ValidDomain(s.substr(at + 1));
}

CardScheme PaymentCardScheme(std::string_view cell) {
  const std::string digits = GroupedDigits(TrimAsciiSpace(cell), 19);
  if (digits.size() < 12) return CardScheme::kNone;
  const CardScheme scheme = SchemeByIin(digits);
  if (scheme == CardScheme::kNone || !LuhnValid(digits)) return CardScheme::kNone;
  return scheme;
}

const char* CardSchemeName(CardScheme scheme) {
  switch (scheme) {
    case CardScheme::kVisa:
      return "visa";
    case CardScheme::kMastercard:
      return "mastercard";
    case CardScheme::kAmex:
      return "amex";
    case CardScheme::kDiscover:
      return "discover";
    case CardScheme::kJcb:
      return "jcb";
    case CardScheme::kDiners:
      return "diners";
    case CardScheme::kUnionPay:
      return "unionpay";
    case CardScheme::kMaestro:
      return "maestro";
    case CardScheme::kNone:
      break;
  }
  return "none";
}

bool IsIban(std::string_view cell) {
  const std::string_view s = TrimAsciiSpace(cell);
  // The longest IBAN has 34 characters; printed in groups of four it has 8 more spaces.
  if (s.size() < 15 || s.size() > 42) return false;
  return IbanValid(s);
}

bool IsUsSsn(std::string_view cell) {
  const std::string_view s = TrimAsciiSpace(cell);
  std::string d;
  if (s.size() == 9) {
    d = std::string(s);
  } else if (s.size() == 11) {
    const char s1 = s[3], s2 = s[6];
    auto sep = [](char c) { return c == '-' || c == ' ' || c == '.'; };
    if (!sep(s1) || !sep(s2)) return false;
    d = std::string(s.substr(0, 3)) + std::string(s.substr(4, 2)) + std::string(s.substr(7, 4));
  } else {
    return false;
  }
  for (char c : d) {
    if (!IsDigit(c)) return false;
  }
  const unsigned area = Prefix(d, 3);
  if (area == 0 || area == 666 || area >= 900) return false;
  if (d[3] == '0' && d[4] == '0') return false;
  if (d.compare(5, 4, "0000") == 0) return false;
  if (d == "078051120" || d == "219099999" || d == "457555462") return false;
  return true;
}

bool LooksLikePhone(std::string_view cell) {
  const std::string_view s = TrimAsciiSpace(cell);
  if (s.size() < 7 || s.size() > 40) return false;
  size_t i = 0;
  const bool plus = s[0] == '+';
  if (plus) ++i;
  std::string digits;
  size_t groups = 0, longest_group = 0, current = 0, separators = 0, dots = 0;
  bool parens = false, in_parens = false, prev_digit = false, prev_close = false;
  size_t paren_digits = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (IsDigit(c)) {
      digits.push_back(c);
      if (in_parens) ++paren_digits;
      ++current;
      prev_digit = true;
      prev_close = false;
      continue;
    }
    if (current > 0) {
      ++groups;
      if (current > longest_group) longest_group = current;
      current = 0;
    }
    if (c == '(') {
      // One pair, opening at the start or after a separator.
      if (parens || prev_digit) return false;
      parens = in_parens = true;
      paren_digits = 0;
    } else if (c == ')') {
      if (!in_parens || paren_digits == 0 || paren_digits > 5) return false;
      in_parens = false;
      prev_close = true;
      prev_digit = false;
      continue;
    } else if (c == ' ' || c == '.' || c == '-' || c == '/') {
      if (!prev_digit && !prev_close) return false;  // no double separator, none at the start
      if (in_parens) return false;
      ++separators;
      if (c == '.') ++dots;
    } else {
      return false;
    }
    prev_digit = false;
    prev_close = false;
  }
  if (in_parens || (!prev_digit)) return false;  // must end on a digit
  ++groups;
  if (current > longest_group) longest_group = current;
  const size_t n = digits.size();
  if (separators == 1 && dots == 1 && !parens) return false;  // a decimal number
  if (dots == 3 && separators == 3 && groups == 4 && longest_group <= 3 && !plus) {
    return false;  // a dotted quad
  }
  if (plus) return n >= 7 && n <= 15 && digits[0] != '0';
  if (digits[0] == '0') {
    if (digits.size() > 1 && digits[1] == '0') {  // "00" international prefix
      return n >= 9 && n <= 17 && digits[2] != '0';
    }
    return n >= 9 && n <= 12;
  }
  const bool nanp = n == 10 || (n == 11 && digits[0] == '1');
  return nanp && longest_group <= 4 && (separators > 0 || parens);
}

}  // namespace sdp::pii
