// Module entry points: PG_MODULE_MAGIC, _PG_init and sdp_version().
#include <string>

#include "pg_bridge.h"

extern "C" {
PG_MODULE_MAGIC;
}

// The library version, to compare against the SQL-level extension version after an upgrade.
SDP_PG_FUNCTION(sdp_version) {
  return sdp::pg::PgCall([] { return CStringGetTextDatum(SDP_VERSION); });
}
