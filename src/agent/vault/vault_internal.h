// What the vault's files (open/read, write path, admin, erasure) share and nobody else uses:
// SQLite plumbing and the in-place AAD builder.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace sdp {

// The vault's lookup index. Part of the schema, apart because a bulk load drops it and builds it
// again once, sorted, before its commit (Vault::Begin).
inline constexpr const char* kVaultLookupIndexSql =
    "CREATE INDEX IF NOT EXISTS vault_entry_lookup ON vault_entry (lookup)";

// VaultAad written into *aad, reusing its buffer (the write path seals millions of entries).
void BuildVaultAad(std::string_view key_id, std::string_view domain, std::string_view token,
                   std::string* aad);

// Finalizes a prepared statement on every path out of a scope.
struct SqliteStatement {
  sqlite3_stmt* stmt = nullptr;
  ~SqliteStatement() { sqlite3_finalize(stmt); }
};

// Column i of the current row as a view into SQLite's buffer (valid until the next step/reset).
inline std::string_view SqliteText(sqlite3_stmt* stmt, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
  return p ? std::string_view(p, sqlite3_column_bytes(stmt, i)) : std::string_view();
}

inline std::string_view SqliteBlob(sqlite3_stmt* stmt, int i) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
  return p ? std::string_view(p, sqlite3_column_bytes(stmt, i)) : std::string_view();
}

}  // namespace sdp
