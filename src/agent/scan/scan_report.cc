// Table, JSON and proposed config of a scan; see scan_report.h.
#include "agent/scan/scan_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

namespace sdp::scan {
namespace {

// Printable ASCII only (a column name or example may carry controls or bidi overrides).
std::string Shown(const std::string& s, size_t max = 40) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  return out;
}

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A YAML double-quoted scalar.
std::string YamlQuoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string Identifier(const std::string& s, size_t max) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out.push_back(ok ? c : '_');
    if (out.size() == max) break;
  }
  return out;
}

std::string SourceTable(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  const size_t dot = base.find('.');
  if (dot != std::string::npos && dot > 0) base.resize(dot);
  std::string t = Identifier(base, 63);
  if (t.empty() || (t[0] >= '0' && t[0] <= '9')) t = "t_" + t;
  return t.substr(0, 63);
}

}  // namespace

std::string FormatTable(const ScanReport& report) {
  std::vector<std::vector<std::string>> rows = {
      {"column", "class", "confidence", "matched", "example"}};
  for (const ColumnReport& c : report.columns) {
    const ColumnVerdict& v = c.verdict;
    rows.push_back({Shown(c.name), PiiClassName(v.cls), Fixed(v.confidence, 2),
                    Fixed(100 * v.share, 1) + "%", Shown(v.example, 40)});
  }
  std::vector<size_t> width(5, 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += '\n';
  }
  out += "# " + std::to_string(report.rows) + " rows read, " + std::to_string(report.sampled) +
         " sampled (" + FormatName(report.format) +
         (report.format == InputFormat::kCsv ? (report.header ? ", header" : ", no header") : "") +
         ")\n";
  return out;
}

std::string FormatJson(const ScanReport& report) {
  nlohmann::json j;
  j["format"] = FormatName(report.format);
  j["header"] = report.header;
  j["rows"] = report.rows;
  j["sampled"] = report.sampled;
  j["columns"] = nlohmann::json::array();
  for (const ColumnReport& c : report.columns) {
    const ColumnVerdict& v = c.verdict;
    j["columns"].push_back({{"column", c.name},
                            {"class", PiiClassName(v.cls)},
                            {"confidence", std::round(v.confidence * 100) / 100},
                            {"share", std::round(v.share * 10000) / 10000},
                            {"cells", v.cells},
                            {"example", v.example}});
  }
  // Invalid UTF-8 in a name or example is replaced, never a throw.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string ProposedConfig(const ScanReport& report, const std::string& input_path) {
  const std::string table = SourceTable(input_path);
  struct Entry {
    std::string column;
    PiiClass cls;
    std::string type;
    double confidence;
  };
  std::vector<Entry> entries;
  std::string key;
  std::set<std::string> names;
  for (const ColumnReport& c : report.columns) {
    if (!names.insert(c.name).second) continue;
    const std::string type(ProposedTokenType(c.verdict.cls));
    if (type.empty()) {
      if (key.empty()) key = c.name;
      continue;
    }
    entries.push_back({c.name, c.verdict.cls, type, c.verdict.confidence});
  }
  if (key.empty()) {
    for (const Entry& e : entries) {
      if (e.type == "HASH" || e.type == "FPE") {
        key = e.column;
        break;
      }
    }
  }
  if (key.empty() && !entries.empty()) {
    entries[0].type = "HASH";
    key = entries[0].column;
  }
  std::string out = "# Proposed by `sdp-agent scan` from " + std::to_string(report.sampled) +
                    " sampled of " + std::to_string(report.rows) +
                    " rows: review it before use (configs/README.md).\n"
                    "version: 1\n"
                    "source_table: " +
                    table + "\n";
  if (!key.empty()) out += "key_column: " + YamlQuoted(key) + "\n";
  if (entries.empty()) {
    // The schema needs at least one column: the key, hashed, changes nothing a reader can use.
    out += "columns:\n  " + YamlQuoted(key.empty() ? "col_1" : key) + ": { token_type: HASH }\n";
    return out;
  }
  out += "columns:\n";
  std::set<std::string> domains;
  for (const Entry& e : entries) {
    std::string domain = table + "." + Identifier(e.column, 60);
    for (int k = 2; !domains.insert(domain).second; ++k) {
      domain = table + "." + Identifier(e.column, 60) + "_" + std::to_string(k);
    }
    out += "  " + YamlQuoted(e.column) + ": { token_type: " + e.type +
           ", class: " + PiiClassName(e.cls);
    if (e.type == "MASKED") {
      out += ", mask: last4";
    } else {
      out += ", domain: " + domain;
      if (e.cls == PiiClass::kEmail) out += ", normalize: lowercase_trim";
      if (e.type == "FPE") out += ", algorithm: FF1, alphabet: digits";
    }
    out += " }  # confidence " + Fixed(e.confidence, 2) + "\n";
  }
  return out;
}

}  // namespace sdp::scan
