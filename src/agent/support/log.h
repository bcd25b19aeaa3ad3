// The agent's event log: one line per event on stderr, as JSON (default) or text, filtered by
// level. stdout stays data only (docs/style.md, agent 7). Configured once, from main(), by the
// global flags --log-format text|json and --log-level debug|info|warn|error.
//
//   json:
//   {"ts":"2026-01-01T00:00:00.000Z","level":"info","event":"file_done","file":"a.csv","batch_id":"…","seconds":1.234}
//   text: 2026-01-01T00:00:00.000Z INFO  file_done file=a.csv batch_id=… seconds=1.234
#pragma once

#include <string>

namespace sdp::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kJson, kText };

// "debug" | "info" | "warn" | "error" (also "warning"); false for anything else.
bool ParseLevel(const std::string& text, Level* out);
// "json" | "text"; false for anything else.
bool ParseFormat(const std::string& text, Format* out);
const char* LevelName(Level level);

// Process-wide settings; defaults: json, info.
void Configure(Format format, Level min_level);
Format CurrentFormat();
bool Enabled(Level level);

// The line for an event, without the newline. `extra_json_fields` is a comma-separated list of
// JSON members ("\"batch_id\":\"…\",\"rows\":3"), possibly empty; in text format they become
// key=value pairs (strings with spaces or quotes are JSON-quoted). Pure: for tests.
std::string FormatLine(Format format, const std::string& ts, Level level, const std::string& event,
                       const std::string& file, const std::string& extra_json_fields);

// Writes the event to stderr (and flushes) if `level` passes the filter.
void Event(Level level, const std::string& event, const std::string& file = "",
           const std::string& extra_json_fields = "");

// `value` as a JSON string literal, for extra_json_fields. Never throws: invalid UTF-8 (a file
// name or CSV header from the outbox) becomes U+FFFD.
std::string JsonString(const std::string& value);

// UTC now as 2026-01-01T00:00:00.000Z.
std::string NowIso();

}  // namespace sdp::log
