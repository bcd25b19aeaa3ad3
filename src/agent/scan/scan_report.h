// What `sdp-agent scan` prints (a table, or JSON with --json) and the tokenization config it
// proposes with --config-out (configs/README.md's schema, accepted by tokenize-config as is).
#pragma once

#include <string>

#include "agent/scan/scanner.h"

namespace sdp::scan {

// One line per column: column, class, confidence, share of sampled cells matched, a masked
// example; then a line with the rows read and sampled. Column names are shown through
// ShownValue-like escaping (printable ASCII, other bytes as '?').
std::string FormatTable(const ScanReport& report);

// The same as a JSON document {"rows":..,"sampled":..,"columns":[{"column","class",
// "confidence","share","cells","example"}]}.
std::string FormatJson(const ScanReport& report);

// A version-1 tokenization config for the PII columns of a CSV scan: HASH for identifiers and
// e-mail (e-mail lower-cased and trimmed), FPE FF1 over digits for card, SSN and IBAN, MASKED
// last4 for phones, RANDOM for names, addresses, dates of birth and free text. The key_column is
// the first column that is not PII (else the first HASH/FPE one; else the first column, made
// HASH); `source_table` is the file's stem reduced to letters, digits and '_'. Each column's
// domain is explicit ("<source_table>.<column>", other characters as '_', made unique).
std::string ProposedConfig(const ScanReport& report, const std::string& input_path);

}  // namespace sdp::scan
