// `sdp-agent rotate-tokens`: moves a client's deterministic tokens on the server from an old key
// to SDP_CRYPTO_KEY without the server ever seeing a key or a value (docs/key_rotation.md).
//
// Per domain of the config (HASH and FPE; RANDOM tokens do not depend on the key):
//   begin -> page the domain's old tokens -> map each (HASH: original from the vault, new HMAC;
//   FPE: decrypt with the old key, encrypt with the new) -> vault gets the new token's entry ->
//   pairs uploaded -> apply until done -> finish.
// Then the vault is re-encrypted under the new key and the old key is marked retired in the key
// ring. Every step is idempotent on the server or here, and a journal records the finished
// domains, so a re-run after kill -9 at any point completes the rotation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/crypto/crypto_keys.h"
#include "agent/support/failure.h"
#include "agent/tokenize/tokenization_config.h"
#include "agent/transport/transport.h"

namespace sdp {

struct RotateOptions {
  std::string client_id;
  std::string vault_path;            // "" when no domain needs the vault
  std::string journal_path;          // the journal file (created 0600)
  std::string ring_path;             // the key ring; the old version is marked retired there
  std::vector<std::string> domains;  // only these (all deterministic domains when empty)
  int page_tokens = 50000;           // tokens per sdp_rekey_tokens page (and per pairs call)
  int apply_rows = 20000;            // rows per sdp_rekey_apply call
  // Opens one more connection to the server. Given, the domains' pairs are listed, mapped and
  // uploaded by up to mapping_workers domains at once, each on a connection of its own, while
  // the rewrites run one domain at a time on the main transport; unset, one domain after another.
  std::function<bool(std::unique_ptr<ServerTransport>*, std::string* err)> open_transport;
  int mapping_workers = 2;
};

struct RotateDomainReport {
  std::string domain;
  std::string transform;  // HASH or FF1 / FF3-1
  std::string rotation_id;
  int64_t pairs = 0;         // pairs this run uploaded
  int64_t rows_done = 0;     // rows the server reports rewritten
  double apply_seconds = 0;  // wall time of this run's sdp_rekey_apply calls (the rewrite)
  bool skipped = false;      // already at the new version
};

struct RotateReport {
  int from_version = 0;
  int to_version = 0;
  std::string from_key_id;
  std::string to_key_id;
  std::vector<RotateDomainReport> domains;
  std::vector<std::string> skipped_random;  // RANDOM domains (nothing to rotate)
  uint64_t vault_rekeyed = 0;               // entries re-encrypted (0 when already done)
  bool ring_retired = false;
  double seconds = 0;
};

// Runs (or resumes) the rotation from `old_keys` to `new_keys` (both with their ring versions).
bool RotateTokens(const RotateOptions& options, const TokenizationConfig& config,
                  const KeyRing& old_keys, const KeyRing& new_keys, ServerTransport* transport,
                  RotateReport* report, Failure* failure);

// RFC 4180 CSV of pairs, header old_token,new_token; fields quoted only when needed.
void AppendPairsCsvRow(const std::string& old_token, const std::string& new_token,
                       std::string* csv);

}  // namespace sdp
