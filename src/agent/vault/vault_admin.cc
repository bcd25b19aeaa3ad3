// Vault administration: statistics, verification of every entry, and re-encryption under a new
// key (`sdp-agent vault stats|verify|rotate-key`).
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <utility>

#include "agent/crypto/random.h"
#include "agent/vault/vault.h"
#include "agent/vault/vault_internal.h"

namespace sdp {

bool Vault::Stats(VaultStats* out, std::string* err) {
  *out = VaultStats();
  out->key_id = key_id_;
  SqliteStatement q;
  if (sqlite3_prepare_v2(db_,
                         "SELECT domain, count(*) FROM vault_entry GROUP BY domain ORDER BY domain",
                         -1, &q.stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot read stats", err);
  }
  int rc;
  while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
    const uint64_t n = static_cast<uint64_t>(sqlite3_column_int64(q.stmt, 1));
    out->per_domain.emplace_back(std::string(SqliteText(q.stmt, 0)), n);
    out->entries += n;
    ++out->domains;
  }
  if (rc != SQLITE_DONE) return SqliteError("cannot read stats", err);
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) out->file_bytes = static_cast<uint64_t>(st.st_size);
  return true;
}

bool Vault::Verify(VaultVerifyReport* out, std::string* err) {
  *out = VaultVerifyReport();
  SqliteStatement q;
  if (sqlite3_prepare_v2(db_, "SELECT domain, token, key_id, nonce, sealed FROM vault_entry", -1,
                         &q.stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot read entries", err);
  }
  std::string plain, open_err;
  int rc;
  while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
    ++out->checked;
    const std::string_view domain = SqliteText(q.stmt, 0), token = SqliteText(q.stmt, 1);
    const std::string_view key_id = SqliteText(q.stmt, 2), nonce = SqliteBlob(q.stmt, 3);
    std::string cause;
    if (key_id != key_id_) {
      cause = "written with key id " + std::string(key_id);
    } else if (nonce.size() != AesGcm256::kNonceSize) {
      cause = "bad nonce length";
    } else if (!cipher_->Open(reinterpret_cast<const uint8_t*>(nonce.data()),
                              VaultAad(key_id_, domain, token), SqliteBlob(q.stmt, 4), &plain,
                              &open_err)) {
      cause = "authentication failed (tampered or corrupted)";
    }
    // Only authenticity is checked: the original is not needed, and must not linger in memory.
    if (!plain.empty()) OPENSSL_cleanse(&plain[0], plain.size());
    if (!cause.empty()) {
      ++out->failed;
      if (out->failures.size() < 100) {
        out->failures.push_back(std::string(domain) + "/" + std::string(token) + ": " + cause);
      }
    }
  }
  if (rc != SQLITE_DONE) return SqliteError("cannot read entries", err);
  return true;
}

bool Vault::RotateKey(const KeyRing& new_keys, uint64_t* rotated, std::string* err) {
  *rotated = 0;
  if (insert_ == nullptr) {
    *err = "vault " + path_ + " is open read-only";
    return false;
  }
  AesGcm256 next;
  VaultSealer next_sealer;
  if (!next.Init(new_keys.vault_key(), err) || !next_sealer.Init(new_keys, err)) return false;
  if (!Commit(err) || !Exec("BEGIN IMMEDIATE", err)) return false;
  in_transaction_ = true;
  SqliteStatement q, upd, meta;
  if (sqlite3_prepare_v2(db_, "SELECT domain, token, key_id, nonce, sealed, id FROM vault_entry",
                         -1, &q.stmt, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db_,
                         "UPDATE vault_entry SET key_id = ?3, nonce = ?4, sealed = ?5 "
                         "WHERE id = ?6",
                         -1, &upd.stmt, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db_, "UPDATE vault_meta SET value = ?1 WHERE name = 'key_id'", -1,
                         &meta.stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot prepare rotation", err);
  }
  std::string plain, nonce, sealed;
  int rc;
  while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
    const std::string domain(SqliteText(q.stmt, 0)), token(SqliteText(q.stmt, 1));
    const std::string_view old_nonce = SqliteBlob(q.stmt, 3);
    if (SqliteText(q.stmt, 2) != key_id_ || old_nonce.size() != AesGcm256::kNonceSize ||
        !cipher_->Open(reinterpret_cast<const uint8_t*>(old_nonce.data()),
                       VaultAad(key_id_, domain, token), SqliteBlob(q.stmt, 4), &plain, err)) {
      // All or nothing: the destructor's ROLLBACK leaves the vault as it was.
      *err = "vault entry " + domain + "/" + token +
             " cannot be decrypted with the current key; nothing was rotated; fix: run "
             "`sdp-agent vault verify` and restore damaged entries first";
      return false;
    }
    const bool sealed_ok = next_sealer.Seal(domain, token, plain, &nonce, &sealed, err);
    // Re-sealed: the original must not linger in memory (core files, swap).
    if (!plain.empty()) OPENSSL_cleanse(&plain[0], plain.size());
    if (!sealed_ok) return false;
    sqlite3_bind_text(upd.stmt, 1, domain.data(), static_cast<int>(domain.size()), SQLITE_STATIC);
    sqlite3_bind_text(upd.stmt, 2, token.data(), static_cast<int>(token.size()), SQLITE_STATIC);
    sqlite3_bind_text(upd.stmt, 3, new_keys.key_id().data(),
                      static_cast<int>(new_keys.key_id().size()), SQLITE_STATIC);
    sqlite3_bind_blob(upd.stmt, 4, nonce.data(), static_cast<int>(nonce.size()), SQLITE_STATIC);
    sqlite3_bind_blob(upd.stmt, 5, sealed.data(), static_cast<int>(sealed.size()), SQLITE_STATIC);
    sqlite3_bind_int64(upd.stmt, 6, sqlite3_column_int64(q.stmt, 5));
    const int step = sqlite3_step(upd.stmt);
    sqlite3_reset(upd.stmt);
    if (step != SQLITE_DONE) return SqliteError("cannot rotate entry", err);
    ++*rotated;
  }
  if (rc != SQLITE_DONE) return SqliteError("cannot read entries", err);
  sqlite3_bind_text(meta.stmt, 1, new_keys.key_id().data(),
                    static_cast<int>(new_keys.key_id().size()), SQLITE_STATIC);
  if (sqlite3_step(meta.stmt) != SQLITE_DONE) return SqliteError("cannot update key id", err);
  if (!Commit(err)) return false;
  key_id_ = new_keys.key_id();
  cipher_ = std::make_unique<AesGcm256>(std::move(next));
  return true;
}

}  // namespace sdp
