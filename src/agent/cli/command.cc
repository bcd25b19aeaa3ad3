// The subcommand registry (CLI11) and the one-line error format of every command.
#include "agent/cli/command.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace sdp {
namespace {

// Global options that take a value in the next argument (main.cc).
bool TakesValue(const char* arg) {
  return std::strcmp(arg, "--log-format") == 0 || std::strcmp(arg, "--log-level") == 0 ||
         std::strcmp(arg, "--env-file") == 0 || std::strcmp(arg, "--key-ring") == 0;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A word worth echoing: what a command could look like. Anything else (a pasted key, a path)
// stays out of the error line.
bool LooksLikeCommand(const std::string& word) {
  if (word.empty() || word.size() > 40) return false;
  for (char c : word) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

int ReportError(int exit_code, const std::string& message) {
  std::fprintf(stderr, "sdp-agent: error: %s\n", message.c_str());
  return exit_code;
}

std::string RequestedCommand(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') return argv[i];
    if (std::strcmp(argv[i], "--") == 0) return i + 1 < argc ? argv[i + 1] : "";
    if (TakesValue(argv[i])) ++i;
  }
  return "";
}

std::vector<std::string> NearestCommands(const std::string& word,
                                         const std::vector<std::string>& names) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& name : names) {
    size_t score;
    if (StartsWith(name, word) || StartsWith(word, name)) {
      score = 0;
    } else {
      score = EditDistance(word, name);
      // Typos only: two edits (a swapped pair of letters), or a third of a longer word.
      if (score > std::max<size_t>(2, word.size() / 3)) continue;
    }
    scored.emplace_back(score, name);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> nearest;
  for (const auto& [score, name] : scored) {
    if (nearest.size() == 3) break;
    nearest.push_back(name);
  }
  return nearest;
}

std::string UnknownCommandMessage(const std::string& word, const std::vector<std::string>& names) {
  std::string message =
      LooksLikeCommand(word) ? "unknown command '" + word + "'" : std::string("unknown command");
  const std::vector<std::string> nearest =
      LooksLikeCommand(word) ? NearestCommands(word, names) : std::vector<std::string>();
  message += "; fix: ";
  if (!nearest.empty()) {
    message += "did you mean ";
    for (size_t i = 0; i < nearest.size(); ++i) {
      if (i > 0) message += i + 1 == nearest.size() ? " or " : ", ";
      message += nearest[i];
    }
    message += "? ";
  }
  return message + "see `sdp-agent --help` for the list of commands";
}

}  // namespace sdp
