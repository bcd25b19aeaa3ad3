// Reading the `.env` file of KEY=VALUE settings at start-up.
#include "agent/cli/dotenv.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/read_file.h"
#include "common/scoped_fd.h"
#include "common/text.h"

namespace sdp {
namespace {

bool IsKeyChar(char c, bool first) {
  if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return true;
  return !first && c >= '0' && c <= '9';
}

}  // namespace

bool ParseDotEnv(std::string_view text, const std::string& source,
                 std::map<std::string, std::string>* out, std::string* err) {
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = TrimAsciiSpace(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export ") line = TrimAsciiSpace(line.substr(7));
    const size_t eq = line.find('=');
    const std::string where = source + ":" + std::to_string(line_no) + ": ";
    if (eq == std::string_view::npos) {
      *err = where + "expected KEY=VALUE; fix: add '=' or comment the line out with '#'";
      return false;
    }
    const std::string_view key = TrimAsciiSpace(line.substr(0, eq));
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
    std::string_view raw = TrimAsciiSpace(line.substr(eq + 1));
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
      std::string_view rest = TrimAsciiSpace(raw.substr(i + 1));
      if (!rest.empty() && rest.front() != '#') {
        *err = where + "unexpected text after the quoted value of " + std::string(key);
        return false;
      }
    } else {
      // Unquoted: an inline comment starts at " #".
      const size_t hash = raw.find(" #");
      value = std::string(TrimAsciiSpace(raw.substr(0, hash)));
    }
    (*out)[std::string(key)] = std::move(value);
  }
  return true;
}

bool IsDotEnvVariable(const std::string& name) {
  return name.size() > 4 && name.compare(0, 4, "SDP_") == 0;
}

bool ApplyDotEnvFile(const std::string& path, bool must_exist, DotEnvResult* result,
                     std::string* err) {
  // One descriptor from open to read: the checks below are about the file actually read.
  const ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ENOENT && !must_exist) return true;
    *err = path + ": cannot read: " + std::strerror(errno) +
           "; fix: check the path and its permissions";
    return false;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = path + ": not a regular file; fix: point --env-file at a file, or remove it";
    return false;
  }
  // Someone else's file, or one others can rewrite, could point the agent at their server or
  // CA, or swap the key: refuse it rather than read it.
  if (st.st_uid != ::geteuid()) {
    *err = path + ": refused: owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
           std::to_string(::geteuid()) + " running sdp-agent; fix: check its content, then chown " +
           "it to yourself, or remove it";
    return false;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *err = path + ": refused: writable by group or others (mode " + mode +
           "); fix: check its content, then chmod 600 " + path;
    return false;
  }
  std::string text;
  if (!ReadWholeFd(fd.get(), path, &text, err)) {
    OPENSSL_cleanse(&text[0], text.size());
    return false;
  }
  std::map<std::string, std::string> vars;
  const bool parsed = ParseDotEnv(text, path, &vars, err);
  OPENSSL_cleanse(&text[0], text.size());  // the text may hold SDP_CRYPTO_KEY
  DotEnvResult counts;
  bool ok = parsed;
  for (auto& [key, value] : vars) {
    if (ok && !IsDotEnvVariable(key)) {
      ++counts.ignored;
    } else if (ok && std::getenv(key.c_str()) == nullptr) {  // the real environment wins
      if (::setenv(key.c_str(), value.c_str(), 0) != 0) {
        *err = path + ": cannot set " + key + ": " + std::strerror(errno);
        ok = false;
      } else {
        ++counts.applied;
      }
    }
    if (!value.empty()) OPENSSL_cleanse(&value[0], value.size());
  }
  if (ok && result) *result = counts;
  return ok;
}

bool LoadDotEnv(const std::string& explicit_path, std::string* err) {
  if (!explicit_path.empty()) return ApplyDotEnvFile(explicit_path, true, nullptr, err);
  char cwd_buf[4096];
  const std::string cwd = ::getcwd(cwd_buf, sizeof cwd_buf) != nullptr ? cwd_buf : ".";
  return ApplyDotEnvFile(cwd + "/.env", false, nullptr, err);
}

}  // namespace sdp
