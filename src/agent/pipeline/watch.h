// The watch daemon: CSV files dropped into an outbox folder go through the whole round trip
// and come back, merged with their results, in an inbox folder.
//
// Layout under the outbox:
//   *.csv                       waiting (complete once renamed in; or with a NAME.csv.ready marker
//                               when --require-ready is given)
//   .sdp-agent/journal.db       SQLite journal: one row per file and its last completed step
//   .sdp-agent/processing/NAME  the file being worked on (moved there atomically when claimed)
//   .sdp-agent/work/            tokenized files, kept until the file is done
//   done/NAME                   inputs whose merged file is in the inbox
//   failed/NAME, NAME.error     inputs that cannot succeed, with the reason (also *.csv files
//                               whose name is not valid UTF-8, moved there unread)
//
// The state directories (.sdp-agent/ and everything in it, done/, failed/) must be real
// directories owned by the user and not writable by group or others, or Init() refuses to
// start. A claimed file is opened once (O_NOFOLLOW) and read through that descriptor only.
// Logs never stop the daemon: invalid UTF-8 in names, headers or errors becomes U+FFFD.
//
// Crash safety: a file is claimed by rename before any work, every step of the round trip is
// idempotent (the tokenized file is reused, the upload's idempotency key is derived from its
// content), so after kill -9 at any moment the next start resumes the files in processing/
// with no duplicate batch and no lost file. SIGTERM/SIGINT finish the current step and exit 0.
// Transient failures (server down, restarting) are retried with backoff, never moved to failed/.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "agent/pipeline/round_trip.h"
#include "agent/transport/transport.h"

struct sqlite3;

namespace sdp {

struct WatchOptions {
  std::string outbox;
  std::string inbox;
  // What every file's round trip uses (config, vault, client, processing type, key column,
  // dev processor, timeout, chunk size); raw_input, output and tokenized_path are set per file.
  RoundTripOptions round_trip;
  bool once = false;
  bool require_ready = false;
  double poll_seconds = 2;
  double max_backoff_seconds = 60;
};

class Watcher {
 public:
  Watcher(WatchOptions options, ServerTransport* transport);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Creates the folders and opens the journal.
  bool Init(std::string* err);
  // Runs until stopped (or, with --once, until nothing is left). Returns an exit status.
  int Run();

  uint64_t done() const { return done_; }
  uint64_t failed() const { return failed_; }

 private:
  enum class Outcome { kDone, kFailed, kRetryLater, kStopped };

  // Claims and processes every eligible file once; *retry_later when one must be retried.
  bool Sweep(bool* retry_later, bool* worked);
  Outcome Process(const std::string& name);
  bool Claim(const std::string& name, std::string* err);
  void Journal(const std::string& name, const std::string& state, const std::string& batch_id,
               const std::string& error);
  std::string JournalState(const std::string& name);
  // Moves NAME from `from_dir` (processing/ when empty) to failed/ and writes NAME.error.
  void MoveToFailed(const std::string& name, const std::string& reason,
                    const std::string& from_dir = "");
  bool SleepInterruptibly(double seconds);

  WatchOptions options_;
  ServerTransport* transport_;
  std::string state_dir_, processing_dir_, work_dir_, done_dir_, failed_dir_;
  sqlite3* journal_ = nullptr;
  uint64_t done_ = 0;
  uint64_t failed_ = 0;
  std::set<std::string> warned_names_;  // *.csv names skipped as unsupported, logged once
};

// One line on stderr through the agent log (log.h): JSON {"ts","level","event","file",fields...}
// by default, or text with --log-format text; below --log-level it is dropped.
void LogEvent(const char* level, const char* event, const std::string& file,
              const std::string& extra_json_fields);

}  // namespace sdp
