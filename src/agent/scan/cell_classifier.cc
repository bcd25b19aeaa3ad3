// Per-cell matching; see cell_classifier.h. One pass counts the kinds of characters, and only the
// validators whose shape fits run: most cells cost a few dozen nanoseconds. RE2 (linear time,
// whatever the input) does the searches inside prose and the postal-address shapes.
#include "agent/scan/cell_classifier.h"

#include <arpa/inet.h>
#include <phonenumbers/phonenumberutil.h>
#include <re2/re2.h>

#include <string>

#include "agent/scan/name_lists.h"
#include "common/pii/national_ids.h"
#include "common/pii/validators.h"

namespace sdp::scan {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

struct Shape {
  size_t digits = 0, upper = 0, lower = 0, spaces = 0, at = 0, colons = 0, dots = 0, dashes = 0,
         slashes = 0, parens = 0, plus = 0, commas = 0, high = 0, other = 0;
};

Shape ShapeOf(std::string_view s) {
  Shape sh;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= '0' && c <= '9') {
      ++sh.digits;
    } else if (c >= 'a' && c <= 'z') {
      ++sh.lower;
    } else if (c >= 'A' && c <= 'Z') {
      ++sh.upper;
    } else if (c >= 0x80) {
      ++sh.high;
    } else {
      switch (c) {
        case ' ':
          ++sh.spaces;
          break;
        case '@':
          ++sh.at;
          break;
        case ':':
          ++sh.colons;
          break;
        case '.':
          ++sh.dots;
          break;
        case '-':
          ++sh.dashes;
          break;
        case '/':
          ++sh.slashes;
          break;
        case '(':
        case ')':
          ++sh.parens;
          break;
        case '+':
          ++sh.plus;
          break;
        case ',':
          ++sh.commas;
          break;
        default:
          ++sh.other;
          break;
      }
    }
  }
  return sh;
}

int Num(std::string_view s, size_t pos, size_t len) {
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (!IsDigit(s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool ValidYmd(int y, int m, int d) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1880 || y > 2100 || m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= (m == 2 && leap ? 29 : kDays[m - 1]);
}

// Particles that may start a surname in lower case ("van der Berg", "de la Cruz").
bool IsParticle(std::string_view w) {
  static const char* const kParticles[] = {"van", "von", "der", "den", "de",  "la",  "le",
                                           "du",  "da",  "di",  "del", "dos", "das", "ter",
                                           "ten", "y",   "bin", "al",  "el",  "zu"};
  for (const char* p : kParticles) {
    if (w == p) return true;
  }
  return false;
}

// A name word: an upper-case first letter (or a non-ASCII letter), then letters, with single
// inner '-' or '\'' ("Jean-Luc", "O'Brien").
bool IsNameWord(std::string_view w) {
  if (w.empty() || w.size() > 30) return false;
  const auto first = static_cast<unsigned char>(w[0]);
  if (!(IsUpper(w[0]) || first >= 0x80)) return false;
  char prev = w[0];
  for (size_t i = 1; i < w.size(); ++i) {
    const char c = w[i];
    const bool letter = IsLower(c) || IsUpper(c) || static_cast<unsigned char>(c) >= 0x80;
    if (!letter) {
      if ((c != '-' && c != '\'') || prev == '-' || prev == '\'' || i + 1 == w.size()) {
        return false;
      }
    }
    prev = c;
  }
  return true;
}

// 1-4 name words separated by single spaces ("Last, First" allowed); sets *known if a word is in
// the name dictionary.
bool IsNameShape(std::string_view s, bool* known) {
  *known = false;
  if (s.size() < 2 || s.size() > 60) return false;
  size_t words = 0, capitalised = 0;
  size_t start = 0;
  bool comma_seen = false;
  while (start <= s.size()) {
    size_t end = s.find(' ', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view w = s.substr(start, end - start);
    if (!w.empty() && w.back() == ',' && !comma_seen && words == 0) {
      comma_seen = true;
      w.remove_suffix(1);
    }
    if (w.empty()) return false;
    if (++words > 4) return false;
    if (IsNameWord(w)) {
      ++capitalised;
      if (!*known && IsCommonNameWord(w)) *known = true;
    } else if (!IsParticle(w)) {
      return false;
    }
    start = end + 1;
    if (end == s.size()) break;
  }
  return capitalised > 0;
}

}  // namespace

int DateYear(std::string_view s) {
  if (s.size() != 10) return 0;
  const char a = s[2], b = s[4];
  if ((b == '-' || b == '/' || b == '.') && s[7] == b) {  // YYYY-MM-DD
    const int y = Num(s, 0, 4), m = Num(s, 5, 2), d = Num(s, 8, 2);
    return ValidYmd(y, m, d) ? y : 0;
  }
  if ((a == '/' || a == '.' || a == '-') && s[5] == a) {  // DD/MM/YYYY or MM/DD/YYYY
    const int p = Num(s, 0, 2), q = Num(s, 3, 2), y = Num(s, 6, 4);
    if (ValidYmd(y, q, p) || (a == '/' && ValidYmd(y, p, q))) return y;
  }
  return 0;
}

struct CellClassifier::Patterns {
  // Inside prose: an e-mail address, an IBAN, or a run of digits with separators that may be a
  // card, an SSN or a phone number. Each candidate is then checked by its validator.
  RE2 embedded{R"(([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+))"
               R"(|\b([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{1,4}){3,8})\b)"
               R"(|(\+?\(?[0-9][0-9()./ \-]{5,24}[0-9]))"};
  // A street: house number then street words and a street type (English), or a street type then
  // a name (French, Spanish, Italian, Portuguese, Polish), or a compound street word then a
  // number (German, Dutch), or a post-office box.
  RE2 address{
      R"((?i)(?:^|[\s,])(?:)"
      R"([0-9]{1,5}[a-z]?(?:[-/][0-9]{1,5})?,?\s+(?:[^\s,]+\s+){0,4}(?:street|st|avenue|ave|road|rd|)"
      R"(boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|square|sq|parkway|pkwy|)"
      R"(highway|hwy|circle|cir|close|crescent|row|gardens|grove|hill|view|walk|)"
      R"(\S*(?:stra(?:ß|ss)e|str|weg|gasse|platz|allee|straat|laan|plein|gracht))\.?(?:$|[\s,]))"
      R"(|(?:rue|avenue|boulevard|bd|chemin|all[ée]e|impasse|place|quai|via|viale|piazza|corso|)"
      R"(vicolo|calle|avenida|plaza|paseo|carrer|rua|travessa|ulica|ul\.|aleja)\s+\S)"
      R"(|\S+(?:stra(?:ß|ss)e|str\.|weg|gasse|platz|allee|ring|damm|straat|laan|plein|gracht|)"
      R"(singel|kade|dijk)\s+[0-9]{1,5})"
      R"(|p\.?\s?o\.?\s+box\s+[0-9]+))"};
  PhoneNumberUtil* phones = PhoneNumberUtil::GetInstance();
};

CellClassifier::CellClassifier() : patterns_(std::make_unique<Patterns>()) {}
CellClassifier::~CellClassifier() = default;

bool CellClassifier::CheckPhone(std::string_view cell) const {
  std::string s(cell.substr(0, 64));
  if (s.size() > 2 && s[0] == '0' && s[1] == '0') s = "+" + s.substr(2);
  auto valid_in = [&](const char* region) {
    PhoneNumber n;
    return patterns_->phones->Parse(s, region, &n) == PhoneNumberUtil::NO_PARSING_ERROR &&
           patterns_->phones->IsValidNumber(n);
  };
  if (s[0] == '+') return valid_in("ZZ");
  if (s[0] != '0' && !(s[0] == '(' && s.size() > 1 && s[1] == '0')) return valid_in("US");
  for (const char* region : {"GB", "FR", "DE", "NL", "IT", "BE", "AT", "CH", "IE", "SE", "AU"}) {
    if (valid_in(region)) return true;
  }
  return false;
}

void CellClassifier::FindEmbedded(std::string_view cell, CellMatch* out) const {
  re2::StringPiece input(cell.data(), cell.size());
  re2::StringPiece email, iban, digits;
  int guard = 0;
  while (guard++ < 64 && RE2::FindAndConsume(&input, patterns_->embedded, &email, &iban, &digits)) {
    if (!email.empty()) {
      if (pii::LooksLikeInternationalEmail(std::string_view(email.data(), email.size()))) {
        out->embedded |= Bit(PiiClass::kEmail);
      }
    } else if (!iban.empty()) {
      if (pii::IsIban(std::string_view(iban.data(), iban.size())))
        out->embedded |= Bit(PiiClass::kIban);
    } else if (!digits.empty()) {
      std::string_view d(digits.data(), digits.size());
      // A closing parenthesis or dot of the sentence is not part of the number.
      while (!d.empty() && !IsDigit(d.back())) d.remove_suffix(1);
      if (pii::IsPaymentCard(d)) {
        out->embedded |= Bit(PiiClass::kPaymentCard);
      } else if (d.size() == 11 && d[3] == '-' && pii::IsUsSsn(d)) {
        out->embedded |= Bit(PiiClass::kUsSsn);
      } else if (pii::LooksLikePhone(d) && CheckPhone(d)) {
        out->embedded |= Bit(PiiClass::kPhone);
      }
    }
    if (input.empty()) break;
  }
}

void CellClassifier::Classify(std::string_view s, CellMatch* out) const {
  *out = CellMatch();
  if (s.empty()) return;
  const Shape sh = ShapeOf(s);
  const size_t letters = sh.upper + sh.lower + sh.high;
  ClassMask& m = out->classes;

  if (sh.at == 1 && sh.spaces == 0) {
    if (pii::LooksLikeInternationalEmail(s)) m |= Bit(PiiClass::kEmail);
    return;
  }
  if (sh.colons >= 2 && sh.spaces == 0 && s.size() <= 45) {
    char buf[16];
    if (inet_pton(AF_INET6, std::string(s).c_str(), buf) == 1) m |= Bit(PiiClass::kIpv6);
    return;
  }
  const bool digits_and_separators = letters == 0 && sh.other == 0 && sh.at == 0 &&
                                     sh.colons == 0 && sh.commas == 0 && sh.digits > 0;
  if (digits_and_separators) {
    if (sh.dots == 3 && sh.digits <= 12 &&
        sh.spaces + sh.dashes + sh.slashes + sh.parens + sh.plus == 0) {
      char buf[4];
      if (inet_pton(AF_INET, std::string(s).c_str(), buf) == 1) m |= Bit(PiiClass::kIpv4);
      return;
    }
    if (sh.digits == 8 && s.size() == 10) {
      if (const int year = DateYear(s)) {
        m |= Bit(PiiClass::kDateOfBirth);
        out->date_year = year;
        return;
      }
    }
    if (sh.plus + sh.parens + sh.slashes == 0) {
      if (sh.digits >= 12 && sh.digits <= 19 && sh.dots == 0 && pii::IsPaymentCard(s)) {
        m |= Bit(PiiClass::kPaymentCard);
      }
      if (sh.digits == 9) {
        if (pii::IsUsSsn(s)) m |= Bit(PiiClass::kUsSsn);
        if (pii::IsNlBsn(s)) m |= Bit(PiiClass::kNlBsn);
      }
      if (sh.digits == 11 && sh.dashes == 0) {
        if (pii::IsDeTaxId(s)) m |= Bit(PiiClass::kDeTaxId);
        if (sh.spaces == 0 && sh.dots == 0 && pii::IsPlPesel(s)) m |= Bit(PiiClass::kPlPesel);
      }
      if (sh.digits == 15 && sh.dashes == 0 && pii::IsFrNir(s)) m |= Bit(PiiClass::kFrNir);
    }
    if (sh.digits >= 7 && sh.digits <= 17 && pii::LooksLikePhone(s)) out->phone_shape = true;
    return;
  }
  // Letters and digits without spaces: IBAN, DNI/NIE, codice fiscale, Corsican NIR.
  if (sh.spaces == 0 && sh.digits > 0 && letters > 0 && sh.high == 0 && s.size() <= 34) {
    if (s.size() >= 15 && pii::IsIban(s)) m |= Bit(PiiClass::kIban);
    if (s.size() >= 9 && s.size() <= 11 && pii::IsEsDni(s)) m |= Bit(PiiClass::kEsDni);
    if (s.size() == 16 && pii::IsItCodiceFiscale(s)) m |= Bit(PiiClass::kItCodiceFiscale);
    if (s.size() == 15 && pii::IsFrNir(s)) m |= Bit(PiiClass::kFrNir);
    return;
  }
  if (sh.spaces > 0 && sh.digits > 0) {
    // Printed identifiers with spaces: "GB82 WEST 1234 ...", "2 A ...", "54362315 K".
    if (sh.high == 0 && sh.other == 0 && s.size() <= 42 && sh.lower + sh.dots + sh.commas == 0) {
      if (s.size() >= 15 && pii::IsIban(s)) m |= Bit(PiiClass::kIban);
      if (s.size() <= 11 && pii::IsEsDni(s)) m |= Bit(PiiClass::kEsDni);
      if (s.size() >= 16 && s.size() <= 21 && pii::IsFrNir(s)) m |= Bit(PiiClass::kFrNir);
      if (m != 0) return;
    }
  }
  if (sh.digits == 0 && letters > 0 && sh.spaces <= 4 && sh.at == 0 && sh.other <= 3) {
    out->name_shape = IsNameShape(s, &out->name_known);
    if (out->name_shape) return;
  }
  if (sh.digits > 0 && letters > 0 && sh.spaces > 0 && s.size() <= 200 &&
      RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), patterns_->address)) {
    m |= Bit(PiiClass::kPostalAddress);
  }
  if (sh.spaces >= 3 && sh.lower > 0 && s.size() >= 20) {
    out->text = true;
    if (sh.at > 0 || sh.digits >= 7) FindEmbedded(s, out);
  }
}

}  // namespace sdp::scan
