// Vault::Forget (src/agent/vault/vault_forget.cc): erasure by token and by value.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "agent/vault/vault.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

using testing::Keys;
using testing::ScopedTempDir;

void WriteEntries(const std::string& path, const KeyRing& keys) {
  Vault vault;
  std::string err;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, keys, &err)) << err;
  ASSERT_TRUE(vault.Put("customers.email", "tokA", "alice@example.com", &err)) << err;
  ASSERT_TRUE(vault.Put("customers.email", "tokB", "bob@example.com", &err)) << err;
  ASSERT_TRUE(vault.Put("customers.email", "tokC", "alice@example.com", &err)) << err;
  ASSERT_TRUE(vault.Put("customers.ssn", "tokA", "123-45-6789", &err)) << err;
  ASSERT_TRUE(vault.Commit(&err)) << err;
}

bool Has(Vault* vault, const char* domain, const char* token) {
  std::string original, err;
  bool found = false;
  EXPECT_TRUE(vault->Get(domain, token, &original, &found, &err)) << err;
  return found;
}

TEST(VaultForgetTest, ByTokenInOneDomainLeavesTheOthers) {
  ScopedTempDir dir;
  const std::string path = dir.File("token_vault.db");
  const KeyRing keys = Keys();
  WriteEntries(path, keys);
  Vault vault;
  std::string err;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, keys, &err)) << err;
  VaultForgetReport report;
  ASSERT_TRUE(vault.Forget({"customers.email", "tokA", ""}, &report, &err)) << err;
  EXPECT_EQ(report.removed, 1u);
  ASSERT_EQ(report.entries.size(), 1u);
  EXPECT_EQ(report.entries[0], "customers.email/tokA");
  EXPECT_FALSE(Has(&vault, "customers.email", "tokA"));
  EXPECT_TRUE(Has(&vault, "customers.ssn", "tokA"));
  EXPECT_TRUE(Has(&vault, "customers.email", "tokB"));
  // Again: nothing left to remove, not an error.
  ASSERT_TRUE(vault.Forget({"customers.email", "tokA", ""}, &report, &err)) << err;
  EXPECT_EQ(report.removed, 0u);
}

TEST(VaultForgetTest, ByTokenInEveryDomain) {
  ScopedTempDir dir;
  const std::string path = dir.File("token_vault.db");
  const KeyRing keys = Keys();
  WriteEntries(path, keys);
  Vault vault;
  std::string err;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, keys, &err)) << err;
  VaultForgetReport report;
  ASSERT_TRUE(vault.Forget({"", "tokA", ""}, &report, &err)) << err;
  EXPECT_EQ(report.removed, 2u);
  EXPECT_FALSE(Has(&vault, "customers.email", "tokA"));
  EXPECT_FALSE(Has(&vault, "customers.ssn", "tokA"));
  EXPECT_TRUE(Has(&vault, "customers.email", "tokB"));
}

TEST(VaultForgetTest, ByValueRemovesEveryTokenOfThatValueAndShredsTheBytes) {
  ScopedTempDir dir;
  const std::string path = dir.File("token_vault.db");
  const KeyRing keys = Keys();
  WriteEntries(path, keys);
  {
    Vault vault;
    std::string err;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, keys, &err)) << err;
    VaultForgetReport report;
    ASSERT_TRUE(vault.Forget({"customers.email", "", "alice@example.com"}, &report, &err)) << err;
    EXPECT_EQ(report.removed, 2u);
    EXPECT_FALSE(Has(&vault, "customers.email", "tokA"));
    EXPECT_FALSE(Has(&vault, "customers.email", "tokC"));
    EXPECT_TRUE(Has(&vault, "customers.email", "tokB"));
    EXPECT_TRUE(Has(&vault, "customers.ssn", "tokA"));
    // The same value in another domain is not touched; a value never stored removes nothing.
    ASSERT_TRUE(vault.Forget({"customers.ssn", "", "alice@example.com"}, &report, &err)) << err;
    EXPECT_EQ(report.removed, 0u);
  }
  // The forgotten tokens no longer appear anywhere in the file or its WAL.
  const std::string bytes = testing::ReadFile(path) + testing::ReadFile(path + "-wal");
  EXPECT_EQ(bytes.find("tokC"), std::string::npos);
  EXPECT_NE(bytes.find("tokB"), std::string::npos);
}

TEST(VaultForgetTest, RefusesAmbiguousOrIncompleteQueriesAndReadOnlyVaults) {
  ScopedTempDir dir;
  const std::string path = dir.File("token_vault.db");
  const KeyRing keys = Keys();
  WriteEntries(path, keys);
  std::string err;
  VaultForgetReport report;
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, keys, &err)) << err;
    EXPECT_FALSE(vault.Forget({"customers.email", "tokA", "alice@example.com"}, &report, &err));
    EXPECT_FALSE(vault.Forget({"customers.email", "", ""}, &report, &err));
    EXPECT_FALSE(vault.Forget({"", "", "alice@example.com"}, &report, &err));
    EXPECT_NE(err.find("domain"), std::string::npos);
  }
  Vault ro;
  ASSERT_TRUE(ro.Open(path, Vault::Mode::kReadOnly, keys, &err)) << err;
  EXPECT_FALSE(ro.Forget({"customers.email", "tokA", ""}, &report, &err));
  EXPECT_NE(err.find("read-only"), std::string::npos);
  EXPECT_TRUE(Has(&ro, "customers.email", "tokA"));
}

}  // namespace
}  // namespace sdp
