// The vault: open (schema, format, modes), the AAD that binds an entry to its place, and reads.
// The write path is in vault_write.cc, administration in vault_admin.cc, erasure in
// vault_forget.cc.
#include "agent/vault/vault.h"

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
#include "agent/vault/vault_internal.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

constexpr const char* kFormat = "sdp-vault-v1";

// Rows are appended in insertion order (rowid table), and found through a small index on a
// 64-bit hash of (domain, token). Keying the table itself on the random tokens made every insert
// touch a random page of the whole table (measured: ~2x the CPU and 3x the I/O per entry at 1M
// entries); the hash index is ~16 bytes an entry and stays in cache. The hash only narrows the
// search: every lookup also compares domain and token, so a collision costs a row, never a
// wrong answer.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS vault_meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vault_entry (
  id         INTEGER PRIMARY KEY,
  lookup     INTEGER NOT NULL,  -- FNV-1a 64 of domain 0x00 token
  domain     TEXT NOT NULL,
  token      TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  nonce      BLOB NOT NULL,
  sealed     BLOB NOT NULL,     -- AES-256-GCM ciphertext || 16-byte tag
  created_at INTEGER NOT NULL DEFAULT (unixepoch())
);

)sql";

constexpr const char* kFormatVersion = "sdp-vault-v2";

// INSERT of `rows` entries, parameters (lookup, domain, token, key_id, nonce, sealed) per row,
// then one more for everyone's created_at: bound once per statement, not computed per row.
// OR FAIL: a multi-row INSERT that may abort half-way makes SQLite keep a statement journal,
// a copy of every page the statement touches (measured: 6.7 GB of 32 KiB page copies written
// to a temporary file for 5M entries). A failed statement fails the whole write anyway: the
// caller gets the error and the transaction is rolled back, rows already inserted included.
std::string InsertSql(size_t rows) {
  std::string sql =
      "INSERT OR FAIL INTO vault_entry(lookup, domain, token, key_id, nonce, sealed, created_at) "
      "VALUES ";
  const std::string created_at = "?" + std::to_string(rows * 6 + 1);
  for (size_t i = 0; i < rows; ++i) {
    if (i != 0) sql += ',';
    for (size_t p = 1; p <= 6; ++p) sql += (p == 1 ? "(?" : ",?") + std::to_string(i * 6 + p);
    sql += "," + created_at + ")";
  }
  return sql;
}

// The lookup keys among `rows` given (?1..?rows) that the index holds (the index alone answers).
std::string ProbeSql(size_t rows) {
  std::string sql = "SELECT lookup FROM vault_entry WHERE lookup IN (";
  for (size_t i = 0; i < rows; ++i) sql += i == 0 ? "?" : ",?";
  return sql + ")";
}

// What the user can do about a failed SQLite call, by its primary result code.
const char* SqliteFix(int code) {
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "the file is damaged or not an sdp vault; restore it from a backup";
    case SQLITE_FULL:
      return "free space on the vault's file system, then run again (nothing was committed)";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another sdp-agent is writing this vault; wait for it to finish";
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return "check that the vault file and its directory are readable and writable by you";
    case SQLITE_IOERR:
      return "check the disk holding the vault (I/O error), then run `sdp-agent vault verify`";
    default:
      return "run `sdp-agent vault verify`; restore the vault from a backup if it reports damage";
  }
}

uint64_t Fnv1a(uint64_t h, std::string_view bytes) {
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

void BuildVaultAad(std::string_view key_id, std::string_view domain, std::string_view token,
                   std::string* aad) {
  aad->assign(kFormat);
  aad->push_back('\0');
  aad->append(domain);
  aad->push_back('\0');
  aad->append(token);
  aad->push_back('\0');
  aad->append(key_id);
}

VaultDomainLookup::VaultDomainLookup(std::string_view domain)
    : prefix_state_(Fnv1a(Fnv1a(1469598103934665603ULL, domain), std::string_view("\0", 1))) {}

int64_t VaultDomainLookup::Key(std::string_view token) const {
  return static_cast<int64_t>(Fnv1a(prefix_state_, token));
}

int64_t VaultLookupKey(std::string_view domain, std::string_view token) {
  return VaultDomainLookup(domain).Key(token);
}

std::string VaultAad(std::string_view key_id, std::string_view domain, std::string_view token) {
  std::string aad;
  BuildVaultAad(key_id, domain, token, &aad);
  return aad;
}

Vault::Vault() = default;

Vault::~Vault() { Close(); }

// Rolls back anything not committed and closes, so that Open() can be called again on the same
// object (e.g. after a wrong key) without leaking the first connection.
void Vault::Close() {
  if (db_ != nullptr) {
    if (in_transaction_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    if (rollback_journal_) sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    sqlite3_finalize(insert_);
    sqlite3_finalize(insert_many_);
    sqlite3_finalize(probe_one_);
    sqlite3_finalize(probe_many_);
    sqlite3_finalize(by_id_);
    sqlite3_finalize(select_);
    ClosePseudonyms();
    sqlite3_close(db_);
  }
  db_ = nullptr;
  insert_ = insert_many_ = probe_one_ = probe_many_ = by_id_ = select_ = nullptr;
  in_transaction_ = false;
  rollback_journal_ = false;
  bulk_ = false;
  bulk_keys_.clear();
  pending_.clear();
  pending_bytes_.clear();
  pending_domains_.clear();
}

bool Vault::SqliteError(const std::string& what, std::string* err) {
  *err = "vault " + path_ + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "cannot open") +
         "; fix: " + SqliteFix(db_ ? sqlite3_errcode(db_) : SQLITE_CANTOPEN);
  return false;
}

bool Vault::Exec(const char* sql, std::string* err) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError("SQL failed", err);
  }
  return true;
}

bool Vault::Prepare(const char* sql, sqlite3_stmt** stmt, std::string* err) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot prepare statement", err);
  }
  return true;
}

bool Vault::Open(const std::string& path, Mode mode, const KeyRing& keys, std::string* err) {
  Close();
  path_ = path;
  key_id_ = keys.key_id();
  struct stat st;
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && mode == Mode::kReadOnly) {
    *err = "vault " + path +
           " does not exist; fix: pass --vault with the file written by "
           "tokenize, or tokenize first";
    return false;
  }
  if (!exists) {
    // Create it 0600 before SQLite touches it: originals must never be readable by others.
    const ScopedFd created(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!created.valid()) {
      *err = "vault " + path + ": cannot create: " + std::strerror(errno) +
             "; fix: check that the directory exists and is writable";
      return false;
    }
  } else if ((st.st_mode & 077) != 0 && mode == Mode::kReadWrite) {
    ::chmod(path.c_str(), 0600);  // tighten a vault copied with a permissive umask
  }
  if (exists && mode == Mode::kReadOnly) RollBackInterruptedLoad(path);
  // The -wal and -shm files inherit the umask: keep them private too.
  const mode_t old_umask = ::umask(077);
  const int flags =
      mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  ::umask(old_umask);
  if (rc != SQLITE_OK) return SqliteError("cannot open", err);
  sqlite3_busy_timeout(db_, 10000);

  // A file that is not SQLite (or is truncated/corrupted) fails here with SQLite's reason.
  if (mode == Mode::kReadWrite) {
    // page_size only takes effect on a new file, before WAL mode. 32 KiB pages: an eighth of the
    // page writes and B-tree nodes of SQLite's 4 KiB default (measured: a fifth less CPU per
    // entry).
    if (!Exec("PRAGMA page_size=32768; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err)) {
      return false;
    }
    if (!Exec(kSchema, err) || !Exec(kVaultLookupIndexSql, err)) return false;
  }
  // Lookups (detokenize) land on random pages: a page cache of SQLite's default 2 MB made every
  // one a pread (measured: over half of a 1M-row detokenize was kernel time). Up to 256 MB,
  // allocated only as pages are read.
  if (!Exec("PRAGMA cache_size=-262144;", err)) return false;
  {
    SqliteStatement q;
    if (sqlite3_prepare_v2(db_, "SELECT value FROM vault_meta WHERE name = 'key_id'", -1, &q.stmt,
                           nullptr) != SQLITE_OK) {
      return SqliteError("not a readable sdp vault", err);
    }
    const int step = sqlite3_step(q.stmt);
    if (step == SQLITE_ROW && !CheckFormat(err)) return false;
    if (step == SQLITE_ROW) {
      const std::string stored(SqliteText(q.stmt, 0));
      if (stored != key_id_) {
        *err = "vault " + path + " was written with key id " + stored + ", current key is " +
               key_id_ + "; fix: set SDP_CRYPTO_KEY to the key this vault was written with";
        return false;
      }
    } else if (step == SQLITE_DONE) {
      if (mode == Mode::kReadOnly) {
        *err = "vault " + path + " has no key id; fix: it is not an sdp vault or was never written";
        return false;
      }
      SqliteStatement ins;
      if (sqlite3_prepare_v2(db_,
                             "INSERT INTO vault_meta(name, value) VALUES ('key_id', ?1), "
                             "('format', 'sdp-vault-v2')",
                             -1, &ins.stmt, nullptr) != SQLITE_OK) {
        return SqliteError("cannot initialise", err);
      }
      sqlite3_bind_text(ins.stmt, 1, key_id_.data(), static_cast<int>(key_id_.size()),
                        SQLITE_TRANSIENT);
      if (sqlite3_step(ins.stmt) != SQLITE_DONE) return SqliteError("cannot initialise", err);
    } else {
      return SqliteError("cannot read", err);
    }
  }
  cipher_ = std::make_unique<AesGcm256>();
  if (!cipher_->Init(keys.vault_key(), err) || !sealer_.Init(keys, err)) return false;
  if (mode == Mode::kReadWrite &&
      (!Prepare(InsertSql(1).c_str(), &insert_, err) ||
       !Prepare(InsertSql(kInsertRows).c_str(), &insert_many_, err) ||
       !Prepare(ProbeSql(kProbeRows).c_str(), &probe_many_, err) ||
       !Prepare("SELECT 1 FROM vault_entry WHERE lookup = ?3 AND domain = ?1 AND token = ?2",
                &probe_one_, err) ||
       !Prepare("SELECT domain, token FROM vault_entry WHERE id = ?1", &by_id_, err))) {
    return false;
  }
  return Prepare(
      "SELECT key_id, nonce, sealed FROM vault_entry WHERE lookup = ?3 AND domain = ?1 AND "
      "token = ?2",
      &select_, err);
}

// A bulk load killed half-way leaves its rollback journal (Vault::LeaveWal), and SQLite rolls a
// journal back only on a connection that may write: a read-only open would fail with "attempt to
// write a readonly database". So a read-only open of a vault with a journal first lets a
// read-write connection roll it back. SQLite does so only for a journal no live writer holds,
// i.e. of a transaction that can never commit. Best effort: if that fails, the open below
// reports why.
void Vault::RollBackInterruptedLoad(const std::string& path) {
  struct stat st;
  if (::stat((path + "-journal").c_str(), &st) != 0 || st.st_size == 0) return;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) ==
      SQLITE_OK) {
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
  }
  sqlite3_close(db);
}

bool Vault::CheckFormat(std::string* err) {
  SqliteStatement q;
  std::string format;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM vault_meta WHERE name = 'format'", -1, &q.stmt,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(q.stmt) == SQLITE_ROW) {
    format = std::string(SqliteText(q.stmt, 0));
  }
  if (format != kFormatVersion) {
    *err = "vault " + path_ + " has format '" + format + "', this agent reads " + kFormatVersion +
           "; fix: detokenize with the agent that wrote it, or start a new vault";
    return false;
  }
  return true;
}

bool Vault::Get(std::string_view domain, std::string_view token, std::string* original, bool* found,
                std::string* err) {
  sqlite3_bind_text(select_, 1, domain.data(), static_cast<int>(domain.size()), SQLITE_STATIC);
  sqlite3_bind_text(select_, 2, token.data(), static_cast<int>(token.size()), SQLITE_STATIC);
  sqlite3_bind_int64(select_, 3, VaultLookupKey(domain, token));
  const int rc = sqlite3_step(select_);
  bool ok = true;
  *found = false;
  if (rc == SQLITE_ROW) {
    *found = true;
    const std::string_view key_id = SqliteText(select_, 0);
    const std::string_view nonce = SqliteBlob(select_, 1);
    const std::string_view sealed = SqliteBlob(select_, 2);
    if (key_id != key_id_ || nonce.size() != AesGcm256::kNonceSize) {
      ok = false;
      *err = "vault entry for token " + std::string(token) + " in " + std::string(domain) +
             " is damaged (key id or nonce); fix: restore the vault from a backup";
    } else if (!cipher_->Open(reinterpret_cast<const uint8_t*>(nonce.data()),
                              VaultAad(key_id_, domain, token), sealed, original, err)) {
      ok = false;
      *err = "vault entry for token " + std::string(token) + " in " + std::string(domain) +
             " failed authentication (tampered or corrupted); fix: restore the vault from a "
             "backup";
    }
  } else if (rc != SQLITE_DONE) {
    ok = SqliteError("cannot read entry", err);
  }
  sqlite3_reset(select_);
  return ok;
}

}  // namespace sdp
