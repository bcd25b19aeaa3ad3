// Cryptographic randomness (OpenSSL RAND_bytes) for nonces, RANDOM tokens and keys.
#include "agent/crypto/random.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <climits>
#include <cstring>

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

namespace {

// Bumped in the child of every fork: pools filled before it are discarded.
std::atomic<uint64_t> fork_generation{1};

void OnFork() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

uint64_t ForkGeneration() {
  static const bool registered = pthread_atfork(nullptr, nullptr, OnFork) == 0;
  (void)registered;
  return fork_generation.load(std::memory_order_relaxed);
}

}  // namespace

RandomPool::~RandomPool() { OPENSSL_cleanse(block_, sizeof block_); }

bool RandomPool::Take(uint8_t* out, size_t n, std::string* err) {
  if (n > kBlockBytes) {
    *err = "RandomPool: request larger than a block";
    return false;
  }
  const uint64_t generation = ForkGeneration();
  if (generation != fork_generation_ || pos_ + n > kBlockBytes) {
    if (!RandomBytes(block_, kBlockBytes, err)) return false;
    pos_ = 0;
    fork_generation_ = generation;
  }
  std::memcpy(out, block_ + pos_, n);
  OPENSSL_cleanse(block_ + pos_, n);
  pos_ += n;
  return true;
}

bool ThreadRandomBytes(uint8_t* out, size_t n, std::string* err) {
  thread_local RandomPool pool;
  return pool.Take(out, n, err);
}

}  // namespace sdp
