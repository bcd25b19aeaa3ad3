// SecretBuffer: the only place key material lives in the agent.
//
// Why not std::vector<uint8_t>: a vector copies implicitly, and when it grows
// or is destroyed it frees its old storage without wiping it, so key bytes
// linger in freed heap memory (core dumps, swap). SecretBuffer is move-only and
// calls OPENSSL_cleanse on every byte it gives up: on destruction, on shrink,
// on the old storage when it grows, and on the moved-from object.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sdp {

class SecretBuffer {
 public:
  SecretBuffer() = default;
  // n zero bytes.
  explicit SecretBuffer(size_t n);
  // Copies n bytes from p (p may be null only when n == 0).
  SecretBuffer(const uint8_t* p, size_t n);
  ~SecretBuffer();

  SecretBuffer(SecretBuffer&& other) noexcept;
  SecretBuffer& operator=(SecretBuffer&& other) noexcept;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;

  // An explicit, greppable copy for the rare place that needs two owners.
  SecretBuffer Clone() const;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t& operator[](size_t i) { return data_[i]; }
  const uint8_t& operator[](size_t i) const { return data_[i]; }

  // Grows with zero bytes or shrinks (wiping the dropped tail). Growing
  // beyond the capacity moves to new storage and wipes the old one.
  void resize(size_t n);
  // Wipes and frees everything.
  void clear();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Constant-time equality (CRYPTO_memcmp); false if sizes differ.
bool SecretEquals(const SecretBuffer& a, const SecretBuffer& b);

}  // namespace sdp
