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

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/uuid.h"
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
