// Reads the agent's master key from the environment (or .env, loaded at start-up).
#pragma once

#include <string>

#include "agent/crypto/crypto_keys.h"

namespace sdp {

// Loads the key ring from environment variable `var` (SDP_CRYPTO_KEY by default), taken out of
// the environment on first use (secret_env.h). Errors name the variable and how to make a key,
// never the value.
bool LoadKeyRingFromEnv(const std::string& var, KeyRing* keys, std::string* err);

}  // namespace sdp
