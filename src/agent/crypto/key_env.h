// Reads the agent's master key from the environment (or .env, loaded at start-up).
#pragma once

#include <string>
#include <vector>

#include "agent/crypto/crypto_keys.h"

namespace sdp {

// Loads the key ring from environment variable `var` (SDP_CRYPTO_KEY by default), taken out of
// the environment on first use (secret_env.h). Errors name the variable and how to make a key,
// never the value. With a key ring file in force (KeyRingPath(), key_ring_file.h) the key's
// version is its entry's, and a key missing from the ring is refused; without one it is 1.
bool LoadKeyRingFromEnv(const std::string& var, KeyRing* keys, std::string* err);

// LoadKeyRingFromEnv when `var` is set; *loaded false (and true returned) when it is not. For
// commands that only describe the key (the upload manifest of an already tokenized file).
bool LoadKeyRingIfSet(const std::string& var, KeyRing* keys, bool* loaded, std::string* err);

// The keys of the ring file in force other than `primary`, newest first, retired ones included
// (their tokens may still be in old files); empty without a ring. For detokenize and integrate,
// which accept tokens of any key in the ring.
bool LoadOtherRingKeys(const KeyRing& primary, std::vector<KeyRing>* others, std::string* err);

}  // namespace sdp
