// The PII firewall's cell check (see firewall.h).
//
// Cost first: most cells of a tokenized upload are numbers (age, income) or tokens. A CLEAR cell
// of plain ASCII without '@' and with fewer than 7 digits cannot hold any refused class (the
// shortest is a 7-digit E.164 number) and is accepted after one pass over its bytes; anything
// else is folded (FoldObfuscation: full-width forms, NBSP, zero-width characters) and searched
// for candidates anywhere in the cell, free text included: around every '@' for an e-mail, every
// run of digit groups (any mix of separators) for a card, SSN or phone number, every two letters
// followed by two digits for an IBAN. Each candidate goes to the shared validators
// (validators.h: IIN + Luhn, area/group/serial, mod 97, phone shapes), so a random number of the
// right length is not refused for its length alone. What the firewall adds to them: finding
// candidates inside a cell, any mix of separators between groups, and a grouping rule for North
// American numbers (IsPhone below).
#include "common/pii/firewall.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "common/iban.h"
#include "common/pii/fold.h"
#include "common/pii/validators.h"

namespace sdp::pii {
namespace {

constexpr const char* kClassNames[] = {"",       "email", "payment_card", "iban",
                                       "us_ssn", "phone", "token_shape",  "mask_shape"};

bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') <= 9; }
bool IsAlpha(char c) { return static_cast<unsigned char>((c | 0x20) - 'a') <= 25; }

// The token alphabet (base64url) as a table: the HASH/RANDOM check runs on most cells.
struct Base64UrlTable {
  bool in[256] = {};
  constexpr Base64UrlTable() {
    for (int c = '0'; c <= '9'; ++c) in[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) in[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) in[c] = true;
    in[static_cast<int>('-')] = in[static_cast<int>('_')] = true;
  }
};
constexpr Base64UrlTable kBase64Url;
bool IsBase64Url(char c) { return kBase64Url.in[static_cast<unsigned char>(c)]; }

// What the CLEAR check's first pass counts, one table lookup per byte.
enum ByteKind : uint8_t {
  kDigitByte = 1,
  kLetterByte = 2,
  kAtByte = 4,
  kPlusByte = 8,
  kHighByte = 16
};
struct ByteKindTable {
  uint8_t kind[256] = {};
  constexpr ByteKindTable() {
    for (int c = '0'; c <= '9'; ++c) kind[c] = kDigitByte;
    for (int c = 'a'; c <= 'z'; ++c) kind[c] = kLetterByte;
    for (int c = 'A'; c <= 'Z'; ++c) kind[c] = kLetterByte;
    kind[static_cast<int>('@')] = kAtByte;
    kind[static_cast<int>('+')] = kPlusByte;
    for (int c = 0x80; c < 256; ++c) kind[c] = kHighByte;
  }
};
constexpr ByteKindTable kByteKind;

// "h" + 24 base64url characters (18 bytes) or "r" + 22 (16 bytes): column_tokenizer.cc. Tokens of
// key version v >= 2 carry the base62 digit of v (2-9, A-Z, a-z) after the letter (key rotation,
// docs/key_rotation.md); version 1 tokens have none, so the length tells the two apart.
bool IsToken(std::string_view value, char lead, size_t body) {
  if (value.empty() || value[0] != lead) return false;
  size_t first = 1;
  if (value.size() == body + 2) {
    const char v = value[1];
    if (!((v >= '2' && v <= '9') || (v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z'))) return false;
    first = 2;
  } else if (value.size() != body + 1) {
    return false;
  }
  for (size_t i = first; i < value.size(); ++i) {
    if (!IsBase64Url(value[i])) return false;
  }
  return true;
}

// ---- candidates in folded text ---------------------------------------------------------------

// Separators allowed between the digit groups of one number, in any mix ("mixed separators").
bool IsNumberSeparator(char c) { return c == ' ' || c == '-' || c == '.' || c == '/'; }

// One run of digit groups: "+1 (415) 555-2671" -> digits "14155552671", groups {1, 3, 3, 4},
// text "+1 (415) 555-2671" with every run of separators cut to its first character. Fixed
// buffers: the check runs on every cell and must not allocate; a run longer than they hold ends
// there, and the scan starts a new run at the next group.
struct Number {
  static constexpr int kMaxGroups = 32;
  static constexpr int kMaxDigits = 96;
  static constexpr int kMaxGroupDigits = 19;  // the longest value of any class (a card)
  char digits[kMaxDigits];
  char text[kMaxDigits * 3];
  int ndigits = 0;
  int ntext = 0;
  int ngroups = 0;
  int groups[kMaxGroups];      // digits per group
  int digit_at[kMaxGroups];    // where each group starts in digits
  int text_begin[kMaxGroups];  // where each group starts in text ('(' or '+' included)
  int text_end[kMaxGroups];    // where it ends in text (')' included)
  bool plus = false;           // led by '+' (belongs to the first group)
};

// Reads the number starting at text[i] (a digit, '+' or '(' before a digit); returns the index
// after it. Groups are separated by at most two separator characters, or by parentheses.
size_t ReadNumber(std::string_view text, size_t i, Number* n) {
  n->ndigits = n->ntext = n->ngroups = 0;
  n->plus = false;
  if (text[i] == '+') {
    n->plus = true;
    n->text[n->ntext++] = '+';
    ++i;
  }
  size_t end = i;
  while (i < text.size() && n->ngroups < Number::kMaxGroups) {
    // A group: an optional '(' (the '+' of the first), digits, an optional ')'.
    const bool opened = text[i] == '(';
    const size_t j = opened ? i + 1 : i;
    size_t k = j;
    while (k < text.size() && IsDigit(text[k])) ++k;
    const size_t len = k - j;
    if (len == 0) break;
    if (len > Number::kMaxGroupDigits || n->ndigits + static_cast<int>(len) > Number::kMaxDigits) {
      // Too long for any class: nothing in or across it can match; skip it whole.
      if (n->ngroups == 0) end = k;
      break;
    }
    const int g = n->ngroups++;
    n->groups[g] = static_cast<int>(len);
    n->digit_at[g] = n->ndigits;
    n->text_begin[g] = g == 0 ? 0 : n->ntext;
    if (opened) n->text[n->ntext++] = '(';
    for (size_t d = j; d < k; ++d) {
      n->digits[n->ndigits++] = text[d];
      n->text[n->ntext++] = text[d];
    }
    i = k;
    if (i < text.size() && text[i] == ')') {
      if (opened) n->text[n->ntext++] = ')';
      ++i;  // also an unopened one: "415) 555-2671"
    }
    n->text_end[g] = n->ntext;
    end = i;
    // Up to two separators, then the next group (or an opening parenthesis) must follow.
    size_t m = i;
    int seps = 0;
    while (m < text.size() && IsNumberSeparator(text[m]) && seps < 2) {
      ++m;
      ++seps;
    }
    const bool more =
        m < text.size() &&
        (IsDigit(text[m]) || (text[m] == '(' && m + 1 < text.size() && IsDigit(text[m + 1])));
    if (!more) break;
    if (seps > 0) n->text[n->ntext++] = text[i];
    i = m;
  }
  return end;
}

// Groups [first, last] of a number, each candidate value a span of whole groups: a digit group
// added before or after a value ("4111 1111 1111 1111 7") does not hide it.
struct Span {
  const Number& n;
  int first;
  int last;
  int count() const { return last - first + 1; }
  int group(int k) const { return n.groups[first + k]; }
  bool plus() const { return first == 0 && n.plus; }
  std::string_view digits() const {
    const int begin = n.digit_at[first];
    return {n.digits + begin, static_cast<size_t>(n.digit_at[last] + n.groups[last] - begin)};
  }
  std::string_view text() const {
    return {n.text + n.text_begin[first],
            static_cast<size_t>(n.text_end[last] - n.text_begin[first])};
  }
  bool has_paren() const { return text().find('(') != std::string_view::npos; }
  bool GroupsAre(std::initializer_list<int> want) const {
    if (static_cast<size_t>(count()) != want.size()) return false;
    int k = 0;
    for (int g : want) {
      if (group(k++) != g) return false;
    }
    return true;
  }
};

// A card number: 12-19 digits in one group or in groups of at least 3 but the last (4-4-4-4,
// 4-6-5, 4-4-4-2, any mix of separators), then the shared validator (IIN range, length, Luhn) on
// the digits.
bool IsCard(const Span& s) {
  const size_t d = s.digits().size();
  if (s.plus() || d < 12 || d > 19) return false;
  for (int k = 0; k + 1 < s.count(); ++k) {
    if (s.group(k) < 3) return false;
  }
  return IsPaymentCard(s.digits());
}

// A US SSN: 9 digits, bare or grouped 3-2-4 with any separators, that the SSA could have issued.
bool IsSsn(const Span& s) {
  if (s.plus() || s.digits().size() != 9 || s.has_paren()) return false;
  if (s.count() != 1 && !s.GroupsAre({3, 2, 4})) return false;
  return IsUsSsn(s.digits());
}

// The shared phone shape on the number as written, and for North American numbers (no '+', no
// leading 0) the grouping they are written in: 3-3-4 or 1-3-3-4, area code and exchange not
// starting with 0 or 1. LooksLikePhone alone takes any 10 digits with a separator, which would
// refuse dates and times ("2024-01-15 10:30") and amounts in clear columns.
bool IsPhone(const Span& s) {
  const std::string_view d = s.digits();
  if (d.size() < 7 || d.size() > 17) return false;
  if (!s.plus() && d[0] != '0') {
    std::string_view nanp = d;
    if (s.GroupsAre({1, 3, 3, 4})) {
      nanp.remove_prefix(1);
    } else if (!s.GroupsAre({3, 3, 4})) {
      return false;
    }
    if (nanp.size() != 10 || nanp[0] < '2' || nanp[3] < '2') return false;
  }
  return LooksLikePhone(s.text());
}

// The first class not in `skip` (in the order card, SSN, phone: the most specific first) that
// some span of whole groups of `n` holds. Most numbers in clear columns (dates, amounts) are
// ruled out by their digit count before any span is looked at.
FirewallClass NumberClass(const Number& n, ClassSet skip) {
  if (n.ndigits < 12) skip.Add(FirewallClass::kPaymentCard);
  if (n.ndigits < 9) skip.Add(FirewallClass::kUsSsn);
  // A phone number has a '+', or 10 digits (North American), or 9 from a group led by '0'.
  bool phone = n.plus || n.ndigits >= 10;
  for (int g = 0; g < n.ngroups && !phone; ++g) {
    phone = n.digits[n.digit_at[g]] == '0' && n.ndigits - n.digit_at[g] >= 9;
  }
  if (!phone) skip.Add(FirewallClass::kPhone);
  static constexpr FirewallClass kOrder[] = {FirewallClass::kPaymentCard, FirewallClass::kUsSsn,
                                             FirewallClass::kPhone};
  for (FirewallClass cls : kOrder) {
    if (skip.Has(cls)) continue;
    for (int first = 0; first < n.ngroups; ++first) {
      for (int last = first; last < n.ngroups; ++last) {
        const Span s{n, first, last};
        const size_t d = s.digits().size();
        if (d > 19) break;
        if (d < 7) continue;
        const bool hit = cls == FirewallClass::kPaymentCard ? IsCard(s)
                         : cls == FirewallClass::kUsSsn     ? IsSsn(s)
                                                            : IsPhone(s);
        if (hit) return cls;
      }
    }
  }
  return FirewallClass::kNone;
}

// An IBAN starting at text[i] (two letters, two digits), spaces or mixed separators between its
// groups allowed: as many letters and digits as the country registers, then the shared validator.
bool IsIbanAt(std::string_view text, size_t i, std::string* compact) {
  compact->clear();
  for (size_t j = i; j < text.size() && compact->size() < 34; ++j) {
    const char c = text[j];
    if (IsDigit(c) || IsAlpha(c)) {
      compact->push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    } else if (!IsNumberSeparator(c)) {
      break;
    }
  }
  if (compact->size() < 4) return false;
  const size_t want = IbanLengthForCountry(std::string_view(*compact).substr(0, 2));
  if (want == 0 || compact->size() < want) return false;
  compact->resize(want);
  return IsIban(*compact);
}

bool IsLocalChar(char c) {
  return IsDigit(c) || IsAlpha(c) ||
         std::string_view(".!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
}
bool IsDomainChar(char c) { return IsDigit(c) || IsAlpha(c) || c == '-' || c == '.'; }

// An e-mail address around any '@' of the text: the longest local part before it and domain
// after it, trimmed of dots at the ends, given to the shared validator.
bool ContainsEmail(std::string_view text, std::string* candidate) {
  for (size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    size_t begin = at;
    while (begin > 0 && at - begin < 64 && IsLocalChar(text[begin - 1])) --begin;
    size_t end = at + 1;
    while (end < text.size() && end - at < 254 && IsDomainChar(text[end])) ++end;
    while (begin < at && text[begin] == '.') ++begin;
    while (end > at + 1 && text[end - 1] == '.') --end;
    candidate->assign(text.substr(begin, end - begin));
    if (LooksLikeEmail(*candidate)) return true;
  }
  return false;
}

// Searches folded text for the first class not in `skip`.
FirewallClass Search(std::string_view text, ClassSet skip, std::string* work) {
  if (!skip.Has(FirewallClass::kEmail) && text.find('@') != std::string_view::npos &&
      ContainsEmail(text, work)) {
    return FirewallClass::kEmail;
  }
  Number n;
  const bool want_iban = !skip.Has(FirewallClass::kIban);
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const bool starts_number =
        IsDigit(c) || ((c == '+' || c == '(') && i + 1 < text.size() && IsDigit(text[i + 1]));
    // A number starts after a character that is not a letter or digit (not inside "AB12").
    const bool boundary = i == 0 || !(IsDigit(text[i - 1]) || IsAlpha(text[i - 1]));
    if (starts_number && boundary) {
      const size_t end = ReadNumber(text, i, &n);
      if (n.ndigits >= 7) {
        const FirewallClass cls = NumberClass(n, skip);
        if (cls != FirewallClass::kNone) return cls;
      }
      i = end > i ? end : i + 1;
      continue;
    }
    if (want_iban && boundary && IsAlpha(c) && i + 3 < text.size() && IsAlpha(text[i + 1]) &&
        IsDigit(text[i + 2]) && IsDigit(text[i + 3]) && IsIbanAt(text, i, work)) {
      return FirewallClass::kIban;
    }
    ++i;
  }
  return FirewallClass::kNone;
}

// The CLEAR check: cheap rejection of what cannot hold PII, then fold and search.
FirewallClass Detect(std::string_view value, ClassSet skip, std::string* scratch) {
  int digits = 0;
  int letters = 0;
  unsigned seen = 0;
  for (char c : value) {
    const uint8_t kind = kByteKind.kind[static_cast<unsigned char>(c)];
    digits += kind & kDigitByte;
    letters += (kind & kLetterByte) >> 1;
    seen |= kind;
  }
  const bool ascii = (seen & kHighByte) == 0;
  const bool at = (seen & kAtByte) != 0;
  const bool plus = (seen & kPlusByte) != 0;
  if (ascii && !at) {
    // The fewest digits of a refused class: 7 (E.164 '+' and 7 digits, LooksLikePhone); without
    // a '+', 9 (an SSN, or a national phone number with its trunk 0), and an IBAN needs letters.
    // Dates, amounts and ids of clear columns end here.
    if (digits < 7 || (!plus && digits < 9 && letters < 2)) return FirewallClass::kNone;
  }
  std::string work;
  // Folding only rewrites non-ASCII characters: ASCII is searched as it is, without a copy.
  if (ascii) return Search(value, skip, &work);
  *scratch = FoldObfuscation(value);
  return Search(*scratch, skip, &work);
}

// A mask as MaskValue (agent/tokenize/masking.cc) writes it, after folding: an e-mail only as
// one character, "***" and the domain; at most four digits; every other run of letters one
// character long (initials). Returns the class refusing it, or kNone.
FirewallClass CheckMask(std::string_view value, ClassSet allowed, std::string* scratch) {
  if (value.empty()) return FirewallClass::kNone;
  *scratch = FoldObfuscation(value);
  const std::string_view text = *scratch;
  std::string_view rest = text;
  const size_t at = text.find('@');
  if (at != std::string_view::npos) {
    // One character (one UTF-8 sequence), then "***@".
    size_t first = 1;
    while (first < text.size() && (static_cast<unsigned char>(text[first]) & 0xC0) == 0x80) {
      ++first;
    }
    if (at != first + 3 || text.compare(first, 3, "***") != 0 ||
        text.find('@', at + 1) != std::string_view::npos) {
      if (!allowed.Has(FirewallClass::kEmail)) return FirewallClass::kEmail;
    }
    rest = text.substr(0, at);  // the domain is shown on purpose
  }
  int digits = 0;
  bool long_word = false;
  size_t run_chars = 0;
  bool run_digits_only = true;
  for (size_t i = 0; i <= rest.size(); ++i) {
    const unsigned char c = i < rest.size() ? static_cast<unsigned char>(rest[i]) : ' ';
    const bool maskable = IsDigit(c) || IsAlpha(c) || c >= 0x80;
    if (IsDigit(c)) ++digits;
    if (maskable) {
      if ((c & 0xC0) != 0x80) ++run_chars;  // count characters, not continuation bytes
      if (!IsDigit(c)) run_digits_only = false;
    } else {
      if (run_chars > 1 && !run_digits_only) long_word = true;
      run_chars = 0;
      run_digits_only = true;
    }
  }
  if (digits > 4 || long_word) {
    std::string work;
    const FirewallClass pii = Search(text, allowed, &work);
    if (pii != FirewallClass::kNone) return pii;
    if (!allowed.Has(FirewallClass::kMaskShape)) return FirewallClass::kMaskShape;
  }
  return FirewallClass::kNone;
}

}  // namespace

bool ParseTransform(std::string_view text, Transform* out) {
  std::string upper(text);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  if (upper == "CLEAR") {
    *out = Transform::kClear;
  } else if (upper == "HASH") {
    *out = Transform::kHash;
  } else if (upper == "RANDOM") {
    *out = Transform::kRandom;
  } else if (upper == "MASKED") {
    *out = Transform::kMasked;
  } else if (upper == "FPE" || upper == "FF1" || upper == "FF3-1") {
    *out = Transform::kFpe;
  } else {
    return false;
  }
  return true;
}

const char* TransformName(Transform transform) {
  switch (transform) {
    case Transform::kClear:
      return "CLEAR";
    case Transform::kHash:
      return "HASH";
    case Transform::kRandom:
      return "RANDOM";
    case Transform::kFpe:
      return "FPE";
    case Transform::kMasked:
      return "MASKED";
  }
  return "?";
}

const char* FirewallClassName(FirewallClass cls) {
  const auto i = static_cast<size_t>(cls);
  return i < sizeof(kClassNames) / sizeof(kClassNames[0]) ? kClassNames[i] : "";
}

bool ParseFirewallClass(std::string_view text, FirewallClass* out) {
  for (int i = 1; i <= kFirewallClassCount; ++i) {
    if (text == kClassNames[i]) {
      *out = static_cast<FirewallClass>(i);
      return true;
    }
  }
  return false;
}

FirewallClass FindRawPii(std::string_view value, std::string* scratch) {
  return Detect(value, ClassSet(), scratch);
}

FirewallClass CheckCell(const ColumnPolicy& policy, std::string_view value, std::string* scratch) {
  switch (policy.transform) {
    case Transform::kFpe:
      return FirewallClass::kNone;
    case Transform::kHash:
    case Transform::kRandom: {
      const bool token =
          value.empty() || (policy.transform == Transform::kHash ? IsToken(value, 'h', 24)
                                                                 : IsToken(value, 'r', 22));
      if (token) return FirewallClass::kNone;
      if (!policy.allowed.Has(FirewallClass::kTokenShape)) {
        // Name the raw PII when there is some: the refusal says what leaked, not only that the
        // shape is wrong.
        const FirewallClass pii = Detect(value, policy.allowed, scratch);
        return pii != FirewallClass::kNone ? pii : FirewallClass::kTokenShape;
      }
      return Detect(value, policy.allowed, scratch);
    }
    case Transform::kMasked:
      return CheckMask(value, policy.allowed, scratch);
    case Transform::kClear:
      return Detect(value, policy.allowed, scratch);
  }
  return FirewallClass::kNone;
}

}  // namespace sdp::pii
