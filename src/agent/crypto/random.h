// Cryptographically secure random bytes from OpenSSL's DRBG (RAND_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sdp {

// Fills p[0..n) with random bytes. Fails (with *err set) only if the DRBG
// cannot be seeded; never falls back to a weaker source.
bool RandomBytes(uint8_t* p, size_t n, std::string* err);

// Random bytes drawn from RAND_bytes a block at a time, for callers that need a few bytes very
// often (a pseudonym id per document): one DRBG call per block instead of one per id, which was a
// tenth of the JSON pseudonymizer's time. The bytes are the DRBG's, so they are as unpredictable
// as RandomBytes'; each is handed out once and wiped from the buffer when taken. A fork (none in
// sdp-agent today) empties every pool, so a child never repeats its parent's bytes.
// Not thread-safe: one pool per thread (ThreadRandomBytes below).
class RandomPool {
 public:
  static constexpr size_t kBlockBytes = 4096;
  RandomPool() = default;
  ~RandomPool();
  RandomPool(const RandomPool&) = delete;
  RandomPool& operator=(const RandomPool&) = delete;

  // n <= kBlockBytes.
  bool Take(uint8_t* out, size_t n, std::string* err);

 private:
  uint8_t block_[kBlockBytes];
  size_t pos_ = kBlockBytes;  // empty until the first Take
  uint64_t fork_generation_ = 0;
};

// RandomPool::Take on the calling thread's own pool.
bool ThreadRandomBytes(uint8_t* out, size_t n, std::string* err);

}  // namespace sdp
