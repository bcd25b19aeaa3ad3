// The upload manifest: what the server's PII firewall (docs/pii_firewall.md) is told about each
// tokenized column, written from the tokenization config. Columns the config does not list are
// left out: the server treats them as clear and checks that they hold no raw PII.
#pragma once

#include <string>

#include "agent/crypto/crypto_keys.h"
#include "agent/tokenize/tokenization_config.h"

namespace sdp {

// {"<column>": {"transform": "HASH" | "RANDOM" | "MASKED" | "FF1" | "FF3-1"}, ...} as compact
// JSON, in config order; "" for a config without columns. Transforms only, never a value.
std::string UploadManifestJson(const TokenizationConfig& config);
// With `keys` (the primary key that tokenized the file): HASH, RANDOM and FPE columns also say
// which key made them, {"domain": "<rule's domain>", "key_version": n, "key_id": "<8 hex>"},
// so that the server can tell FPE tokens of different keys apart (they carry no version) and
// rotate them (docs/key_rotation.md).
std::string UploadManifestJson(const TokenizationConfig& config, const KeyRing* keys);

}  // namespace sdp
