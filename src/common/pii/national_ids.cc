// National identification numbers with check digits; see national_ids.h.
#include "common/pii/national_ids.h"

#include <string>

#include "common/text.h"

namespace sdp::pii {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// `s` without the separators in `seps`, upper-cased, if it has at most `max` characters left;
// empty otherwise.
std::string Compact(std::string_view cell, std::string_view seps, size_t max) {
  const std::string_view s = TrimAsciiSpace(cell);
  std::string out;
  if (s.size() > max * 2) return out;
  for (char c : s) {
    if (seps.find(c) != std::string_view::npos) continue;
    if (out.size() == max) return std::string();
    out.push_back(Upper(c));
  }
  return out;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

bool ValidDate(int year, int month, int day) { return day >= 1 && day <= DaysInMonth(year, month); }

}  // namespace

bool IsDeTaxId(std::string_view cell) {
  const std::string d = Compact(cell, " -./,", 11);
  if (d.size() != 11 || !AllDigits(d) || d[0] == '0') return false;
  int counts[10] = {0};
  for (size_t i = 0; i < 10; ++i) ++counts[d[i] - '0'];
  int repeated = 0;
  for (int c : counts) {
    if (c > 1) {
      if (c > 3) return false;
      ++repeated;
    }
  }
  if (repeated != 1) return false;
  // ISO 7064 MOD 11,10 over all 11 digits: the check passes when the result is 1.
  int check = 5;
  for (char c : d) check = (((check == 0 ? 10 : check) * 2) % 11 + (c - '0')) % 10;
  return check == 1;
}

bool IsFrNir(std::string_view cell) {
  std::string n = Compact(cell, " .", 15);
  if (n.size() != 15) return false;
  if (!AllDigits(std::string_view(n).substr(0, 5)) || !AllDigits(std::string_view(n).substr(7))) {
    return false;
  }
  const std::string dept = n.substr(5, 2);
  if (dept == "2A") {
    n.replace(5, 2, "19");
  } else if (dept == "2B") {
    n.replace(5, 2, "18");
  } else if (!AllDigits(dept)) {
    return false;
  }
  unsigned long long v = 0;
  for (size_t i = 0; i < 13; ++i) v = v * 10 + static_cast<unsigned>(n[i] - '0');
  const unsigned key = static_cast<unsigned>(97 - v % 97);
  return key == static_cast<unsigned>((n[13] - '0') * 10 + (n[14] - '0'));
}

bool IsNlBsn(std::string_view cell) {
  const std::string_view s = TrimAsciiSpace(cell);
  std::string d;
  if (s.size() == 9) {
    d = std::string(s);
  } else if (s.size() == 11 && s[4] == '.' && s[7] == '.') {
    d = std::string(s.substr(0, 4)) + std::string(s.substr(5, 2)) + std::string(s.substr(8, 3));
  } else {
    return false;
  }
  if (!AllDigits(d) || d == "000000000") return false;
  int sum = 0;
  for (size_t i = 0; i < 8; ++i) sum += (9 - static_cast<int>(i)) * (d[i] - '0');
  sum -= d[8] - '0';
  return sum % 11 == 0;
}

bool IsEsDni(std::string_view cell) {
  const std::string n = Compact(cell, " -", 9);
  if (n.size() != 9) return false;
  std::string digits = n.substr(0, 8);
  const size_t nie = std::string_view("XYZ").find(digits[0]);
  if (nie != std::string_view::npos) digits[0] = static_cast<char>('0' + nie);
  if (!AllDigits(digits)) return false;
  static const char kLetters[] = "TRWAGMYFPDXBNJZSQVHLCKE";
  return kLetters[std::stoul(digits) % 23] == n[8];
}

bool IsItCodiceFiscale(std::string_view cell) {
  const std::string n = Compact(cell, " -:", 16);
  if (n.size() != 16) return false;
  auto letter = [](char c) { return c >= 'A' && c <= 'Z'; };
  // Digits or their omocodia letters (a digit replaced when two people share a code).
  static const std::string_view kOmocodia = "LMNPQRSTUV";
  auto digit_value = [](char c) -> int {
    if (IsDigit(c)) return c - '0';
    const size_t p = kOmocodia.find(c);
    return p == std::string_view::npos ? -1 : static_cast<int>(p);
  };
  static const std::string_view kMonths = "ABCDEHLMPRST";
  for (size_t i = 0; i < 6; ++i) {
    if (!letter(n[i])) return false;
  }
  for (size_t i : {6, 7, 9, 10, 12, 13, 14}) {
    if (digit_value(n[i]) < 0) return false;
  }
  if (kMonths.find(n[8]) == std::string_view::npos || !letter(n[11]) || !letter(n[15])) {
    return false;
  }
  static const int kOdd[] = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                             20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
  int sum = 0;
  for (size_t i = 0; i < 15; ++i) {
    const char c = n[i];
    const int v = IsDigit(c) ? c - '0' : c - 'A';
    sum += i % 2 == 0 ? kOdd[v] : v;
  }
  if (n[15] != static_cast<char>('A' + sum % 26)) return false;
  // The birth date must exist (the century is unknown: stdnum's default window 1920-2019).
  const int day = (digit_value(n[9]) * 10 + digit_value(n[10])) % 40;
  const int month = static_cast<int>(kMonths.find(n[8])) + 1;
  int year = digit_value(n[6]) * 10 + digit_value(n[7]) + 1900;
  if (year < 1920) year += 100;
  return ValidDate(year, month, day);
}

bool IsPlPesel(std::string_view cell) {
  const std::string d = Compact(cell, " -", 11);
  if (d.size() != 11 || !AllDigits(d)) return false;
  static const int kWeights[] = {1, 3, 7, 9, 1, 3, 7, 9, 1, 3};
  int sum = 0;
  for (size_t i = 0; i < 10; ++i) sum += kWeights[i] * (d[i] - '0');
  if ((10 - sum % 10) % 10 != d[10] - '0') return false;
  int year = (d[0] - '0') * 10 + (d[1] - '0');
  int month = (d[2] - '0') * 10 + (d[3] - '0');
  const int day = (d[4] - '0') * 10 + (d[5] - '0');
  static const int kCentury[] = {1900, 2000, 2100, 2200, 1800};
  if (month / 20 > 4) return false;
  year += kCentury[month / 20];
  month %= 20;
  return ValidDate(year, month, day);
}

}  // namespace sdp::pii
