#include "dotenv.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sdp {
namespace {

bool IsKeyChar(char c, bool first) {
  if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return true;
  return !first && c >= '0' && c <= '9';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

bool ParseDotEnv(std::string_view text, const std::string& source,
                 std::map<std::string, std::string>* out, std::string* err) {
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export ") line = Trim(line.substr(7));
    const size_t eq = line.find('=');
    const std::string where = source + ":" + std::to_string(line_no) + ": ";
    if (eq == std::string_view::npos) {
      *err = where + "expected KEY=VALUE; fix: add '=' or comment the line out with '#'";
      return false;
    }
    const std::string_view key = Trim(line.substr(0, eq));
    if (key.empty() || !IsKeyChar(key.front(), true)) {
      *err = where + "invalid variable name; fix: use letters, digits and '_' only";
      return false;
    }
    for (char c : key) {
      if (!IsKeyChar(c, false)) {
        *err = where + "invalid variable name; fix: use letters, digits and '_' only";
        return false;
      }
    }
    std::string_view raw = Trim(line.substr(eq + 1));
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      const char quote = raw.front();
      size_t i = 1;
      bool closed = false;
      for (; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == quote) {
          closed = true;
          break;
        }
        if (quote == '"' && c == '\\' && i + 1 < raw.size()) {
          const char n = raw[++i];
          value += n == 'n' ? '\n' : n == 't' ? '\t' : n;
          continue;
        }
        value += c;
      }
      // Values never appear in errors: a .env holds secrets.
      if (!closed) {
        *err = where + "unterminated quoted value for " + std::string(key) +
               "; fix: close the quote on the same line";
        return false;
      }
      std::string_view rest = Trim(raw.substr(i + 1));
      if (!rest.empty() && rest.front() != '#') {
        *err = where + "unexpected text after the quoted value of " + std::string(key);
        return false;
      }
    } else {
      // Unquoted: an inline comment starts at " #".
      const size_t hash = raw.find(" #");
      value = std::string(Trim(raw.substr(0, hash)));
    }
    (*out)[std::string(key)] = std::move(value);
  }
  return true;
}

bool ApplyDotEnvFile(const std::string& path, int* applied, std::string* err) {
  if (!FileExists(path)) return true;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = path + ": cannot read: " + std::strerror(errno) + "; fix: check its permissions";
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  std::map<std::string, std::string> vars;
  if (!ParseDotEnv(buf.str(), path, &vars, err)) return false;
  int count = 0;
  for (const auto& [key, value] : vars) {
    if (std::getenv(key.c_str()) != nullptr) continue;  // the real environment wins
    if (::setenv(key.c_str(), value.c_str(), 0) != 0) {
      *err = path + ": cannot set " + key + ": " + std::strerror(errno);
      return false;
    }
    ++count;
  }
  if (applied) *applied = count;
  return true;
}

std::string FindRepoRoot(const std::string& start_dir) {
  std::string dir = start_dir;
  while (!dir.empty()) {
    if (FileExists(dir + "/.git") || FileExists(dir + "/sdp.control")) return dir;
    const size_t slash = dir.find_last_of('/');
    if (slash == std::string::npos || dir == "/") break;
    dir = slash == 0 ? "/" : dir.substr(0, slash);
    if (dir == "/") {
      return FileExists("/.git") || FileExists("/sdp.control") ? "/" : "";
    }
  }
  return "";
}

bool LoadDotEnv(std::string* err) {
  char cwd_buf[4096];
  if (::getcwd(cwd_buf, sizeof cwd_buf) == nullptr) return true;  // no cwd: nothing to load
  const std::string cwd = cwd_buf;
  if (!ApplyDotEnvFile(cwd + "/.env", nullptr, err)) return false;
  const std::string root = FindRepoRoot(cwd);
  if (!root.empty() && root != cwd) return ApplyDotEnvFile(root + "/.env", nullptr, err);
  return true;
}

}  // namespace sdp
