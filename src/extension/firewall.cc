// The server's side of a PII firewall refusal (see firewall.h).
//
// The audit event cannot be written in the caller's transaction: the PT422 that follows rolls it
// back, with everything the upload stored. So, like the privacy budget charge
// (privacy_charge.cc), a short-lived dynamic background worker appends it in a transaction of its
// own (sdp._firewall_audit, 82_firewall.sql) and the caller waits for it to exit. The worker
// connects to the caller's database as the bootstrap superuser with a pinned search_path; the
// caller's role, login and tenant are arguments, so the entry names the caller. It gives up after
// kLockTimeout when the caller itself holds the audit chain's head (an earlier audited statement
// of the same transaction): the refusal is then in the server log and the counter only, and the
// log says the audit entry is missing.
#include <cstring>
#include <string>
#include <vector>

#include "common/shown_value.h"
// Backend headers last (pg.h rule).
#include "firewall.h"
#include "metrics.h"
#include "oneshot_worker.h"
#include "pg_datum.h"

extern "C" {
#include "utils/guc.h"
}

extern "C" {
PGDLLEXPORT void sdp_firewall_audit_main(Datum arg);
}

namespace {

// actor, login, tenant, batch, column, row, class, transform: sdp._firewall_audit's arguments.
constexpr int kArgs = 8;
// The worker waits this long for the audit chain's head before it gives up (see above).
constexpr const char* kLockTimeout = "5s";

struct AuditSlot {
  pg_atomic_uint32 done;             // 1 once the entry is committed
  int32 arg_len[kArgs];              // -1: NULL
  char args[FLEXIBLE_ARRAY_MEMBER];  // the arguments, each NUL-terminated, in order
};

// The worker's side: one transaction, sdp._firewall_audit, commit. C-style.
void RunAudit(AuditSlot* slot) {
  const char* arg[kArgs];
  sdp::oneshot::UnpackArgs(slot, kArgs, arg);
  PG_TRY();
  {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    SPI_connect();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "sdp firewall audit");
    Oid types[kArgs];
    Datum values[kArgs];
    char nulls[kArgs + 1];
    for (int i = 0; i < kArgs; ++i) {
      types[i] = TEXTOID;
      values[i] = arg[i] != nullptr ? CStringGetTextDatum(arg[i]) : (Datum)0;
      nulls[i] = arg[i] != nullptr ? ' ' : 'n';
    }
    nulls[kArgs] = '\0';
    SPI_execute_with_args(
        "SELECT sdp._firewall_audit($1, $2, $3, $4, $5, $6::pg_catalog.int8, $7, $8)", kArgs, types,
        values, nulls, false, 0);
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
    pg_write_barrier();
    pg_atomic_write_u32(&slot->done, 1);
  }
  PG_CATCH();
  {
    HOLD_INTERRUPTS();
    EmitErrorReport();  // the server log says why the entry is missing
    AbortOutOfAnyTransaction();
    FlushErrorState();
    RESUME_INTERRUPTS();
  }
  PG_END_TRY();
}

std::string UuidText(const pg_uuid_t& uuid) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid.data[i] >> 4]);
    out.push_back(kHex[uuid.data[i] & 15]);
  }
  return out;
}

}  // namespace

namespace sdp::firewall {

void RecordRefusal(const Refusal& refusal) {
  namespace pg = sdp::pg;
  sdp::metrics::AddFirewallRejection(static_cast<int>(refusal.cls) - 1);
  const std::string batch = UuidText(refusal.batch);
  const std::string column = EchoedValue(refusal.column);
  const char* cls = sdp::pii::FirewallClassName(refusal.cls);
  const char* transform = sdp::pii::TransformName(refusal.transform);
  // The caller as sdp.sdp_caller_role() names it (the SET ROLE role, else the login), the login,
  // and the authenticated tenant ('' = none).
  std::vector<std::string> args(kArgs);
  std::vector<bool> is_null(kArgs, false);
  pg::PgCall([&] {
    const char* role = GetConfigOption("role", true, false);
    const char* login = GetUserNameFromId(GetSessionUserId(), false);
    const char* tenant = GetConfigOption("sdp.client_id", true, false);
    args[0] = (role == nullptr || role[0] == '\0' || strcmp(role, "none") == 0) ? login : role;
    args[1] = login;
    if (tenant == nullptr || tenant[0] == '\0') {
      is_null[2] = true;
    } else {
      args[2] = tenant;
    }
    ereport(LOG,
            (errmsg("sdp pii firewall refused an upload: client=%s batch=%s column=%s "
                    "row=%lld class=%s transform=%s role=%s login=%s",
                    refusal.client.c_str(), batch.c_str(), column.c_str(),
                    static_cast<long long>(refusal.row), cls, transform, args[0].c_str(), login)));
  });
  args[3] = batch;
  args[4] = refusal.column;
  args[5] = std::to_string(refusal.row);
  args[6] = cls;
  args[7] = transform;

  AuditSlot* slot = nullptr;
  dsm_segment* seg = pg::PgCall([&] { return sdp::oneshot::PackArgs(args, is_null, &slot); });
  pg_atomic_init_u32(&slot->done, 0);
  // No wait for a free slot: the refusal is in the server log and the counter whatever happens.
  const bool started = pg::PgCall([seg] {
    return sdp::oneshot::StartAndWait(seg, "sdp_firewall_audit_main", "sdp firewall audit", 0);
  });
  pg_read_barrier();
  const bool audited = started && pg_atomic_read_u32(&slot->done) == 1;
  pg::PgCall([seg] { dsm_detach(seg); });
  if (!audited) {
    pg::PgCall([&] {
      ereport(WARNING,
              (errmsg("sdp pii firewall: the audit entry of the refusal in batch %s was not "
                      "written (%s); the server log line above records it",
                      batch.c_str(),
                      started ? "the audit worker failed, see its log line"
                              : "no free background worker slot")));
    });
  }
}

}  // namespace sdp::firewall

extern "C" {

void sdp_firewall_audit_main(Datum arg) {
  dsm_segment* seg = sdp::oneshot::AttachAndConnect(arg, "sdp firewall audit", kLockTimeout);
  RunAudit(static_cast<AuditSlot*>(dsm_segment_address(seg)));
  dsm_detach(seg);
  proc_exit(0);
}

}  // extern "C"
