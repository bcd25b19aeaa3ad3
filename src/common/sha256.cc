// SHA-256 with a running state that can be saved and restored (resumable chunked uploads).
#include "common/sha256.h"

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but EVP_MD_CTX cannot
// be serialised, and a resumable state is the point of this class.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace sdp {

namespace {
constexpr char kMagic[8] = {'s', 'd', 'p', 's', 'h', 'a', '2', '\x01'};
static_assert(sizeof(SHA256_CTX) <= 128, "SHA256_CTX does not fit");

SHA256_CTX* Ctx(unsigned char* p) { return reinterpret_cast<SHA256_CTX*>(p); }
const SHA256_CTX* Ctx(const unsigned char* p) { return reinterpret_cast<const SHA256_CTX*>(p); }

std::string ToHex(const unsigned char* d, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
  return out;
}
}  // namespace

Sha256::Sha256() {
  std::memset(ctx_, 0, sizeof(ctx_));
  SHA256_Init(Ctx(ctx_));
}

void Sha256::Update(std::string_view data) { SHA256_Update(Ctx(ctx_), data.data(), data.size()); }

std::string Sha256::HexDigest() const {
  SHA256_CTX copy = *Ctx(ctx_);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &copy);
  return ToHex(digest, sizeof(digest));
}

std::string Sha256::SaveState() const {
  std::string out(kMagic, sizeof(kMagic));
  const uint32_t size = sizeof(SHA256_CTX);
  out.append(reinterpret_cast<const char*>(&size), sizeof(size));
  out.append(reinterpret_cast<const char*>(ctx_), sizeof(SHA256_CTX));
  return out;
}

bool Sha256::RestoreState(std::string_view state, std::string* err) {
  const size_t want = sizeof(kMagic) + sizeof(uint32_t) + sizeof(SHA256_CTX);
  uint32_t size = 0;
  if (state.size() == want) std::memcpy(&size, state.data() + sizeof(kMagic), sizeof(size));
  if (state.size() != want || std::memcmp(state.data(), kMagic, sizeof(kMagic)) != 0 ||
      size != sizeof(SHA256_CTX)) {
    *err = "saved SHA-256 state is not from this build";
    return false;
  }
  std::memcpy(ctx_, state.data() + sizeof(kMagic) + sizeof(uint32_t), sizeof(SHA256_CTX));
  return true;
}

std::string Sha256::Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return ToHex(digest, len);
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace sdp
