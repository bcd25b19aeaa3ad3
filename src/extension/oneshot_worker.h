// One-shot dynamic background workers: how an extension function gets a short piece of work done
// in a transaction of its own, committed whatever the caller's transaction does next (the privacy
// budget charge, privacy_charge.cc; the PII firewall's audit entry, firewall.cc).
//
// The caller packs text arguments into a DSM segment after a header of its own (PackArgs), starts
// the worker and waits for it to exit (StartAndWait). The worker attaches the segment, connects to
// the caller's database as the bootstrap superuser with a pinned search_path and the settings the
// database's owner could otherwise change (AttachAndConnect), does its transaction and writes its
// answer into the header. The caller's role, login and tenant travel as arguments, so what the
// worker records names the caller.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "pg.h"

extern "C" {
#include "storage/dsm.h"
}

namespace sdp::oneshot {

// A segment holding a zeroed `Slot` followed by `args` (each NUL-terminated, in order; a NULL
// one has length -1). Slot ends with `int32 arg_len[N]; char args[FLEXIBLE_ARRAY_MEMBER];`, N at
// least args.size(). C-style: call through sdp::pg::PgCall.
template <typename Slot>
dsm_segment* PackArgs(const std::vector<std::string>& args, const std::vector<bool>& is_null,
                      Slot** slot) {
  size_t size = offsetof(Slot, args);
  for (size_t i = 0; i < args.size(); ++i) size += is_null[i] ? 0 : args[i].size() + 1;
  dsm_segment* seg = dsm_create(size, 0);
  *slot = static_cast<Slot*>(dsm_segment_address(seg));
  std::memset(*slot, 0, offsetof(Slot, args));
  char* p = (*slot)->args;
  for (size_t i = 0; i < args.size(); ++i) {
    if (is_null[i]) {
      (*slot)->arg_len[i] = -1;
      continue;
    }
    (*slot)->arg_len[i] = static_cast<int32>(args[i].size());
    std::memcpy(p, args[i].c_str(), args[i].size() + 1);
    p += args[i].size() + 1;
  }
  return seg;
}

// The worker's view of PackArgs' arguments: pointers into the segment, nullptr for NULL.
template <typename Slot>
void UnpackArgs(const Slot* slot, int n, const char** arg) {
  const char* p = slot->args;
  for (int i = 0; i < n; ++i) {
    arg[i] = slot->arg_len[i] < 0 ? nullptr : p;
    if (slot->arg_len[i] >= 0) p += slot->arg_len[i] + 1;
  }
}

// Starts `function_name` of library sdp (named `name` in pg_stat_activity) on `seg` and waits
// for it to exit. False when no worker slot came free within slot_wait_ms (0: no wait). The wait
// for a slot and for the exit are interruptible; FATAL if the postmaster dies. C-style: call
// through sdp::pg::PgCall.
bool StartAndWait(dsm_segment* seg, const char* function_name, const char* name, long slot_wait_ms);

// The worker's prologue: SIGTERM ends it, the caller's segment is attached (nullptr: the caller
// is gone, and the worker exits), it connects to the caller's database, pins search_path and the
// transaction settings (PGC_S_OVERRIDE wins over ALTER DATABASE/ROLE ... SET), and an optional
// lock_timeout. Returns the segment; the worker detaches it and calls proc_exit(0) when done.
dsm_segment* AttachAndConnect(Datum arg, const char* name, const char* lock_timeout);

}  // namespace sdp::oneshot
