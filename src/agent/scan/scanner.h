// `sdp-agent scan`: reads a CSV, JSON or NDJSON file, samples its rows and judges every column
// (CSV column or JSON path, array elements included) by content.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/scan/column_judge.h"
#include "agent/scan/sampler.h"

namespace sdp::scan {

enum class InputFormat { kAuto, kCsv, kJson, kNdjson };
enum class HeaderMode { kAuto, kYes, kNo };

struct ScanOptions {
  std::string input;
  InputFormat format = InputFormat::kAuto;
  size_t sample_rows = kDefaultSampleRows;  // 0: every row
  uint64_t seed = 1;
  HeaderMode header = HeaderMode::kAuto;  // CSV only
  int current_year = 0;                   // 0: this year
};

struct ColumnReport {
  std::string name;  // CSV header, "col_N" without one, or JSON path ("contact.phones[]")
  ColumnVerdict verdict;
};

struct ScanReport {
  InputFormat format = InputFormat::kCsv;
  bool header = false;   // CSV: the first record was taken as the header
  uint64_t rows = 0;     // data rows read
  uint64_t sampled = 0;  // rows judged
  std::vector<ColumnReport> columns;
};

// False with *err ("<file>: <what>; fix: <action>") on an unreadable or malformed input.
bool ScanFile(const ScanOptions& options, ScanReport* report, std::string* err);

// The format of a path by its extension: .json, .ndjson/.jsonl, anything else CSV.
InputFormat FormatOfPath(const std::string& path);
const char* FormatName(InputFormat f);

}  // namespace sdp::scan
