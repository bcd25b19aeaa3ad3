// Progress reporting on stderr for long runs.
#include "agent/support/progress.h"

#include <unistd.h>

#include <cstdio>

namespace sdp {

Progress::Progress(std::string what, uint64_t total_bytes)
    : what_(std::move(what)),
      total_bytes_(total_bytes),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t rows, uint64_t bytes) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double mbps = seconds > 0 ? bytes / seconds / 1e6 : 0;
  char eta[32] = "";
  if (total_bytes_ > 0 && bytes > 0 && bytes < total_bytes_) {
    std::snprintf(eta, sizeof eta, ", ETA %.0f s", seconds * (total_bytes_ - bytes) / bytes);
  }
  std::fprintf(stderr, "\r%s: %llu rows, %.1f MB/s%s   ", what_.c_str(),
               static_cast<unsigned long long>(rows), mbps, eta);
  drawn_ = true;
}

void Progress::Finish() {
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace sdp
