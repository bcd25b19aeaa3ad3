// Cryptographic randomness (OpenSSL RAND_bytes) for nonces, RANDOM tokens and keys.
#include "agent/crypto/random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <climits>

namespace sdp {

bool RandomBytes(uint8_t* p, size_t n, std::string* err) {
  // RAND_bytes takes an int; feed huge requests in slices.
  while (n > 0) {
    int chunk = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    if (RAND_bytes(p, chunk) != 1) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
      *err = std::string("RAND_bytes failed: ") + buf;
      return false;
    }
    p += chunk;
    n -= static_cast<size_t>(chunk);
  }
  return true;
}

}  // namespace sdp
