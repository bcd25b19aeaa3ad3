#include "common/logistic_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

namespace sdp {
namespace {

TEST(ParseFeatureValue, AcceptsDecimalNumbers) {
  double v = 0;
  EXPECT_TRUE(ParseFeatureValue("42", &v));
  EXPECT_EQ(v, 42);
  EXPECT_TRUE(ParseFeatureValue("-1.5", &v));
  EXPECT_EQ(v, -1.5);
  EXPECT_TRUE(ParseFeatureValue("+3", &v));
  EXPECT_EQ(v, 3);
  EXPECT_TRUE(ParseFeatureValue(" 2.5e3\t", &v));
  EXPECT_EQ(v, 2500);
  EXPECT_TRUE(ParseFeatureValue(".5", &v));
  EXPECT_EQ(v, 0.5);
  EXPECT_TRUE(ParseFeatureValue("1e308", &v));
}

TEST(ParseFeatureValue, RejectsEverythingElse) {
  double v = 7;
  for (std::string_view s : {"", " ", "abc", "NaN", "nan", "inf", "-Infinity", "1,000", "0x10",
                             "1e999", "12abc", "+", "-", "++1", "1 2", "\"1\""}) {
    EXPECT_FALSE(ParseFeatureValue(s, &v)) << s;
  }
  EXPECT_EQ(v, 7);  // untouched
}

TEST(Sigmoid, StableAtExtremes) {
  EXPECT_EQ(Sigmoid(0), 0.5);
  EXPECT_EQ(Sigmoid(1000), 1.0);
  EXPECT_EQ(Sigmoid(-1000), 0.0);
  EXPECT_NEAR(Sigmoid(2), 1 / (1 + std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(Sigmoid(-2), 1 / (1 + std::exp(2.0)), 1e-15);
  EXPECT_TRUE(std::isnan(Sigmoid(std::numeric_limits<double>::quiet_NaN())));
}

LogisticModel DemoV1() {
  LogisticModel m;
  m.weights = {-0.35, -0.9, -0.6, 0.55};
  m.bias = -0.9;
  m.center = {45, 60000, 15000, 40};
  m.scale = {15, 30000, 20000, 30};
  m.defaults = {45, 60000, 15000, 40};
  m.clip = 5;
  m.band_medium = 0.3;
  m.band_high = 0.6;
  return m;
}

TEST(LogisticModel, ScoresDocumentedExamples) {
  const LogisticModel m = DemoV1();
  std::string err;
  ASSERT_TRUE(m.Validate(&err)) << err;
  // docs/model_demo_v1.md, "Worked examples".
  const std::string_view average[] = {"45", "60000", "15000", "40"};
  const bool all[] = {true, true, true, true};
  int defaulted = 0;
  EXPECT_NEAR(m.Score(average, all, &defaulted), Sigmoid(-0.9), 1e-15);
  EXPECT_EQ(defaulted, 0);
  EXPECT_STREQ(m.Band(Sigmoid(-0.9)), "low");
  const std::string_view risky[] = {"22", "18000", "150", "210"};
  const double s = m.Score(risky, all, &defaulted);
  EXPECT_GT(s, 0.6);
  EXPECT_STREQ(m.Band(s), "high");
}

TEST(LogisticModel, DefaultsMissingAndNonNumeric) {
  const LogisticModel m = DemoV1();
  const std::string_view texts[] = {"abc", "", "15000", ""};
  const bool present[] = {true, true, true, false};
  int defaulted = 0;
  EXPECT_EQ(m.Score(texts, present, &defaulted), Sigmoid(-0.9));
  EXPECT_EQ(defaulted, 3);
}

TEST(LogisticModel, ClipsExtremeValues) {
  const LogisticModel m = DemoV1();
  const std::string_view huge[] = {"1e308", "-1e308", "1e308", "1e308"};
  const bool all[] = {true, true, true, true};
  int defaulted = 0;
  const double s = m.Score(huge, all, &defaulted);
  EXPECT_NEAR(s, Sigmoid(-0.9 + 5 * (-0.35) + -5 * (-0.9) + 5 * (-0.6) + 5 * 0.55), 1e-15);
  EXPECT_GE(s, 0);
  EXPECT_LE(s, 1);
}

TEST(LogisticModel, Bands) {
  const LogisticModel m = DemoV1();
  EXPECT_STREQ(m.Band(0.0), "low");
  EXPECT_STREQ(m.Band(0.2999), "low");
  EXPECT_STREQ(m.Band(0.3), "medium");
  EXPECT_STREQ(m.Band(0.5999), "medium");
  EXPECT_STREQ(m.Band(0.6), "high");
  EXPECT_STREQ(m.Band(1.0), "high");
}

TEST(LogisticModel, ValidateRejectsBrokenParameters) {
  std::string err;
  LogisticModel m = DemoV1();
  m.scale[2] = 0;
  EXPECT_FALSE(m.Validate(&err));
  m = DemoV1();
  m.defaults.pop_back();
  EXPECT_FALSE(m.Validate(&err));
  m = DemoV1();
  m.weights[0] = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(m.Validate(&err));
  m = DemoV1();
  m.band_medium = 0.7;
  EXPECT_FALSE(m.Validate(&err));
  m = DemoV1();
  m.clip = 0;
  EXPECT_FALSE(m.Validate(&err));
  m = LogisticModel();
  m.weights.assign(65, 1);
  m.center.assign(65, 0);
  m.scale.assign(65, 1);
  m.defaults.assign(65, 0);
  EXPECT_FALSE(m.Validate(&err));
}

}  // namespace
}  // namespace sdp
