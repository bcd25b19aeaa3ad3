// libFuzzer target for the JSON pseudonymization rules (YAML) and their paths (RFC 9535 subset,
// RFC 6901).
//
//   make fuzz-build && build-fuzz/fuzz/json_rules_fuzzer -max_total_time=20 $(mktemp -d) \
//     test/fuzz/corpus/json_rules
//
// yaml-cpp's exceptions must all be caught inside json_rules.cc; failures name the source; a
// success has a path and a domain for every rule.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/json/json_rules.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Every input is also tried as one path.
  sdp::JsonPath path;
  std::string err;
  if (!sdp::ParseJsonPath(text, &path, &err)) {
    Check(err.rfind("path '", 0) == 0, "path errors name the path");
  } else {
    Check(sdp::DefaultJsonDomain(path).size() <= 128, "default domains fit");
  }
  sdp::JsonRules rules;
  if (!sdp::ParseJsonRules(text, "fuzz.yml", &rules, &err)) {
    Check(err.rfind("fuzz.yml", 0) == 0, "errors start with the source name");
    return 0;
  }
  Check(!rules.config.columns.empty(), "rules non-empty");
  Check(rules.config.columns.size() == rules.paths.size(), "a path per rule");
  for (const sdp::ColumnRule& rule : rules.config.columns) {
    Check(!rule.domain.empty() && rule.domain.size() <= 128, "domain set");
  }
  return 0;
}
