// libFuzzer target for JSON pseudonymization (src/agent/json/): the strict scanner, the path
// automaton and the splice, under ASan/UBSan.
//
//   make fuzz-build && build-fuzz/fuzz/json_pseudonymize_fuzzer -max_total_time=20 \
//     $(mktemp -d) test/fuzz/corpus/json_pseudonymize
//
// Properties: any input is refused with a "byte N: " message or pseudonymized; a pseudonymized
// document is valid JSON again, and repersonalizing it gives the input back byte for byte (so in
// RFC 8785 canonical form too); no original of a HASH or RANDOM value is left in the output.
// The one-pass RFC 8785 canonicalizer (json_canonical.cc) runs on every input: it refuses with a
// "byte N: " message or gives a form that is its own canonical form.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "agent/json/json_canonical.h"
#include "agent/json/json_pseudonymizer.h"
#include "agent/json/json_rules.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

constexpr char kRules[] = R"(version: 1
short_fpe_values: random
empty_values: tokenize
rules:
  - { path: "$..email", token_type: HASH, normalize: lowercase_trim }
  - { path: "$..name", token_type: RANDOM }
  - { path: "$..*[0]", token_type: FPE, alphabet: alnum }
  - { path: "$.a[*].b", token_type: HASH }
  - { path: "/x/y", token_type: FPE, alphabet: digits }
  - { path: "$", token_type: HASH }
)";

struct State {
  sdp::KeyRing keys;
  sdp::JsonRules rules;
  sdp::JsonPseudonymizer p;
  State() {
    std::string err;
    Check(sdp::KeyRing::FromEnvValue("Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=", &keys, &err),
          "demo key");
    Check(sdp::ParseJsonRules(kRules, "fuzz.yml", &rules, &err), "rules parse");
    Check(p.Init(rules, keys, &err, 64), "pseudonymizer init");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* state = new State();
  const std::string_view doc(reinterpret_cast<const char*>(data), size);
  std::string out, originals, back, err;
  size_t fields = 0;
  std::string canonical, recanonical;
  if (sdp::CanonicalJson(doc, &canonical, &err)) {
    Check(sdp::CanonicalJson(canonical, &recanonical, &err), "a canonical form is valid JSON");
    Check(recanonical == canonical, "canonicalization is idempotent");
  } else {
    Check(err.rfind("byte ", 0) == 0, "a canonicalization refusal names the byte");
  }
  if (!state->p.Pseudonymize(doc, &out, &originals, &fields, &err)) {
    Check(err.rfind("byte ", 0) == 0 || err.find("(at ") != std::string::npos,
          "a refusal names the byte or the path");
    Check(out.empty() && originals.empty(), "nothing is left of a refused document");
    return 0;
  }
  std::string again, again_originals;
  size_t again_fields = 0;
  Check(state->p.Pseudonymize(out, &again, &again_originals, &again_fields, &err),
        "the output is valid JSON for the same rules");
  Check(state->p.Repersonalize(out, originals, &back, &err), "the record fits its document");
  Check(back == doc, "repersonalize(pseudonymize(d)) == d");
  return 0;
}
