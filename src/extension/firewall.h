// What the server does when the PII firewall refuses an upload (82_firewall.sql,
// docs/pii_firewall.md): count it, log it and audit it, in ways that survive the PT422 that rolls
// the upload back. The cell check itself is src/common/pii/firewall.h.
#pragma once

#include <cstdint>
#include <string>

#include "common/pii/firewall.h"
#include "pg_bridge.h"

namespace sdp::firewall {

struct Refusal {
  pg_uuid_t batch;
  std::string client;  // the client the upload is for
  std::string column;  // as the upload names it (echoed through EchoedValue before it is shown)
  int64_t row = 0;     // 1-based data row of the batch
  sdp::pii::FirewallClass cls = sdp::pii::FirewallClass::kNone;
  sdp::pii::Transform transform = sdp::pii::Transform::kClear;
};

// Counts the refusal in sdp_pii_firewall_rejections_total{class} (now, not on commit), writes one
// server log line and appends a firewall.refused audit event in a transaction of its own (a
// short-lived background worker): the caller's transaction is about to be rolled back. Never the
// value. Bridge-safe: call from C++ frames; a failure to audit is logged, never raised.
void RecordRefusal(const Refusal& refusal);

}  // namespace sdp::firewall
