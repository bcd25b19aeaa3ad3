// Names, check-digit flags and proposed token types of the scan classes; see pii_class.h.
#include "agent/scan/pii_class.h"

namespace sdp::scan {
namespace {

struct ClassInfo {
  const char* name;
  bool check_digits;
  const char* token_type;
};

// Indexed by PiiClass.
constexpr ClassInfo kClasses[kPiiClassCount] = {
    {"iban", true, "FPE"},
    {"payment_card", true, "FPE"},
    {"it_codice_fiscale", true, "HASH"},
    {"fr_nir", true, "HASH"},
    {"es_dni", true, "HASH"},
    {"de_tax_id", true, "HASH"},
    {"pl_pesel", true, "HASH"},
    {"us_ssn", false, "FPE"},  // area/group/serial rules, no check digit
    {"nl_bsn", true, "HASH"},
    {"email", false, "HASH"},
    {"ipv6", false, "HASH"},
    {"ipv4", false, "HASH"},
    {"phone", false, "MASKED"},
    {"date_of_birth", false, "RANDOM"},
    {"postal_address", false, "RANDOM"},
    {"person_name", false, "RANDOM"},
    {"free_text_pii", false, "RANDOM"},
    {"not_pii", false, ""},
};

}  // namespace

const char* PiiClassName(PiiClass c) { return kClasses[static_cast<int>(c)].name; }

bool ParsePiiClass(std::string_view name, PiiClass* out) {
  for (int i = 0; i < kPiiClassCount; ++i) {
    if (name == kClasses[i].name) {
      *out = static_cast<PiiClass>(i);
      return true;
    }
  }
  return false;
}

bool HasCheckDigits(PiiClass c) { return kClasses[static_cast<int>(c)].check_digits; }

std::string_view ProposedTokenType(PiiClass c) { return kClasses[static_cast<int>(c)].token_type; }

}  // namespace sdp::scan
