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

// With the key that tokenized the file: every HASH, RANDOM and FPE column says its domain and
// which key version (and key id) made it; MASKED columns have no key.
TEST(UploadManifestTest, KeyVersionAndDomainPerKeyedColumn) {
  TokenizationConfig config;
  std::string err;
  ASSERT_TRUE(LoadTokenizationConfig(kRepo + "/configs/customers_tokenization.yml", &config, &err))
      << err;
  KeyRing keys;
  ASSERT_TRUE(KeyRing::FromEnvValue("Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=", &keys, &err));
  keys.set_version(3);
  const std::string id = keys.key_id();
  const std::string m = UploadManifestJson(config, &keys);
  EXPECT_NE(m.find(R"("customer_id":{"transform":"HASH","domain":"customer_id","key_version":3,)"
                   R"("key_id":")" +
                   id + R"("})"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"("ssn":{"transform":"FF1","domain":"customers.ssn","key_version":3,)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"("first_name":{"transform":"MASKED"})"), std::string::npos) << m;
  EXPECT_EQ(UploadManifestJson(config, nullptr), UploadManifestJson(config));
}

}  // namespace
}  // namespace sdp
