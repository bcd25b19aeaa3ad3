// The background worker that drains RECEIVED batches when sdp.auto_process = on
// (docs/worker.md). Needs sdp in shared_preload_libraries.
#pragma once

#include "pg.h"

namespace sdp::worker {
// Registers the static launcher. Call only from _PG_init while preloading.
void RegisterLauncher();
}  // namespace sdp::worker

extern "C" {
PGDLLEXPORT void sdp_launcher_main(Datum arg);
PGDLLEXPORT void sdp_worker_main(Datum arg);
}
