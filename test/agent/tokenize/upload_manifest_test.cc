#include "agent/tokenize/upload_manifest.h"

#include <gtest/gtest.h>

#include <string>

namespace sdp {
namespace {

#ifdef SDP_SOURCE_DIR
const std::string kRepo = SDP_SOURCE_DIR;
#else
const std::string kRepo = ".";
#endif

// The shipped config's manifest: every tokenized column with its transform (FPE by its
// algorithm), in config order; the columns it leaves as they are (age, income) are not named.
TEST(UploadManifestTest, ShippedConfigNamesEveryTokenizedColumnInOrder) {
  TokenizationConfig config;
  std::string err;
  ASSERT_TRUE(LoadTokenizationConfig(kRepo + "/configs/customers_tokenization.yml", &config, &err))
      << err;
  EXPECT_EQ(UploadManifestJson(config),
            R"({"customer_id":{"transform":"HASH"},"email":{"transform":"HASH"},)"
            R"("first_name":{"transform":"MASKED"},"last_name":{"transform":"RANDOM"},)"
            R"("phone":{"transform":"MASKED"},"ssn":{"transform":"FF1"},)"
            R"("card_number":{"transform":"FF1"},"iban":{"transform":"FF1"},)"
            R"("birth_date":{"transform":"RANDOM"},"address":{"transform":"RANDOM"}})");
}

TEST(UploadManifestTest, Ff31AndAnEmptyConfig) {
  TokenizationConfig config;
  EXPECT_EQ(UploadManifestJson(config), "");
  ColumnRule rule;
  rule.column = "card";
  rule.type = TokenType::kFpe;
  rule.algorithm = FpeAlgorithm::kFf3_1;
  config.columns.push_back(rule);
  EXPECT_EQ(UploadManifestJson(config), R"({"card":{"transform":"FF3-1"}})");
}

// The config's class travels with the column; never anything else.
TEST(UploadManifestTest, CarriesTheColumnClass) {
  TokenizationConfig config;
  ColumnRule rule;
  rule.column = "mail";
  rule.type = TokenType::kHash;
  rule.pii_class = "email";
  config.columns.push_back(rule);
  EXPECT_EQ(UploadManifestJson(config), R"({"mail":{"transform":"HASH","class":"email"}})");
}

}  // namespace
}  // namespace sdp
