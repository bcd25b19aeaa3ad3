// Cryptographically secure random bytes from OpenSSL's DRBG (RAND_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sdp {

// Fills p[0..n) with random bytes. Fails (with *err set) only if the DRBG
// cannot be seeded; never falls back to a weaker source.
bool RandomBytes(uint8_t* p, size_t n, std::string* err);

}  // namespace sdp
