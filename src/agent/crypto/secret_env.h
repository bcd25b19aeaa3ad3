// Secrets handed to the agent through the environment (SDP_CRYPTO_KEY, SDP_API_KEY, the variable
// named by `vault rotate-key --new-key-env`).
//
// The environment is readable long after start-up: /proc/<pid>/environ (the original block on
// the stack, which unsetenv() does not touch), core dumps, and every child process. So main()
// takes these variables out at start-up: each value is copied into a SecretBuffer, its bytes
// in the environment block are overwritten, and the variable is unset. The rest of the agent
// reads them from here, never with getenv().
#pragma once

#include <string>

#include "agent/crypto/secret_buffer.h"

namespace sdp {

// The variables main() takes out of the environment before anything else runs.
inline constexpr const char* kSecretEnvVariables[] = {
    "SDP_CRYPTO_KEY", "SDP_API_KEY", "SDP_PSEUDONYMIZE_API_KEY", "SDP_REPERSONALIZE_API_KEY"};

// If `name` is in the environment: keeps its value (replacing one kept before), overwrites it
// in place and unsets it. Then returns the kept value, or nullptr when there is none or it is
// empty. Thread-safe; the returned buffer lives until the process ends.
const SecretBuffer* TakeSecretEnv(const std::string& name);

// Makes the process non-dumpable (no core file, /proc/<pid>/mem and ptrace closed to other
// processes of the same user) and sets the core size limit to 0. False with *err if the kernel
// refuses.
bool DisableCoreDumps(std::string* err);

}  // namespace sdp
