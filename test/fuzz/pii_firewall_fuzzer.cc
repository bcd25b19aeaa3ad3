// libFuzzer target for the PII firewall's cell check (src/common/pii/firewall.h), which the server
// runs on every cell of every upload: hostile bytes, invalid UTF-8, huge digit runs.
//
//   build-fuzz/fuzz/pii_firewall_fuzzer -max_total_time=20 test/fuzz/corpus/pii_firewall
//
// The first byte picks the declared transform and the allowed classes; the rest is the cell.
// Properties checked, besides "no crash / no sanitizer report":
//   1. The class returned is a known one, and the same on a second call (no state leaks through
//      the scratch buffer).
//   2. FPE columns are never refused.
//   3. Allowing the class a cell was refused for never gives that class again: the check moves on
//      to another class or accepts.
//   4. A cell with raw PII that cannot be a token (a byte outside base64url) is refused in CLEAR,
//      HASH and RANDOM columns alike.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/pii/firewall.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sdp::pii;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view cell(reinterpret_cast<const char*>(data + 1), size - 1);
  ColumnPolicy policy;
  policy.transform = static_cast<Transform>(mode % 5);
  for (int i = 1; i <= kFirewallClassCount; ++i) {
    if ((mode >> 3) & (1u << (i % 5))) policy.allowed.Add(static_cast<FirewallClass>(i));
  }
  std::string scratch;
  const FirewallClass first = CheckCell(policy, cell, &scratch);
  Check(static_cast<int>(first) <= kFirewallClassCount, "a known class");
  Check(CheckCell(policy, cell, &scratch) == first, "the same answer twice");
  if (policy.transform == Transform::kFpe) Check(first == FirewallClass::kNone, "FPE unchecked");
  if (first != FirewallClass::kNone) {
    Check(!policy.allowed.Has(first), "an allowed class is never the answer");
    ColumnPolicy more = policy;
    more.allowed.Add(first);
    Check(CheckCell(more, cell, &scratch) != first, "allowing the class moves on");
  }
  bool could_be_token = true;
  for (char c : cell) {
    const bool b64 = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '-' || c == '_';
    could_be_token = could_be_token && b64;
  }
  ColumnPolicy clear;
  if (!could_be_token && FindRawPii(cell, &scratch) != FirewallClass::kNone) {
    Check(CheckCell(clear, cell, &scratch) != FirewallClass::kNone, "raw PII refused in CLEAR");
    for (Transform t : {Transform::kHash, Transform::kRandom}) {
      ColumnPolicy token;
      token.transform = t;
      Check(CheckCell(token, cell, &scratch) != FirewallClass::kNone, "raw PII is never a token");
    }
  }
  return 0;
}
