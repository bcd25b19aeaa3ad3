#include "common/pii/validators.h"

#include <gtest/gtest.h>

#include <string>

#include "common/pii/fold.h"

namespace sdp::pii {
namespace {

// Every validator on input no validator should accept, without crashing or taking long.
void ExpectNothingMatches(const std::string& s) {
  SCOPED_TRACE(testing::PrintToString(s.substr(0, 40)));
  EXPECT_FALSE(LooksLikeEmail(s));
  EXPECT_FALSE(IsPaymentCard(s));
  EXPECT_FALSE(IsIban(s));
  EXPECT_FALSE(IsUsSsn(s));
  EXPECT_FALSE(LooksLikePhone(s));
}

TEST(LooksLikeEmail, ExamplesOfRfc5322AsPeopleWriteIt) {
  for (const char* s : {"simple@example.com", "very.common@example.com", "x@example.com",
                        "long.email-address-with-hyphens@and.subdomains.example.com",
                        "user.name+tag+sorting@example.com", "name/surname@example.com",
                        "mailhost!username@example.org", "user%example.com@example.org",
                        "user-@example.org", "Jane.O'Neil@Example.CO.UK", "  padded@example.com\t",
                        "info@xn--mnchen-3ya.de", "admin@example.xn--p1ai", "a1@b2.io"}) {
    EXPECT_TRUE(LooksLikeEmail(s)) << s;
  }
}

TEST(LooksLikeEmail, NearMissesAreRefused) {
  for (const char* s : {
           "abc.example.com",                        // no @
           "a@b@c@example.com",                      // several @
           "a\"b(c)d,e:f;g<h>i[j\\k]l@example.com",  // specials outside quotes
           "just\"not\"right@example.com",           // quotes
           "this is\"not\\allowed@example.com",      // space
           "i.like.underscores@but_they_are_not_allowed_in_this_part",
           "1234567890123456789012345678901234567890123456789012345678901234+x@example.com",
           "john..doe@example.com",
           ".john@example.com",
           "john.@example.com",
           "admin@mailserver1",  // one label: valid on an intranet, not what we look for
           "user@example.c",     // one-letter top-level label
           "user@example.123",   // numeric top-level label
           "user@-example.com",
           "user@example-.com",
           "user@example..com",
           "@example.com",
           "user@",
           "user@.com",
           "jane doe@example.com",
           "mailto:x@example.com y",
           "user(at)example.com",
           "https://example.com/@user",
       }) {
    EXPECT_FALSE(LooksLikeEmail(s)) << s;
  }
  EXPECT_FALSE(LooksLikeEmail("a@" + std::string(64, 'b') + ".com"));  // label of 64
  EXPECT_TRUE(LooksLikeEmail("a@" + std::string(63, 'b') + ".com"));
}

TEST(LooksLikeEmail, ObfuscatedFormsMatchOnceFolded) {
  const std::string s = "\uFF4A\u200B\uFF41\uFF4E\uFF45\uFF20example\u3002com";
  EXPECT_FALSE(LooksLikeEmail(s));
  EXPECT_TRUE(LooksLikeEmail(FoldObfuscation(s)));
}

TEST(PaymentCard, PublishedTestNumbersOfEveryScheme) {
  struct Case {
    const char* number;
    CardScheme scheme;
  };
  const Case cases[] = {
      {"4111111111111111", CardScheme::kVisa},
      {"4012888888881881", CardScheme::kVisa},
      {"4222222222222", CardScheme::kVisa},  // 13 digits
      {"5555555555554444", CardScheme::kMastercard},
      {"5105105105105100", CardScheme::kMastercard},
      {"2223003122003222", CardScheme::kMastercard},  // 2-series
      {"378282246310005", CardScheme::kAmex},
      {"371449635398431", CardScheme::kAmex},
      {"6011111111111117", CardScheme::kDiscover},
      {"6011000990139424", CardScheme::kDiscover},
      {"6445644564456445", CardScheme::kDiscover},
      {"6221260000000000", CardScheme::kDiscover},  // co-branded UnionPay range
      {"3530111333300000", CardScheme::kJcb},
      {"3566002020360505", CardScheme::kJcb},
      {"30569309025904", CardScheme::kDiners},
      {"38520000023237", CardScheme::kDiners},
      {"36227206271667", CardScheme::kDiners},
      {"6200000000000005", CardScheme::kUnionPay},
      {"6205500000000000004", CardScheme::kUnionPay},  // 19 digits
      {"6759649826438453", CardScheme::kMaestro},
      {"6304000000000000", CardScheme::kMaestro},
      {"5018000000000009", CardScheme::kMaestro},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PaymentCardScheme(c.number), c.scheme) << c.number;
  }
  EXPECT_STREQ(CardSchemeName(CardScheme::kMastercard), "mastercard");
  EXPECT_STREQ(CardSchemeName(CardScheme::kNone), "none");
}

TEST(PaymentCard, PrintedFormsWithSpacesAndDashes) {
  EXPECT_TRUE(IsPaymentCard("4111 1111 1111 1111"));
  EXPECT_TRUE(IsPaymentCard("4111-1111-1111-1111"));
  EXPECT_TRUE(IsPaymentCard("3782 822463 10005"));
  EXPECT_TRUE(IsPaymentCard("4111-1111 1111-1111"));  // mixed separators
  EXPECT_TRUE(IsPaymentCard(" 4111111111111111 "));
  EXPECT_TRUE(IsPaymentCard(FoldObfuscation("\uFF14\uFF11\uFF11\uFF11\u00A01111\u20131111 1111")));
}

TEST(PaymentCard, NearMissesAreRefused) {
  for (const char* s : {
           "4111111111111112",     // Luhn fails
           "411111111111111",      // Visa has no 15-digit numbers (and Luhn)
           "4111111111111111111",  // 19 digits, Luhn fails
           "1234567812345670",     // Luhn passes, no scheme starts with 1
           "9111111111111111", "378282246310005 0", "37828224631000",  // Amex of 14
           "5555555555554444 ",  // fine: trailing space is trimmed (checked below)
           "5555 5555 5555 44 44x", "4111  1111 1111 1111", "-4111111111111111",
           "4111111111111111-", "4111.1111.1111.1111", "2721000000000000",  // just past 2720
           "6229250000000008",                                              // Luhn fails
           "41111111111",  // too short for any scheme
       }) {
    if (std::string(s) == "5555555555554444 ") {
      EXPECT_TRUE(IsPaymentCard(s));
      continue;
    }
    EXPECT_FALSE(IsPaymentCard(s)) << s;
  }
}

TEST(IsIban, RegistryExamplesAndPrintedForm) {
  for (const char* s :
       {"GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
        "de89 3704 0044 0532 0130 00", "FR1420041010050500013M02606", "NL91ABNA0417164300",
        "NO9386011117947", "MT84MALT011000012345MTLCAST001S"}) {
    EXPECT_TRUE(IsIban(s)) << s;
  }
  for (const char* s : {"GB82WEST12345698765433", "GB82WEST1234569876543", "XX82WEST12345698765432",
                        "GB82-WEST-1234-5698-7654-32", "DE89 3704 0044 0532 0130 00 00",
                        "GB82WEST12345698765432 and more"}) {
    EXPECT_FALSE(IsIban(s)) << s;
  }
}

TEST(UsSsn, ValidShapes) {
  for (const char* s : {"123-45-6789", "123 45 6789", "123456789", "536.90.4399", "001-01-0001",
                        "665-99-9999", "899-99-9999", "123-45 6789", " 772-11-2222 "}) {
    EXPECT_TRUE(IsUsSsn(s)) << s;
  }
  EXPECT_TRUE(IsUsSsn(FoldObfuscation("123\u201345\u20136789")));
}

TEST(UsSsn, AreaGroupSerialRulesAndVoidedNumbers) {
  for (const char* s :
       {"000-12-3456", "666-12-3456", "900-12-3456", "999-99-9999", "123-00-4567", "123-45-0000",
        "078-05-1120", "219-09-9999", "457-55-5462", "123-45-678", "123-456-789", "1234-5-6789",
        "12345678", "1234567890", "123-45-67890", "123_45_6789", "123-45-678a", "123--45678"}) {
    EXPECT_FALSE(IsUsSsn(s)) << s;
  }
}

TEST(LooksLikePhone, InternationalAndNationalFormats) {
  for (const char* s : {
           "+12025550123",        "+1 202 555 0123",   "+1 (202) 555-0123", "+44 20 7946 0958",
           "+44 (0)20 7946 0958", "+33 1 23 45 67 89", "+49 30 901820",     "+4930901820",
           "+81-3-1234-5678",     "+298 123456",       "0044 20 7946 0958", "020 7946 0958",
           "06 12 34 56 78",      "06.12.34.56.78",    "0612345678",        "030/901820",
           "(202) 555-0123",      "202-555-0123",      "202.555.0123",      "1-202-555-0123",
           "(202)555-0123",       "202 555 0123",
       }) {
    EXPECT_TRUE(LooksLikePhone(s)) << s;
  }
}

TEST(LooksLikePhone, OtherNumbersAreNotPhones) {
  for (const char* s : {
           "2025550123",         // bare 10 digits: an id as much as a phone
           "123456789",          // bare
           "+0123456789",        // no country code starts with 0
           "+123456",            // 6 digits
           "+1234567890123456",  // 16 digits
           "12345678.90",        // decimal
           "0.123456789",        // decimal
           "192.168.100.200",    // IPv4
           "2024-01-15",         // a date
           "15/01/2024",
           "1,234,567",
           "555-0123",
           "00012345678",
           "06--12345678",
           "(202 555-0123",
           "202) 555-0123",
           "((202)) 555-0123",
           "(1234567) 555",
           "202-555-0123-",
           "-202-555-0123",
           "202 555 0123 ext 4",
           "phone 202-555-0123",
           "+",
           "+ 1 202 555 0123",
       }) {
    EXPECT_FALSE(LooksLikePhone(s)) << s;
  }
}

TEST(Validators, HostileInputs) {
  ExpectNothingMatches("");
  ExpectNothingMatches(std::string(10 * 1024 * 1024, '4'));
  ExpectNothingMatches("4111111111111111" + std::string(1 << 20, ' ') + "x");
  ExpectNothingMatches(std::string("4111111111111111\0", 17));
  ExpectNothingMatches(std::string("jane@example.com\0", 17));
  ExpectNothingMatches(std::string("\xC0\xAF\xFF\xFE", 4));
  ExpectNothingMatches(std::string("j\xE9@example.com"));        // Latin-1 byte in the local part
  ExpectNothingMatches(std::string("123-45-6789\xE2\x80\x8B"));  // zero width not folded yet
  std::string binary;
  for (int i = 0; i < 65536; ++i) binary.push_back(static_cast<char>(i * 131 % 256));
  ExpectNothingMatches(binary);
  ExpectNothingMatches(std::string(300, 'a') + "@example.com");
  ExpectNothingMatches("a@" + std::string(300, 'b') + ".com");
  ExpectNothingMatches(std::string(100000, '@'));
  ExpectNothingMatches(std::string(100000, '('));
}

}  // namespace
}  // namespace sdp::pii
