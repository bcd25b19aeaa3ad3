#include "integrate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace sdp {
namespace {

using testing::FileExists;
using testing::ReadFile;
using testing::ScopedTempDir;
using testing::WriteFile;

// The raw file of `keys`, one row per key: id, a quoted name with a comma, a number.
std::string RawCsv(const std::vector<std::string>& keys) {
  std::string csv = "customer_id,name,amount\n";
  for (size_t i = 0; i < keys.size(); ++i) {
    csv += keys[i] + ",\"Doe, J" + std::to_string(i) + "\"," + std::to_string(i * 7) + "\n";
  }
  return csv;
}

std::string ResultLine(const std::string& key, size_t i) {
  return key + ",0." + std::to_string(100 + i % 900) + "," + (i % 2 ? "HIGH" : "LOW") + ",m1\n";
}

// Runs the join of `raw` with `results`; returns the output file's content.
std::string Integrate(const ScopedTempDir& dir, const std::string& raw, const std::string& results,
                      IntegrateReport* report) {
  IntegrateJob job;
  job.raw_input = dir.File("raw.csv");
  job.output = dir.File("merged.csv");
  job.results_csv = results;
  WriteFile(job.raw_input, raw);
  std::string err;
  EXPECT_TRUE(IntegrateResults(job, report, &err)) << err;
  return ReadFile(job.output);
}

// Several batches (2,048 rows each, merged two at a time on two threads, an odd one last), with
// the results in the raw file's order: every row matched, raw order and quoting kept.
TEST(IntegrateTest, AlignedResultsAcrossManyBatches) {
  ScopedTempDir dir;
  std::vector<std::string> keys;
  std::string results = "record_key,score,risk_band,model_version\n", expected;
  for (size_t i = 0; i < 5000; ++i) keys.push_back("C" + std::to_string(100000 + i));
  for (size_t i = 0; i < keys.size(); ++i) results += ResultLine(keys[i], i);
  expected = "customer_id,name,amount,score,risk_band,model_version\n";
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string line = ResultLine(keys[i], i);
    expected += keys[i] + ",\"Doe, J" + std::to_string(i) + "\"," + std::to_string(i * 7) +
                line.substr(keys[i].size());
  }
  IntegrateReport report;
  EXPECT_EQ(Integrate(dir, RawCsv(keys), results, &report), expected);
  EXPECT_EQ(report.raw_rows, 5000u);
  EXPECT_EQ(report.matched_rows, 5000u);
  EXPECT_EQ(report.results, 5000u);
}

// Results shuffled, a tenth of them missing, and raw keys repeated: every raw row with a result
// gets its key's result (duplicates all updated), the others keep empty result columns, and the
// raw order holds.
TEST(IntegrateTest, ShuffledMissingAndDuplicateKeys) {
  ScopedTempDir dir;
  std::vector<std::string> keys;
  for (size_t i = 0; i < 4500; ++i) keys.push_back("K" + std::to_string(i % 4000));
  std::vector<size_t> order(4000);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  std::string results = "record_key,score,risk_band,model_version\n";
  for (const size_t i : order) {
    if (i % 10 != 3) results += ResultLine("K" + std::to_string(i), i);
  }
  IntegrateReport report;
  const std::string merged = Integrate(dir, RawCsv(keys), results, &report);
  std::string expected = "customer_id,name,amount,score,risk_band,model_version\n";
  uint64_t matched = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const size_t k = i % 4000;
    expected += keys[i] + ",\"Doe, J" + std::to_string(i) + "\"," + std::to_string(i * 7);
    if (k % 10 == 3) {
      expected += ",,,\n";
    } else {
      expected += ResultLine(keys[i], k).substr(keys[i].size());
      ++matched;
    }
  }
  EXPECT_EQ(merged, expected);
  EXPECT_EQ(report.raw_rows, 4500u);
  EXPECT_EQ(report.matched_rows, matched);
}

// A BOM, CRLF line endings and a last row without a newline come out as they went in (the
// last row gets the file's line ending, since result columns follow it).
TEST(IntegrateTest, KeepsBomLineEndingsAndQuoting) {
  ScopedTempDir dir;
  const std::string raw =
      "\xEF\xBB\xBF"
      "customer_id,note\r\n\"A1\",\"say \"\"hi\"\"\"\r\nB2,x";
  const std::string results =
      "record_key,score,risk_band,model_version\nB2,0.5,LOW,m1\n"
      "A1,0.9,HIGH,m1\n";
  IntegrateReport report;
  EXPECT_EQ(Integrate(dir, raw, results, &report),
            "\xEF\xBB\xBF"
            "customer_id,note,score,risk_band,model_version\r\n"
            "\"A1\",\"say \"\"hi\"\"\",0.9,HIGH,m1\r\nB2,x,0.5,LOW,m1\r\n");
  EXPECT_EQ(report.matched_rows, 2u);
}

// A raw file that already has a result column, or a malformed raw row past the first batches:
// a clear error naming the file, and no output file.
TEST(IntegrateTest, BadInputLeavesNoOutput) {
  ScopedTempDir dir;
  IntegrateJob job;
  job.raw_input = dir.File("raw.csv");
  job.output = dir.File("merged.csv");
  job.results_csv = "record_key,score,risk_band,model_version\nA,1,LOW,m1\n";
  IntegrateReport report;
  std::string err;
  WriteFile(job.raw_input, "customer_id,score\nA,1\n");
  EXPECT_FALSE(IntegrateResults(job, &report, &err));
  EXPECT_NE(err.find("already has a column 'score'"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(job.output));

  std::vector<std::string> keys;
  for (size_t i = 0; i < 6000; ++i) keys.push_back("C" + std::to_string(i));
  WriteFile(job.raw_input, RawCsv(keys) + "C6000,\"unterminated\n");
  err.clear();
  EXPECT_FALSE(IntegrateResults(job, &report, &err));
  EXPECT_NE(err.find(job.raw_input + ":6002"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(job.output));
}

// Which key columns can be joined on once tokenized: HASH and FPE are re-derived from the raw
// key; RANDOM and MASKED cannot be, and say so with the fix; an untokenized key is no rule.
TEST(IntegrateTest, JoinKeyRuleOnlyForReDerivableTokens) {
  TokenizationConfig config;
  std::string err;
  ASSERT_TRUE(ParseTokenizationConfig(R"(version: 1
source_table: customers
columns:
  customer_id: { token_type: HASH }
  account: { token_type: FPE, algorithm: FF1, alphabet: digits }
  email: { token_type: RANDOM }
  phone: { token_type: MASKED, mask: last4 }
)",
                                      "test.yml", &config, &err))
      << err;
  for (const char* key : {"customer_id", "account"}) {
    const ColumnRule* rule = JoinKeyRule(config, key, &err);
    ASSERT_NE(rule, nullptr) << key;
    EXPECT_EQ(rule->column, key);
    EXPECT_TRUE(err.empty()) << err;
  }
  EXPECT_EQ(JoinKeyRule(config, "amount", &err), nullptr);
  EXPECT_TRUE(err.empty()) << err;
  EXPECT_EQ(JoinKeyRule(config, "email", &err), nullptr);
  EXPECT_EQ(err,
            "key column 'email' is tokenized as RANDOM, which cannot be re-derived to join; fix: "
            "tokenize the key column with HASH or FPE");
  EXPECT_EQ(JoinKeyRule(config, "phone", &err), nullptr);
  EXPECT_NE(err.find("tokenized as MASKED"), std::string::npos) << err;
}

}  // namespace
}  // namespace sdp
