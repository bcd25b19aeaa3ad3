// Include this *last* in a source file that must never see PostgreSQL's headers (code shared with
// the agent, parsers, crypto). It fails the build if pg.h was included before it.
#pragma once

#ifdef SDP_PG_HEADERS_INCLUDED
static_assert(false, "this file must stay free of PostgreSQL headers; do not include pg.h here");
#endif
