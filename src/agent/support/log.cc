// The agent's event log (log.h).
#include "agent/support/log.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace sdp::log {
namespace {

std::atomic<int> g_format{static_cast<int>(Format::kJson)};
std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

// File names and CSV headers come from whoever writes into the outbox: any bytes. The default
// dump() throws on invalid UTF-8, which used to stop the daemon; U+FFFD keeps the line valid.
std::string Dump(const nlohmann::ordered_json& v) {
  return v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string TextValue(const nlohmann::ordered_json& v) {
  if (v.is_string()) {
    const std::string s = Dump(v);  // with invalid UTF-8 replaced
    return NeedsQuotes(v.get<std::string>()) ? s : s.substr(1, s.size() - 2);
  }
  return Dump(v);
}

}  // namespace

bool ParseLevel(const std::string& text, Level* out) {
  if (text == "debug")
    *out = Level::kDebug;
  else if (text == "info")
    *out = Level::kInfo;
  else if (text == "warn" || text == "warning")
    *out = Level::kWarn;
  else if (text == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

bool ParseFormat(const std::string& text, Format* out) {
  if (text == "json")
    *out = Format::kJson;
  else if (text == "text")
    *out = Format::kText;
  else
    return false;
  return true;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

void Configure(Format format, Level min_level) {
  g_format = static_cast<int>(format);
  g_min_level = static_cast<int>(min_level);
}

Format CurrentFormat() { return static_cast<Format>(g_format.load()); }

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(); }

std::string FormatLine(Format format, const std::string& ts, Level level, const std::string& event,
                       const std::string& file, const std::string& extra_json_fields) {
  if (format == Format::kJson) {
    nlohmann::json j = {{"ts", ts}, {"level", LevelName(level)}, {"event", event}};
    if (!file.empty()) j["file"] = file;
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!extra_json_fields.empty()) {
      line.pop_back();  // '}'
      line += "," + extra_json_fields + "}";
    }
    return line;
  }
  std::string level_name = LevelName(level);
  for (char& c : level_name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  level_name.resize(5, ' ');
  std::string line = ts + " " + level_name + " " + event;
  if (!file.empty()) line += " file=" + TextValue(file);
  if (!extra_json_fields.empty()) {
    // Keys keep their order (nlohmann::ordered_json); a malformed fragment is shown as is.
    const auto fields =
        nlohmann::ordered_json::parse("{" + extra_json_fields + "}", nullptr, false);
    if (fields.is_discarded() || !fields.is_object()) {
      line += " " + extra_json_fields;
    } else {
      for (const auto& [key, value] : fields.items()) line += " " + key + "=" + TextValue(value);
    }
  }
  return line;
}

void Event(Level level, const std::string& event, const std::string& file,
           const std::string& extra_json_fields) {
  if (!Enabled(level)) return;
  const std::string line =
      FormatLine(CurrentFormat(), NowIso(), level, event, file, extra_json_fields);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string JsonString(const std::string& value) { return Dump(nlohmann::ordered_json(value)); }

std::string NowIso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace sdp::log
