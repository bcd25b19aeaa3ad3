// libFuzzer target for the YAML tokenization config parser.
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     test/fuzz/tokenization_config_fuzzer.cc src/agent/tokenize/tokenization_config.cc \
//     src/agent/tokenize/token_type.cc \
//     src/agent/crypto/fpe_alphabet.cc src/agent/crypto/fpe_ff1.cc src/agent/crypto/fpe_ff3.cc \
//     src/agent/crypto/fpe_common.cc src/agent/crypto/secret_buffer.cc -lyaml-cpp -lcrypto \
//     -o build/tokenization_config_fuzzer
//   build/tokenization_config_fuzzer -max_total_time=20 test/fuzz/corpus/tokenization_config
//
// yaml-cpp is not instrumented, but every exception it throws must be caught
// inside tokenization_config.cc: an escaping one aborts the fuzzer. Also
// checked: failures carry a message naming the source, and a success is
// internally consistent.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/tokenize/token_type.h"
#include "agent/tokenize/tokenization_config.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "property violated: %s\n", what);
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sdp::TokenizationConfig config;
  std::string err;
  bool ok = sdp::ParseTokenizationConfig(text, "fuzz.yml", &config, &err);
  if (!ok) {
    Check(err.rfind("fuzz.yml", 0) == 0, "errors start with the source name");
    return 0;
  }
  Check(config.version == 1, "version is 1");
  Check(!config.source_table.empty(), "source_table set");
  Check(!config.columns.empty(), "columns non-empty");
  for (const sdp::ColumnRule& rule : config.columns) {
    Check(!rule.column.empty(), "column names non-empty");
    Check(!rule.domain.empty(), "domain set");
    Check(config.Find(rule.column) == &rule, "column names unique");
    const sdp::TokenTypeTraits& traits = sdp::TraitsOf(rule.type);
    Check(traits.allowed.Has(sdp::TokenOption::kVault) || !rule.vault,
          "a type that refuses `vault` is never vaulted");
    sdp::TokenType back;
    Check(sdp::ParseTokenType(sdp::TokenTypeName(rule.type), &back) && back == rule.type,
          "token type names round trip");
  }
  if (const sdp::ColumnRule* key = config.Find(config.key_column)) {
    Check(sdp::TraitsOf(key->type).join_key, "a tokenized key column is a join key");
  }
  return 0;
}
