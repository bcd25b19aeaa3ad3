// SecretBuffer: the one home of key material in the agent, wiped whenever it is freed.
#include "agent/crypto/secret_buffer.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

namespace sdp {

SecretBuffer::SecretBuffer(size_t n) { resize(n); }

SecretBuffer::SecretBuffer(const uint8_t* p, size_t n) {
  resize(n);
  if (n != 0) std::memcpy(data_, p, n);
}

SecretBuffer::~SecretBuffer() { clear(); }

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
  if (this != &other) {
    clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

SecretBuffer SecretBuffer::Clone() const { return SecretBuffer(data_, size_); }

void SecretBuffer::resize(size_t n) {
  if (n <= capacity_) {
    if (n < size_) {
      OPENSSL_cleanse(data_ + n, size_ - n);
    } else if (n > size_) {
      std::memset(data_ + size_, 0, n - size_);
    }
    size_ = n;
    return;
  }
  // Grow into fresh storage; never realloc, which could free the old block
  // unwiped.
  uint8_t* fresh = new uint8_t[n];
  if (size_ != 0) std::memcpy(fresh, data_, size_);
  std::memset(fresh + size_, 0, n - size_);
  clear();
  data_ = fresh;
  size_ = n;
  capacity_ = n;
}

void SecretBuffer::clear() {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, capacity_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

bool SecretEquals(const SecretBuffer& a, const SecretBuffer& b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sdp
