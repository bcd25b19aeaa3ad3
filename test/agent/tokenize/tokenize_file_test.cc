#include "agent/tokenize/tokenize_file.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/csv_reader.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

using testing::FileExists;
using testing::Keys;
using testing::ReadFile;
using testing::ScopedTempDir;
using testing::WriteFile;

const std::string kHostileDir = std::string(SDP_SOURCE_DIR) + "/test/data/hostile";

// Every PII column reversible: HASH and RANDOM through the vault, FPE by decryption. No
// normalisation, so each original is restored byte for byte.
constexpr const char* kReversibleConfig = R"yaml(
version: 1
source_table: customers
key_column: customer_id
columns:
  customer_id: { token_type: HASH, domain: customer_id }
  email:       { token_type: HASH }
  first_name:  { token_type: RANDOM }
  last_name:   { token_type: RANDOM }
  phone:       { token_type: HASH }
  ssn:         { token_type: FPE, algorithm: FF1, alphabet: digits }
  card_number: { token_type: FPE, algorithm: FF3-1, alphabet: digits }
  iban:        { token_type: FPE, algorithm: FF1, alphabet: alnum }
  birth_date:  { token_type: RANDOM }
  address:     { token_type: RANDOM }
short_fpe_values: random
)yaml";

TokenizationConfig Config(const char* yaml) {
  TokenizationConfig config;
  std::string err;
  EXPECT_TRUE(ParseTokenizationConfig(yaml, "test.yml", &config, &err)) << err;
  return config;
}

std::vector<std::string> HostileFiles() {
  std::vector<std::string> files;
  DIR* dir = opendir(kHostileDir.c_str());
  while (dirent* e = dir ? readdir(dir) : nullptr) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".csv") files.push_back(name);
  }
  if (dir) closedir(dir);
  return files;
}

// All values of the given columns, read with the real CSV reader.
std::set<std::string> ColumnValues(const std::string& path, const std::set<std::string>& columns) {
  std::set<std::string> values;
  const std::string data = ReadFile(path);
  MemoryByteSource source(data);
  CsvReader reader(&source);
  CsvTable table(&reader);
  std::string err;
  EXPECT_TRUE(table.ReadHeader(&err)) << err;
  CsvRow row;
  while (table.Next(&row, &err)) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (columns.count(table.columns()[i]) && !row.field(i).empty()) {
        values.insert(std::string(row.field(i)));
      }
    }
  }
  return values;
}

TEST(TokenizeFileTest, HostileCorpusRoundTripsByteForByte) {
  const std::vector<std::string> files = HostileFiles();
  ASSERT_GE(files.size(), 8u);
  const std::set<std::string> pii = {"customer_id", "first_name", "last_name",   "email",
                                     "phone",       "ssn",        "card_number", "iban",
                                     "birth_date",  "address"};
  for (const auto& name : files) {
    SCOPED_TRACE(name);
    ScopedTempDir dir;
    TokenizeJob job;
    job.input = kHostileDir + "/" + name;
    job.output = dir.File("tokenized.csv");
    job.vault_path = dir.File("vault.db");
    job.config = Config(kReversibleConfig);
    FileReport report;
    std::string err;
    ASSERT_TRUE(TokenizeCsvFile(job, Keys(), &report, &err)) << err;
    EXPECT_GT(report.rows, 0u);

    // No raw value of a tokenized column survives in the tokenized file: no cell equals one,
    // and no cell contains one long enough not to occur in random base64 by chance.
    const std::set<std::string> raw_values = ColumnValues(job.input, pii);
    std::set<std::string> all_columns;
    for (const auto& c : pii) all_columns.insert(c);
    for (const char* c : {"age", "income", "balance", "num_transactions"}) all_columns.insert(c);
    const std::set<std::string> cells = ColumnValues(job.output, all_columns);
    const std::string tokenized = ReadFile(job.output);
    for (const auto& raw : raw_values) {
      // FPE keeps separators: values made only of them carry no PII.
      if (raw.find_first_of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
          std::string::npos) {
        continue;
      }
      EXPECT_EQ(cells.count(raw), 0u) << "raw value leaked as a cell: " << raw;
      if (raw.size() >= 8) {
        EXPECT_EQ(tokenized.find(raw), std::string::npos) << "raw value leaked: " << raw;
      }
    }

    DetokenizeJob back;
    back.input = job.output;
    back.output = dir.File("restored.csv");
    back.vault_path = job.vault_path;
    back.config = job.config;
    ASSERT_TRUE(DetokenizeCsvFile(back, Keys(), &report, &err)) << err;
    EXPECT_EQ(ReadFile(back.output), ReadFile(job.input));
  }
}

TEST(TokenizeFileTest, HashTokensAreDeterministicAndDomainSeparated) {
  ScopedTempDir dir;
  WriteFile(dir.File("a.csv"), "customer_id,email\nC1,x@y.com\nC1,x@y.com\n");
  TokenizeJob job;
  job.input = dir.File("a.csv");
  job.output = dir.File("t1.csv");
  job.vault_path = dir.File("v.db");
  job.config = Config(R"(
version: 1
source_table: customers
columns:
  customer_id: { token_type: HASH, domain: customer_id, vault: false }
  email: { token_type: HASH, vault: false }
)");
  FileReport report;
  std::string err;
  ASSERT_TRUE(TokenizeCsvFile(job, Keys(), &report, &err)) << err;
  EXPECT_FALSE(FileExists(job.vault_path));  // no column needed the vault
  job.output = dir.File("t2.csv");
  ASSERT_TRUE(TokenizeCsvFile(job, Keys(), &report, &err)) << err;
  const std::string t1 = ReadFile(dir.File("t1.csv"));
  EXPECT_EQ(t1, ReadFile(dir.File("t2.csv")));  // same key + domain -> same tokens
  const std::vector<std::string> rows = {t1.substr(0, t1.find('\n'))};
  // Both data rows are identical, and the customer_id token differs from the e-mail token
  // domain even for the same text.
  const std::string row1 =
      t1.substr(t1.find('\n') + 1, t1.find('\n', t1.find('\n') + 1) - t1.find('\n') - 1);
  EXPECT_EQ(row1.size(), 2 * 25 + 1u);
  EXPECT_EQ(row1[0], 'h');

  job.config.columns[0].domain = "other";
  job.output = dir.File("t3.csv");
  ASSERT_TRUE(TokenizeCsvFile(job, Keys(), &report, &err)) << err;
  EXPECT_NE(ReadFile(dir.File("t3.csv")).substr(0, 40), t1.substr(0, 40));
  job.config.columns[0].domain = "customer_id";
  job.output = dir.File("t4.csv");
  ASSERT_TRUE(TokenizeCsvFile(job, Keys(testing::kOtherKey), &report, &err)) << err;
  EXPECT_NE(ReadFile(dir.File("t4.csv")), t1);  // another key, other tokens
}

TEST(TokenizeFileTest, MalformedInputLeavesNoOutputAndNamesTheLine) {
  ScopedTempDir dir;
  WriteFile(dir.File("bad.csv"), "customer_id,email\nC1,a@b.c\nC2,\"unterminated\nC3,x\n");
  TokenizeJob job;
  job.input = dir.File("bad.csv");
  job.output = dir.File("out.csv");
  job.vault_path = dir.File("v.db");
  job.config = Config("version: 1\nsource_table: t\ncolumns:\n  email: { token_type: HASH }\n");
  FileReport report;
  std::string err;
  EXPECT_FALSE(TokenizeCsvFile(job, Keys(), &report, &err));
  EXPECT_EQ(err.rfind(job.input + ":3", 0), 0u) << err;
  EXPECT_NE(err.find("unterminated"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(job.output));

  WriteFile(dir.File("ragged.csv"), "customer_id,email\nC1,a@b.c,extra\n");
  job.input = dir.File("ragged.csv");
  EXPECT_FALSE(TokenizeCsvFile(job, Keys(), &report, &err));
  EXPECT_EQ(err.rfind(job.input + ":2", 0), 0u) << err;
  EXPECT_FALSE(FileExists(job.output));
}

TEST(TokenizeFileTest, UnknownColumnListsTheAvailableOnes) {
  ScopedTempDir dir;
  WriteFile(dir.File("in.csv"), "customer_id,mail\nC1,a@b.c\n");
  TokenizeJob job;
  job.input = dir.File("in.csv");
  job.output = dir.File("out.csv");
  job.config = Config("version: 1\nsource_table: t\ncolumns:\n  email: { token_type: HASH }\n");
  FileReport report;
  std::string err;
  EXPECT_FALSE(TokenizeCsvFile(job, Keys(), &report, &err));
  EXPECT_NE(err.find("email"), std::string::npos) << err;
  EXPECT_NE(err.find("customer_id, mail"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(job.output));
}

TEST(TokenizeFileTest, ShortFpeValueFailsWithColumnAndLineButNotTheValue) {
  ScopedTempDir dir;
  WriteFile(dir.File("in.csv"), "id,ssn\n1,123-45-6789\n2,12-3\n");
  TokenizeJob job;
  job.input = dir.File("in.csv");
  job.output = dir.File("out.csv");
  job.vault_path = dir.File("v.db");
  job.config = Config(
      "version: 1\nsource_table: t\nkey_column: id\ncolumns:\n  ssn: { token_type: FPE, alphabet: "
      "digits }\n");
  FileReport report;
  std::string err;
  EXPECT_FALSE(TokenizeCsvFile(job, Keys(), &report, &err));
  EXPECT_EQ(err.rfind(job.input + ":3: column 'ssn'", 0), 0u) << err;
  EXPECT_EQ(err.find("12-3"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(job.output));

  // With the random fallback the run succeeds and the short value goes to the vault.
  job.config.short_fpe_values = ShortFpeValues::kRandom;
  ASSERT_TRUE(TokenizeCsvFile(job, Keys(), &report, &err)) << err;
  const std::string out = ReadFile(job.output);
  EXPECT_EQ(out.find("12-3"), std::string::npos);
  EXPECT_NE(out.find("\n2,r"), std::string::npos) << out;
  DetokenizeJob back;
  back.input = job.output;
  back.output = dir.File("back.csv");
  back.vault_path = job.vault_path;
  back.config = job.config;
  ASSERT_TRUE(DetokenizeCsvFile(back, Keys(), &report, &err)) << err;
  EXPECT_EQ(ReadFile(back.output), ReadFile(job.input));
}

TEST(TokenizeFileTest, DetokenizeWithAnotherKeyOrVaultFailsCleanly) {
  ScopedTempDir dir;
  WriteFile(dir.File("in.csv"), "id,name\n1,Alice\n");
  TokenizeJob job;
  job.input = dir.File("in.csv");
  job.output = dir.File("tok.csv");
  job.vault_path = dir.File("v.db");
  job.config = Config(
      "version: 1\nsource_table: t\nkey_column: id\ncolumns:\n  name: { token_type: RANDOM }\n");
  FileReport report;
  std::string err;
  ASSERT_TRUE(TokenizeCsvFile(job, Keys(), &report, &err)) << err;
  DetokenizeJob back;
  back.input = job.output;
  back.output = dir.File("back.csv");
  back.vault_path = job.vault_path;
  back.config = job.config;
  EXPECT_FALSE(DetokenizeCsvFile(back, Keys(testing::kOtherKey), &report, &err));
  EXPECT_NE(err.find("was written with key id"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(back.output));

  // A fresh vault does not know the token: the error names column, line and the vault.
  back.vault_path = dir.File("other.db");
  TokenizeJob other = job;
  other.output = dir.File("tok2.csv");
  other.vault_path = back.vault_path;
  ASSERT_TRUE(TokenizeCsvFile(other, Keys(), &report, &err)) << err;
  EXPECT_FALSE(DetokenizeCsvFile(back, Keys(), &report, &err));
  EXPECT_NE(err.find(":2: column 'name': token r"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(back.output));
}

}  // namespace
}  // namespace sdp
