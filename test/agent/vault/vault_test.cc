#include "agent/vault/vault.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/support/test_util.h"

namespace sdp {
namespace {

using testing::FileExists;
using testing::Keys;
using testing::ScopedTempDir;

// Runs one SQL statement directly on the vault file, behind the Vault's back.
void Tamper(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* msg = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &msg), SQLITE_OK) << (msg ? msg : "");
  sqlite3_free(msg);
  sqlite3_close(db);
}

// The single integer a query returns, read directly from the vault file.
int64_t QueryInt(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  int64_t value = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// The text a query returns, read directly from the vault file.
std::string QueryText(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  std::string value = "(no row)";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

constexpr const char* kHasLookupIndex =
    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'vault_entry_lookup'";

void WriteEntries(const std::string& path, const KeyRing& keys) {
  Vault vault;
  std::string err;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, keys, &err)) << err;
  ASSERT_TRUE(vault.Put("customers.email", "tokA", "alice@example.com", &err)) << err;
  ASSERT_TRUE(vault.Put("customers.email", "tokB", "bob@example.com", &err)) << err;
  ASSERT_TRUE(vault.Put("customers.ssn", "tokA", "123-45-6789", &err)) << err;
  // Deterministic tokens are stored once: a second Put of the same token is ignored.
  ASSERT_TRUE(vault.Put("customers.email", "tokA", "ALICE@example.com", &err)) << err;
  ASSERT_TRUE(vault.Commit(&err)) << err;
}

TEST(VaultTest, RoundTripIsPrivateAndDeduplicated) {
  ScopedTempDir dir;
  const std::string path = dir.File("token_vault.db");
  const KeyRing keys = Keys();
  WriteEntries(path, keys);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Vault vault;
  std::string err, original;
  bool found = false;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadOnly, keys, &err)) << err;
  ASSERT_TRUE(vault.Get("customers.email", "tokA", &original, &found, &err)) << err;
  EXPECT_TRUE(found);
  EXPECT_EQ(original, "alice@example.com");
  ASSERT_TRUE(vault.Get("customers.ssn", "tokA", &original, &found, &err)) << err;
  EXPECT_EQ(original, "123-45-6789");
  ASSERT_TRUE(vault.Get("customers.email", "nope", &original, &found, &err)) << err;
  EXPECT_FALSE(found);

  VaultStats stats;
  ASSERT_TRUE(vault.Stats(&stats, &err)) << err;
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_EQ(stats.domains, 2u);
  EXPECT_EQ(stats.key_id, keys.key_id());
}

TEST(VaultTest, OriginalsAreNotStoredInClear) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  WriteEntries(path, Keys());
  std::string bytes = testing::ReadFile(path);
  const std::string wal = testing::ReadFile(path + "-wal");
  bytes += wal;
  EXPECT_EQ(bytes.find("alice@example.com"), std::string::npos);
  EXPECT_EQ(bytes.find("123-45-6789"), std::string::npos);
}

TEST(VaultTest, WrongKeyIsNamedNotGarbage) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  WriteEntries(path, Keys());
  Vault vault;
  std::string err;
  const KeyRing other = Keys(testing::kOtherKey);
  EXPECT_FALSE(vault.Open(path, Vault::Mode::kReadOnly, other, &err));
  EXPECT_NE(
      err.find("was written with key id " + Keys().key_id() + ", current key is " + other.key_id()),
      std::string::npos)
      << err;
}

TEST(VaultTest, TamperedCiphertextAndMovedEntriesFailAuthentication) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  WriteEntries(path, Keys());
  // Flip a byte of one ciphertext, and move another entry's ciphertext under a new token.
  const std::string moved =
      "UPDATE vault_entry SET sealed = X'00' || substr(sealed, 2) WHERE token = 'tokB';"
      "INSERT INTO vault_entry(lookup, domain, token, key_id, nonce, sealed) SELECT " +
      std::to_string(VaultLookupKey("customers.ssn", "tokZ")) +
      ", domain, 'tokZ', key_id, nonce, sealed FROM vault_entry WHERE domain = 'customers.ssn';";
  Tamper(path, moved.c_str());
  Vault vault;
  std::string err, original;
  bool found = false;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadOnly, Keys(), &err)) << err;
  EXPECT_FALSE(vault.Get("customers.email", "tokB", &original, &found, &err));
  EXPECT_NE(err.find("failed authentication"), std::string::npos) << err;
  EXPECT_FALSE(vault.Get("customers.ssn", "tokZ", &original, &found, &err));
  VaultVerifyReport report;
  ASSERT_TRUE(vault.Verify(&report, &err)) << err;
  EXPECT_EQ(report.checked, 4u);
  EXPECT_EQ(report.failed, 2u);
}

TEST(VaultTest, RotateKeyReencryptsAllOrNothing) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  const KeyRing old_keys = Keys();
  const KeyRing new_keys = Keys(testing::kOtherKey);
  WriteEntries(path, old_keys);
  {
    Vault vault;
    std::string err;
    uint64_t rotated = 0;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, old_keys, &err)) << err;
    ASSERT_TRUE(vault.RotateKey(new_keys, &rotated, &err)) << err;
    EXPECT_EQ(rotated, 3u);
  }
  Vault vault;
  std::string err, original;
  bool found = false;
  EXPECT_FALSE(vault.Open(path, Vault::Mode::kReadOnly, old_keys, &err));
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadOnly, new_keys, &err)) << err;
  ASSERT_TRUE(vault.Get("customers.email", "tokB", &original, &found, &err)) << err;
  EXPECT_EQ(original, "bob@example.com");

  // A damaged entry stops a rotation before anything changes.
  Tamper(path, "UPDATE vault_entry SET sealed = X'00' || substr(sealed, 2) WHERE token = 'tokB';");
  Vault again;
  uint64_t rotated = 0;
  ASSERT_TRUE(again.Open(path, Vault::Mode::kReadWrite, new_keys, &err)) << err;
  EXPECT_FALSE(again.RotateKey(old_keys, &rotated, &err));
  EXPECT_NE(err.find("nothing was rotated"), std::string::npos) << err;
}

TEST(VaultTest, CorruptedOrForeignFilesGiveAClearError) {
  ScopedTempDir dir;
  const std::string garbage = dir.File("garbage.db");
  testing::WriteFile(garbage, std::string(8192, 'x'));
  Vault vault;
  std::string err;
  EXPECT_FALSE(vault.Open(garbage, Vault::Mode::kReadOnly, Keys(), &err));
  EXPECT_NE(err.find("vault " + garbage), std::string::npos) << err;
  EXPECT_NE(err.find("fix: the file is damaged or not an sdp vault"), std::string::npos) << err;

  const std::string path = dir.File("v.db");
  WriteEntries(path, Keys());
  const std::string bytes = testing::ReadFile(path);
  testing::WriteFile(dir.File("truncated.db"), bytes.substr(0, 100));
  Vault truncated;
  EXPECT_FALSE(truncated.Open(dir.File("truncated.db"), Vault::Mode::kReadOnly, Keys(), &err));
  EXPECT_NE(err.find("; fix: "), std::string::npos) << err;

  Vault missing;
  EXPECT_FALSE(missing.Open(dir.File("missing.db"), Vault::Mode::kReadOnly, Keys(), &err));
  EXPECT_NE(err.find("does not exist"), std::string::npos);
  EXPECT_FALSE(FileExists(dir.File("missing.db")));
}

TEST(VaultTest, LookupKeyNarrowsButNeverDecides) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  WriteEntries(path, Keys());
  // Force a "collision": give another entry the lookup key of tokA in customers.email. Lookups
  // still compare domain and token, so both entries keep resolving to their own originals.
  const std::string collide = "UPDATE vault_entry SET lookup = " +
                              std::to_string(VaultLookupKey("customers.email", "tokA")) +
                              " WHERE token = 'tokB';";
  Tamper(path, collide.c_str());
  Vault vault;
  std::string err, original;
  bool found = false;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadOnly, Keys(), &err)) << err;
  ASSERT_TRUE(vault.Get("customers.email", "tokA", &original, &found, &err)) << err;
  EXPECT_EQ(original, "alice@example.com");
  EXPECT_NE(VaultLookupKey("a", "bc"), VaultLookupKey("ab", "c"));
}

// More stored tokens than one batched existence query asks about (Vault::kProbeRows), put again
// by a later run together with new ones, one of which shares its lookup key with a stored entry
// of another domain (a forced 64-bit collision):
// the stored originals stay, the new tokens (the colliding one included) are added.
TEST(VaultTest, DeterministicTokensAreStoredOnceAcrossRuns) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  const std::string domain = "customers.email";
  std::string err, original;
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
    for (int i = 0; i < 150; ++i) {
      ASSERT_TRUE(vault.Put(domain, "tok" + std::to_string(i), "orig" + std::to_string(i), &err));
    }
    ASSERT_TRUE(vault.Put("customers.phone", "other", "555-0100", &err)) << err;
    ASSERT_TRUE(vault.Commit(&err)) << err;
  }
  const std::string collide =
      "UPDATE vault_entry SET lookup = " + std::to_string(VaultLookupKey(domain, "new7")) +
      " WHERE token = 'other';";
  Tamper(path, collide.c_str());
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
    for (int i = 149; i >= 0; --i) {
      ASSERT_TRUE(vault.Put(domain, "tok" + std::to_string(i), "again" + std::to_string(i), &err));
      if (i % 3 == 0) {
        ASSERT_TRUE(vault.Put(domain, "new" + std::to_string(i / 3),
                              "fresh" + std::to_string(i / 3), &err));
      }
    }
    ASSERT_TRUE(vault.Commit(&err)) << err;
    EXPECT_EQ(vault.puts(), 50u);
  }
  Vault vault;
  bool found = false;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadOnly, Keys(), &err)) << err;
  VaultStats stats;
  ASSERT_TRUE(vault.Stats(&stats, &err)) << err;
  EXPECT_EQ(stats.entries, 201u);
  for (int i = 0; i < 150; i += 7) {
    ASSERT_TRUE(vault.Get(domain, "tok" + std::to_string(i), &original, &found, &err)) << err;
    EXPECT_EQ(original, "orig" + std::to_string(i));
  }
  for (const int i : {0, 7, 49}) {
    ASSERT_TRUE(vault.Get(domain, "new" + std::to_string(i), &original, &found, &err)) << err;
    EXPECT_TRUE(found);
    EXPECT_EQ(original, "fresh" + std::to_string(i));
  }
}

// Puts tok<from>..tok<to-1> of customers.email with originals "<prefix><i>".
void PutRange(Vault* vault, int from, int to, const std::string& prefix) {
  std::string err;
  for (int i = from; i < to; ++i) {
    ASSERT_TRUE(
        vault->Put("customers.email", "tok" + std::to_string(i), prefix + std::to_string(i), &err))
        << err;
  }
}

void ExpectOriginal(Vault* vault, int i, const std::string& prefix) {
  std::string err, original;
  bool found = false;
  ASSERT_TRUE(vault->Get("customers.email", "tok" + std::to_string(i), &original, &found, &err))
      << err;
  EXPECT_TRUE(found) << i;
  EXPECT_EQ(original, prefix + std::to_string(i));
}

// A fresh vault is loaded without its index (deferred commits only insert); repeats of a
// deterministic token in later flushes are still stored once, and the durable commit leaves the
// index in place.
TEST(VaultTest, BulkLoadDeduplicatesAcrossFlushesAndBuildsTheIndex) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  PutRange(&vault, 0, 100, "first");
  ASSERT_TRUE(vault.Commit(&err, Vault::Durability::kDeferred)) << err;
  EXPECT_EQ(QueryInt(path, "SELECT count(*) FROM vault_entry"), 0);  // not committed yet
  PutRange(&vault, 50, 150, "second");
  ASSERT_TRUE(vault.Commit(&err, Vault::Durability::kDeferred)) << err;
  PutRange(&vault, 0, 10, "third");
  ASSERT_TRUE(vault.Commit(&err)) << err;
  EXPECT_EQ(vault.puts(), 150u);
  EXPECT_EQ(QueryInt(path, "SELECT count(*) FROM vault_entry"), 150);
  EXPECT_EQ(QueryInt(path, kHasLookupIndex), 1);
  ExpectOriginal(&vault, 0, "first");
  ExpectOriginal(&vault, 99, "first");
  ExpectOriginal(&vault, 100, "second");
  ExpectOriginal(&vault, 149, "second");
}

// A load that never reaches its durable commit rolls back whole: the vault is empty, with its
// index, exactly as before.
TEST(VaultTest, InterruptedBulkLoadLeavesTheVaultAsItWas) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
    PutRange(&vault, 0, 100, "first");
    ASSERT_TRUE(vault.Commit(&err, Vault::Durability::kDeferred)) << err;
  }
  EXPECT_EQ(QueryInt(path, "SELECT count(*) FROM vault_entry"), 0);
  EXPECT_EQ(QueryInt(path, kHasLookupIndex), 1);
}

// Past its limit of tracked entries a bulk load builds the index early and carries on as a
// normal write: deferred commits commit again, and repeats are found through the index.
TEST(VaultTest, BulkLoadPastItsLimitHandsOverToTheIndex) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  vault.LimitBulkLoad(50);
  PutRange(&vault, 0, 100, "first");
  ASSERT_TRUE(vault.Commit(&err, Vault::Durability::kDeferred)) << err;
  EXPECT_EQ(QueryInt(path, "SELECT count(*) FROM vault_entry"), 100);
  EXPECT_EQ(QueryInt(path, kHasLookupIndex), 1);
  PutRange(&vault, 90, 120, "second");
  ASSERT_TRUE(vault.Commit(&err)) << err;
  EXPECT_EQ(vault.puts(), 120u);
  ExpectOriginal(&vault, 95, "first");
  ExpectOriginal(&vault, 119, "second");
}

// A bulk load runs under a rollback journal instead of the WAL. The journal exists while the load
// runs and must be as private as the vault (a local user must not read it); the durable commit
// removes it and puts the vault back in WAL mode.
TEST(VaultTest, BulkLoadJournalIsPrivateAndTheVaultReturnsToWal) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  const mode_t old_umask = ::umask(022);  // what a careless shell would give new files
  std::string err;
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  PutRange(&vault, 0, 100, "first");
  ASSERT_TRUE(vault.Commit(&err, Vault::Durability::kDeferred)) << err;
  struct stat st;
  ASSERT_EQ(::stat((path + "-journal").c_str(), &st), 0) << "the load is not journaled";
  EXPECT_EQ(st.st_mode & 077, 0u) << "journal readable by others";
  EXPECT_FALSE(FileExists(path + "-wal")) << "the load went through the WAL";
  ASSERT_TRUE(vault.Commit(&err)) << err;
  ::umask(old_umask);
  EXPECT_FALSE(FileExists(path + "-journal"));
  EXPECT_EQ(QueryText(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryInt(path, "SELECT count(*) FROM vault_entry"), 100);
  EXPECT_EQ(QueryInt(path, kHasLookupIndex), 1);
  // The next write (the vault is no longer empty) goes through the WAL.
  PutRange(&vault, 100, 110, "second");
  ASSERT_TRUE(vault.Commit(&err)) << err;
  EXPECT_FALSE(FileExists(path + "-journal"));
  EXPECT_EQ(QueryText(path, "PRAGMA journal_mode"), "wal");
  ExpectOriginal(&vault, 105, "second");
}

// A process killed in the middle of a bulk load (no destructor, no rollback) leaves its journal
// behind; the next open rolls it back: the vault is empty again, with its index.
TEST(VaultTest, BulkLoadKilledHalfWayIsRolledBackAtTheNextOpen) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  {
    Vault vault;  // the vault exists, empty, before the load
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Vault vault;
    std::string child_err;
    bool ok = vault.Open(path, Vault::Mode::kReadWrite, Keys(), &child_err);
    for (int i = 0; ok && i < 20000; ++i) {
      ok = vault.Put("customers.email", "tok" + std::to_string(i), "orig", &child_err);
    }
    ok = ok && vault.Commit(&child_err, Vault::Durability::kDeferred);
    ::_exit(ok && FileExists(path + "-journal") ? 0 : 1);  // dies with the load open
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's load did not start";
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  VaultStats stats;
  ASSERT_TRUE(vault.Stats(&stats, &err)) << err;
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(QueryInt(path, kHasLookupIndex), 1);
  EXPECT_FALSE(FileExists(path + "-journal"));
}

// The same crash after the load has written rows into the vault file (its page cache spilled):
// a read-only open (detokenize, vault verify) comes first and still reads the vault as it was.
TEST(VaultTest, BulkLoadKilledAfterWritingIsRolledBackForAReader) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  {
    Vault vault;
    ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // What a bulk load does, with a page cache small enough to spill into the file at once.
    sqlite3* db = nullptr;
    bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
              sqlite3_exec(db,
                           "PRAGMA journal_mode=DELETE; PRAGMA cache_size=2; BEGIN IMMEDIATE;"
                           "DROP INDEX vault_entry_lookup;"
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 20000) INSERT INTO vault_entry(lookup, domain, token, "
                           "key_id, nonce, sealed) SELECT i, 'd', 't' || i, 'k', zeroblob(12), "
                           "randomblob(100) FROM n;",
                           nullptr, nullptr, nullptr) == SQLITE_OK;
    struct stat st;
    ok = ok && ::stat(path.c_str(), &st) == 0 && st.st_size > 1000000;  // rows reached the file
    ::_exit(ok ? 0 : 1);  // dies with the transaction open
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's load did not spill";
  ASSERT_TRUE(FileExists(path + "-journal"));
  Vault reader;
  ASSERT_TRUE(reader.Open(path, Vault::Mode::kReadOnly, Keys(), &err)) << err;
  VaultStats stats;
  ASSERT_TRUE(reader.Stats(&stats, &err)) << err;
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(QueryInt(path, kHasLookupIndex), 1);
  EXPECT_EQ(QueryText(path, "PRAGMA integrity_check"), "ok");
}

// While another connection has the vault open, the switch out of WAL mode is not possible: the
// load goes through the WAL, and is just as correct.
TEST(VaultTest, BulkLoadWithAReaderAttachedStaysInWal) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  Vault writer;
  ASSERT_TRUE(writer.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  Vault reader;
  ASSERT_TRUE(reader.Open(path, Vault::Mode::kReadOnly, Keys(), &err)) << err;
  std::string original;
  bool found = true;
  ASSERT_TRUE(reader.Get("customers.email", "tok1", &original, &found, &err)) << err;
  EXPECT_FALSE(found);
  PutRange(&writer, 0, 100, "first");
  ASSERT_TRUE(writer.Commit(&err)) << err;
  EXPECT_FALSE(FileExists(path + "-journal"));
  EXPECT_EQ(QueryText(path, "PRAGMA journal_mode"), "wal");
  ASSERT_TRUE(reader.Get("customers.email", "tok1", &original, &found, &err)) << err;
  EXPECT_TRUE(found);
  EXPECT_EQ(original, "first1");
}

// One token queued many times in one flush (a big bucket of SortPending) among others: stored
// once, with the original that came first, in a fresh vault and in one that has entries.
TEST(VaultTest, TokenQueuedManyTimesKeepsItsFirstOriginal) {
  ScopedTempDir dir;
  const std::string path = dir.File("v.db");
  std::string err;
  Vault vault;
  ASSERT_TRUE(vault.Open(path, Vault::Mode::kReadWrite, Keys(), &err)) << err;
  for (int round = 0; round < 2; ++round) {
    const std::string prefix = "round" + std::to_string(round) + "-";
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(vault.Put("customers.email", prefix + "same", prefix + std::to_string(i), &err))
          << err;
      ASSERT_TRUE(vault.Put("customers.email", prefix + "other" + std::to_string(i % 7),
                            prefix + "o" + std::to_string(i), &err))
          << err;
    }
    ASSERT_TRUE(vault.Commit(&err)) << err;
    EXPECT_EQ(vault.puts(), 8u * (round + 1));
    std::string original;
    bool found = false;
    ASSERT_TRUE(vault.Get("customers.email", prefix + "same", &original, &found, &err)) << err;
    EXPECT_TRUE(found);
    EXPECT_EQ(original, prefix + "0");
    ASSERT_TRUE(vault.Get("customers.email", prefix + "other3", &original, &found, &err)) << err;
    EXPECT_EQ(original, prefix + "o3");
  }
}

// The lookup key is stored in every entry of existing vaults: it must stay FNV-1a 64 of
// domain 0x00 token, however it is computed (values from the formula, worked out independently).
TEST(VaultTest, LookupKeyKeepsTheStoredFormat) {
  EXPECT_EQ(VaultLookupKey("customers.email", "tokA"), int64_t{1893911776930366243});
  EXPECT_EQ(VaultDomainLookup("customer_id").Key("hAbC"), int64_t{1244512556876862315});
  const VaultDomainLookup email("customers.email");
  for (const char* token : {"", "tokA", "r0123456789abcdefghijkl"}) {
    EXPECT_EQ(email.Key(token), VaultLookupKey("customers.email", token)) << token;
  }
}

// A sealer reuses its buffers from one entry to the next: each entry must still authenticate
// under its own domain and token only.
TEST(VaultTest, SealerBuffersAreNotCarriedOver) {
  const KeyRing keys = Keys();
  VaultSealer sealer;
  std::string err, nonce1, sealed1, nonce2, sealed2, plain;
  ASSERT_TRUE(sealer.Init(keys, &err)) << err;
  ASSERT_TRUE(sealer.Seal("customers.last_name", "rLong-token-of-the-first-entry", "Longsurname",
                          &nonce1, &sealed1, &err))
      << err;
  sealed2 = sealed1;  // a buffer holding a longer earlier result
  ASSERT_TRUE(sealer.Seal("email", "hX", "a@b", &nonce2, &sealed2, &err)) << err;
  EXPECT_EQ(sealed2.size(), 3u + AesGcm256::kTagSize);
  AesGcm256 cipher;
  ASSERT_TRUE(cipher.Init(keys.vault_key(), &err)) << err;
  const auto* n2 = reinterpret_cast<const uint8_t*>(nonce2.data());
  ASSERT_TRUE(cipher.Open(n2, VaultAad(keys.key_id(), "email", "hX"), sealed2, &plain, &err))
      << err;
  EXPECT_EQ(plain, "a@b");
  EXPECT_FALSE(cipher.Open(
      n2, VaultAad(keys.key_id(), "customers.last_name", "rLong-token-of-the-first-entry"), sealed2,
      &plain, &err));
  const auto* n1 = reinterpret_cast<const uint8_t*>(nonce1.data());
  ASSERT_TRUE(cipher.Open(
      n1, VaultAad(keys.key_id(), "customers.last_name", "rLong-token-of-the-first-entry"), sealed1,
      &plain, &err))
      << err;
  EXPECT_EQ(plain, "Longsurname");
}

TEST(VaultTest, AadBindsDomainTokenAndKeyId) {
  EXPECT_NE(VaultAad("k1", "a", "b"), VaultAad("k1", "ab", ""));
  EXPECT_NE(VaultAad("k1", "a", "b"), VaultAad("k2", "a", "b"));
}

}  // namespace
}  // namespace sdp
