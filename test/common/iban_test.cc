#include "common/iban.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "test/support/test_vectors.h"

namespace sdp {
namespace {

TEST(Iban, EveryExampleInTheVectorsFile) {
  nlohmann::json file = testing_vectors::LoadVectors("crypto_vectors.json");
  const auto& iban = file["iban"];
  ASSERT_TRUE(iban.is_object());
  size_t checked = 0, total = 0;
  for (const auto& [country, length] : iban.at("country_lengths").items()) {
    ++total;
    EXPECT_EQ(IbanLengthForCountry(country), length.get<size_t>()) << country;
    ++checked;
  }
  for (const auto& v : iban.at("valid")) {
    ++total;
    const std::string s = v.at("iban").get<std::string>();
    SCOPED_TRACE(s);
    std::string why;
    EXPECT_TRUE(IbanValid(s, &why)) << why;
    EXPECT_EQ(s.substr(0, 2), v.at("country").get<std::string>());
    ++checked;
  }
  for (const auto& v : iban.at("invalid")) {
    ++total;
    const std::string s = v.at("iban").get<std::string>();
    SCOPED_TRACE(s + " (" + v.value("why", "") + ")");
    std::string why;
    EXPECT_FALSE(IbanValid(s, &why));
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(why.find(s), std::string::npos) << why;
    ++checked;
  }
  for (const auto& v : iban.at("printed")) {
    ++total;
    const std::string s = v.at("iban").get<std::string>();
    SCOPED_TRACE(s);
    EXPECT_EQ(IbanValid(s), v.at("valid").get<bool>());
    ++checked;
  }
  EXPECT_EQ(checked, total);
  EXPECT_GE(total, 54u);
}

TEST(Iban, SpecificReasons) {
  std::string why;
  EXPECT_TRUE(IbanValid("gb82west12345698765432", &why)) << why;
  EXPECT_FALSE(IbanValid("", &why));
  EXPECT_FALSE(IbanValid("GB82WEST1234569876543", &why));
  EXPECT_EQ(why, "IBAN for GB must have 22 characters, got 21");
  EXPECT_FALSE(IbanValid("XX82WEST12345698765432", &why));
  EXPECT_EQ(why, "unknown IBAN country code XX");
  EXPECT_FALSE(IbanValid("GB82WEST1234569876543$", &why));
  EXPECT_EQ(why, "character at offset 21 is not A-Z or 0-9");
  EXPECT_FALSE(IbanValid("GB82WEST12345698765431", &why));
  EXPECT_NE(why.find("check digits"), std::string::npos);
  EXPECT_FALSE(IbanValid("GBXXWEST12345698765432", &why));
  EXPECT_FALSE(IbanValid("12GBWEST12345698765432", &why));
  EXPECT_EQ(IbanLengthForCountry("gb"), 0u);
  EXPECT_EQ(IbanLengthForCountry("GBR"), 0u);
}

// The check-digit arithmetic against the textbook one (one mod per character, letters as two
// digits): for random strings of every registry length, and for each string with its check
// digits set so that it is valid, both agree.
TEST(Iban, ChunkedModuloAgreesWithPerCharacterModulo) {
  auto textbook = [](const std::string& s) {
    unsigned r = 0;
    for (size_t k = 0; k < s.size(); ++k) {
      const char c = s[(k + 4) % s.size()];
      r = c <= '9' ? (r * 10 + static_cast<unsigned>(c - '0')) % 97
                   : (r * 100 + static_cast<unsigned>(c - 'A' + 10)) % 97;
    }
    return r;
  };
  std::mt19937 rng(20261207);
  const std::string alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const char* const countries[] = {"AD", "BR", "DE", "FR", "GB", "LC", "MT", "NO", "RU", "ZZ"};
  size_t valid = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string country = countries[i % 10];
    const size_t len = IbanLengthForCountry(country);
    if (len == 0) {
      EXPECT_FALSE(IbanValid(country + "00ABCDEFGHIJKL"));
      continue;
    }
    std::string s = country + "00";
    while (s.size() < len) s.push_back(alnum[rng() % (i % 3 == 0 ? 10 : 36)]);
    EXPECT_EQ(IbanValid(s), textbook(s) == 1) << s;
    const unsigned check = 98 - textbook(s);  // ISO 13616: check digits for remainder 1
    s[2] = static_cast<char>('0' + check / 10);
    s[3] = static_cast<char>('0' + check % 10);
    ASSERT_EQ(textbook(s), 1u) << s;
    EXPECT_TRUE(IbanValid(s)) << s;
    ++valid;
  }
  EXPECT_EQ(valid, 18000u);
  std::string why;
  EXPECT_FALSE(IbanValid(std::string(35, '1'), &why));
  EXPECT_EQ(why, "longer than the 34 characters of any IBAN");
}

TEST(Iban, EveryRegistryCodeIsFound) {
  // The binary search must find each entry, including the first and the last.
  for (const char* c : {"AD", "AE", "YE", "XK", "NO", "RU", "LC"})
    EXPECT_GT(IbanLengthForCountry(c), 0u) << c;
  for (const char* c : {"AA", "ZZ", "AC", "YF", "00"}) EXPECT_EQ(IbanLengthForCountry(c), 0u) << c;
}

}  // namespace
}  // namespace sdp
