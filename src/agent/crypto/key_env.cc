// Reading the master key from SDP_CRYPTO_KEY into a key ring, with errors that never show it.
#include "agent/crypto/key_env.h"

#include "agent/crypto/secret_env.h"

namespace sdp {

bool LoadKeyRingFromEnv(const std::string& var, KeyRing* keys, std::string* err) {
  const SecretBuffer* value = TakeSecretEnv(var);
  if (value == nullptr) {
    *err = var + " is not set; fix: generate a key with `sdp-agent keygen` and set " + var +
           " in the environment or in .env";
    return false;
  }
  if (!KeyRing::FromEnvValue(
          std::string_view(reinterpret_cast<const char*>(value->data()), value->size()), keys,
          err)) {
    // The parser speaks of SDP_CRYPTO_KEY; name the variable actually read.
    const std::string generic = "SDP_CRYPTO_KEY";
    if (var != generic && err->compare(0, generic.size(), generic) == 0) {
      err->replace(0, generic.size(), var);
    }
    return false;
  }
  return true;
}

}  // namespace sdp
