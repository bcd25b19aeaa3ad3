#include "agent/pipeline/result_cells.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp {
namespace {

TEST(ResultCellsTest, ScoresArePlainNumbersInTheUnitInterval) {
  for (const char* ok :
       {"0", "1", "0.5", "1.0", "0.000001", "3e-05", "1E-5", "0.25e+0", "1.", "0.999999999999"}) {
    EXPECT_TRUE(IsValidScore(ok)) << ok;
  }
  for (const char* bad : {"", "-0", "+0.5", ".5", " 0.5", "0.5 ", "1.0000001", "2", "1e1", "nan",
                          "inf", "0x1p-2", "0.5e", "0.5e+", "=1", "0,5", "1e-99999", "1e99999",
                          "0.50000000000000000000000000000001"}) {
    EXPECT_FALSE(IsValidScore(bad)) << bad;
  }
}

TEST(ResultCellsTest, BandsAreTheModelsSet) {
  for (const char* ok : {"low", "medium", "high"}) EXPECT_TRUE(IsValidRiskBand(ok)) << ok;
  for (const char* bad : {"", "LOW", "high ", "critical", "=low"}) {
    EXPECT_FALSE(IsValidRiskBand(bad)) << bad;
  }
}

TEST(ResultCellsTest, ModelVersionsHaveASafeCharsetAndNoFormulaLeadIn) {
  for (const std::string& ok :
       {std::string("demo_v1"), std::string("v2.1:rc-1"), std::string("7"), std::string(64, 'a')}) {
    EXPECT_TRUE(IsValidModelVersion(ok)) << ok;
  }

  for (const std::string& bad :
       {std::string(), std::string(65, 'a'), std::string("-v1"), std::string("+v1"),
        std::string("=v1"), std::string("@v1"), std::string("_v1"), std::string("v 1"),
        std::string("v1\n"), std::string("v1\t"), std::string("v\xC3\xA9")}) {
    EXPECT_FALSE(IsValidModelVersion(bad)) << bad;
  }
}

TEST(ResultCellsTest, ErrorsNameTheFieldAndShowTheValueSafely) {
  std::string err;
  EXPECT_TRUE(ValidateResultCells("0.5", "low", "m1", &err));
  EXPECT_FALSE(ValidateResultCells("=1\n", "low", "m1", &err));
  EXPECT_EQ(err, "score '=1?' is not a number in [0, 1]");
  EXPECT_FALSE(ValidateResultCells("0.5", "x", "m1", &err));
  EXPECT_EQ(err, "risk_band 'x' is not one of low, medium, high");
  EXPECT_FALSE(ValidateResultCells("0.5", "low", std::string(100, 'v'), &err));
  EXPECT_EQ(err.find("model_version '" + std::string(40, 'v') + "...'"), 0u) << err;
}

}  // namespace
}  // namespace sdp
