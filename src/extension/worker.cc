// Background processing (docs/worker.md).
//
// A static "sdp launcher" (one per cluster, started by the postmaster) wakes every
// sdp.worker_naptime. When sdp.auto_process is on, it starts one short-lived dynamic
// "sdp worker" per database of sdp.worker_databases ('*' = every database that accepts
// connections), one database at a time, and waits for it. A worker connects to its database as
// the bootstrap superuser (with a pinned search_path, see kSearchPath), leaves at once if the
// extension is not installed, and otherwise processes RECEIVED batches one by one, each in its
// own transaction, by calling sdp.sdp_process_batch() through SPI, until none is left. That
// function records data errors as FAILED itself; anything it lets through is caught here,
// logged, and recorded as FAILED with the reason in a fresh transaction, and the worker goes on
// with the next batch.
//
// Everything in this file is C-style backend code: no C++ object with a destructor lives in
// these frames, so ereport/PG_TRY longjmps are safe here.
#include "worker.h"

#include <csignal>
#include <cstdio>
#include <cstring>

#include "gucs.h"
#include "metrics.h"
#include "pg_datum.h"

namespace {

volatile sig_atomic_t got_sigterm = false;

void HandleSigterm(SIGNAL_ARGS) {
  const int save_errno = errno;
  got_sigterm = true;
  SetLatch(MyLatch);
  errno = save_errno;
}

constexpr int kUuidTextLen = 36;

// The worker is a superuser in a database whose owner (not necessarily a superuser) may create
// objects in `public` and set the database's search_path. So its session's search_path is
// pinned (below, in sdp_worker_main) and every operator in its SQL is written
// OPERATOR(pg_catalog.=): an exact-match `public.=` for the status enum would otherwise beat
// pg_catalog's `=(anyenum, anyenum)` and run its function as superuser
// (test/e2e/worker_privilege.sh).
constexpr const char* kSearchPath = "pg_catalog, pg_temp";
constexpr const char* kExtensionInstalled =
    "SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'sdp'";
// A worker leaves after this many batches so a long queue cannot starve other databases.
constexpr int kMaxBatchesPerRound = 1000;

void FillWorker(BackgroundWorker* w, const char* function, const char* name, const char* type) {
  std::memset(w, 0, sizeof(*w));
  w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w->bgw_start_time = BgWorkerStart_RecoveryFinished;
  strlcpy(w->bgw_library_name, "sdp", BGW_MAXLEN);
  strlcpy(w->bgw_function_name, function, BGW_MAXLEN);
  strlcpy(w->bgw_name, name, BGW_MAXLEN);
  strlcpy(w->bgw_type, type, BGW_MAXLEN);
}

// Names of the databases to visit this round, palloc'ed in the current memory context.
List* DatabasesToVisit() {
  List* out = NIL;
  const char* setting = sdp::guc::worker_databases ? sdp::guc::worker_databases : "*";
  if (strcmp(setting, "*") == 0) {
    MemoryContext keep = CurrentMemoryContext;
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tuple;
    while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
      Form_pg_database db = (Form_pg_database)GETSTRUCT(tuple);
      if (!db->datallowconn || db->datistemplate) continue;
      MemoryContext old = MemoryContextSwitchTo(keep);
      out = lappend(out, pstrdup(NameStr(db->datname)));
      MemoryContextSwitchTo(old);
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
    MemoryContextSwitchTo(keep);
    return out;
  }
  char* copy = pstrdup(setting);
  if (!SplitGUCList(copy, ',', &out)) {
    ereport(WARNING, (errmsg("sdp launcher: invalid sdp.worker_databases \"%s\"", setting)));
    return NIL;
  }
  return out;
}

void RunRound() {
  MemoryContext round =
      AllocSetContextCreate(TopMemoryContext, "sdp launcher round", ALLOCSET_DEFAULT_SIZES);
  MemoryContext old = MemoryContextSwitchTo(round);
  List* databases = DatabasesToVisit();
  ListCell* lc;
  foreach (lc, databases) {
    const char* db = static_cast<const char*>(lfirst(lc));
    if (got_sigterm || !sdp::guc::auto_process) break;
    BackgroundWorker w;
    char name[BGW_MAXLEN];
    std::snprintf(name, sizeof(name), "sdp worker for database %s", db);
    FillWorker(&w, "sdp_worker_main", name, "sdp worker");
    w.bgw_restart_time = BGW_NEVER_RESTART;
    w.bgw_notify_pid = MyProcPid;
    strlcpy(w.bgw_extra, db, BGW_EXTRALEN);
    BackgroundWorkerHandle* handle = nullptr;
    if (!RegisterDynamicBackgroundWorker(&w, &handle)) {
      ereport(WARNING,
              (errmsg("sdp launcher: no free background worker slot for database \"%s\"", db),
               errhint("Raise max_worker_processes.")));
      break;
    }
    if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED) proc_exit(1);
  }
  MemoryContextSwitchTo(old);
  MemoryContextDelete(round);
}

void BeginWork(const char* activity) {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  pgstat_report_activity(STATE_RUNNING, activity);
}

void EndWork() {
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  pgstat_report_activity(STATE_IDLE, nullptr);
}

// For a PG_CATCH block: copies "<SQLSTATE>: <message>" of the error into `reason` (unless
// nullptr), reports the error to the server log, aborts the transaction and clears the error
// state, so the worker can go on with its next transaction.
void RecoverFromError(char* reason, size_t reason_size) {
  HOLD_INTERRUPTS();
  if (reason != nullptr) {
    MemoryContextSwitchTo(TopMemoryContext);  // CopyErrorData() refuses ErrorContext
    ErrorData* edata = CopyErrorData();
    std::snprintf(reason, reason_size, "%s: %s", unpack_sql_state(edata->sqlerrcode),
                  edata->message ? edata->message : "unknown error");
    FreeErrorData(edata);
  }
  EmitErrorReport();
  AbortOutOfAnyTransaction();
  FlushErrorState();
  RESUME_INTERRUPTS();
}

// Copies the next RECEIVED batch id into out (37 bytes); false if none or no extension here.
bool NextBatch(char* out) {
  bool found = false;
  BeginWork("sdp worker: looking for RECEIVED batches");
  if (SPI_execute(kExtensionInstalled, true, 1) == SPI_OK_SELECT && SPI_processed == 1) {
    // Dev-only batches are left alone unless this server runs with sdp.env = 'dev'.
    const char* query =
        "SELECT b.batch_id::pg_catalog.text FROM sdp.processing_batch b"
        " WHERE b.status OPERATOR(pg_catalog.=) 'RECEIVED'"
        "   AND (NOT b.dev_only"
        "        OR pg_catalog.current_setting('sdp.env') OPERATOR(pg_catalog.=) 'dev')"
        " ORDER BY b.received_at NULLS LAST, b.created_at LIMIT 1";
    if (SPI_execute(query, true, 1) == SPI_OK_SELECT && SPI_processed == 1) {
      char* id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
      if (id != nullptr) {
        strlcpy(out, id, kUuidTextLen + 1);
        found = true;
      }
    }
  }
  EndWork();
  return found;
}

// Runs sdp.sdp_process_batch(batch) in its own transaction; on an error that escapes it,
// records FAILED with the reason in a new transaction.
void ProcessOne(const char* batch) {
  volatile bool failed = false;
  char reason[1024];
  reason[0] = '\0';
  PG_TRY();
  {
    BeginWork("sdp worker: processing a batch");
    Oid types[1] = {UUIDOID};
    Datum values[1] = {sdp::pg::UuidDatumFromCString(batch)};
    SPI_execute_with_args("SELECT (sdp.sdp_process_batch($1)).status", 1, types, values, nullptr,
                          false, 1);
    EndWork();
  }
  PG_CATCH();
  {
    RecoverFromError(reason, sizeof(reason));
    failed = true;
  }
  PG_END_TRY();
  if (!failed) return;
  ereport(LOG, (errmsg("sdp worker: batch %s failed: %s", batch, reason)));
  BeginWork("sdp worker: recording a failed batch");
  Oid types[2] = {UUIDOID, TEXTOID};
  Datum values[2] = {sdp::pg::UuidDatumFromCString(batch), CStringGetTextDatum(reason)};
  SPI_execute_with_args(
      "UPDATE sdp.processing_batch b"
      "   SET status = 'FAILED', error = $2, processed_at = pg_catalog.now()"
      " WHERE b.batch_id OPERATOR(pg_catalog.=) $1"
      "   AND (b.status OPERATOR(pg_catalog.=) 'RECEIVED'"
      "        OR b.status OPERATOR(pg_catalog.=) 'PROCESSING')",
      2, types, values, nullptr, false, 0);
  EndWork();
}

// Retention (docs/governance.md): deletes expired, unheld batches through
// sdp.sdp_purge_expired(), kPurgeBatch batches per transaction, at most kMaxPurgeRounds
// transactions per round. An error is logged and ends the purge for this round.
constexpr int kPurgeBatch = 100;
constexpr int kMaxPurgeRounds = 10;

void PurgeExpired() {
  for (int round = 0; round < kMaxPurgeRounds; ++round) {
    volatile uint64 purged = 0;
    volatile bool failed = false;
    PG_TRY();
    {
      BeginWork("sdp worker: retention purge");
      if (SPI_execute(kExtensionInstalled, true, 1) == SPI_OK_SELECT && SPI_processed == 1 &&
          SPI_execute("SELECT 1 FROM sdp.sdp_purge_expired(pg_catalog.now(), 100)", false, 0) ==
              SPI_OK_SELECT) {
        purged = SPI_processed;
      }
      EndWork();
    }
    PG_CATCH();
    {
      RecoverFromError(nullptr, 0);
      failed = true;
    }
    PG_END_TRY();
    if (failed || purged < static_cast<uint64>(kPurgeBatch)) break;
    CHECK_FOR_INTERRUPTS();
  }
}

}  // namespace

namespace sdp::worker {

void RegisterLauncher() {
  BackgroundWorker w;
  FillWorker(&w, "sdp_launcher_main", "sdp launcher", "sdp launcher");
  w.bgw_restart_time = 10;
  RegisterBackgroundWorker(&w);
}

}  // namespace sdp::worker

extern "C" {

void sdp_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, HandleSigterm);
  BackgroundWorkerUnblockSignals();
  // No database: this only makes the launcher visible in pg_stat_activity (sdp_ready checks).
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  sdp::metrics::SetLauncherAlive();  // sdp_worker_up
  ereport(LOG, (errmsg("sdp launcher started")));
  while (!got_sigterm) {
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                    sdp::guc::worker_naptime_ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    if (got_sigterm) break;
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    if (sdp::guc::auto_process) RunRound();
  }
  ereport(LOG, (errmsg("sdp launcher shutting down")));
  proc_exit(0);
}

void sdp_worker_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);  // acted on at CHECK_FOR_INTERRUPTS, also inside the C++ scorer
  BackgroundWorkerUnblockSignals();
  char dbname[NAMEDATALEN];
  strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));
  BackgroundWorkerInitializeConnection(dbname, nullptr, 0);
  // PGC_S_OVERRIDE: wins over ALTER DATABASE/ROLE ... SET search_path, which the database's
  // owner controls, and over later configuration reloads.
  SetConfigOption("search_path", kSearchPath, PGC_SUSET, PGC_S_OVERRIDE);
  pgstat_report_appname("sdp worker");
  char batch[kUuidTextLen + 1];
  char previous[kUuidTextLen + 1] = "";
  for (int n = 0; n < kMaxBatchesPerRound; ++n) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    if (!sdp::guc::auto_process) break;
    if (!NextBatch(batch)) break;
    // A batch still RECEIVED after we handled it would loop forever: leave it to next round.
    if (strcmp(batch, previous) == 0) break;
    ProcessOne(batch);
    strlcpy(previous, batch, sizeof(previous));
  }
  if (sdp::guc::auto_process) PurgeExpired();
  proc_exit(0);
}

}  // extern "C"
