#include "common/iban.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sdp
