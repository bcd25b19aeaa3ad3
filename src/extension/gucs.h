// The sdp.* configuration parameters (GUCs). All are defined in gucs.cc by DefineSdpGucs(), which
// _PG_init calls; C++ code reads the variables below directly (they are plain ints/bools owned
// by the GUC machinery, never written by us).
#pragma once

namespace sdp::guc {

// sdp.env: 'prod' (default) or 'dev'. PGC_SUSET: only a superuser can switch a session to dev.
enum Env { kEnvProd = 0, kEnvDev = 1 };
extern int env;
// sdp.auto_process: the background worker drains RECEIVED batches when on. PGC_SIGHUP.
extern bool auto_process;
// sdp.max_batch_bytes: largest batch body accepted (whole CSV/JSON, or all chunks). PGC_SUSET.
extern int max_batch_bytes;
// sdp.worker_naptime: milliseconds between two scans of the launcher. PGC_SIGHUP.
extern int worker_naptime_ms;
// sdp.worker_databases: '*' (every database that accepts connections and has the extension) or
// a comma-separated list of database names. PGC_SIGHUP.
extern char* worker_databases;
// sdp.pii_firewall: the PII firewall checks every ingested cell (on, the default). PGC_SUSET:
// only a superuser may turn it off (to measure its cost, docs/pii_firewall.md).
extern bool pii_firewall;

}  // namespace sdp::guc

// Defines every sdp.* GUC, then reserves the prefix. Called once from _PG_init. C-style: it only
// calls the backend (which may ereport), it owns nothing with a destructor.
void DefineSdpGucs();
