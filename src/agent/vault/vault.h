// The token vault: a local SQLite file (WAL, mode 0600) that maps (domain, token) to the
// original value, each original sealed with AES-256-GCM under the vault subkey.
//
// Every entry has a fresh random 96-bit nonce, and the associated data binds the ciphertext to
// its place: "sdp-vault-v1" || domain || token || key id (NUL-separated). Moving a ciphertext to
// another token or domain, or editing any byte, makes it fail authentication instead of
// decrypting to a wrong value. Deterministic tokens (HASH) are stored once (INSERT OR IGNORE).
// Writes go through Put() and are committed in large transactions by Flush()/Commit().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/crypto/aes_gcm.h"
#include "agent/crypto/crypto_keys.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sdp {

struct VaultStats {
  uint64_t entries = 0;
  uint64_t domains = 0;
  std::string key_id;  // key id recorded at creation / last rotation
  uint64_t file_bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> per_domain;  // domain -> entries
};

// What `Vault::Forget` removes: by `token` (in `domain`, or in every domain when `domain` is
// empty), or by original `value` within `domain`.
struct VaultForgetQuery {
  std::string domain;
  std::string token;
  std::string value;
};

struct VaultForgetReport {
  uint64_t removed = 0;
  std::vector<std::string> entries;  // "domain/token" of the removed entries (first 100)
};

struct VaultVerifyReport {
  uint64_t checked = 0;
  uint64_t failed = 0;
  std::vector<std::string> failures;  // "domain/token: cause" (first 100)
};

// A pseudonym record of a JSON document (src/agent/json/): what restoring it needs, sealed like a
// vault entry (AES-256-GCM under the vault subkey, bound to its id), with a lifetime and a legal
// hold. vault_pseudonyms.cc.
struct PseudonymRecord {
  std::string id;         // a UUID
  std::string mac;        // MAC of the pseudonymized document (32 bytes)
  std::string originals;  // plaintext of the sealed part (JsonPseudonymizer's record)
  uint32_t fields = 0;    // values pseudonymized
  int64_t created_at = 0;
  int64_t expires_at = 0;  // unix seconds; 0: never
  bool legal_hold = false;
};

struct PseudonymStats {
  uint64_t records = 0;
  uint64_t held = 0;
  uint64_t expired = 0;  // past expires_at, not purged yet
};

// Seals originals for the vault. One per thread (the cipher context is not shareable); the
// tokenizing threads seal, the thread that owns the Vault only inserts (Vault::PutSealed).
class VaultSealer {
 public:
  bool Init(const KeyRing& keys, std::string* err);
  bool Seal(std::string_view domain, std::string_view token, std::string_view original,
            std::string* nonce, std::string* sealed, std::string* err);
  const std::string& key_id() const { return key_id_; }

 private:
  bool NextNonce(uint8_t nonce[AesGcm256::kNonceSize], std::string* err);

  AesGcm256 cipher_;
  std::string key_id_;
  std::string aad_;  // reused: no allocation per entry
  // Nonces come from the CSPRNG in blocks, to keep RAND_bytes off the per-entry path.
  std::vector<uint8_t> nonce_pool_;
  size_t nonce_pos_ = 0;
};

class Vault {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  Vault();
  ~Vault();  // rolls back anything not committed
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  // Opens (kReadWrite creates) the vault at `path` for `keys`. A vault written with another key
  // fails with "vault <path> was written with key id X, current key is Y; fix: ...".
  bool Open(const std::string& path, Mode mode, const KeyRing& keys, std::string* err);

  // Queues (domain, token) -> original for the current transaction.
  bool Put(std::string_view domain, std::string_view token, std::string_view original,
           std::string* err);
  // Stores an entry sealed by a VaultSealer of the same key. `lookup` is
  // VaultLookupKey(domain, token), computed by the caller (on the thread that sealed it, off the
  // thread that inserts).
  // `token_is_unique`: the caller knows the token is new (a 128-bit random token), so the
  // duplicate check is skipped.
  bool PutSealed(std::string_view domain, std::string_view token, int64_t lookup,
                 std::string_view nonce, std::string_view sealed, bool token_is_unique,
                 std::string* err);
  // Inserts what Put/PutSealed queued and commits (entries are queued, then inserted in index
  // order, in batches of up to kMaxPending).
  // `durable`: the commit is on disk before this returns (the WAL is fsynced), so a power loss
  // cannot lose entries whose tokens a caller then writes out. Intermediate commits of a long run
  // may pass false: SQLite still keeps the vault consistent, and nothing refers to their tokens
  // until the final, durable commit.
  enum class Durability { kFsync, kDeferred };
  bool Commit(std::string* err, Durability durability = Durability::kFsync);

  // A write that begins on an empty vault loads it in bulk: one transaction, the lookup index
  // built once at the durable Commit (deferred commits only insert). Past `max_tracked_entries`
  // deterministic entries (16 bytes of memory each) the index is built early and kept up to date
  // from then on; 0 turns bulk loading off. Default kBulkTrackedMax.
  void LimitBulkLoad(size_t max_tracked_entries);

  // Looks a token up; *found is false when the vault has no entry for it.
  bool Get(std::string_view domain, std::string_view token, std::string* original, bool* found,
           std::string* err);

  bool Stats(VaultStats* out, std::string* err);
  // Decrypts every entry; tampered ones are reported, not fatal.
  bool Verify(VaultVerifyReport* out, std::string* err);
  // Re-encrypts every entry under `new_keys` in one transaction (all or nothing).
  bool RotateKey(const KeyRing& new_keys, uint64_t* rotated, std::string* err);
  // Crypto-shredding (GDPR art. 17): removes the matching entries so their tokens can never be
  // reversed again (RANDOM tokens exist nowhere else). Deleted content is overwritten
  // (secure_delete) and the WAL is checkpointed and truncated. Finding by value decrypts the
  // domain's entries. Nothing matching is not an error (out->removed == 0). vault_forget.cc.
  bool Forget(const VaultForgetQuery& query, VaultForgetReport* out, std::string* err);

  // Pseudonym records of JSON documents (vault_pseudonyms.cc). Writes join the current
  // transaction (Commit() ends it). An expired record is not found unless it is on hold: a legal
  // hold keeps a record from expiring, from being purged and from cleanup.
  bool PutPseudonym(const PseudonymRecord& record, std::string* err);
  bool GetPseudonym(std::string_view id, int64_t now, PseudonymRecord* out, bool* found,
                    std::string* err);
  // The newest live record whose document MAC is `mac`.
  bool FindPseudonymByMac(std::string_view mac, int64_t now, PseudonymRecord* out, bool* found,
                          std::string* err);
  enum class CleanupResult { kRemoved, kNotFound, kHeld };
  // Crypto-shredding of one record (secure_delete, WAL checkpointed and truncated): after it the
  // pseudonymized document can never be restored. Refused while the record is on hold.
  bool CleanupPseudonym(std::string_view id, CleanupResult* result, std::string* err);
  bool HoldPseudonym(std::string_view id, bool hold, bool* found, std::string* err);
  // Removes every expired record not on hold (crypto-shredded like cleanup).
  bool PurgeExpiredPseudonyms(int64_t now, uint64_t* purged, std::string* err);
  bool GetPseudonymStats(int64_t now, PseudonymStats* out, std::string* err);

  const std::string& path() const { return path_; }
  // Entries inserted so far (queued ones and duplicates not counted).
  uint64_t puts() const { return puts_; }

 private:
  void Close();
  static void RollBackInterruptedLoad(const std::string& path);
  bool Exec(const char* sql, std::string* err);
  bool Prepare(const char* sql, sqlite3_stmt** stmt, std::string* err);
  bool Begin(std::string* err);
  bool IsEmpty(bool* empty, std::string* err);
  bool LeaveWal(std::string* err);
  bool ReturnToWal(std::string* err);
  bool SyncDirectory(std::string* err);
  bool CheckFormat(std::string* err);
  bool FlushPending(std::string* err);
  void SortPending();
  bool SyncWal(std::string* err);
  struct PendingEntry;
  bool InsertPending(sqlite3_stmt* stmt, const PendingEntry* const* entries, size_t count,
                     std::string* err);
  bool EndBulkLoad(std::string* err);
  bool SkipBulkLoaded(const std::vector<PendingEntry*>& entries, std::string* err);
  bool SkipStored(const std::vector<PendingEntry*>& entries, std::string* err);
  bool ProbeStored(PendingEntry* entry, std::string* err);
  bool SqliteError(const std::string& what, std::string* err);
  bool PreparePseudonyms(bool* ready, std::string* err);
  bool ReadPseudonym(sqlite3_stmt* stmt, PseudonymRecord* out, std::string* err);
  bool ShredPseudonyms(const char* where_sql, std::string_view id, int64_t now, uint64_t* removed,
                       std::string* err);
  void ClosePseudonyms();

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* insert_many_ = nullptr;  // kInsertRows entries per execution
  static constexpr size_t kInsertRows = 32;
  sqlite3_stmt* select_ = nullptr;
  sqlite3_stmt* probe_one_ = nullptr;   // is (domain, token) stored?
  sqlite3_stmt* probe_many_ = nullptr;  // which of kProbeRows lookup keys are indexed?
  sqlite3_stmt* by_id_ = nullptr;       // domain and token of a rowid (bulk load)
  static constexpr size_t kProbeRows = 64;
  std::string path_;
  std::string key_id_;
  std::unique_ptr<AesGcm256> cipher_;  // for Get / Verify / RotateKey
  VaultSealer sealer_;                 // for Put
  bool in_transaction_ = false;
  // A bulk load runs with a rollback journal instead of the WAL (Vault::LeaveWal).
  bool rollback_journal_ = false;
  // Bulk load (Vault::Begin): on while this transaction loads an empty vault without its index.
  bool bulk_ = false;
  // (lookup key, rowid) of the deterministic entries loaded so far, sorted: 16 bytes an entry,
  // so past bulk_limit_ of them the index is built and takes over.
  std::vector<std::pair<int64_t, int64_t>> bulk_keys_;
  static constexpr size_t kBulkTrackedMax = 4000000;
  size_t bulk_limit_ = kBulkTrackedMax;
  uint64_t puts_ = 0;
  // Pseudonym statements, prepared on first use (the table is created then).
  sqlite3_stmt* pseudonym_insert_ = nullptr;
  sqlite3_stmt* pseudonym_by_id_ = nullptr;
  sqlite3_stmt* pseudonym_by_mac_ = nullptr;
  std::string nonce_scratch_, sealed_scratch_;
  // Queued entries: small fixed records pointing into one byte arena, so queueing costs no
  // allocation per entry and sorting moves 40-byte records, not strings.
  struct PendingEntry {
    int64_t lookup;
    uint32_t seq;  // arrival order: the first of equal tokens wins
    uint32_t domain;
    uint32_t token_off, token_len, nonce_off, nonce_len, sealed_off, sealed_len;
    bool unique;
    bool skip;  // already stored, or a repeat within this flush: not inserted
  };
  static constexpr size_t kMaxPending = 200000;
  std::vector<PendingEntry> pending_;
  std::string pending_bytes_;
  std::vector<std::string> pending_domains_;  // interned domain names of the queued entries
  // SortPending's working space, kept from one flush to the next.
  std::vector<uint32_t> bucket_ends_;
  std::vector<PendingEntry> sorted_;
  std::string_view PendingView(uint32_t off, uint32_t len) const {
    return std::string_view(pending_bytes_).substr(off, len);
  }
};

// The 64-bit index key of (domain, token); narrows lookups, never decides them. Part of the
// vault format (stored in every entry): FNV-1a 64 of domain 0x00 token.
int64_t VaultLookupKey(std::string_view domain, std::string_view token);

// VaultLookupKey for many tokens of one domain: the domain's share of the hash is computed once.
class VaultDomainLookup {
 public:
  explicit VaultDomainLookup(std::string_view domain);
  int64_t Key(std::string_view token) const;

 private:
  uint64_t prefix_state_;
};

// The associated data of one entry (exposed for tests).
std::string VaultAad(std::string_view key_id, std::string_view domain, std::string_view token);

}  // namespace sdp
