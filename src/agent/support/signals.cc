// SIGINT/SIGTERM set a flag that long loops poll: a run stops cleanly, nothing half-written.
#include "agent/support/signals.h"

#include <csignal>

namespace sdp {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

volatile std::sig_atomic_t g_stop_requested = 0;

void OnSignal(int) { g_interrupted = 1; }
void OnDaemonSignal(int) { g_stop_requested = 1; }

}  // namespace

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past a file size limit (ulimit -f) a write then fails with EFBIG, reported like a full
  // disk, instead of the signal killing the agent without a word.
  signal(SIGXFSZ, SIG_IGN);
}

bool Interrupted() { return g_interrupted != 0; }

void InstallDaemonSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnDaemonSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past a file size limit (ulimit -f) a write then fails with EFBIG, reported like a full
  // disk, instead of the signal killing the agent without a word.
  signal(SIGXFSZ, SIG_IGN);
}

bool StopRequested() { return g_stop_requested != 0; }

void SetInterruptedForTesting(bool value) { g_interrupted = value ? 1 : 0; }

}  // namespace sdp
