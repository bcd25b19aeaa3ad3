#include "common/luhn.h"

#include <gtest/gtest.h>

#include "test/support/test_vectors.h"

namespace sdp {
namespace {

TEST(Luhn, EveryExampleInTheVectorsFile) {
  nlohmann::json file = testing_vectors::LoadVectors("crypto_vectors.json");
  const auto& luhn = file["luhn"];
  ASSERT_TRUE(luhn.is_object());
  size_t checked = 0, total = 0;
  for (const auto& v : luhn.at("valid")) {
    ++total;
    const std::string n = v.at("number").get<std::string>();
    SCOPED_TRACE(n);
    EXPECT_TRUE(LuhnValid(n));
    EXPECT_TRUE(LuhnValidFormatted(n));
    // The check digit of the payload is the last digit.
    EXPECT_EQ(LuhnCheckDigit(n.substr(0, n.size() - 1)), n.back());
    ++checked;
  }
  for (const auto& v : luhn.at("invalid")) {
    ++total;
    const std::string n = v.at("number").get<std::string>();
    SCOPED_TRACE(n + " (" + v.value("why", "") + ")");
    EXPECT_FALSE(LuhnValid(n));
    EXPECT_FALSE(LuhnValidFormatted(n));
    EXPECT_NE(LuhnCheckDigit(n.substr(0, n.size() - 1)), n.back());
    ++checked;
  }
  for (const auto& v : luhn.at("formatted")) {
    ++total;
    const std::string n = v.at("number").get<std::string>();
    SCOPED_TRACE(n);
    EXPECT_EQ(LuhnValidFormatted(n), v.at("luhn_valid").get<bool>());
    EXPECT_FALSE(LuhnValid(n));  // the raw form has separators
    ++checked;
  }
  EXPECT_EQ(checked, total);
  EXPECT_GE(total, 29u);
}

TEST(Luhn, HostileInputs) {
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("0"));
  EXPECT_TRUE(LuhnValid("00"));
  EXPECT_FALSE(LuhnValid("4111x11111111111"));
  EXPECT_FALSE(LuhnValid("4111 1111 1111 1111"));
  EXPECT_FALSE(LuhnValidFormatted("4111.1111.1111.1111"));
  EXPECT_FALSE(LuhnValidFormatted("----"));
  EXPECT_EQ(LuhnCheckDigit(""), '\0');
  EXPECT_EQ(LuhnCheckDigit("12a"), '\0');
  EXPECT_EQ(LuhnCheckDigit("7992739871"), '3');
}

}  // namespace
}  // namespace sdp
