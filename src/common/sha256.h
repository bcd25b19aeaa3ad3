// SHA-256 whose running state can be saved between calls and restored later.
//
// The chunked upload (sdp_batch_append) hashes the whole content across many SQL calls: after
// each chunk the state is stored in the batch row and restored for the next chunk, so the whole
// content is hashed once, in seq order, without keeping the chunks. OpenSSL's one-shot digest
// (with the CPU's SHA extensions when present) does the work; the saved state is OpenSSL's
// SHA256_CTX, tagged with a magic and its size, so a state written by a different build is
// refused rather than misread. PostgreSQL-free: shared with the agent and the GoogleTests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sdp {

class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  /// Lowercase hex digest of everything so far; the hasher can keep going afterwards.
  std::string HexDigest() const;
  /// Opaque bytes that RestoreState() accepts.
  std::string SaveState() const;
  /// Replaces the state; false (and *err) if `state` did not come from SaveState().
  bool RestoreState(std::string_view state, std::string* err);

  /// One-shot lowercase hex SHA-256.
  static std::string Hex(std::string_view data);

 private:
  alignas(8) unsigned char ctx_[128];
};

/// True if `s` is 64 hex digits (either case).
bool IsSha256Hex(std::string_view s);

}  // namespace sdp
