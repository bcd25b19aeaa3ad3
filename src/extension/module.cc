// Module entry points: PG_MODULE_MAGIC, _PG_init and sdp_version().
#include <string>

#include "gucs.h"
#include "metrics.h"
#include "pg_datum.h"
#include "worker.h"

extern "C" {
PG_MODULE_MAGIC;

// Defines the sdp.* GUCs and, when loaded through shared_preload_libraries, registers the
// background worker launcher (docs/worker.md) and the shared-memory metrics
// (docs/observability.md). Loaded any other way (LOAD, or on first use of a function) the GUCs
// exist but there is no worker and no metrics: sdp.auto_process then has no effect, sdp_ready()
// reports the worker as missing when auto_process is on, and sdp_metrics() raises 55000. C-style
// body: the calls below may ereport and nothing here has a destructor.
void _PG_init(void) {
  DefineSdpGucs();
  if (!process_shared_preload_libraries_in_progress) return;
  sdp::worker::RegisterLauncher();
  SdpMetricsInit();  // shared-memory metrics (docs/observability.md)
}
}

// The library version, to compare against the SQL-level extension version after an upgrade.
SDP_PG_FUNCTION(sdp_version) { return sdp::pg::TextDatum(SDP_VERSION); }
