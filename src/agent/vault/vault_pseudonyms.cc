// Pseudonym records of JSON documents in the vault: sealed like vault entries, with a lifetime
// (expires_at), a legal hold, and crypto-shredding on cleanup and purge (as Vault::Forget).
//
// The sealed part is bound to its place by the entry AAD with a domain no tokenization config
// can name ('#' is not a domain character) and the record id and document MAC as the token, so
// a sealed record moved to another id, or given another MAC, fails authentication.
#include <openssl/crypto.h>
#include <sqlite3.h>

#include <cstring>
#include <string>

#include "agent/vault/vault.h"
#include "agent/vault/vault_internal.h"

namespace sdp {
namespace {

constexpr const char* kPseudonymDomain = "#json-pseudonym";

constexpr const char* kPseudonymSchema = R"sql(
CREATE TABLE IF NOT EXISTS pseudonym_record (
  id         TEXT PRIMARY KEY,
  mac_lookup INTEGER NOT NULL,  -- the first 8 bytes of mac, for FindPseudonymByMac
  mac        BLOB NOT NULL,     -- HMAC-SHA256 of the pseudonymized document
  key_id     TEXT NOT NULL,
  nonce      BLOB NOT NULL,
  sealed     BLOB NOT NULL,     -- AES-256-GCM of the originals || 16-byte tag
  fields     INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,           -- unix seconds; NULL: never
  legal_hold INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pseudonym_record_mac ON pseudonym_record (mac_lookup);
)sql";

constexpr const char* kColumns =
    "SELECT id, mac, key_id, nonce, sealed, fields, created_at, expires_at, legal_hold "
    "FROM pseudonym_record ";

int64_t MacLookup(std::string_view mac) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < mac.size(); ++i) v = (v << 8) | static_cast<uint8_t>(mac[i]);
  return static_cast<int64_t>(v);
}

void Bind(sqlite3_stmt* stmt, int i, std::string_view s) {
  sqlite3_bind_text(stmt, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

void BindBlob(sqlite3_stmt* stmt, int i, std::string_view s) {
  sqlite3_bind_blob(stmt, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

bool Live(const PseudonymRecord& r, int64_t now) {
  return r.legal_hold || r.expires_at == 0 || r.expires_at > now;
}

}  // namespace

void Vault::ClosePseudonyms() {
  sqlite3_finalize(pseudonym_insert_);
  sqlite3_finalize(pseudonym_by_id_);
  sqlite3_finalize(pseudonym_by_mac_);
  pseudonym_insert_ = pseudonym_by_id_ = pseudonym_by_mac_ = nullptr;
}

// Creates the table on a writable vault; on a read-only one *ready is false when no record was
// ever written (nothing to find).
bool Vault::PreparePseudonyms(bool* ready, std::string* err) {
  *ready = pseudonym_by_id_ != nullptr;
  if (*ready) return true;
  if (db_ == nullptr) {
    *err = "vault is not open";
    return false;
  }
  const bool writable = insert_ != nullptr;
  if (writable) {
    if (!Exec(kPseudonymSchema, err)) return false;
  } else {
    SqliteStatement q;
    if (sqlite3_prepare_v2(db_,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                           "'pseudonym_record'",
                           -1, &q.stmt, nullptr) != SQLITE_OK) {
      return SqliteError("cannot read the schema", err);
    }
    if (sqlite3_step(q.stmt) != SQLITE_ROW) return true;
  }
  if ((writable &&
       !Prepare("INSERT INTO pseudonym_record(id, mac_lookup, mac, key_id, nonce, sealed, fields, "
                "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &pseudonym_insert_, err)) ||
      !Prepare((std::string(kColumns) + "WHERE id = ?1").c_str(), &pseudonym_by_id_, err) ||
      !Prepare(
          (std::string(kColumns) + "WHERE mac_lookup = ?1 ORDER BY created_at DESC, rowid DESC")
              .c_str(),
          &pseudonym_by_mac_, err)) {
    return false;
  }
  *ready = true;
  return true;
}

bool Vault::PutPseudonym(const PseudonymRecord& record, std::string* err) {
  if (insert_ == nullptr) {
    *err = "vault " + path_ + " is open read-only";
    return false;
  }
  bool ready = false;
  if (!PreparePseudonyms(&ready, err)) return false;
  if (!in_transaction_) {
    if (!Exec("BEGIN IMMEDIATE", err)) return false;
    in_transaction_ = true;
  }
  const std::string bound = record.id + record.mac;
  if (!sealer_.Seal(kPseudonymDomain, bound, record.originals, &nonce_scratch_, &sealed_scratch_,
                    err)) {
    return false;
  }
  sqlite3_stmt* st = pseudonym_insert_;
  Bind(st, 1, record.id);
  sqlite3_bind_int64(st, 2, MacLookup(record.mac));
  BindBlob(st, 3, record.mac);
  Bind(st, 4, key_id_);
  BindBlob(st, 5, nonce_scratch_);
  BindBlob(st, 6, sealed_scratch_);
  sqlite3_bind_int64(st, 7, record.fields);
  sqlite3_bind_int64(st, 8, record.created_at);
  if (record.expires_at > 0) {
    sqlite3_bind_int64(st, 9, record.expires_at);
  } else {
    sqlite3_bind_null(st, 9);
  }
  const int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return SqliteError("cannot store a pseudonym record", err);
  return true;
}

bool Vault::ReadPseudonym(sqlite3_stmt* st, PseudonymRecord* out, std::string* err) {
  out->id.assign(SqliteText(st, 0));
  out->mac.assign(SqliteBlob(st, 1));
  const std::string_view key_id = SqliteText(st, 2);
  const std::string_view nonce = SqliteBlob(st, 3);
  out->fields = static_cast<uint32_t>(sqlite3_column_int64(st, 5));
  out->created_at = sqlite3_column_int64(st, 6);
  out->expires_at = sqlite3_column_int64(st, 7);
  out->legal_hold = sqlite3_column_int64(st, 8) != 0;
  if (key_id != key_id_ || nonce.size() != AesGcm256::kNonceSize ||
      !cipher_->Open(reinterpret_cast<const uint8_t*>(nonce.data()),
                     VaultAad(key_id_, kPseudonymDomain, out->id + out->mac), SqliteBlob(st, 4),
                     &out->originals, err)) {
    *err = "pseudonym record " + out->id +
           " failed authentication (tampered or corrupted); fix: restore the vault from a backup";
    return false;
  }
  return true;
}

bool Vault::GetPseudonym(std::string_view id, int64_t now, PseudonymRecord* out, bool* found,
                         std::string* err) {
  *found = false;
  bool ready = false;
  if (!PreparePseudonyms(&ready, err)) return false;
  if (!ready) return true;
  sqlite3_stmt* st = pseudonym_by_id_;
  Bind(st, 1, id);
  const int rc = sqlite3_step(st);
  bool ok = true;
  if (rc == SQLITE_ROW) {
    ok = ReadPseudonym(st, out, err);
    *found = ok && Live(*out, now);
  } else if (rc != SQLITE_DONE) {
    ok = SqliteError("cannot read a pseudonym record", err);
  }
  sqlite3_reset(st);
  if (ok && !*found && !out->originals.empty()) {
    OPENSSL_cleanse(&out->originals[0], out->originals.size());
    out->originals.clear();
  }
  return ok;
}

bool Vault::FindPseudonymByMac(std::string_view mac, int64_t now, PseudonymRecord* out, bool* found,
                               std::string* err) {
  *found = false;
  bool ready = false;
  if (!PreparePseudonyms(&ready, err)) return false;
  if (!ready) return true;
  sqlite3_stmt* st = pseudonym_by_mac_;
  sqlite3_bind_int64(st, 1, MacLookup(mac));
  int rc;
  bool ok = true;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const std::string_view row_mac = SqliteBlob(st, 1);
    if (row_mac.size() != mac.size() || CRYPTO_memcmp(row_mac.data(), mac.data(), mac.size())) {
      continue;
    }
    if (!ReadPseudonym(st, out, err)) {
      ok = false;
      break;
    }
    if (Live(*out, now)) {
      *found = true;
      break;
    }
  }
  if (ok && !*found && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    ok = SqliteError("cannot read pseudonym records", err);
  }
  sqlite3_reset(st);
  return ok;
}

bool Vault::HoldPseudonym(std::string_view id, bool hold, bool* found, std::string* err) {
  *found = false;
  if (insert_ == nullptr) {
    *err = "vault " + path_ + " is open read-only";
    return false;
  }
  bool ready = false;
  if (!PreparePseudonyms(&ready, err) || !Commit(err)) return false;
  SqliteStatement q;
  if (sqlite3_prepare_v2(db_, "UPDATE pseudonym_record SET legal_hold = ?2 WHERE id = ?1", -1,
                         &q.stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot set a legal hold", err);
  }
  Bind(q.stmt, 1, id);
  sqlite3_bind_int(q.stmt, 2, hold ? 1 : 0);
  if (sqlite3_step(q.stmt) != SQLITE_DONE) return SqliteError("cannot set a legal hold", err);
  *found = sqlite3_changes(db_) > 0;
  return true;
}

// Deletes the records `where_sql` selects (?1 the id, ?2 now) with secure_delete on, then
// checkpoints and truncates the WAL, so no sealed copy lingers in free pages or the log.
bool Vault::ShredPseudonyms(const char* where_sql, std::string_view id, int64_t now,
                            uint64_t* removed, std::string* err) {
  *removed = 0;
  if (insert_ == nullptr) {
    *err = "vault " + path_ + " is open read-only";
    return false;
  }
  bool ready = false;
  if (!PreparePseudonyms(&ready, err) || !Commit(err) || !Exec("PRAGMA secure_delete = ON", err) ||
      !Exec("BEGIN IMMEDIATE", err)) {
    return false;
  }
  in_transaction_ = true;
  {
    SqliteStatement del;
    const std::string sql = std::string("DELETE FROM pseudonym_record WHERE ") + where_sql;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &del.stmt, nullptr) != SQLITE_OK) {
      return SqliteError("cannot delete pseudonym records", err);
    }
    if (sqlite3_bind_parameter_count(del.stmt) >= 1) Bind(del.stmt, 1, id);
    if (sqlite3_bind_parameter_count(del.stmt) >= 2) sqlite3_bind_int64(del.stmt, 2, now);
    if (sqlite3_step(del.stmt) != SQLITE_DONE) {
      return SqliteError("cannot delete pseudonym records", err);
    }
    *removed = static_cast<uint64_t>(sqlite3_changes(db_));
  }
  if (!Commit(err)) return false;
  return *removed == 0 || Exec("PRAGMA wal_checkpoint(TRUNCATE)", err);
}

bool Vault::CleanupPseudonym(std::string_view id, CleanupResult* result, std::string* err) {
  *result = CleanupResult::kNotFound;
  PseudonymRecord record;
  bool found = false;
  // Expired records are still shredded: cleanup is how a subject's data is erased on request.
  if (!GetPseudonym(id, 0, &record, &found, err)) return false;
  if (!found) return true;
  if (!record.originals.empty()) OPENSSL_cleanse(&record.originals[0], record.originals.size());
  if (record.legal_hold) {
    *result = CleanupResult::kHeld;
    return true;
  }
  uint64_t removed = 0;
  if (!ShredPseudonyms("id = ?1 AND legal_hold = 0", id, 0, &removed, err)) return false;
  *result = removed > 0 ? CleanupResult::kRemoved : CleanupResult::kHeld;
  return true;
}

bool Vault::PurgeExpiredPseudonyms(int64_t now, uint64_t* purged, std::string* err) {
  return ShredPseudonyms("expires_at IS NOT NULL AND expires_at <= ?2 AND legal_hold = 0", "", now,
                         purged, err);
}

bool Vault::GetPseudonymStats(int64_t now, PseudonymStats* out, std::string* err) {
  *out = PseudonymStats();
  bool ready = false;
  if (!PreparePseudonyms(&ready, err)) return false;
  if (!ready) return true;
  SqliteStatement q;
  if (sqlite3_prepare_v2(db_,
                         "SELECT count(*), coalesce(sum(legal_hold), 0), coalesce(sum("
                         "expires_at IS NOT NULL AND expires_at <= ?1 AND legal_hold = 0), 0) "
                         "FROM pseudonym_record",
                         -1, &q.stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot count pseudonym records", err);
  }
  sqlite3_bind_int64(q.stmt, 1, now);
  if (sqlite3_step(q.stmt) != SQLITE_ROW) return SqliteError("cannot count pseudonym records", err);
  out->records = static_cast<uint64_t>(sqlite3_column_int64(q.stmt, 0));
  out->held = static_cast<uint64_t>(sqlite3_column_int64(q.stmt, 1));
  out->expired = static_cast<uint64_t>(sqlite3_column_int64(q.stmt, 2));
  return true;
}

}  // namespace sdp
