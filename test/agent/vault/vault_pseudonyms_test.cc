// Pseudonym records of JSON documents (src/agent/vault/vault_pseudonyms.cc).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "agent/vault/vault.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

using testing::Keys;
using testing::ScopedTempDir;

PseudonymRecord Record(const std::string& id, const std::string& originals, int64_t expires_at) {
  PseudonymRecord r;
  r.id = id;
  r.mac = std::string(32, static_cast<char>(id.back()));
  r.originals = originals;
  r.fields = 2;
  r.created_at = 1000;
  r.expires_at = expires_at;
  return r;
}

const std::string kId1 = "11111111-1111-4111-8111-111111111111";
const std::string kId2 = "22222222-2222-4222-8222-222222222222";

TEST(VaultPseudonymsTest, StoreFindExpireHoldCleanupAndPurge) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  Vault vault;
  std::string err;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  ASSERT_TRUE(vault.PutPseudonym(Record(kId1, "\"secret-one\"", 0), &err)) << err;
  ASSERT_TRUE(vault.PutPseudonym(Record(kId2, "\"secret-two\"", 2000), &err)) << err;
  ASSERT_TRUE(vault.Commit(&err)) << err;

  PseudonymRecord got;
  bool found = false;
  ASSERT_TRUE(vault.GetPseudonym(kId2, 1500, &got, &found, &err)) << err;
  ASSERT_TRUE(found);
  EXPECT_EQ(got.originals, "\"secret-two\"");
  EXPECT_EQ(got.fields, 2u);
  ASSERT_TRUE(vault.FindPseudonymByMac(std::string(32, '1'), 1500, &got, &found, &err));
  ASSERT_TRUE(found);
  EXPECT_EQ(got.id, kId1);
  // Expired: not found, unless held.
  ASSERT_TRUE(vault.GetPseudonym(kId2, 2000, &got, &found, &err));
  EXPECT_FALSE(found);
  ASSERT_TRUE(vault.HoldPseudonym(kId2, true, &found, &err)) << err;
  EXPECT_TRUE(found);
  ASSERT_TRUE(vault.GetPseudonym(kId2, 5000, &got, &found, &err));
  EXPECT_TRUE(found);
  PseudonymStats stats;
  ASSERT_TRUE(vault.GetPseudonymStats(5000, &stats, &err));
  EXPECT_EQ(stats.records, 2u);
  EXPECT_EQ(stats.held, 1u);
  EXPECT_EQ(stats.expired, 0u);
  // A hold blocks cleanup and purge.
  Vault::CleanupResult result;
  ASSERT_TRUE(vault.CleanupPseudonym(kId2, &result, &err)) << err;
  EXPECT_EQ(result, Vault::CleanupResult::kHeld);
  uint64_t purged = 9;
  ASSERT_TRUE(vault.PurgeExpiredPseudonyms(5000, &purged, &err)) << err;
  EXPECT_EQ(purged, 0u);
  ASSERT_TRUE(vault.HoldPseudonym(kId2, false, &found, &err));
  ASSERT_TRUE(vault.PurgeExpiredPseudonyms(5000, &purged, &err)) << err;
  EXPECT_EQ(purged, 1u);
  ASSERT_TRUE(vault.CleanupPseudonym(kId1, &result, &err)) << err;
  EXPECT_EQ(result, Vault::CleanupResult::kRemoved);
  ASSERT_TRUE(vault.CleanupPseudonym(kId1, &result, &err)) << err;
  EXPECT_EQ(result, Vault::CleanupResult::kNotFound);
  ASSERT_TRUE(vault.GetPseudonymStats(5000, &stats, &err));
  EXPECT_EQ(stats.records, 0u);
  ASSERT_TRUE(vault.HoldPseudonym(kId1, true, &found, &err));
  EXPECT_FALSE(found);
}

TEST(VaultPseudonymsTest, CleanupLeavesNoSealedBytesInTheFiles) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err, sealed;
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
    ASSERT_TRUE(vault.PutPseudonym(Record(kId1, "\"secret-one\"", 0), &err)) << err;
    ASSERT_TRUE(vault.Commit(&err)) << err;
  }
  {  // the sealed bytes as stored
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT sealed FROM pseudonym_record", -1, &st, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    sealed.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                  sqlite3_column_bytes(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  Vault::CleanupResult result;
  ASSERT_TRUE(vault.CleanupPseudonym(kId1, &result, &err)) << err;
  EXPECT_EQ(result, Vault::CleanupResult::kRemoved);
  for (const std::string& file : {path, path + "-wal"}) {
    const std::string bytes = testing::ReadFile(file);
    EXPECT_EQ(bytes.find(sealed), std::string::npos) << file;
    EXPECT_EQ(bytes.find("secret-one"), std::string::npos) << file;
  }
}

TEST(VaultPseudonymsTest, TamperedMacOrMovedRecordFailsAuthentication) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
    ASSERT_TRUE(vault.PutPseudonym(Record(kId1, "\"secret-one\"", 0), &err)) << err;
    ASSERT_TRUE(vault.Commit(&err)) << err;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "UPDATE pseudonym_record SET mac = zeroblob(32)", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadOnly, Keys(), &err)) << err;
  PseudonymRecord got;
  bool found = false;
  EXPECT_FALSE(vault.GetPseudonym(kId1, 0, &got, &found, &err));
  EXPECT_NE(err.find("failed authentication"), std::string::npos) << err;
  EXPECT_TRUE(got.originals.empty());
}

TEST(VaultPseudonymsTest, ReadOnlyVaultWithoutRecordsFindsNothing) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
    ASSERT_TRUE(vault.Put("d", "t", "v", &err));
    ASSERT_TRUE(vault.Commit(&err));
  }
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadOnly, Keys(), &err)) << err;
  PseudonymRecord got;
  bool found = true;
  ASSERT_TRUE(vault.GetPseudonym(kId1, 0, &got, &found, &err)) << err;
  EXPECT_FALSE(found);
  EXPECT_FALSE(vault.PutPseudonym(Record(kId1, "x", 0), &err));
  EXPECT_NE(err.find("read-only"), std::string::npos);
}

}  // namespace
}  // namespace sdp
