#include "common/pii/firewall.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/csv_reader.h"
#include "common/iban.h"
#include "common/luhn.h"

namespace sdp::pii {
namespace {

FirewallClass Clear(std::string_view value) {
  std::string scratch;
  return CheckCell(ColumnPolicy{}, value, &scratch);
}

FirewallClass As(Transform t, std::string_view value) {
  ColumnPolicy policy;
  policy.transform = t;
  std::string scratch;
  return CheckCell(policy, value, &scratch);
}

TEST(PiiFirewallTest, ParsesTransformsAndClasses) {
  Transform t;
  ASSERT_TRUE(ParseTransform("hash", &t));
  EXPECT_EQ(t, Transform::kHash);
  ASSERT_TRUE(ParseTransform("FF3-1", &t));
  EXPECT_EQ(t, Transform::kFpe);
  ASSERT_TRUE(ParseTransform("Clear", &t));
  EXPECT_EQ(t, Transform::kClear);
  EXPECT_FALSE(ParseTransform("FF3", &t));
  FirewallClass c;
  for (int i = 1; i <= kFirewallClassCount; ++i) {
    const auto cls = static_cast<FirewallClass>(i);
    ASSERT_TRUE(ParseFirewallClass(FirewallClassName(cls), &c));
    EXPECT_EQ(c, cls);
  }
  EXPECT_FALSE(ParseFirewallClass("", &c));
  EXPECT_FALSE(ParseFirewallClass("name", &c));
}

TEST(PiiFirewallTest, ClearColumnsRefuseEachClassInPlainForm) {
  EXPECT_EQ(Clear("ann.lee@example.com"), FirewallClass::kEmail);
  EXPECT_EQ(Clear("4111 1111 1111 1111"), FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("378282246310005"), FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("GB82 WEST 1234 5698 7654 32"), FirewallClass::kIban);
  EXPECT_EQ(Clear("DE89370400440532013000"), FirewallClass::kIban);
  EXPECT_EQ(Clear("123-45-6789"), FirewallClass::kUsSsn);
  EXPECT_EQ(Clear("123456789"), FirewallClass::kUsSsn);
  EXPECT_EQ(Clear("+1 415 555 2671"), FirewallClass::kPhone);
  EXPECT_EQ(Clear("(415) 555-2671"), FirewallClass::kPhone);
  EXPECT_EQ(Clear("020 7946 0958"), FirewallClass::kPhone);
}

TEST(PiiFirewallTest, ClearColumnsRefuseObfuscatedAndEmbeddedValues) {
  // Full-width digits, NBSP between groups, zero-width characters inside, mixed separators.
  EXPECT_EQ(Clear("４１１１ １１１１ １１１１ １１１１"), FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("4111\xC2\xA0"
                  "1111\xC2\xA0"
                  "1111\xC2\xA0"
                  "1111"),
            FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("41\xE2\x80\x8B"
                  "11111111111111"),
            FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("4111-1111 1111.1111"), FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("123\xE2\x80\x90"
                  "45\xE2\x80\x90"
                  "6789"),
            FirewallClass::kUsSsn);
  EXPECT_EQ(Clear("ann\xEF\xBC\xA0"
                  "example.com"),
            FirewallClass::kEmail);
  EXPECT_EQ(Clear("call me at +44 20 7946 0958 after 5"), FirewallClass::kPhone);
  EXPECT_EQ(Clear("mail ann@example.com, thanks"), FirewallClass::kEmail);
  EXPECT_EQ(Clear("iban: gb82west12345698765432."), FirewallClass::kIban);
}

// A digit group added before or after a value does not hide it: every span of whole groups is a
// candidate.
TEST(PiiFirewallTest, AddedDigitGroupsDoNotHideAValue) {
  EXPECT_EQ(Clear("4111 1111 1111 1111 7"), FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("0 4111-1111-1111-1111"), FirewallClass::kPaymentCard);
  EXPECT_EQ(Clear("123-45-6789 12"), FirewallClass::kUsSsn);
  EXPECT_EQ(Clear("7 (415) 555-2671"), FirewallClass::kPhone);
}

TEST(PiiFirewallTest, ClearColumnsAcceptOrdinaryData) {
  for (const char* v : {"",
                        "42",
                        "52000",
                        "-4123.45",
                        "1234567.89",
                        "2024-01-15",
                        "2024-01-15 10:30:00",
                        "15/01/2024",
                        "192.168.100.200",
                        "Berlin",
                        "gold",
                        "c000123",
                        "4111111111111112",
                        "123-45-0000",
                        "666-12-3456",
                        "1234567890",
                        "3.14159265358979",
                        "1e+10",
                        "not an email @ all",
                        "a@b",
                        "ORD-2024-000123456",
                        "0.000123456789"}) {
    EXPECT_EQ(Clear(v), FirewallClass::kNone) << v;
  }
}

TEST(PiiFirewallTest, TokenColumnsHoldOnlyTheirTokens) {
  EXPECT_EQ(As(Transform::kHash, "hAbCdEfGhIjKlMnOpQrStUvWx"), FirewallClass::kNone);
  EXPECT_EQ(As(Transform::kHash, ""), FirewallClass::kNone);
  EXPECT_EQ(As(Transform::kHash, "hAbCdEfGhIjKlMnOpQrStUvW"), FirewallClass::kTokenShape);
  EXPECT_EQ(As(Transform::kHash, "rAbCdEfGhIjKlMnOpQrStUv"), FirewallClass::kTokenShape);
  EXPECT_EQ(As(Transform::kHash, "ann@example.com"), FirewallClass::kEmail);
  EXPECT_EQ(As(Transform::kRandom, "rAbCdEfGhIjKlMnOpQrST-_"), FirewallClass::kNone);
  EXPECT_EQ(As(Transform::kRandom, "Smith"), FirewallClass::kTokenShape);
  EXPECT_EQ(As(Transform::kRandom, "123-45-6789"), FirewallClass::kUsSsn);
}

// Tokens of key version v >= 2 carry the base62 digit of v after the letter (key rotation).
TEST(PiiFirewallTest, TokensOfLaterKeyVersionsHaveTheirVersionDigit) {
  EXPECT_EQ(As(Transform::kHash, "h2AbCdEfGhIjKlMnOpQrStUvWx"), FirewallClass::kNone);
  EXPECT_EQ(As(Transform::kHash, "hzAbCdEfGhIjKlMnOpQrStUvWx"), FirewallClass::kNone);
  EXPECT_EQ(As(Transform::kRandom, "rAAbCdEfGhIjKlMnOpQrST-_"), FirewallClass::kNone);
  // 0 and 1 are no version digit (version 1 has none), nor is a base64url symbol.
  EXPECT_EQ(As(Transform::kHash, "h1AbCdEfGhIjKlMnOpQrStUvWx"), FirewallClass::kTokenShape);
  EXPECT_EQ(As(Transform::kHash, "h-AbCdEfGhIjKlMnOpQrStUvWx"), FirewallClass::kTokenShape);
  EXPECT_EQ(As(Transform::kHash, "h2AbCdEfGhIjKlMnOpQrStUvWxy"), FirewallClass::kTokenShape);
}

TEST(PiiFirewallTest, MaskedColumnsHoldOnlyMasks) {
  for (const char* v : {"a***@example.com", "***-***-2671", "***-**-6789", "J*** S****", "A", "",
                        "**34", "************1111", "*"}) {
    EXPECT_EQ(As(Transform::kMasked, v), FirewallClass::kNone) << v;
  }
  EXPECT_EQ(As(Transform::kMasked, "ann@example.com"), FirewallClass::kEmail);
  EXPECT_EQ(As(Transform::kMasked, "415-555-2671"), FirewallClass::kPhone);
  EXPECT_EQ(As(Transform::kMasked, "***-555-2671"), FirewallClass::kMaskShape);
  EXPECT_EQ(As(Transform::kMasked, "John Smith"), FirewallClass::kMaskShape);
}

TEST(PiiFirewallTest, FpeColumnsAreNotChecked) {
  // A format-preserving ciphertext of a card number is a valid-looking card number one time in
  // ten (Luhn): its hits are expected, and without the key nobody can tell it from a plaintext.
  EXPECT_EQ(As(Transform::kFpe, "4111 1111 1111 1111"), FirewallClass::kNone);
  EXPECT_EQ(As(Transform::kFpe, "GB82 WEST 1234 5698 7654 32"), FirewallClass::kNone);
}

TEST(PiiFirewallTest, AllowancesLetOneClassThroughAndNotTheOthers) {
  ColumnPolicy policy;
  policy.allowed.Add(FirewallClass::kPhone);
  std::string scratch;
  EXPECT_EQ(CheckCell(policy, "+1 415 555 2671", &scratch), FirewallClass::kNone);
  EXPECT_EQ(CheckCell(policy, "+1 415 555 2671 ann@example.com", &scratch), FirewallClass::kEmail);
  ColumnPolicy hash;
  hash.transform = Transform::kHash;
  hash.allowed.Add(FirewallClass::kTokenShape);
  EXPECT_EQ(CheckCell(hash, "legacy-id-17", &scratch), FirewallClass::kNone);
  EXPECT_EQ(CheckCell(hash, "123-45-6789", &scratch), FirewallClass::kUsSsn);
}

// ---- red team --------------------------------------------------------------------------------
// Generated uploads that each carry one raw PII value, in every format and obfuscation the
// scanner knows, in a column the manifest declares CLEAR (or leaves out), MASKED, HASH or
// RANDOM: not one may pass. test/e2e/pii_firewall.sh sends a few hundred of them through SQL
// and the gateway; this is the bulk.

class RedTeam {
 public:
  explicit RedTeam(uint64_t seed) : rng_(seed) {}

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + Pick(10)));
    return s;
  }

  // A valid card number of a random scheme: IIN prefix, random body, Luhn check digit.
  std::string CardDigits() {
    struct Scheme {
      const char* prefix;
      int length;
    };
    static const Scheme kSchemes[] = {
        {"4", 16},    {"4", 13},    {"4", 19},     {"51", 16},   {"55", 16}, {"2221", 16},
        {"2720", 16}, {"34", 15},   {"37", 15},    {"6011", 16}, {"65", 16}, {"644", 19},
        {"3528", 16}, {"3589", 19}, {"36", 14},    {"300", 14},  {"62", 16}, {"62", 19},
        {"6759", 12}, {"5018", 19}, {"622126", 16}};
    const Scheme& s = kSchemes[Pick(sizeof kSchemes / sizeof kSchemes[0])];
    std::string d = s.prefix;
    d += Digits(s.length - 1 - static_cast<int>(d.size()));
    d.push_back(LuhnCheckDigit(d));
    return d;
  }

  std::string SsnDigits() {
    for (;;) {
      const int area = 1 + Pick(899);
      const int group = 1 + Pick(99);
      const int serial = 1 + Pick(9999);
      if (area == 666) continue;
      char buf[40];
      std::snprintf(buf, sizeof buf, "%03d%02d%04d", area, group, serial);
      const std::string d = buf;
      if (d == "078051120" || d == "219099999" || d == "457555462") continue;
      return d;
    }
  }

  // A valid IBAN of a random country (compact, upper case): BBAN, then the mod-97 check digits.
  std::string Iban() {
    struct Country {
      const char* code;
      const char* bban;  // 'n' digit, 'a' upper-case letter, 'c' either
    };
    static const Country kCountries[] = {{"DE", "nnnnnnnnnnnnnnnnnn"},
                                         {"GB", "aaaannnnnnnnnnnnnn"},
                                         {"FR", "nnnnnnnnnncccccccccccnn"},
                                         {"NL", "aaaannnnnnnnnn"},
                                         {"ES", "nnnnnnnnnnnnnnnnnnnn"},
                                         {"IT", "anncccccccccccccccccccc"},
                                         {"BE", "nnnnnnnnnnnn"},
                                         {"CH", "nnnnncccccccccccc"},
                                         {"PL", "nnnnnnnnnnnnnnnnnnnnnnnn"},
                                         {"NO", "nnnnnnnnnnn"},
                                         {"MT", "aaaannnnncccccccccccccccccc"},
                                         {"SA", "nncccccccccccccccccc"}};
    const Country& c = kCountries[Pick(sizeof kCountries / sizeof kCountries[0])];
    std::string bban;
    for (const char* p = c.bban; *p; ++p) {
      const bool letter = *p == 'a' || (*p == 'c' && Pick(3) == 0);
      bban.push_back(letter ? static_cast<char>('A' + Pick(26))
                            : static_cast<char>('0' + Pick(10)));
    }
    const std::string rearranged = bban + c.code + "00";
    unsigned r = 0;
    for (char ch : rearranged) {
      if (ch >= '0' && ch <= '9') {
        r = (r * 10 + static_cast<unsigned>(ch - '0')) % 97;
      } else {
        r = (r * 100 + static_cast<unsigned>(ch - 'A' + 10)) % 97;
      }
    }
    const unsigned check = 98 - r;
    char digits[16];
    std::snprintf(digits, sizeof digits, "%02u", check);
    const std::string iban = std::string(c.code) + digits + bban;
    EXPECT_EQ(iban.size(), IbanLengthForCountry(c.code)) << c.code;
    return iban;
  }

  std::string Email() {
    static const char* kTlds[] = {"com", "org", "de", "co.uk", "io", "example"};
    static const char kLocal[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string local;
    const int n = 1 + Pick(12);
    for (int i = 0; i < n; ++i) local.push_back(kLocal[Pick(36)]);
    if (Pick(3) == 0) local += std::string(1, ".+_-"[Pick(4)]) + "x" + Digits(2);
    std::string domain;
    for (int i = 0, m = 2 + Pick(8); i < m; ++i) domain.push_back(kLocal[Pick(26)]);
    std::string e = local + "@" + domain + "." + kTlds[Pick(6)];
    if (Pick(4) == 0) {
      for (char& ch : e) {
        if (ch >= 'a' && ch <= 'z' && Pick(2) == 0) ch = static_cast<char>(ch - 'a' + 'A');
      }
    }
    return e;
  }

  // A phone number in one of the shapes the scanner knows (E.164, "00", trunk 0, NANP grouped).
  std::string Phone() {
    const std::string area = std::to_string(2 + Pick(8)) + Digits(2);
    const std::string exchange = std::to_string(2 + Pick(8)) + Digits(2);
    const std::string line = Digits(4);
    switch (Pick(10)) {
      case 0:
        return "+1" + area + exchange + line;
      case 1:
        return "+1 " + area + " " + exchange + " " + line;
      case 2:
        return "(" + area + ") " + exchange + "-" + line;
      case 3:
        return area + "-" + exchange + "-" + line;
      case 4:
        return area + "." + exchange + "." + line;
      case 5:
        return "1-" + area + "-" + exchange + "-" + line;
      case 6:
        return "+44 20 " + Digits(4) + " " + Digits(4);
      case 7:
        return "0" + std::to_string(1 + Pick(9)) + " " + Digits(2) + " " + Digits(2) + " " +
               Digits(2) + " " + Digits(2);
      case 8:
        return "0049 30 " + Digits(7);
      default:
        return "+" + std::to_string(2 + Pick(7)) + Digits(1 + Pick(2)) + " " + Digits(3) + " " +
               Digits(4);
    }
  }

  // Digits grouped with a separator style: bare, one separator, or a random mix.
  std::string Grouped(const std::string& digits, std::initializer_list<int> groups) {
    const int style = Pick(5);
    if (style == 0) return digits;
    static const char* kSeps[] = {" ", "-", ".", " "};
    std::string out;
    size_t at = 0;
    for (int g : groups) {
      if (at >= digits.size()) break;
      if (!out.empty()) out += style == 4 ? kSeps[Pick(4)] : kSeps[style - 1];
      out += digits.substr(at, g);
      at += g;
    }
    if (at < digits.size()) out += digits.substr(at);
    return out;
  }

  std::string Card() {
    const std::string d = CardDigits();
    if (d.size() == 15) return Grouped(d, {4, 6, 5});
    return Grouped(d, {4, 4, 4, 4});
  }
  std::string Ssn() { return Grouped(SsnDigits(), {3, 2, 4}); }
  std::string PrintedIban() {
    std::string iban = Iban();
    if (Pick(2) == 0) {
      std::string spaced;
      for (size_t i = 0; i < iban.size(); ++i) {
        if (i > 0 && i % 4 == 0) spaced.push_back(' ');
        spaced.push_back(iban[i]);
      }
      iban = spaced;
    }
    if (Pick(3) == 0) {
      for (char& ch : iban) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
      }
    }
    return iban;
  }

  // Obfuscations: full-width forms, NBSP or another Unicode space for ' ', zero-width characters
  // and soft hyphens inserted, Unicode dashes for '-', or several of them at once.
  std::string Obfuscate(const std::string& value, int how) {
    static const char* kInvisible[] = {"\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D",
                                       "\xE2\x81\xA0", "\xEF\xBB\xBF", "\xC2\xAD"};
    static const char* kSpaces[] = {"\xC2\xA0", "\xE2\x80\xAF", "\xE3\x80\x80", "\xE2\x80\x89"};
    static const char* kDashes[] = {"\xE2\x80\x90", "\xE2\x80\x91", "\xE2\x80\x93", "\xE2\x88\x92"};
    std::string out;
    for (char c : value) {
      const bool full = (how & 1) && c > 0x20 && c < 0x7F && Pick(3) != 0;
      if (full) {
        // U+FF01..U+FF5E: EF BC 81.. / EF BD 80..
        const unsigned cp = 0xFF01 + static_cast<unsigned>(c - 0x21);
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if ((how & 2) && c == ' ') {
        out += kSpaces[Pick(4)];
      } else if ((how & 8) && c == '-') {
        out += kDashes[Pick(4)];
      } else {
        out.push_back(c);
      }
      if ((how & 4) && Pick(3) == 0) out += kInvisible[Pick(6)];
    }
    return out;
  }

  // The value alone, inside free text, or with a digit group added before or after it.
  std::string Context(const std::string& value) {
    switch (Pick(8)) {
      case 6:
        return value + " " + Digits(1 + Pick(3));
      case 7:
        return Digits(1 + Pick(2)) + " " + value;
      case 0:
        return "contact: " + value;
      case 1:
        return value + " (primary)";
      case 2:
        return "ref " + value + "; see file";
      case 3:
        return " " + value + " ";
      default:
        return value;
    }
  }

  std::mt19937_64 rng_;
};

std::string Quoted(const std::string& cell) {
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

// Runs one upload (CSV text) through the firewall as the loader does: every cell of every row
// against its column's policy. True when it would be stored.
bool Accepted(const std::string& csv, const std::map<std::string, ColumnPolicy>& manifest) {
  MemoryByteSource source(csv);
  CsvReader reader(&source);
  CsvTable table(&reader);
  std::string err;
  EXPECT_TRUE(table.ReadHeader(&err)) << err;
  std::vector<ColumnPolicy> policies;
  for (const std::string& column : table.columns()) {
    auto found = manifest.find(column);
    policies.push_back(found == manifest.end() ? ColumnPolicy{} : found->second);
  }
  CsvRow row;
  std::string scratch;
  while (table.Next(&row, &err)) {
    for (size_t i = 0; i < row.size() && i < policies.size(); ++i) {
      if (CheckCell(policies[i], row.field(i), &scratch) != FirewallClass::kNone) return false;
    }
  }
  EXPECT_TRUE(err.empty()) << err;
  return true;
}

TEST(PiiFirewallRedTeam, NoGeneratedUploadWithRawPiiIsAccepted) {
  RedTeam gen(20261207);
  const char* kClasses[] = {"email", "payment_card", "iban", "us_ssn", "phone"};
  const Transform kDeclared[] = {Transform::kClear, Transform::kClear, Transform::kMasked,
                                 Transform::kHash, Transform::kRandom};
  constexpr int kUploads = 12000;
  std::map<std::string, int> accepted;
  std::map<std::string, std::string> example;
  int total = 0;
  int controls_refused = 0;
  for (int u = 0; u < kUploads; ++u) {
    const int cls = u % 5;
    std::string value;
    switch (cls) {
      case 0:
        value = gen.Email();
        break;
      case 1:
        value = gen.Card();
        break;
      case 2:
        value = gen.PrintedIban();
        break;
      case 3:
        value = gen.Ssn();
        break;
      default:
        value = gen.Phone();
        break;
    }
    // Every fifth upload plain, the others with one to four obfuscations combined.
    const int how = (u / 5) % 5 == 0 ? 0 : 1 + gen.Pick(15);
    value = gen.Context(gen.Obfuscate(value, how));
    const Transform declared = kDeclared[gen.Pick(5)];
    std::map<std::string, ColumnPolicy> manifest;
    manifest["customer_id"].transform = Transform::kHash;
    if (declared != Transform::kClear || gen.Pick(2) == 0) manifest["note"].transform = declared;
    // A few benign rows around the one that carries the value.
    // A few benign rows around the one that carries the value; the same upload with a benign
    // value in its place is the control, which must pass (so the value is what was refused).
    const char* benign = declared == Transform::kHash     ? "hBBBBBBBBBBBBBBBBBBBBBBBB"
                         : declared == Transform::kRandom ? "rBBBBBBBBBBBBBBBBBBBBBB"
                         : declared == Transform::kMasked ? "J*** S****"
                                                          : "gold";
    std::string csv = "customer_id,age,note\n";
    std::string control = csv;
    const int rows = 1 + gen.Pick(4);
    const int carrier = gen.Pick(rows);
    for (int r = 0; r < rows; ++r) {
      const std::string head = "hAAAAAAAAAAAAAAAAAAAAAAA" + std::string(1, "ABCD"[r]) + "," +
                               std::to_string(18 + gen.Pick(60)) + ",";
      csv += head + (r == carrier ? Quoted(value) : std::string(benign)) + "\n";
      control += head + benign + "\n";
    }
    ++total;
    if (Accepted(csv, manifest)) {
      ++accepted[kClasses[cls]];
      example.emplace(kClasses[cls], value);
    }
    if (!Accepted(control, manifest)) ++controls_refused;
  }
  EXPECT_EQ(controls_refused, 0);
  EXPECT_GE(total, 10000);
  for (const auto& [cls, n] : accepted) {
    ADD_FAILURE() << n << " uploads with raw " << cls << " accepted, e.g. \"" << example[cls]
                  << "\"";
  }
}

}  // namespace
}  // namespace sdp::pii
