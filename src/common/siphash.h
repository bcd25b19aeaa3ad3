// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit pseudorandom function built for
// short inputs. The privacy analytics use it to rank a privacy unit's rows unpredictably to
// anyone without the key, at a fraction of HMAC-SHA256's cost per row.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sdp {

constexpr size_t kSipHashKeyBytes = 16;

// SipHash-2-4 of `len` bytes at `message` under a 16-byte key; the 64-bit result as the
// reference implementation returns it (its 8 output bytes read little-endian).
uint64_t SipHash24(const uint8_t key[kSipHashKeyBytes], const uint8_t* message, size_t len);

}  // namespace sdp
