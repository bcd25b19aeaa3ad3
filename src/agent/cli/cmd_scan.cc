// `sdp-agent scan`: finds PII by content in a CSV, JSON or NDJSON file and proposes a
// tokenization config (docs/pii_detection.md).
#include <cstdio>
#include <string>

#include "agent/cli/command.h"
#include "agent/scan/scan_report.h"
#include "agent/scan/scanner.h"
#include "agent/support/exit_status.h"
#include "agent/support/signals.h"
#include "common/atomic_file.h"

namespace sdp {
namespace {

struct ScanFlags {
  std::string input, format = "auto", sample = std::to_string(scan::kDefaultSampleRows);
  std::string header = "auto", config_out;
  uint64_t seed = 1;
  bool json = false;
};

int RunScan(const ScanFlags& flags) {
  scan::ScanOptions options;
  options.input = flags.input;
  options.seed = flags.seed;
  if (flags.format == "csv") {
    options.format = scan::InputFormat::kCsv;
  } else if (flags.format == "json") {
    options.format = scan::InputFormat::kJson;
  } else if (flags.format == "ndjson") {
    options.format = scan::InputFormat::kNdjson;
  } else if (flags.format != "auto") {
    return ReportError(kExitUsage, "scan: --format " + flags.format +
                                       " is not csv, json, ndjson or auto; fix: pick one");
  }
  if (flags.header == "yes") {
    options.header = scan::HeaderMode::kYes;
  } else if (flags.header == "no") {
    options.header = scan::HeaderMode::kNo;
  } else if (flags.header != "auto") {
    return ReportError(kExitUsage,
                       "scan: --header " + flags.header + " is not auto, yes or no; fix: pick one");
  }
  if (flags.sample == "all") {
    options.sample_rows = 0;
  } else {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(flags.sample.c_str(), &end, 10);
    if (flags.sample.empty() || *end != '\0' || n == 0 || n > 100000000) {
      return ReportError(kExitUsage, "scan: --sample " + flags.sample +
                                         " is not a row count (1..100000000) or 'all'; fix: e.g. "
                                         "--sample 459");
    }
    options.sample_rows = static_cast<size_t>(n);
  }
  scan::ScanReport report;
  std::string err;
  if (!scan::ScanFile(options, &report, &err)) {
    if (Interrupted()) return ReportError(kExitInterrupted, "scan: " + err);
    return ReportError(kExitFailure, "scan: " + err);
  }
  if (!flags.config_out.empty()) {
    if (report.format != scan::InputFormat::kCsv) {
      return ReportError(kExitUsage,
                         "scan: --config-out needs a CSV input (tokenize-config reads CSV); fix: "
                         "scan the CSV export of this data");
    }
    const std::string yaml = scan::ProposedConfig(report, flags.input);
    AtomicOutputFile out;
    if (!out.Open(flags.config_out, &err, 0644) ||
        !out.sink()->Write(yaml.data(), yaml.size(), &err) || !out.Commit(&err)) {
      return ReportError(kExitFailure, "scan: " + err);
    }
  }
  const std::string text = flags.json ? scan::FormatJson(report) : scan::FormatTable(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void AddScanCommand(CLI::App* app, CommandList* commands) {
  auto flags = std::make_shared<ScanFlags>();
  CLI::App* sub = app->add_subcommand(
      "scan",
      "Find PII by content in a CSV/JSON/NDJSON file; print a table per column and propose a "
      "tokenization config");
  sub->add_option("--input", flags->input, "The file to scan")->required();
  sub->add_option("--format", flags->format, "csv, json, ndjson or auto (by extension)")
      ->capture_default_str();
  sub->add_option("--sample", flags->sample,
                  "Rows judged, drawn uniformly (reservoir, reproducible with --seed), or 'all'. "
                  "The default 459 is the least n with 1-0.99^n >= 0.99: a column in which at "
                  "least 1% of cells are PII has a PII cell in the sample with probability >= 99%")
      ->capture_default_str();
  sub->add_option("--seed", flags->seed, "Seed of the sample")->capture_default_str();
  sub->add_option("--header", flags->header,
                  "CSV: auto (the first record is a header when it looks like names, not "
                  "values), yes or no")
      ->capture_default_str();
  sub->add_option("--config-out", flags->config_out,
                  "Write a proposed tokenization config (configs/README.md) for the PII columns");
  sub->add_flag("--json", flags->json, "Print the report as JSON instead of a table");
  commands->push_back({sub, [flags] { return RunScan(*flags); }});
}

}  // namespace sdp
