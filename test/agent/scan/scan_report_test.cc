#include "agent/scan/scan_report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/tokenize/tokenization_config.h"

namespace sdp::scan {
namespace {

ScanReport Report(const std::vector<std::pair<std::string, PiiClass>>& columns) {
  ScanReport r;
  r.rows = 1000;
  r.sampled = 459;
  r.header = true;
  for (const auto& [name, cls] : columns) {
    ColumnVerdict v;
    v.cls = cls;
    v.confidence = 0.9;
    v.share = 1;
    v.example = "****";
    r.columns.push_back({name, v});
  }
  return r;
}

// What tokenize-config does with a config file: parse, validate, check against the header.
void ExpectAccepted(const ScanReport& r, const std::string& path) {
  const std::string yaml = ProposedConfig(r, path);
  TokenizationConfig config;
  std::string err;
  ASSERT_TRUE(ParseTokenizationConfig(yaml, "proposed", &config, &err)) << err << "\n" << yaml;
  std::vector<std::string> header;
  for (const ColumnReport& c : r.columns) header.push_back(c.name);
  EXPECT_TRUE(CheckConfigAgainstHeader(config, header, &err)) << err << "\n" << yaml;
}

TEST(ProposedConfig, EveryClassGetsItsTokenTypeAndTheConfigIsAccepted) {
  std::vector<std::pair<std::string, PiiClass>> cols = {{"customer_id", PiiClass::kNotPii}};
  for (int i = 0; i < kPiiClassCount; ++i) {
    const auto c = static_cast<PiiClass>(i);
    cols.push_back({std::string("c_") + PiiClassName(c), c});
  }
  const ScanReport r = Report(cols);
  ExpectAccepted(r, "/tmp/my-export 2024.csv");
  const std::string yaml = ProposedConfig(r, "/tmp/my-export 2024.csv");
  EXPECT_NE(yaml.find("source_table: my_export_2024"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("key_column: \"customer_id\""), std::string::npos);
  EXPECT_NE(yaml.find("\"c_email\": { token_type: HASH"), std::string::npos);
  EXPECT_NE(yaml.find("normalize: lowercase_trim"), std::string::npos);
  EXPECT_NE(yaml.find("\"c_payment_card\": { token_type: FPE"), std::string::npos);
  EXPECT_NE(yaml.find("\"c_us_ssn\": { token_type: FPE"), std::string::npos);
  EXPECT_NE(yaml.find("\"c_iban\": { token_type: FPE"), std::string::npos);
  EXPECT_NE(yaml.find("\"c_phone\": { token_type: MASKED"), std::string::npos);
  EXPECT_NE(yaml.find("\"c_person_name\": { token_type: RANDOM"), std::string::npos);
  EXPECT_NE(yaml.find("\"c_postal_address\": { token_type: RANDOM"), std::string::npos);
  EXPECT_EQ(yaml.find("c_not_pii"), std::string::npos);
}

TEST(ProposedConfig, AwkwardColumnNamesAndNoPlainKeyColumn) {
  // Every column PII: the key is the first HASH/FPE one; names with spaces, quotes, colons.
  ExpectAccepted(Report({{"full name", PiiClass::kPersonName},
                         {"e\"mail: primary", PiiClass::kEmail},
                         {"card #", PiiClass::kPaymentCard}}),
                 "x.csv");
  // Only RANDOM/MASKED columns: the first one becomes HASH to serve as the key.
  ExpectAccepted(Report({{"name", PiiClass::kPersonName}, {"phone", PiiClass::kPhone}}), "x.csv");
  // Nothing is PII.
  ExpectAccepted(Report({{"a", PiiClass::kNotPii}, {"b", PiiClass::kNotPii}}), "x.csv");
  // Long names keep domains within 128 characters and distinct.
  ExpectAccepted(Report({{"id", PiiClass::kNotPii},
                         {std::string(200, 'x') + "1", PiiClass::kEmail},
                         {std::string(200, 'x') + "2", PiiClass::kEmail}}),
                 std::string(100, 't') + ".csv");
}

TEST(FormatTable, ControlCharactersInNamesAreNotPrinted) {
  const ScanReport r = Report({{"a\x1b[2Jb\u202E", PiiClass::kEmail}});
  const std::string t = FormatTable(r);
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_EQ(t.find("\u202E"), std::string::npos);
  EXPECT_NE(t.find("1000 rows read, 459 sampled"), std::string::npos);
  EXPECT_NE(FormatJson(r).find("\"class\": \"email\""), std::string::npos);
}

}  // namespace
}  // namespace sdp::scan
