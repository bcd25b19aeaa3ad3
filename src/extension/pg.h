// The one and only door to PostgreSQL's headers for the sdp extension.
//
// PostgreSQL headers are C, use `register`, define macros such as `Min`, `gettext` and `sprintf`
// replacements that collide with the C++ standard library, and their ereport() longjmps. So: only
// files that talk to the backend include this header, they include it *after* every C++ standard
// header, and files that must stay backend-free (parsers, crypto, anything shared with the agent)
// never include it: pg_free.h turns a violation into a compile error.
#pragma once

#define SDP_PG_HEADERS_INCLUDED 1

// postgres.h must come first, so the include order below is fixed by hand.
// clang-format off
extern "C" {
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/varlena.h"
}
// clang-format on

// postgres.h (port.h) redefines these to its own implementations; C++ code that needs the libc
// versions uses the std:: ones, which these macros would otherwise hijack.
#undef printf
#undef sprintf
#undef snprintf
#undef vsnprintf
#undef fprintf
#undef strerror
