// libpq implementation of ServerTransport (postgresql:// URLs).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/transport/transport.h"

namespace sdp {

// How a postgresql:// URL may be used, decided before any connection is made.
struct PgConnectionPlan {
  // Every host the URL (or PGHOST/PGHOSTADDR) names is a Unix socket or a loopback address:
  // plain text is allowed there, as for http:// to loopback.
  bool loopback_only = false;
  // Connection parameters passed after the URL (they override it): sslmode=verify-full and
  // sslrootcert=SDP_CA_BUNDLE for a remote server, connect_timeout when none is configured.
  std::vector<std::pair<std::string, std::string>> overrides;
  // Longest wait for a connection (connect_timeout for each host the URL names); 0 = none.
  long connect_deadline_seconds = 0;
};

// The URL policy: a server that is not loopback or a Unix socket is reached only with
// sslmode=verify-full and a CA to verify against (sslrootcert in the URL or PGSSLROOTCERT, or
// SDP_CA_BUNDLE). Anything weaker (no sslmode: libpq's "prefer" falls back to plain text when
// the server, or whoever answers, says it has no TLS; require/verify-ca accept any host's
// certificate) is refused with a one-line "…; fix: …" in *err. The URL's values, then libpq's
// environment variables (PGHOST, PGSSLMODE, ...), are what count, as for libpq itself.
bool PlanPgConnection(const TransportOptions& options, PgConnectionPlan* plan, std::string* err);

// nullptr and *err when PlanPgConnection refuses the URL.
std::unique_ptr<ServerTransport> NewPgTransport(const TransportOptions& options, std::string* err);

}  // namespace sdp
