// One-shot dynamic background workers; see oneshot_worker.h.
#include "oneshot_worker.h"

extern "C" {
#include "utils/guc.h"
}

namespace sdp::oneshot {
namespace {

constexpr const char* kSearchPath = "pg_catalog, pg_temp";
constexpr long kSlotRetryMs = 20;

}  // namespace

bool StartAndWait(dsm_segment* seg, const char* function_name, const char* name,
                  long slot_wait_ms) {
  BackgroundWorker w;
  std::memset(&w, 0, sizeof(w));
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;
  strlcpy(w.bgw_library_name, "sdp", BGW_MAXLEN);
  strlcpy(w.bgw_function_name, function_name, BGW_MAXLEN);
  strlcpy(w.bgw_name, name, BGW_MAXLEN);
  strlcpy(w.bgw_type, name, BGW_MAXLEN);
  w.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
  w.bgw_notify_pid = MyProcPid;
  std::memcpy(w.bgw_extra, &MyDatabaseId, sizeof(Oid));

  BackgroundWorkerHandle* handle = nullptr;
  long waited = 0;
  while (!RegisterDynamicBackgroundWorker(&w, &handle)) {
    if (waited >= slot_wait_ms) return false;
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, kSlotRetryMs,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    waited += kSlotRetryMs;
  }
  // Interruptible: a cancel here leaves the worker to finish on its own.
  if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED) {
    ereport(FATAL, (errcode(ERRCODE_ADMIN_SHUTDOWN),
                    errmsg("postmaster exited while waiting for the %s worker", name)));
  }
  return true;
}

dsm_segment* AttachAndConnect(Datum arg, const char* name, const char* lock_timeout) {
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  Oid database;
  std::memcpy(&database, MyBgworkerEntry->bgw_extra, sizeof(Oid));
  // Attached before any transaction, so the mapping lives as long as this process. NULL: the
  // caller is gone already (its segment with it): nothing to do for it.
  dsm_segment* seg = dsm_attach(DatumGetUInt32(arg));
  if (seg == nullptr) proc_exit(0);
  BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
  SetConfigOption("search_path", kSearchPath, PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
  if (lock_timeout != nullptr) {
    SetConfigOption("lock_timeout", lock_timeout, PGC_SUSET, PGC_S_OVERRIDE);
  }
  pgstat_report_appname(name);
  return seg;
}

}  // namespace sdp::oneshot
