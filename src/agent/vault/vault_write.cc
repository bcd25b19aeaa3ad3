// The vault's write path: sealing entries, the write queue, bulk loads into an empty vault and
// durable commits.
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
#include "common/scoped_fd.h"

namespace sdp {
namespace {

constexpr size_t kNonceBlock = AesGcm256::kNonceSize * 4096;

}  // namespace

bool VaultSealer::Init(const KeyRing& keys, std::string* err) {
  key_id_ = keys.key_id();
  return cipher_.Init(keys.vault_key(), err);
}

bool VaultSealer::NextNonce(uint8_t nonce[AesGcm256::kNonceSize], std::string* err) {
  if (nonce_pos_ + AesGcm256::kNonceSize > nonce_pool_.size()) {
    nonce_pool_.resize(kNonceBlock);
    if (!RandomBytes(nonce_pool_.data(), nonce_pool_.size(), err)) return false;
    nonce_pos_ = 0;
  }
  std::memcpy(nonce, nonce_pool_.data() + nonce_pos_, AesGcm256::kNonceSize);
  // Never reuse pool bytes: wipe what was handed out.
  std::memset(nonce_pool_.data() + nonce_pos_, 0, AesGcm256::kNonceSize);
  nonce_pos_ += AesGcm256::kNonceSize;
  return true;
}

bool VaultSealer::Seal(std::string_view domain, std::string_view token, std::string_view original,
                       std::string* nonce, std::string* sealed, std::string* err) {
  uint8_t n[AesGcm256::kNonceSize];
  if (!NextNonce(n, err)) return false;
  nonce->assign(reinterpret_cast<const char*>(n), sizeof n);
  BuildVaultAad(key_id_, domain, token, &aad_);
  return cipher_.Seal(n, aad_, original, sealed, err);
}

// A write that starts on an empty vault (the first tokenize of a customer base) is a bulk load:
// the lookup index is dropped, the rows are appended, and the index is built once, sorted, just
// before the durable commit (measured: 40% less wall time for 5M fresh entries than keeping the
// index up to date entry by entry). All of it is one transaction, so an interrupted load rolls
// back to the empty vault with its index; no reader ever sees the vault without it.
bool Vault::Begin(std::string* err) {
  if (in_transaction_) return true;
  bool empty = false;
  if (bulk_limit_ > 0 && (!IsEmpty(&empty, err) || (empty && !LeaveWal(err)))) return false;
  if (!Exec("BEGIN IMMEDIATE", err)) return false;
  in_transaction_ = true;
  // Again inside the transaction: another writer may have got in first.
  if (!IsEmpty(&empty, err)) return false;
  if (empty && bulk_limit_ > 0) {
    if (!Exec("DROP INDEX IF EXISTS vault_entry_lookup", err)) return false;
    bulk_ = true;
  }
  return true;
}

bool Vault::IsEmpty(bool* empty, std::string* err) {
  SqliteStatement q;
  if (sqlite3_prepare_v2(db_, "SELECT EXISTS (SELECT 1 FROM vault_entry)", -1, &q.stmt, nullptr) !=
          SQLITE_OK ||
      sqlite3_step(q.stmt) != SQLITE_ROW) {
    return SqliteError("cannot read entries", err);
  }
  *empty = sqlite3_column_int(q.stmt, 0) == 0;
  return true;  // the guard resets the statement: DROP INDEX needs none reading the table
}

// A bulk load writes the vault file itself, under a rollback journal, instead of writing every
// page to the WAL and then copying it into the file at the checkpoint (measured at 5M entries:
// 1.3 GB less written and read back). The journal keeps the pages of the empty vault, so an
// interrupted load, or a crash (the next open finds the journal and rolls back), still leaves the
// vault as it was. The journal is created with the vault file's permissions (SQLite copies them).
// Best effort: the switch needs the vault to itself, and while another connection has it open
// the load goes through the WAL as before.
bool Vault::LeaveWal(std::string* err) {
  SqliteStatement q;
  if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode=DELETE", -1, &q.stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot set the journal mode", err);
  }
  rollback_journal_ = sqlite3_step(q.stmt) == SQLITE_ROW && SqliteText(q.stmt, 0) == "delete";
  // synchronous=NORMAL is safe with the WAL, not quite with a rollback journal (SQLite: a power
  // loss at the wrong moment may corrupt the file); FULL costs one more fsync of a small journal.
  return !rollback_journal_ || Exec("PRAGMA synchronous=FULL", err);
}

// Back to WAL mode after a bulk load's commit (readers then never wait for a writer).
bool Vault::ReturnToWal(std::string* err) {
  if (!rollback_journal_) return true;
  rollback_journal_ = false;
  return Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
}

// Builds the lookup index of a bulk load; from here on, entries are checked against the index.
bool Vault::EndBulkLoad(std::string* err) {
  if (!bulk_) return true;
  if (!Exec(kVaultLookupIndexSql, err)) return false;
  bulk_ = false;
  std::vector<std::pair<int64_t, int64_t>>().swap(bulk_keys_);
  return true;
}

void Vault::LimitBulkLoad(size_t max_tracked_entries) { bulk_limit_ = max_tracked_entries; }

// During a bulk load there is no index: deterministic entries already loaded by this transaction
// are found through bulk_keys_ (their lookup keys and rowids, sorted), and a key found there is
// checked on domain and token against the row itself.
bool Vault::SkipBulkLoaded(const std::vector<PendingEntry*>& entries, std::string* err) {
  // `entries` come in lookup-key order: each search gallops forward from where the last one
  // ended, through memory next to it (a binary search over the whole list was one cache miss per
  // step: measured ~1 us an entry at 2M keys).
  const auto end = bulk_keys_.end();
  auto at = bulk_keys_.begin();
  for (PendingEntry* e : entries) {
    auto below = at, probe = at;
    for (size_t step = 1; probe != end && probe->first < e->lookup; step *= 2) {
      below = probe;
      probe = static_cast<size_t>(end - probe) > step ? probe + step : end;
    }
    at = std::lower_bound(below, probe,
                          std::make_pair(e->lookup, std::numeric_limits<int64_t>::min()));
    for (auto it = at; it != end && it->first == e->lookup && !e->skip; ++it) {
      sqlite3_bind_int64(by_id_, 1, it->second);
      const int rc = sqlite3_step(by_id_);
      if (rc == SQLITE_ROW) {
        e->skip = SqliteText(by_id_, 0) == pending_domains_[e->domain] &&
                  SqliteText(by_id_, 1) == PendingView(e->token_off, e->token_len);
      }
      sqlite3_reset(by_id_);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError("cannot look up entry", err);
    }
  }
  return true;
}

bool Vault::Put(std::string_view domain, std::string_view token, std::string_view original,
                std::string* err) {
  return sealer_.Seal(domain, token, original, &nonce_scratch_, &sealed_scratch_, err) &&
         PutSealed(domain, token, VaultLookupKey(domain, token), nonce_scratch_, sealed_scratch_,
                   /*token_is_unique=*/false, err);
}

bool Vault::PutSealed(std::string_view domain, std::string_view token, int64_t lookup,
                      std::string_view nonce, std::string_view sealed, bool token_is_unique,
                      std::string* err) {
  if (insert_ == nullptr) {
    *err = "vault " + path_ + " is open read-only";
    return false;
  }
  uint32_t domain_id = 0;
  while (domain_id < pending_domains_.size() && pending_domains_[domain_id] != domain) ++domain_id;
  if (domain_id == pending_domains_.size()) pending_domains_.emplace_back(domain);
  auto append = [this](std::string_view bytes, uint32_t* off, uint32_t* len) {
    *off = static_cast<uint32_t>(pending_bytes_.size());
    *len = static_cast<uint32_t>(bytes.size());
    pending_bytes_.append(bytes);
  };
  PendingEntry e;
  e.lookup = lookup;
  e.seq = static_cast<uint32_t>(pending_.size());
  e.domain = domain_id;
  append(token, &e.token_off, &e.token_len);
  append(nonce, &e.nonce_off, &e.nonce_len);
  append(sealed, &e.sealed_off, &e.sealed_len);
  e.unique = token_is_unique;
  e.skip = false;
  pending_.push_back(e);
  // The arena is addressed with 32-bit offsets: flush well before 4 GiB.
  if (pending_bytes_.size() > (size_t{1} << 30)) return FlushPending(err);
  return pending_.size() < kMaxPending || FlushPending(err);
}

bool Vault::InsertPending(sqlite3_stmt* stmt, const PendingEntry* const* entries, size_t count,
                          std::string* err) {
  for (size_t i = 0; i < count; ++i) {
    const PendingEntry& e = *entries[i];
    const std::string& domain = pending_domains_[e.domain];
    const std::string_view token = PendingView(e.token_off, e.token_len);
    const std::string_view nonce = PendingView(e.nonce_off, e.nonce_len);
    const std::string_view sealed = PendingView(e.sealed_off, e.sealed_len);
    const int p = static_cast<int>(i) * 6;
    sqlite3_bind_int64(stmt, p + 1, e.lookup);
    sqlite3_bind_text(stmt, p + 2, domain.data(), static_cast<int>(domain.size()), SQLITE_STATIC);
    sqlite3_bind_text(stmt, p + 3, token.data(), static_cast<int>(token.size()), SQLITE_STATIC);
    sqlite3_bind_text(stmt, p + 4, key_id_.data(), static_cast<int>(key_id_.size()), SQLITE_STATIC);
    sqlite3_bind_blob(stmt, p + 5, nonce.data(), static_cast<int>(nonce.size()), SQLITE_STATIC);
    sqlite3_bind_blob(stmt, p + 6, sealed.data(), static_cast<int>(sealed.size()), SQLITE_STATIC);
  }
  sqlite3_bind_int64(stmt, static_cast<int>(count) * 6 + 1, static_cast<int64_t>(::time(nullptr)));
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return SqliteError("cannot store entry", err);
  if (bulk_) {
    // Rows without an explicit rowid get max(rowid) + 1, one after another: this statement's
    // rows are the `count` rowids ending at the last one.
    const int64_t first = sqlite3_last_insert_rowid(db_) - static_cast<int64_t>(count) + 1;
    for (size_t i = 0; i < count; ++i) {
      if (!entries[i]->unique) bulk_keys_.emplace_back(entries[i]->lookup, first + i);
    }
  }
  puts_ += count;
  return true;
}

// Sorts pending_ by (lookup key, domain, token, arrival). Lookup keys are hashes, spread evenly:
// one pass deals the entries into 65,536 buckets by the top 16 bits of the key (in key order),
// and each bucket, a handful of entries, is then sorted on its own (measured: std::sort over all
// entries was ~4% of a fresh 5M-entry tokenize's CPU, nearly all of it comparisons and branch
// misses). A big bucket (the same token queued many times) gets std::sort, never a quadratic one.
void Vault::SortPending() {
  constexpr size_t kBuckets = size_t{1} << 16;
  auto bucket = [](int64_t key) {  // order-preserving for signed keys
    return static_cast<size_t>((static_cast<uint64_t>(key) ^ (uint64_t{1} << 63)) >> 48);
  };
  bucket_ends_.assign(kBuckets, 0);
  for (const PendingEntry& e : pending_) ++bucket_ends_[bucket(e.lookup)];
  uint32_t start = 0;
  for (uint32_t& end : bucket_ends_) {  // from counts to each bucket's first slot
    const uint32_t count = end;
    end = start;
    start += count;
  }
  sorted_.resize(pending_.size());
  for (const PendingEntry& e : pending_) sorted_[bucket_ends_[bucket(e.lookup)]++] = e;
  pending_.swap(sorted_);
  auto before = [this](const PendingEntry& a, const PendingEntry& b) {
    if (a.lookup != b.lookup) return a.lookup < b.lookup;
    if (a.domain != b.domain) return a.domain < b.domain;
    const int c =
        PendingView(a.token_off, a.token_len).compare(PendingView(b.token_off, b.token_len));
    return c != 0 ? c < 0 : a.seq < b.seq;
  };
  uint32_t first = 0;
  for (const uint32_t end : bucket_ends_) {  // each bucket now ends where the next one starts
    auto lo = pending_.begin() + first, hi = pending_.begin() + end;
    if (end - first > 16) {
      std::sort(lo, hi, before);
    } else {
      for (auto it = lo + (lo != hi); it < hi; ++it) {  // insertion sort
        for (auto at = it; at != lo && before(*at, *(at - 1)); --at) std::iter_swap(at, at - 1);
      }
    }
    first = end;
  }
}

// Inserts the pending entries sorted by their lookup key: the index then grows in order, one
// page after another, instead of one random page per entry (measured: less than half the CPU
// of inserting in arrival order at a million entries).
bool Vault::FlushPending(std::string* err) {
  if (pending_.empty()) return true;
  if (!Begin(err)) return false;
  SortPending();
  // The same deterministic token twice in this flush: the first original stays.
  const PendingEntry* previous = nullptr;
  std::vector<PendingEntry*> to_probe;
  for (PendingEntry& e : pending_) {
    e.skip = previous != nullptr && previous->lookup == e.lookup && previous->domain == e.domain &&
             PendingView(previous->token_off, previous->token_len) ==
                 PendingView(e.token_off, e.token_len);
    if (e.skip) continue;
    previous = &e;
    if (!e.unique) to_probe.push_back(&e);
  }
  if (!(bulk_ ? SkipBulkLoaded(to_probe, err) : SkipStored(to_probe, err))) return false;
  const size_t tracked_before = bulk_keys_.size();
  // New entries go in kInsertRows at a time: one statement execution per row is most of SQLite's
  // per-entry cost (measured: a fifth less CPU per entry with 32-row statements).
  std::vector<const PendingEntry*> ready;
  ready.reserve(kInsertRows);
  for (size_t i = 0; i < pending_.size(); ++i) {
    // The bytes of sorted entries lie all over the arena: fetch the next statement's while
    // SQLite works on this one (measured: copying them into records was ~8% of the run's CPU,
    // nearly all of it cache misses).
    if (i + kInsertRows < pending_.size()) {
      const PendingEntry& ahead = pending_[i + kInsertRows];
      __builtin_prefetch(pending_bytes_.data() + ahead.token_off);
      __builtin_prefetch(pending_bytes_.data() + ahead.sealed_off + ahead.sealed_len - 1);
    }
    const PendingEntry& e = pending_[i];
    if (e.skip) continue;
    ready.push_back(&e);
    if (ready.size() == kInsertRows) {
      if (!InsertPending(insert_many_, ready.data(), ready.size(), err)) return false;
      ready.clear();
    }
  }
  for (const PendingEntry* e : ready) {
    if (!InsertPending(insert_, &e, 1, err)) return false;
  }
  if (bulk_) {
    // pending_ is sorted by lookup key, so the keys just added are a sorted run.
    std::inplace_merge(bulk_keys_.begin(), bulk_keys_.begin() + tracked_before, bulk_keys_.end());
    if (bulk_keys_.size() > bulk_limit_ && !EndBulkLoad(err)) return false;
  }
  pending_bytes_.clear();
  pending_domains_.clear();
  pending_.clear();
  return true;
}

// Marks `skip` on the entries the vault already holds (a deterministic token seen in an earlier
// flush or run). Asked kProbeRows lookup keys per statement, from the index alone: one query per
// entry cost more than inserting it (measured: ~2.5 us a probe, 30% of a fresh 5M-entry
// tokenize). Only a key found there (an entry already stored, or a 64-bit hash collision) is
// then checked on domain and token.
bool Vault::SkipStored(const std::vector<PendingEntry*>& entries, std::string* err) {
  std::vector<int64_t> found;
  size_t start = 0;
  for (; start + kProbeRows <= entries.size(); start += kProbeRows) {
    for (size_t i = 0; i < kProbeRows; ++i) {
      sqlite3_bind_int64(probe_many_, static_cast<int>(i) + 1, entries[start + i]->lookup);
    }
    found.clear();
    int rc;
    while ((rc = sqlite3_step(probe_many_)) == SQLITE_ROW) {
      found.push_back(sqlite3_column_int64(probe_many_, 0));
    }
    sqlite3_reset(probe_many_);
    if (rc != SQLITE_DONE) return SqliteError("cannot look up entries", err);
    for (size_t i = start; i < start + kProbeRows && !found.empty(); ++i) {
      if (std::find(found.begin(), found.end(), entries[i]->lookup) != found.end() &&
          !ProbeStored(entries[i], err)) {
        return false;
      }
    }
  }
  for (; start < entries.size(); ++start) {  // the last, short group: one by one
    if (!ProbeStored(entries[start], err)) return false;
  }
  return true;
}

// The full check of one entry: is (domain, token) stored? Sets entry->skip if so.
bool Vault::ProbeStored(PendingEntry* entry, std::string* err) {
  const std::string& domain = pending_domains_[entry->domain];
  const std::string_view token = PendingView(entry->token_off, entry->token_len);
  sqlite3_bind_text(probe_one_, 1, domain.data(), static_cast<int>(domain.size()), SQLITE_STATIC);
  sqlite3_bind_text(probe_one_, 2, token.data(), static_cast<int>(token.size()), SQLITE_STATIC);
  sqlite3_bind_int64(probe_one_, 3, entry->lookup);
  const int found = sqlite3_step(probe_one_);
  sqlite3_reset(probe_one_);
  if (found != SQLITE_ROW && found != SQLITE_DONE) return SqliteError("cannot look up entry", err);
  entry->skip = found == SQLITE_ROW;
  return true;
}

bool Vault::Commit(std::string* err, Durability durability) {
  if (!FlushPending(err)) return false;
  if (!in_transaction_) return true;
  // A bulk load commits once, with its index (Begin).
  if (bulk_ && durability == Durability::kDeferred) return true;
  if (!EndBulkLoad(err)) return false;
  if (!Exec("COMMIT", err)) return false;
  in_transaction_ = false;
  if (rollback_journal_) {
    // In rollback-journal mode the commit point is the deletion of the journal; SQLite has synced
    // the file, the directory entry is synced here.
    return SyncDirectory(err) && ReturnToWal(err);
  }
  return durability == Durability::kDeferred || SyncWal(err);
}

bool Vault::SyncDirectory(std::string* err) {
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path_.substr(0, slash);
  const ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const bool ok = fd.valid() && ::fsync(fd.get()) == 0;
  const int code = errno;
  if (!ok) {
    *err = "vault " + path_ + ": cannot sync its directory " + dir + ": " + std::strerror(code) +
           "; fix: check the disk holding the vault, then run `sdp-agent vault verify`";
  }
  return ok;
}

// With synchronous=NORMAL, a WAL-mode commit is written but only fsynced at the next checkpoint,
// and the synchronous level cannot change inside the transaction being committed; so a durable
// commit fsyncs the -wal file itself (a no-op cost when the commit's own checkpoint already did).
bool Vault::SyncWal(std::string* err) {
  const std::string wal = path_ + "-wal";
  const ScopedFd fd(::open(wal.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return true;  // checkpointed and removed: everything is in the file
    *err = "vault " + path_ + ": cannot open " + wal + " to sync it: " + std::strerror(errno) +
           "; fix: check the permissions of the vault's directory";
    return false;
  }
  const bool ok = ::fdatasync(fd.get()) == 0;
  const int code = errno;
  if (!ok) {
    *err = "vault " + path_ + ": cannot sync " + wal + ": " + std::strerror(code) +
           "; fix: check the disk holding the vault, then run `sdp-agent vault verify`";
  }
  return ok;
}

}  // namespace sdp
