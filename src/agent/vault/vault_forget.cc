// Vault::Forget: crypto-shredding of vault entries (docs/governance.md, "Erasure").
//
// Kept apart from vault.cc so the erasure path reads on its own. It relies only on the columns
// domain, token, key_id, nonce and sealed of vault_entry.
#include <openssl/crypto.h>
#include <sqlite3.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/vault/vault.h"
#include "agent/vault/vault_internal.h"

namespace sdp {
namespace {

void Bind(sqlite3_stmt* stmt, int i, std::string_view s) {
  sqlite3_bind_text(stmt, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

}  // namespace

bool Vault::Forget(const VaultForgetQuery& query, VaultForgetReport* out, std::string* err) {
  *out = VaultForgetReport();
  if (insert_ == nullptr) {
    *err = "vault " + path_ + " is open read-only";
    return false;
  }
  const bool by_token = !query.token.empty();
  if (by_token == !query.value.empty()) {
    *err = "forget needs either a token or a value";
    return false;
  }
  if (!by_token && query.domain.empty()) {
    *err = "forgetting by value needs the token domain";
    return false;
  }
  // Overwrite what is deleted, so the sealed originals do not linger in free pages.
  if (!Commit(err) || !Exec("PRAGMA secure_delete = ON", err) || !Exec("BEGIN IMMEDIATE", err)) {
    return false;
  }
  in_transaction_ = true;

  // The (domain, token) pairs to remove.
  std::vector<std::pair<std::string, std::string>> victims;
  {
    SqliteStatement q;
    const char* sql =
        by_token ? (query.domain.empty()
                        ? "SELECT domain, token FROM vault_entry WHERE token = ?1"
                        : "SELECT domain, token FROM vault_entry WHERE token = ?1 AND domain = ?2")
                 : "SELECT domain, token, key_id, nonce, sealed FROM vault_entry WHERE domain = ?2";
    if (sqlite3_prepare_v2(db_, sql, -1, &q.stmt, nullptr) != SQLITE_OK) {
      return SqliteError("cannot read entries", err);
    }
    if (by_token) Bind(q.stmt, 1, query.token);
    if (!query.domain.empty()) Bind(q.stmt, 2, query.domain);
    std::string plain, open_err;
    int rc;
    while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
      const std::string_view domain = SqliteText(q.stmt, 0), token = SqliteText(q.stmt, 1);
      if (!by_token) {
        const std::string_view key_id = SqliteText(q.stmt, 2), nonce = SqliteBlob(q.stmt, 3);
        // An entry that cannot be opened cannot be matched by value; `vault verify` reports it.
        if (key_id != key_id_ || nonce.size() != AesGcm256::kNonceSize ||
            !cipher_->Open(reinterpret_cast<const uint8_t*>(nonce.data()),
                           VaultAad(key_id_, domain, token), SqliteBlob(q.stmt, 4), &plain,
                           &open_err) ||
            plain != query.value) {
          continue;
        }
      }
      victims.emplace_back(std::string(domain), std::string(token));
    }
    if (!plain.empty()) OPENSSL_cleanse(plain.data(), plain.size());
    if (rc != SQLITE_DONE) return SqliteError("cannot read entries", err);
  }
  {
    SqliteStatement del;
    if (sqlite3_prepare_v2(db_, "DELETE FROM vault_entry WHERE domain = ?1 AND token = ?2", -1,
                           &del.stmt, nullptr) != SQLITE_OK) {
      return SqliteError("cannot delete entries", err);
    }
    for (const auto& [domain, token] : victims) {
      Bind(del.stmt, 1, domain);
      Bind(del.stmt, 2, token);
      if (sqlite3_step(del.stmt) != SQLITE_DONE) return SqliteError("cannot delete entry", err);
      out->removed += static_cast<uint64_t>(sqlite3_changes(db_));
      if (out->entries.size() < 100) out->entries.push_back(domain + "/" + token);
      sqlite3_reset(del.stmt);
    }
  }
  if (!Commit(err)) return false;
  // Old page images live on in the WAL until a checkpoint: move them into the (overwritten)
  // database file and empty the WAL.
  return Exec("PRAGMA wal_checkpoint(TRUNCATE)", err);
}

}  // namespace sdp
