// Progress on a terminal: rows, MB/s and ETA on one self-overwriting stderr line, at most a few
// times a second. Silent when stderr is not a TTY (logs, pipes, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sdp {

class Progress {
 public:
  // `total_bytes` 0 = unknown (no ETA).
  Progress(std::string what, uint64_t total_bytes);
  ~Progress();
  void Update(uint64_t rows, uint64_t bytes);
  void Finish();
  bool enabled() const { return enabled_; }

 private:
  std::string what_;
  uint64_t total_bytes_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace sdp
