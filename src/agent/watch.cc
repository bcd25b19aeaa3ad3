#include "watch.h"

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
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "exit_status.h"
#include "log.h"
#include "signals.h"

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
             "\"error\":" + nlohmann::json(sqlite3_errmsg(journal_)).dump());
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

void Watcher::MoveToFailed(const std::string& name, const std::string& reason) {
  const std::string target = failed_dir_ + "/" + name;
  ::rename((processing_dir_ + "/" + name).c_str(), target.c_str());
  // O_NOFOLLOW: a symlink planted at failed/NAME.csv.error must not redirect the write.
  const std::string error_path = target + ".error";
  ::unlink(error_path.c_str());
  const int fd =
      ::open(error_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    const std::string line = log::NowIso() + " " + reason + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      LogEvent("warn", "error_file_write_failed", name, "");
    }
    ::close(fd);
  } else {
    LogEvent("warn", "error_file_write_failed", name,
             "\"error\":" + nlohmann::json(std::strerror(errno)).dump());
  }
  Journal(name, "failed", "", reason);
  ++failed_;
}

Watcher::Outcome Watcher::Process(const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  RoundTripOptions rt = options_.round_trip;
  rt.raw_input = processing_dir_ + "/" + name;
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
  if (!RunRoundTrip(rt, transport_, &result, &failure, on_step)) {
    char timing[64];
    std::snprintf(timing, sizeof timing, ",\"seconds\":%.3f",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const std::string batch =
        result.batch.batch_id.empty() ? "" : ",\"batch_id\":\"" + result.batch.batch_id + "\"";
    if (failure.exit_code == kExitRetryable) {
      Journal(name, JournalState(name), "", failure.message);
      LogEvent("warn", "retry_later", name,
               "\"error\":" + nlohmann::json(failure.message).dump() + batch + timing);
      return Outcome::kRetryLater;
    }
    if (failure.exit_code == kExitInterrupted) return Outcome::kStopped;
    LogEvent("error", "file_failed", name,
             "\"error\":" + nlohmann::json(failure.message).dump() + batch + timing);
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
        LogEvent("warn", "claim_failed", name, "\"error\":" + nlohmann::json(err).dump());
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
           "\"outbox\":" + nlohmann::json(options_.outbox).dump() +
               ",\"inbox\":" + nlohmann::json(options_.inbox).dump() + ",\"transport\":\"" +
               transport_->name() + "\"");
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
