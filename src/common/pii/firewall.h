// The PII firewall's cell check (issue 19, docs/pii_firewall.md): what a cell of an uploaded
// column may hold, given how the upload's manifest says the column was transformed.
//
//   HASH    only HASH tokens: "h" + 24 base64url characters (an empty cell is allowed: the
//           agent keeps empty values empty by default)
//   RANDOM  only RANDOM tokens: "r" + 22 base64url characters (or empty)
//   MASKED  only masks: at most 4 digits, an e-mail only as "x***@domain", every word masked
//           ("*") unless it is one character long
//   FPE     anything: a format-preserving ciphertext has the shape of its plaintext by design,
//           so a valid-looking card number (Luhn) or IBAN (mod 97) is expected there
//   CLEAR   no e-mail, payment card (IIN + Luhn), IBAN (mod 97), US SSN or phone number,
//           also when obfuscated (full-width digits, NBSP, zero-width characters, mixed
//           separators)
//
// Plain C++ without PostgreSQL (docs/style.md, extension 14): sdp.so runs it on every cell it
// ingests, GoogleTest drives the red team through it, and the agent may run it before an upload.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sdp::pii {

enum class Transform { kClear, kHash, kRandom, kFpe, kMasked };

// "CLEAR", "HASH", "RANDOM", "MASKED", and "FPE", "FF1" or "FF3-1" (all FPE), in any case.
bool ParseTransform(std::string_view text, Transform* out);
const char* TransformName(Transform transform);

// Why a cell is refused; kNone: it is not. The order is the label order of
// sdp_pii_firewall_rejections_total{class}.
enum class FirewallClass : uint8_t {
  kNone,
  kEmail,
  kPaymentCard,
  kIban,
  kUsSsn,
  kPhone,
  kTokenShape,  // a HASH/RANDOM column holds something that is not a token of its type
  kMaskShape,   // a MASKED column holds something that is not a mask
};
inline constexpr int kFirewallClassCount = 7;  // without kNone

// "email", "payment_card", "iban", "us_ssn", "phone", "token_shape", "mask_shape" ("" for kNone).
const char* FirewallClassName(FirewallClass cls);
bool ParseFirewallClass(std::string_view text, FirewallClass* out);

// A set of classes, one bit each.
class ClassSet {
 public:
  void Add(FirewallClass cls) { bits_ |= Bit(cls); }
  bool Has(FirewallClass cls) const { return (bits_ & Bit(cls)) != 0; }

 private:
  static uint32_t Bit(FirewallClass cls) { return uint32_t{1} << static_cast<unsigned>(cls); }
  uint32_t bits_ = 0;
};

// How one column is checked: its declared transform and the classes an administrator allowed in
// it (sdp_firewall_allow).
struct ColumnPolicy {
  Transform transform = Transform::kClear;
  ClassSet allowed;
};

// The first class that refuses `value` under `policy`, or kNone. Never copies the value
// anywhere but `scratch` (reused between calls to avoid allocations).
FirewallClass CheckCell(const ColumnPolicy& policy, std::string_view value, std::string* scratch);

// The first raw-PII class found in `value` (the CLEAR check, without allowances), or kNone.
FirewallClass FindRawPii(std::string_view value, std::string* scratch);

}  // namespace sdp::pii
