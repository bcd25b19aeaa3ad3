// Shared-memory metrics of the extension (docs/observability.md).
//
// A fixed array of pg_atomic_uint64 counters in shared memory, allocated through the
// pg_stat_statements hook pair (shmem_request_hook + shmem_startup_hook) when sdp is in
// shared_preload_libraries. Every update is one lock-free atomic add; readers (sdp_metrics())
// take no lock either, so a scrape never blocks ingestion. Without preloading there is no
// shared memory: updates are no-ops and sdp_metrics() raises 55000.
//
// Two ways to count:
//  * Add(): now, whatever happens to the transaction. For failures, which usually roll back
//    (auth failures, integrity failures).
//  * AddOnCommit(): kept in backend-local memory and applied when the top-level transaction
//    commits; dropped if it (or the subtransaction that counted) aborts. For work that only
//    exists once committed (records ingested, batches by status, processing latency).
#pragma once

#include <cstdint>
#include <string>

namespace sdp::metrics {

// Counters without labels that C++ and SQL callers may add to by name.
enum class Counter {
  kRecordsIngested,    // sdp_records_ingested_total
  kRecordsProcessed,   // sdp_records_processed_total
  kIngestBytes,        // sdp_ingest_bytes_total
  kAuthFailures,       // sdp_auth_failures_total
  kIntegrityFailures,  // record_integrity_failures_total
};

// Outcomes of a differentially private query (sdp_dp_queries_total{outcome}).
enum class DpOutcome {
  kReleased,  // charged (committed) and answered
  kRefused,   // over a grant or the dataset cap: PT403, nothing charged
  kFailed,    // the charge did not complete (worker failed or never committed): nothing charged
};

// True when the shared memory exists (sdp was preloaded).
bool Available();
// Adds `delta` now (non-transactional). No-op when not Available().
void Add(Counter c, uint64_t delta);
// Adds `delta` when the current top-level transaction commits.
void AddOnCommit(Counter c, uint64_t delta);
// Counts one differentially private query now (non-transactional). No-op when not Available().
void AddDpQuery(DpOutcome outcome);
// Counts one upload the PII firewall refused, now (non-transactional: the refusal rolls back),
// under sdp_pii_firewall_rejections_total{class}; `class_index` is the class's position in
// sdp::pii::FirewallClass without kNone (0 = email). No-op when not Available().
void AddFirewallRejection(int class_index);
// Counter by its exposition name (e.g. "record_integrity_failures_total"); false if unknown.
bool CounterByName(const std::string& name, Counter* out);
// Records that the launcher (the background worker) runs in this process, for sdp_worker_up;
// it is cleared when the process exits.
void SetLauncherAlive();

}  // namespace sdp::metrics

// Called from _PG_init while shared_preload_libraries is processed: installs the shmem hooks
// and the transaction callbacks. C-style.
void SdpMetricsInit();
