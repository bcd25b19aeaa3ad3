// The watch daemon: an outbox directory processed file by file, with state that survives restarts.
#include "agent/pipeline/watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>
#include <vector>

#include "agent/support/exit_status.h"
#include "agent/support/log.h"
#include "agent/support/signals.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

bool MakeDir(const std::string& path, std::string* err) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
    *err = path + " exists and is not a directory; fix: remove or rename it";
    return false;
  }
  *err = "cannot create " + path + ": " + std::strerror(errno) + "; fix: check permissions";
  return false;
}

// The daemon's own directories (state under .sdp-agent/, done/, failed/) hold raw files and
// decide what gets uploaded: whoever else can write into them can swap a claimed file, plant a
// symlink or forge the journal. Each must be a real directory (not a symlink), owned by the user
// running the daemon and not writable by group or others; otherwise watch refuses to start.
bool CheckStateDir(const std::string& path, std::string* err) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    *err = "cannot inspect " + path + ": " + std::strerror(errno) + "; fix: check permissions";
    return false;
  }
  if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
    *err = "unsafe state directory " + path +
           ": not a directory (a symlink or another file); fix: remove it, sdp-agent creates it";
    return false;
  }
  if (st.st_uid != ::geteuid()) {
    *err = "unsafe state directory " + path + ": owned by uid " + std::to_string(st.st_uid) +
           ", not by uid " + std::to_string(::geteuid()) +
           " running sdp-agent; fix: check its content, then chown it to this user or remove it";
    return false;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *err = "unsafe state directory " + path + ": writable by group or others (mode " + mode +
           "); fix: check its content, then chmod 700 " + path;
    return false;
  }
  return true;
}

// True when `s` is valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF).
bool IsValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Replaces every occurrence of `from` in *s with `to`.
void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t at = s->find(from); at != std::string::npos; at = s->find(from, at + to.size())) {
    s->replace(at, from.size(), to);
  }
}

// Only plain names: no path separators, no hidden files, a .csv suffix. Anything else in the
// outbox (symlinks, directories, ../ tricks) is never followed or read.
bool IsCandidateName(const std::string& name) {
  if (name.size() < 5 || name[0] == '.' || name.substr(name.size() - 4) != ".csv") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '+' || c == '@' || c == ' ';
    if (!ok) return false;
  }
  return true;
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

void LogEvent(const char* level, const char* event, const std::string& file,
              const std::string& extra_json_fields) {
  // Format (json/text) and the level filter come from --log-format / --log-level (log.h).
  log::Level parsed = log::Level::kInfo;
  log::ParseLevel(level, &parsed);
  log::Event(parsed, event, file, extra_json_fields);
}

Watcher::Watcher(WatchOptions options, ServerTransport* transport)
    : options_(std::move(options)), transport_(transport) {}

Watcher::~Watcher() {
  if (journal_ != nullptr) sqlite3_close(journal_);
}

bool Watcher::Init(std::string* err) {
  state_dir_ = options_.outbox + "/.sdp-agent";
  processing_dir_ = state_dir_ + "/processing";
  work_dir_ = state_dir_ + "/work";
  done_dir_ = options_.outbox + "/done";
  failed_dir_ = options_.outbox + "/failed";
  for (const std::string& dir : {options_.outbox, options_.inbox, state_dir_, processing_dir_,
                                 work_dir_, done_dir_, failed_dir_}) {
    if (!MakeDir(dir, err)) return false;
  }
  // Claimed files are read through /proc/self/fd (Process): without /proc every file would fail.
  if (::access("/proc/self/fd", X_OK) != 0) {
    const std::string cause = std::strerror(errno);
    *err = "watch reads claimed files through /proc/self/fd: " + cause +
           "; fix: run sdp-agent where /proc is mounted";
    return false;
  }
  // The outbox and inbox may be shared drop folders; the daemon's own directories may not.
  for (const std::string& dir : {state_dir_, processing_dir_, work_dir_, done_dir_, failed_dir_}) {
    if (!CheckStateDir(dir, err)) return false;
  }
  const std::string path = state_dir_ + "/journal.db";
  if (sqlite3_open(path.c_str(), &journal_) != SQLITE_OK) {
    *err = "journal " + path + ": " + sqlite3_errmsg(journal_);
    return false;
  }
  sqlite3_busy_timeout(journal_, 5000);
  char* msg = nullptr;
  if (sqlite3_exec(journal_,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE IF NOT EXISTS watched_file ("
                   "  name TEXT PRIMARY KEY, state TEXT NOT NULL, batch_id TEXT,"
                   "  error TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
                   "  updated_at TEXT NOT NULL)",
                   nullptr, nullptr, &msg) != SQLITE_OK) {
    *err = "journal " + path + ": " + (msg ? msg : "cannot initialise");
    sqlite3_free(msg);
    return false;
  }
  return true;
}

void Watcher::Journal(const std::string& name, const std::string& state,
                      const std::string& batch_id, const std::string& error) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(journal_,
                     "INSERT INTO watched_file(name, state, batch_id, error, attempts, updated_at) "
                     "VALUES (?1, ?2, nullif(?3, ''), nullif(?4, ''), 1, ?5) "
                     "ON CONFLICT(name) DO UPDATE SET state = ?2, "
                     "batch_id = coalesce(nullif(?3, ''), batch_id), error = nullif(?4, ''), "
                     "attempts = attempts + (?2 = 'claimed'), updated_at = ?5",
                     -1, &stmt, nullptr);
  const std::string now = log::NowIso();
  sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, state.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 3, batch_id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 4, error.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 5, now.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(stmt) != SQLITE_DONE) {
    LogEvent("warn", "journal_write_failed", name,
             "\"error\":" + log::JsonString(sqlite3_errmsg(journal_)));
  }
  sqlite3_finalize(stmt);
}

std::string Watcher::JournalState(const std::string& name) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(journal_, "SELECT state FROM watched_file WHERE name = ?1", -1, &stmt,
                     nullptr);
  sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  std::string state;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    state = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return state;
}

bool Watcher::Claim(const std::string& name, std::string* err) {
  const std::string from = options_.outbox + "/" + name;
  const std::string to = processing_dir_ + "/" + name;
  if (IsRegularFile(to)) {
    *err = "a file named " + name + " is already being processed; it will be picked up after";
    return false;
  }
  if (::rename(from.c_str(), to.c_str()) != 0) {
    *err = "cannot claim " + from + ": " + std::strerror(errno);
    return false;
  }
  ::unlink((from + ".ready").c_str());
  // The name was checked with lstat before the rename, but someone with write access to the
  // outbox can swap the file for a symlink in between. processing/ is ours (0700), so checking
  // again after the rename closes the race: a symlink is never opened and followed.
  if (!IsRegularFile(to)) {
    Journal(name, "claimed", "", "");
    MoveToFailed(name,
                 "not a regular file (replaced by a symlink or a special file while being picked "
                 "up); nothing was read; fix: rename a complete regular file into the outbox");
    *err = "not a regular file; moved to failed/";
    return false;
  }
  Journal(name, "claimed", "", "");
  return true;
}

void Watcher::MoveToFailed(const std::string& name, const std::string& reason,
                           const std::string& from_dir) {
  const std::string target = failed_dir_ + "/" + name;
  ::rename(((from_dir.empty() ? processing_dir_ : from_dir) + "/" + name).c_str(), target.c_str());
  // O_NOFOLLOW: a symlink planted at failed/NAME.csv.error must not redirect the write.
  const std::string error_path = target + ".error";
  ::unlink(error_path.c_str());
  const ScopedFd fd(
      ::open(error_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.valid()) {
    const std::string line = log::NowIso() + " " + reason + "\n";
    if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      LogEvent("warn", "error_file_write_failed", name, "");
    }
  } else {
    LogEvent("warn", "error_file_write_failed", name,
             "\"error\":" + log::JsonString(std::strerror(errno)));
  }
  Journal(name, "failed", "", reason);
  ++failed_;
}

Watcher::Outcome Watcher::Process(const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  // Opened once, without following a symlink, and checked on the descriptor: every later read
  // (hash, tokenize, key check, join) goes through /proc/self/fd/N, i.e. this very file, whatever
  // is at the path by then.
  const std::string claimed = processing_dir_ + "/" + name;
  const ScopedFd fd(
      ::open(claimed.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string cause = !fd.valid() ? std::strerror(errno) : "not a regular file";
    LogEvent("error", "file_failed", name, "\"error\":" + log::JsonString(cause));
    MoveToFailed(name, "cannot open the claimed file (" + cause +
                           "); nothing was read; fix: rename a complete regular file into the "
                           "outbox");
    return Outcome::kFailed;
  }
  RoundTripOptions rt = options_.round_trip;
  rt.raw_input = "/proc/self/fd/" + std::to_string(fd.get());
  rt.output = options_.inbox + "/" + name;
  rt.tokenized_path = work_dir_ + "/" + name + ".tokenized.csv";
  RoundTripResult result;
  Failure failure;
  auto on_step = [&](const char* step, const RoundTripResult& r) {
    Journal(name, step, r.batch.batch_id, "");
    std::string fields;
    if (!r.batch.batch_id.empty()) fields = "\"batch_id\":\"" + r.batch.batch_id + "\"";
    LogEvent("info", step, name, fields);
  };
  const bool ok = RunRoundTrip(rt, transport_, &result, &failure, on_step);
  // Messages name the claimed file, not the descriptor it was read through.
  ReplaceAll(&failure.message, rt.raw_input, claimed);
  if (!ok) {
    char timing[64];
    std::snprintf(timing, sizeof timing, ",\"seconds\":%.3f",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const std::string batch =
        result.batch.batch_id.empty() ? "" : ",\"batch_id\":\"" + result.batch.batch_id + "\"";
    if (failure.exit_code == kExitRetryable) {
      Journal(name, JournalState(name), "", failure.message);
      LogEvent("warn", "retry_later", name,
               "\"error\":" + log::JsonString(failure.message) + batch + timing);
      return Outcome::kRetryLater;
    }
    if (failure.exit_code == kExitInterrupted) return Outcome::kStopped;
    LogEvent("error", "file_failed", name,
             "\"error\":" + log::JsonString(failure.message) + batch + timing);
    MoveToFailed(name, failure.message);
    return Outcome::kFailed;
  }
  // The merged file is in the inbox (atomically); only now does the input leave processing/.
  ::rename((processing_dir_ + "/" + name).c_str(), (done_dir_ + "/" + name).c_str());
  ::unlink(rt.tokenized_path.c_str());
  ::unlink((rt.tokenized_path + ".source").c_str());
  Journal(name, "done", result.batch.batch_id, "");
  ++done_;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char fields[320];
  std::snprintf(fields, sizeof fields,
                "\"batch_id\":\"%s\",\"rows\":%lld,\"matched_rows\":%llu,"
                "\"keys_with_several_results\":%llu,\"disagreeing_keys\":%llu,\"seconds\":%.3f",
                result.batch.batch_id.c_str(),
                static_cast<long long>(result.batch.accepted_records),
                static_cast<unsigned long long>(result.integrate.matched_rows),
                static_cast<unsigned long long>(result.integrate.keys_with_several_results),
                static_cast<unsigned long long>(result.integrate.disagreeing_keys), seconds);
  LogEvent("info", "file_done", name, fields);
  return Outcome::kDone;
}

bool Watcher::Sweep(bool* retry_later, bool* worked) {
  *retry_later = false;
  *worked = false;
  // First whatever a previous run left in processing/ (killed mid-way), then new files.
  std::vector<std::string> queue;
  for (const auto& name : ListDir(processing_dir_)) {
    if (IsCandidateName(name) && IsRegularFile(processing_dir_ + "/" + name)) {
      queue.push_back(name);
    }
  }
  const size_t resumed = queue.size();
  for (const auto& name : ListDir(options_.outbox)) {
    if (!IsValidUtf8(name) && name[0] != '.' && name.size() > 4 &&
        name.compare(name.size() - 4, 4, ".csv") == 0 &&
        IsRegularFile(options_.outbox + "/" + name)) {
      // A name that is not UTF-8 cannot be shown exactly in a log, a journal or an error: set
      // it aside in failed/ (unread) with the reason, instead of warning about it forever.
      LogEvent("warn", "file_failed", name,
               "\"error\":\"file name is not valid UTF-8\",\"fix\":\"rename it using only "
               "letters, digits and . _ - + @ space\"");
      Journal(name, "claimed", "", "");
      MoveToFailed(name,
                   "file name is not valid UTF-8; nothing was read; fix: rename it using only "
                   "letters, digits and . _ - + @ space and move it back into the outbox",
                   options_.outbox);
      *worked = true;
      continue;
    }
    if (!IsCandidateName(name)) {
      // A visible *.csv the daemon will not touch (e.g. "Q3 (final).csv", a newline in the
      // name): say so once instead of leaving the user waiting for a result.
      const bool looks_like_input =
          name.size() > 4 && name[0] != '.' && name.compare(name.size() - 4, 4, ".csv") == 0;
      if (looks_like_input && warned_names_.insert(name).second) {
        LogEvent("warn", "skipped_unsupported_name", name,
                 "\"fix\":\"rename it using only letters, digits and . _ - + @ space\"");
      }
      continue;
    }
    const std::string path = options_.outbox + "/" + name;
    if (!IsRegularFile(path)) {
      LogEvent("warn", "skipped_not_a_regular_file", name, "");
      continue;
    }
    if (options_.require_ready && !IsRegularFile(path + ".ready")) continue;
    queue.push_back(name);
  }
  for (size_t i = 0; i < queue.size(); ++i) {
    if (StopRequested()) return false;
    const std::string& name = queue[i];
    if (i >= resumed) {
      std::string err;
      if (!Claim(name, &err)) {
        LogEvent("warn", "claim_failed", name, "\"error\":" + log::JsonString(err));
        continue;
      }
    } else {
      LogEvent("info", "resumed", name, "\"state\":\"" + JournalState(name) + "\"");
    }
    *worked = true;
    switch (Process(name)) {
      case Outcome::kRetryLater:
        *retry_later = true;
        break;
      case Outcome::kStopped:
        return false;
      default:
        break;
    }
  }
  return true;
}

bool Watcher::SleepInterruptibly(double seconds) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  while (std::chrono::steady_clock::now() < until) {
    if (StopRequested()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !StopRequested();
}

int Watcher::Run() {
  LogEvent("info", "watch_started", "",
           "\"outbox\":" + log::JsonString(options_.outbox) + ",\"inbox\":" +
               log::JsonString(options_.inbox) + ",\"transport\":\"" + transport_->name() + "\"");
  double backoff = 0.5;
  auto retrying_since = std::chrono::steady_clock::time_point();
  for (;;) {
    bool retry_later = false, worked = false;
    if (!Sweep(&retry_later, &worked)) break;  // stop requested
    if (retry_later) {
      const auto now = std::chrono::steady_clock::now();
      if (retrying_since == std::chrono::steady_clock::time_point()) retrying_since = now;
      if (options_.once && std::chrono::duration<double>(now - retrying_since).count() >
                               options_.round_trip.timeout_seconds) {
        LogEvent("error", "watch_gave_up", "", "\"reason\":\"server unreachable\"");
        return kExitRetryable;
      }
      // The server is unreachable or busy: back off (jittered, capped) and try again, also in
      // --once mode, where "done" means every file reached done/ or failed/.
      const double jitter = 0.5 + static_cast<double>(std::rand() % 1000) / 1000.0;
      if (!SleepInterruptibly(backoff * jitter)) break;
      backoff = std::min(backoff * 2, options_.max_backoff_seconds);
      continue;
    }
    backoff = 0.5;
    retrying_since = std::chrono::steady_clock::time_point();
    if (options_.once && !worked) break;
    if (!options_.once && !SleepInterruptibly(options_.poll_seconds)) break;
  }
  LogEvent("info", "watch_stopped", "",
           "\"done\":" + std::to_string(done_) + ",\"failed\":" + std::to_string(failed_));
  return kExitOk;
}

}  // namespace sdp
