// Every sdp.* GUC lives here, so the contexts (who may change what, and when) can be reviewed in
// one place (docs/style.md, extension 12).
#include "gucs.h"

#include <climits>

#include "pg.h"

namespace sdp::guc {

int env = kEnvProd;
bool auto_process = false;
int max_batch_bytes = 256 * 1024 * 1024;
int worker_naptime_ms = 5000;
char* worker_databases = nullptr;
bool pii_firewall = true;

namespace {
const struct config_enum_entry kEnvOptions[] = {
    {"prod", kEnvProd, false},
    {"dev", kEnvDev, false},
    {nullptr, 0, false},
};
}  // namespace

}  // namespace sdp::guc

void DefineSdpGucs() {
  using namespace sdp::guc;

  // ---- data path (ingestion, processing, worker) -------------------------------------------
  DefineCustomEnumVariable(
      "sdp.env", "Environment of this server: prod (default) or dev.",
      "dev enables the dev-only entry points (sdp_dev_process_batch), dev-only models and "
      "batches; in prod they answer as if they did not exist (PT404).",
      &env, kEnvProd, kEnvOptions, PGC_SUSET, 0, nullptr, nullptr, nullptr);

  DefineCustomBoolVariable("sdp.auto_process",
                           "Let the background worker process RECEIVED batches.",
                           "Needs sdp in shared_preload_libraries; see docs/worker.md.",
                           &auto_process, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);

  DefineCustomIntVariable(
      "sdp.max_batch_bytes", "Largest batch accepted, in bytes (whole body or all chunks).",
      "Bigger uploads fail with SQLSTATE PT413 (HTTP 413).", &max_batch_bytes, 256 * 1024 * 1024, 1,
      INT_MAX, PGC_SUSET, GUC_UNIT_BYTE, nullptr, nullptr, nullptr);

  DefineCustomBoolVariable(
      "sdp.pii_firewall", "Check every ingested cell with the PII firewall.",
      "Off only to measure its cost: uploads with raw PII are then stored (docs/pii_firewall.md).",
      &pii_firewall, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);

  DefineCustomIntVariable("sdp.worker_naptime",
                          "Time between two scans of the sdp background worker.", nullptr,
                          &worker_naptime_ms, 5000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
                          nullptr, nullptr, nullptr);

  DefineCustomStringVariable(
      "sdp.worker_databases", "Databases the sdp background worker processes.",
      "'*' = every database that accepts connections and has the sdp extension; otherwise a "
      "comma-separated list of database names.",
      &worker_databases, "*", PGC_SIGHUP, GUC_LIST_INPUT, nullptr, nullptr, nullptr);

  // ---- tenant / auth (used by src/extension/auth*.cc); defined before the prefix is reserved --
  // sdp.client_id: the tenant a request was authenticated as (docs/security.md). PGC_SUSET, so
  // only a superuser (in practice sdp.sdp_authenticate(), SECURITY DEFINER, owned by the
  // superuser that created the extension) can set it; a plain sdp_client session gets 42501.
  // Read through sdp.sdp_auth_tenant() / sdp.sdp_current_client(), never directly.
  static char* client_id = nullptr;
  DefineCustomStringVariable(
      "sdp.client_id", "Client the current request was authenticated as (set by sdp_authenticate).",
      "Empty = none. Superuser-only: set LOCAL by sdp.sdp_authenticate() after verifying the "
      "client's API key; read through sdp.sdp_current_client().",
      &client_id, "", PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
  // <<<

  // Must stay last: after this, `SET sdp.anything_else` is an error.
  MarkGUCPrefixReserved("sdp");
}
