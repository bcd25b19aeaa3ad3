// The upload manifest: what the server's PII firewall (docs/pii_firewall.md) is told about each
// tokenized column, written from the tokenization config. Columns the config does not list are
// left out: the server treats them as clear and checks that they hold no raw PII.
#pragma once

#include <string>

#include "agent/tokenize/tokenization_config.h"

namespace sdp {

// {"<column>": {"transform": "HASH" | "RANDOM" | "MASKED" | "FF1" | "FF3-1"}, ...} as compact
// JSON, in config order; "" for a config without columns. Transforms only, never a value.
std::string UploadManifestJson(const TokenizationConfig& config);

}  // namespace sdp
