// The privacy budget charge of a differentially private release, committed on its own
// (80_privacy.sql, docs/privacy_analytics.md).
//
// sdp._dp_run computes a release and keeps it; sdp._dp_charge_committed then charges it in a
// short-lived dynamic background worker that runs sdp._dp_charge in a transaction of its own
// and commits it before the caller returns a single row. A charge made in the caller's
// transaction could be taken back by a ROLLBACK (or by a later statement of the same implicit
// transaction failing after the rows were sent): unlimited noisy answers whose noise averages
// away. A committed charge cannot be.
//
// The worker connects to the caller's database as the bootstrap superuser with a pinned
// search_path (as the batch worker does, worker.cc); the caller's role, login and client are
// arguments, so the ledger and the audit log name the caller, not the worker. Arguments go to
// the worker, and its answer (the grantees charged, or the error's SQLSTATE, message, detail and
// hint) comes back, through one DSM segment.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "metrics.h"
#include "oneshot_worker.h"
#include "pg_bridge.h"
#include "pg_datum.h"

extern "C" {
PGDLLEXPORT void sdp_dp_charge_main(Datum arg);
}

namespace {

// dataset, caller role, login, client, kind, epsilon, delta, params: sdp._dp_charge's arguments.
constexpr int kArgs = 8;
constexpr size_t kAnswerSize = 8192;
// A free worker slot is waited for this long, then the caller gets PT409 (retry later).
constexpr long kSlotWaitMs = 30000;

enum Outcome : uint32 { kPending = 0, kCommitted = 1, kFailed = 2 };

struct ChargeSlot {
  pg_atomic_uint32 outcome;
  int sqlerrcode;            // kFailed: the error's SQLSTATE
  uint32 answer_items;       // kCommitted: how many grantees; kFailed: 3 (message, detail, hint)
  char answer[kAnswerSize];  // NUL-separated strings
  int32 arg_len[kArgs];      // -1: NULL
  char args[FLEXIBLE_ARRAY_MEMBER];  // the arguments, each NUL-terminated, in order
};

// Appends NUL-separated `items` to the answer, truncating each so all fit.
void WriteAnswer(ChargeSlot* slot, const char* const* items, uint32 n) {
  size_t at = 0;
  const size_t share = kAnswerSize / (n == 0 ? 1 : n);
  for (uint32 i = 0; i < n; ++i) {
    const char* s = items[i] != nullptr ? items[i] : "";
    size_t len = strnlen(s, share - 1);
    std::memcpy(slot->answer + at, s, len);
    slot->answer[at + len] = '\0';
    at += len + 1;
  }
  slot->answer_items = n;
}

// The worker's side: one transaction, sdp._dp_charge, commit, then the answer.
void RunCharge(ChargeSlot* slot) {
  const char* arg[kArgs];
  const char* p = slot->args;
  for (int i = 0; i < kArgs; ++i) {
    arg[i] = slot->arg_len[i] < 0 ? nullptr : p;
    if (slot->arg_len[i] >= 0) p += slot->arg_len[i] + 1;
  }
  // The grantees charged, copied out of SPI's memory before the commit frees it.
  MemoryContext keep =
      AllocSetContextCreate(TopMemoryContext, "sdp dp charge", ALLOCSET_SMALL_SIZES);
  const char* charged[64];
  volatile uint32 n_charged = 0;
  PG_TRY();
  {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "sdp privacy charge");
    Oid types[kArgs];
    Datum values[kArgs];
    char nulls[kArgs + 1];
    for (int i = 0; i < kArgs; ++i) {
      types[i] = TEXTOID;
      values[i] = arg[i] != nullptr ? CStringGetTextDatum(arg[i]) : (Datum)0;
      nulls[i] = arg[i] != nullptr ? ' ' : 'n';
    }
    nulls[kArgs] = '\0';
    SPI_execute_with_args(
        "SELECT pg_catalog.unnest(sdp._dp_charge($1, $2, $3, $4, $5, $6::pg_catalog.numeric,"
        " $7::pg_catalog.numeric, $8::pg_catalog.jsonb))",
        kArgs, types, values, nulls, false, 0);
    for (uint64 i = 0; i < SPI_processed && i < 64; ++i) {
      char* v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
      charged[n_charged++] = MemoryContextStrdup(keep, v != nullptr ? v : "");
    }
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
  }
  PG_CATCH();
  {
    HOLD_INTERRUPTS();
    MemoryContextSwitchTo(TopMemoryContext);  // CopyErrorData() refuses ErrorContext
    ErrorData* e = CopyErrorData();
    int code = e->sqlerrcode;
    // A serialization failure or deadlock at commit is a conflict for the caller (never 40001,
    // docs/postgrest.md §2): nothing was charged, a retry may succeed.
    if (code == ERRCODE_T_R_SERIALIZATION_FAILURE || code == ERRCODE_T_R_DEADLOCK_DETECTED)
      code = MAKE_SQLSTATE('P', 'T', '4', '0', '9');
    slot->sqlerrcode = code;
    const char* items[3] = {e->message, e->detail, e->hint};
    WriteAnswer(slot, items, 3);
    pg_write_barrier();
    pg_atomic_write_u32(&slot->outcome, kFailed);
    FreeErrorData(e);
    AbortOutOfAnyTransaction();
    FlushErrorState();
    RESUME_INTERRUPTS();
    return;
  }
  PG_END_TRY();
  // Committed: only now is the answer "charged" written; a worker that dies before this line
  // leaves kPending, and the caller returns nothing.
  WriteAnswer(slot, charged, n_charged);
  pg_write_barrier();
  pg_atomic_write_u32(&slot->outcome, kCommitted);
}

}  // namespace

// sdp._dp_charge_committed(dataset, caller, login, client, kind, epsilon, delta, params) ->
// text[]: the grantees charged, committed; or sdp._dp_charge's error, re-raised as it was.
SDP_PG_FUNCTION(sdp_dp_charge_committed) {
  namespace pg = sdp::pg;
  std::vector<std::string> args(kArgs);
  std::vector<bool> is_null(kArgs, false);
  const char* names[kArgs] = {"dataset", "caller",  "login", "client",
                              "kind",    "epsilon", "delta", "params"};
  for (int i = 0; i < kArgs; ++i) {
    if (PG_ARGISNULL(i)) {
      if (i != 3)
        throw sdp::Error(sdp::sqlstate::kInvalidParameter, std::string(names[i]) + " is NULL");
      is_null[i] = true;
      continue;
    }
    if (i == 5 || i == 6) {
      Datum d = PG_GETARG_DATUM(i);
      args[i] = pg::PgCall(
          [d] { return std::string(DatumGetCString(DirectFunctionCall1(numeric_out, d))); });
    } else if (i == 7) {
      Datum d = PG_GETARG_DATUM(i);
      args[i] = pg::PgCall(
          [d] { return std::string(DatumGetCString(DirectFunctionCall1(jsonb_out, d))); });
    } else {
      args[i] = pg::TextArg(fcinfo, i);
    }
  }
  ChargeSlot* slot = nullptr;
  dsm_segment* seg = pg::PgCall([&] { return sdp::oneshot::PackArgs(args, is_null, &slot); });
  pg_atomic_init_u32(&slot->outcome, kPending);
  const bool started = pg::PgCall([seg] {
    return sdp::oneshot::StartAndWait(seg, "sdp_dp_charge_main", "sdp privacy charge", kSlotWaitMs);
  });
  if (!started) {
    pg::PgCall([seg] { dsm_detach(seg); });
    sdp::metrics::AddDpQuery(sdp::metrics::DpOutcome::kFailed);
    throw sdp::Error(sdp::sqlstate::kConflict,
                     "the privacy budget cannot be charged now: no free background worker slot; "
                     "retry the request",
                     "", "Raise max_worker_processes if this persists.");
  }

  pg_read_barrier();
  const uint32 outcome = pg_atomic_read_u32(&slot->outcome);
  std::vector<std::string> answer;
  const char* a = slot->answer;
  for (uint32 i = 0; i < slot->answer_items; ++i) {
    answer.emplace_back(a);
    a += answer.back().size() + 1;
  }
  const int code = slot->sqlerrcode;
  pg::PgCall([seg] { dsm_detach(seg); });
  if (outcome == kCommitted) return pg::TextArrayDatum(answer);
  if (outcome == kFailed) {
    char state[6];
    std::memcpy(state, unpack_sql_state(code), 6);
    // A refusal under lock was counted by sdp._dp_refused in the worker; anything else failed.
    if (std::strcmp(state, "PT403") != 0)
      sdp::metrics::AddDpQuery(sdp::metrics::DpOutcome::kFailed);
    throw sdp::Error(state, answer[0], answer[1], answer[2]);
  }
  // The worker exited without committing (killed, or it could not start): nothing was charged.
  sdp::metrics::AddDpQuery(sdp::metrics::DpOutcome::kFailed);
  throw sdp::Error(
      sdp::sqlstate::kConflict,
      "the privacy budget charge did not complete; nothing was charged, retry the request");
}

extern "C" {

void sdp_dp_charge_main(Datum arg) {
  dsm_segment* seg = sdp::oneshot::AttachAndConnect(arg, "sdp privacy charge", nullptr);
  RunCharge(static_cast<ChargeSlot*>(dsm_segment_address(seg)));
  dsm_detach(seg);
  proc_exit(0);
}

}  // extern "C"
