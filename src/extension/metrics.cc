// Shared-memory metrics and their SQL functions (metrics.h, docs/observability.md).
//
//   sdp.sdp_metrics() RETURNS text                       Prometheus text exposition (0.0.4)
//   sdp.sdp_metrics_count(name text, delta bigint)       add to an unlabelled counter, now
//   sdp._metrics_batch_trigger()                         a batch entered a status (on commit)
//   sdp._metrics_request(path text)                      PostgREST request of this transaction
//   sdp._dp_count_query(outcome text)                    a differentially private query, now
// and sdp_pii_firewall_rejections_total{class}, counted by the loaders (firewall.cc).
//
// Locking rules: there are none. Every metric is a pg_atomic_uint64 updated with
// pg_atomic_fetch_add_u64; a reader sees each counter atomically but not a snapshot across
// counters, so a histogram's _count is derived from its buckets at read time (never
// inconsistent), and the launcher pid is a pg_atomic_uint32. Backend-local state (pending
// on-commit deltas, the current request) is plain POD arrays: nothing here has a destructor.
#include "metrics.h"

#include <sys/types.h>

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/pii/firewall.h"
// Backend headers last (pg.h rule).
#include "pg_datum.h"

namespace sdp::metrics {
namespace {

constexpr const char* kStatuses[] = {"UPLOADING", "RECEIVED", "PROCESSING", "PROCESSED", "FAILED"};
constexpr int kNumStatuses = 5;

struct CounterInfo {
  const char* name;
  const char* help;
};
// In the order of enum Counter.
constexpr CounterInfo kCounters[] = {
    {"sdp_records_ingested_total", "Records accepted into committed batches."},
    {"sdp_records_processed_total", "Records scored by committed batch processing."},
    {"sdp_ingest_bytes_total", "Bytes of batch content received (committed batches)."},
    {"sdp_auth_failures_total", "Rejected API keys (missing, unknown, revoked, wrong client)."},
    {"record_integrity_failures_total",
     "Records whose integrity check failed (tampering detected)."},
};
constexpr int kNumCounters = 5;

// Upper bounds of the processing latency histogram, seconds (2 s is the HighLatency threshold).
constexpr double kLatencyBounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
constexpr const char* kLatencyLabels[] = {"0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                          "1",    "2",     "5",    "10",  "30",   "60"};
constexpr int kNumBounds = 12;

// sdp_api functions (the PostgREST surface); anything else is "other".
constexpr const char* kApiFunctions[] = {
    "health",     "readyz",       "metrics",     "process",       "process_file",
    "batch_open", "batch_append", "batch_seal",  "process_batch", "dev_process_batch",
    "batch",      "results",      "results_csv", "other"};
constexpr int kNumApiFunctions = 14;
constexpr const char* kOutcomes[] = {"ok", "error"};

// Outcomes of a differentially private query, in the order of enum DpOutcome.
constexpr const char* kDpOutcomes[] = {"released", "refused", "failed"};
constexpr int kNumDpOutcomes = 3;

// Slot layout of the shared array.
constexpr int kBatchSlot0 = 0;
constexpr int kCounterSlot0 = kBatchSlot0 + kNumStatuses;
constexpr int kBucketSlot0 = kCounterSlot0 + kNumCounters;  // kNumBounds + 1 (+Inf), not cumulative
constexpr int kLatencySumSlot = kBucketSlot0 + kNumBounds + 1;  // microseconds
constexpr int kApiSlot0 = kLatencySumSlot + 1;                  // [function][outcome]
constexpr int kDpSlot0 = kApiSlot0 + kNumApiFunctions * 2;      // [outcome]
constexpr int kFirewallSlot0 = kDpSlot0 + kNumDpOutcomes;       // [class]
constexpr int kNumSlots = kFirewallSlot0 + sdp::pii::kFirewallClassCount;

struct Shared {
  pg_atomic_uint32 launcher_pid;
  pg_atomic_uint64 slots[kNumSlots];
};

Shared* shared = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

// Deltas waiting for the commit of the top-level transaction, with the subtransaction level
// that counted them (dropped if that subtransaction aborts).
struct Pending {
  int slot;
  int level;
  uint64 delta;
};
constexpr int kMaxPending = 64;
Pending pending[kMaxPending];
int num_pending = 0;
int current_request = -1;  // index into kApiFunctions, or -1

void AddSlot(int slot, uint64 delta) {
  if (shared != nullptr && delta != 0) pg_atomic_fetch_add_u64(&shared->slots[slot], delta);
}

void AddSlotOnCommit(int slot, uint64 delta) {
  if (shared == nullptr || delta == 0) return;
  const int level = GetCurrentTransactionNestLevel();
  for (int i = 0; i < num_pending; ++i) {
    if (pending[i].slot == slot && pending[i].level == level) {
      pending[i].delta += delta;
      return;
    }
  }
  if (num_pending == kMaxPending) {  // cannot happen with the slots we count; never lose data
    AddSlot(slot, delta);
    return;
  }
  pending[num_pending++] = Pending{slot, level, delta};
}

void ObserveLatencyOnCommit(int64 micros) {
  if (micros < 0) micros = 0;
  const double seconds = static_cast<double>(micros) / 1e6;
  int bucket = kNumBounds;  // +Inf
  for (int i = 0; i < kNumBounds; ++i) {
    if (seconds <= kLatencyBounds[i]) {
      bucket = i;
      break;
    }
  }
  AddSlotOnCommit(kBucketSlot0 + bucket, 1);
  AddSlotOnCommit(kLatencySumSlot, static_cast<uint64>(micros));
}

void OnXactEvent(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PREPARE:
      for (int i = 0; i < num_pending; ++i) AddSlot(pending[i].slot, pending[i].delta);
      num_pending = 0;
      if (current_request >= 0) AddSlot(kApiSlot0 + current_request * 2, 1);
      current_request = -1;
      break;
    case XACT_EVENT_ABORT:
      num_pending = 0;
      if (current_request >= 0) AddSlot(kApiSlot0 + current_request * 2 + 1, 1);
      current_request = -1;
      break;
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PARALLEL_COMMIT:
      num_pending = 0;
      break;
    default:
      break;
  }
}

void OnSubXactEvent(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  const int level = GetCurrentTransactionNestLevel();
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    int kept = 0;
    for (int i = 0; i < num_pending; ++i) {
      if (pending[i].level < level) pending[kept++] = pending[i];
    }
    num_pending = kept;
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    // Hand the subtransaction's deltas to its parent, merging them into the parent's entries so
    // a loop of subtransactions (plpgsql EXCEPTION blocks) never fills the array.
    int kept = 0;
    for (int i = 0; i < num_pending; ++i) {
      Pending p = pending[i];
      if (p.level >= level) p.level = level - 1;
      bool merged = false;
      for (int j = 0; j < kept; ++j) {
        if (pending[j].slot == p.slot && pending[j].level == p.level) {
          pending[j].delta += p.delta;
          merged = true;
          break;
        }
      }
      if (!merged) pending[kept++] = p;
    }
    num_pending = kept;
  }
}

void ShmemRequest() {
  if (prev_shmem_request_hook) prev_shmem_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Shared)));
}

void ShmemStartup() {
  if (prev_shmem_startup_hook) prev_shmem_startup_hook();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  Shared* s = static_cast<Shared*>(ShmemInitStruct("sdp metrics", sizeof(Shared), &found));
  if (!found) {
    pg_atomic_init_u32(&s->launcher_pid, 0);
    for (int i = 0; i < kNumSlots; ++i) pg_atomic_init_u64(&s->slots[i], 0);
  }
  LWLockRelease(AddinShmemInitLock);
  shared = s;
}

void ClearLauncher(int, Datum) {
  if (shared != nullptr) pg_atomic_write_u32(&shared->launcher_pid, 0);
}

uint64 Read(int slot) { return pg_atomic_read_u64(&shared->slots[slot]); }

bool WorkerUp() {
  const uint32 pid = pg_atomic_read_u32(&shared->launcher_pid);
  return pid != 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

void AppendLine(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void AppendLine(std::string* out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n > 0) out->append(buf, static_cast<size_t>(n) < sizeof(buf) ? n : sizeof(buf) - 1);
}

void Header(std::string* out, const char* name, const char* help, const char* type) {
  AppendLine(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

std::string Render() {
  std::string out;
  out.reserve(8192);
  Header(&out, "sdp_batches_total", "Batches that entered each status (committed transitions).",
         "counter");
  for (int i = 0; i < kNumStatuses; ++i) {
    AppendLine(&out, "sdp_batches_total{status=\"%s\"} %llu\n", kStatuses[i],
               static_cast<unsigned long long>(Read(kBatchSlot0 + i)));
  }
  for (int i = 0; i < kNumCounters; ++i) {
    Header(&out, kCounters[i].name, kCounters[i].help, "counter");
    AppendLine(&out, "%s %llu\n", kCounters[i].name,
               static_cast<unsigned long long>(Read(kCounterSlot0 + i)));
  }
  Header(&out, "sdp_processing_latency_seconds",
         "Time to score a batch (sdp_process_batch statement, committed PROCESSED batches).",
         "histogram");
  uint64 cumulative = 0;
  for (int i = 0; i < kNumBounds; ++i) {
    cumulative += Read(kBucketSlot0 + i);
    AppendLine(&out, "sdp_processing_latency_seconds_bucket{le=\"%s\"} %llu\n", kLatencyLabels[i],
               static_cast<unsigned long long>(cumulative));
  }
  cumulative += Read(kBucketSlot0 + kNumBounds);
  AppendLine(&out, "sdp_processing_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
             static_cast<unsigned long long>(cumulative));
  AppendLine(&out, "sdp_processing_latency_seconds_sum %.6f\n",
             static_cast<double>(Read(kLatencySumSlot)) / 1e6);
  AppendLine(&out, "sdp_processing_latency_seconds_count %llu\n",
             static_cast<unsigned long long>(cumulative));
  Header(&out, "sdp_api_requests_total",
         "PostgREST requests by sdp_api function and outcome (ok = committed).", "counter");
  for (int f = 0; f < kNumApiFunctions; ++f) {
    for (int o = 0; o < 2; ++o) {
      AppendLine(&out, "sdp_api_requests_total{function=\"%s\",outcome=\"%s\"} %llu\n",
                 kApiFunctions[f], kOutcomes[o],
                 static_cast<unsigned long long>(Read(kApiSlot0 + f * 2 + o)));
    }
  }
  Header(&out, "sdp_dp_queries_total",
         "Differentially private queries by outcome (released = charged and answered, refused = "
         "over budget, failed = the charge did not complete).",
         "counter");
  for (int i = 0; i < kNumDpOutcomes; ++i) {
    AppendLine(&out, "sdp_dp_queries_total{outcome=\"%s\"} %llu\n", kDpOutcomes[i],
               static_cast<unsigned long long>(Read(kDpSlot0 + i)));
  }
  Header(&out, "sdp_pii_firewall_rejections_total",
         "Uploads the PII firewall refused (PT422), by the class of the first refused cell.",
         "counter");
  for (int i = 0; i < sdp::pii::kFirewallClassCount; ++i) {
    AppendLine(&out, "sdp_pii_firewall_rejections_total{class=\"%s\"} %llu\n",
               sdp::pii::FirewallClassName(static_cast<sdp::pii::FirewallClass>(i + 1)),
               static_cast<unsigned long long>(Read(kFirewallSlot0 + i)));
  }
  Header(&out, "sdp_worker_up", "1 while the sdp background worker launcher is running.", "gauge");
  AppendLine(&out, "sdp_worker_up %d\n", WorkerUp() ? 1 : 0);
  return out;
}

// The per-dataset privacy gauges (sdp_dp_epsilon_spent, sdp_dp_epsilon_cap) as rendered by
// sdp._metrics_dp_datasets() (80_privacy.sql), which reads sdp.dp_dataset at scrape time; "" on a
// 0.1.0 catalog, which has no such function. Returned in the caller's memory context. C-style (SPI,
// may ereport).
char* DatasetGauges() {
  MemoryContext caller = CurrentMemoryContext;
  char* result = nullptr;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  if (SPI_execute("SELECT pg_catalog.to_regprocedure('sdp._metrics_dp_datasets()') IS NOT NULL",
                  true, 1) == SPI_OK_SELECT &&
      SPI_processed == 1) {
    bool isnull = true;
    const Datum exists = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (!isnull && DatumGetBool(exists) &&
        SPI_execute("SELECT sdp._metrics_dp_datasets()", true, 1) == SPI_OK_SELECT &&
        SPI_processed == 1) {
      char* text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
      if (text != nullptr) result = MemoryContextStrdup(caller, text);
    }
  }
  SPI_finish();
  return result;
}

void RequireShared() {
  if (shared == nullptr) {
    throw sdp::Error(sdp::sqlstate::kObjectNotInPrerequisiteState,
                     "sdp metrics are not available: sdp must be loaded via "
                     "shared_preload_libraries",
                     "", "add sdp to shared_preload_libraries in postgresql.conf and restart");
  }
}

}  // namespace

bool Available() { return shared != nullptr; }

void Add(Counter c, uint64_t delta) { AddSlot(kCounterSlot0 + static_cast<int>(c), delta); }

void AddOnCommit(Counter c, uint64_t delta) {
  AddSlotOnCommit(kCounterSlot0 + static_cast<int>(c), delta);
}

void AddDpQuery(DpOutcome outcome) { AddSlot(kDpSlot0 + static_cast<int>(outcome), 1); }

void AddFirewallRejection(int class_index) {
  if (class_index >= 0 && class_index < sdp::pii::kFirewallClassCount) {
    AddSlot(kFirewallSlot0 + class_index, 1);
  }
}

bool CounterByName(const std::string& name, Counter* out) {
  for (int i = 0; i < kNumCounters; ++i) {
    if (name == kCounters[i].name) {
      *out = static_cast<Counter>(i);
      return true;
    }
  }
  return false;
}

void SetLauncherAlive() {
  if (shared == nullptr) return;
  pg_atomic_write_u32(&shared->launcher_pid, static_cast<uint32>(MyProcPid));
  before_shmem_exit(ClearLauncher, 0);
}

}  // namespace sdp::metrics

void SdpMetricsInit() {
  using namespace sdp::metrics;
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = ShmemRequest;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = ShmemStartup;
  RegisterXactCallback(OnXactEvent, nullptr);
  RegisterSubXactCallback(OnSubXactEvent, nullptr);
}

// sdp.sdp_metrics() RETURNS text: every metric in the Prometheus text exposition format 0.0.4.
// 55000 when sdp is not preloaded.
SDP_PG_FUNCTION(sdp_metrics) {
  sdp::metrics::RequireShared();
  std::string out = sdp::metrics::Render();
  const char* gauges = sdp::pg::PgCall([] { return sdp::metrics::DatasetGauges(); });
  if (gauges != nullptr) out += gauges;
  return sdp::pg::TextDatum(out);
}

// sdp.sdp_metrics_count(name text, delta bigint) RETURNS boolean: adds delta (>= 0) to the
// unlabelled counter `name` now, whatever happens to the transaction. false when metrics are
// not available (not preloaded); 22023 for an unknown name or a negative delta.
SDP_PG_FUNCTION(sdp_metrics_count) {
  sdp::pg::RequireArgs(fcinfo, {"name", "delta"});
  const std::string name = sdp::pg::TextArg(fcinfo, 0);
  const int64 delta = PG_GETARG_INT64(1);
  sdp::metrics::Counter c;
  if (!sdp::metrics::CounterByName(name, &c)) {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter, "unknown counter \"" + name + "\"", "",
                     "one of sdp_records_ingested_total, sdp_records_processed_total, "
                     "sdp_ingest_bytes_total, sdp_auth_failures_total, "
                     "record_integrity_failures_total");
  }
  if (delta < 0) {
    throw sdp::Error(sdp::sqlstate::kInvalidParameter, "counters only go up: delta must be >= 0");
  }
  sdp::metrics::Add(c, static_cast<uint64_t>(delta));
  return BoolGetDatum(sdp::metrics::Available());
}

namespace {

// The int8 column `name` of `tuple`, 0 if absent or NULL. C-style (may ereport).
int64 Int8Column(HeapTuple tuple, TupleDesc desc, const char* name) {
  const int attnum = SPI_fnumber(desc, name);
  if (attnum <= 0) return 0;
  bool isnull = false;
  const Datum d = heap_getattr(tuple, attnum, desc, &isnull);
  return isnull ? 0 : DatumGetInt64(d);
}

struct BatchRow {
  char status[NAMEDATALEN];
  int64 accepted;
  int64 bytes;
  int64 processed;
};

// Copies what the metrics need out of the trigger's new row. C-style (may ereport).
bool ReadBatchRow(FunctionCallInfo fcinfo, BatchRow* out) {
  if (!CALLED_AS_TRIGGER(fcinfo)) return false;
  TriggerData* td = reinterpret_cast<TriggerData*>(fcinfo->context);
  HeapTuple tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
  TupleDesc desc = RelationGetDescr(td->tg_relation);
  const int status_att = SPI_fnumber(desc, "status");
  bool isnull = true;
  const Datum status = status_att > 0 ? heap_getattr(tuple, status_att, desc, &isnull) : 0;
  if (isnull) return false;
  char* label = DatumGetCString(DirectFunctionCall1(enum_out, status));
  strlcpy(out->status, label, sizeof(out->status));
  pfree(label);
  out->accepted = Int8Column(tuple, desc, "accepted_records");
  out->bytes = Int8Column(tuple, desc, "received_bytes");
  out->processed = Int8Column(tuple, desc, "processed_records");
  return true;
}

}  // namespace

// sdp._metrics_batch_trigger() RETURNS trigger: AFTER INSERT / UPDATE OF status on
// sdp.processing_batch, so every status change counts whoever makes it (SQL API, worker,
// operator). On commit: sdp_batches_total{status}; RECEIVED adds records ingested and bytes;
// PROCESSED adds records processed and observes the latency of the current statement
// (sdp_process_batch) in the histogram. Written in C: a plpgsql trigger cost ~0.3 ms a batch.
SDP_PG_FUNCTION(sdp_metrics_batch_trigger) {
  using namespace sdp::metrics;
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw sdp::Error("39P01", "sdp._metrics_batch_trigger() must be called as a trigger");
  }
  BatchRow row;
  if (shared == nullptr || !sdp::pg::PgCall([&] { return ReadBatchRow(fcinfo, &row); })) {
    return PointerGetDatum(nullptr);
  }
  for (int i = 0; i < kNumStatuses; ++i) {
    if (std::strcmp(row.status, kStatuses[i]) == 0) AddSlotOnCommit(kBatchSlot0 + i, 1);
  }
  if (std::strcmp(row.status, "RECEIVED") == 0) {
    if (row.accepted > 0) AddOnCommit(Counter::kRecordsIngested, row.accepted);
    if (row.bytes > 0) AddOnCommit(Counter::kIngestBytes, row.bytes);
  } else if (std::strcmp(row.status, "PROCESSED") == 0) {
    if (row.processed > 0) AddOnCommit(Counter::kRecordsProcessed, row.processed);
    ObserveLatencyOnCommit(GetCurrentTimestamp() - GetCurrentStatementStartTimestamp());
  }
  return PointerGetDatum(nullptr);
}

namespace {

// Whether this session's transactions may count as PostgREST requests: PostgREST logs in as
// sdp_authenticator, and a superuser's session may emulate it (sql/setup.sql, regress.request).
// Any other login holding EXECUTE (every role PostgREST switches to must, for pre_request) could
// otherwise inflate sdp_api_requests_total at will, one request per transaction of a loop. The
// session user is fixed at login (SET SESSION AUTHORIZATION needs a superuser), unlike the
// current role. C-style (may ereport).
bool SessionCountsRequests() {
  const Oid session = GetSessionUserId();
  if (superuser_arg(session)) return true;
  const char* name = GetUserNameFromId(session, true);
  return name != nullptr && std::strcmp(name, "sdp_authenticator") == 0;
}

}  // namespace

// sdp._metrics_request(path text) RETURNS void: called by sdp_api.pre_request; the request
// (/rpc/<function>) is counted when its transaction ends: outcome ok on commit, error on abort.
// A no-op outside PostgREST's sessions (SessionCountsRequests).
SDP_PG_FUNCTION(sdp_metrics_request) {
  using namespace sdp::metrics;
  if (!sdp::pg::PgCall([] { return SessionCountsRequests(); })) return (Datum)0;
  std::string fn = sdp::pg::ArgIsNull(fcinfo, 0) ? std::string() : sdp::pg::TextArg(fcinfo, 0);
  if (fn.rfind("/rpc/", 0) == 0) fn = fn.substr(5);
  int index = kNumApiFunctions - 1;  // other
  for (int i = 0; i < kNumApiFunctions - 1; ++i) {
    if (fn == kApiFunctions[i]) index = i;
  }
  current_request = index;
  return (Datum)0;
}

// sdp._dp_count_query(outcome text) RETURNS void: one differentially private query released,
// refused or failed, counted now in sdp_dp_queries_total{outcome} (a refusal is followed by an
// error that rolls the transaction back; a release's charge is already committed). 22023 for an
// unknown outcome; a no-op when sdp is not preloaded.
SDP_PG_FUNCTION(sdp_metrics_dp_query) {
  using namespace sdp::metrics;
  sdp::pg::RequireArgs(fcinfo, {"outcome"});
  const std::string outcome = sdp::pg::TextArg(fcinfo, 0);
  for (int i = 0; i < kNumDpOutcomes; ++i) {
    if (outcome == kDpOutcomes[i]) {
      AddDpQuery(static_cast<DpOutcome>(i));
      return (Datum)0;
    }
  }
  throw sdp::Error(sdp::sqlstate::kInvalidParameter, "unknown outcome \"" + outcome + "\"", "",
                   "one of released, refused, failed");
}
