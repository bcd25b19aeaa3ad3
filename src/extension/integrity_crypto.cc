// PostgreSQL-free integrity MACs; see integrity_crypto.h.
//
// SHA256_Init/Update/Final are deprecated in OpenSSL 3, but they are the only way to clone a keyed
// state with a plain struct copy (EVP_MD_CTX_copy allocates); the agent's HMAC fast path does the
// same (src/agent/crypto/hmac_sha256.cc).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "integrity_crypto.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

#include "error.h"
#include "pg_free.h"

namespace sdp::integrity {

namespace {

static_assert(sizeof(SHA256_CTX) <= 128, "SHA256_CTX does not fit IntegrityKey");

SHA256_CTX* Ctx(unsigned char* p) { return reinterpret_cast<SHA256_CTX*>(p); }

// Builds the canonical encoding in a stack buffer and hashes it with as few SHA256_Update calls
// as possible (one for a typical row): many small updates cost more than the compressions.
class Writer {
 public:
  explicit Writer(const IntegrityKey& k) { std::memcpy(&ctx_, k.inner, sizeof(ctx_)); }
  ~Writer() { OPENSSL_cleanse(&ctx_, sizeof(ctx_)); }  // keyed state
  void U32(uint32_t v) {
    Reserve(4);
    buf_[used_++] = static_cast<unsigned char>(v >> 24);
    buf_[used_++] = static_cast<unsigned char>(v >> 16);
    buf_[used_++] = static_cast<unsigned char>(v >> 8);
    buf_[used_++] = static_cast<unsigned char>(v);
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v >> 32));
    U32(static_cast<uint32_t>(v));
  }
  void Bytes(const void* p, size_t n) {
    U32(static_cast<uint32_t>(n));
    if (n == 0) return;
    if (n > sizeof(buf_) / 2) {  // a long value: hash it in place
      Flush();
      SHA256_Update(&ctx_, p, n);
      return;
    }
    Reserve(n);
    std::memcpy(buf_ + used_, p, n);
    used_ += n;
  }
  void Str(std::string_view s) { Bytes(s.data(), s.size()); }
  void Finish(const IntegrityKey& k, uint8_t out[kMacBytes]) {
    Flush();
    unsigned char inner[SHA256_DIGEST_LENGTH];
    SHA256_Final(inner, &ctx_);
    std::memcpy(&ctx_, k.outer, sizeof(ctx_));
    SHA256_Update(&ctx_, inner, sizeof(inner));
    SHA256_Final(out, &ctx_);
    OPENSSL_cleanse(inner, sizeof(inner));
  }

 private:
  void Reserve(size_t n) {
    if (used_ + n > sizeof(buf_)) Flush();
  }
  void Flush() {
    if (used_ > 0) SHA256_Update(&ctx_, buf_, used_);
    used_ = 0;
  }

  SHA256_CTX ctx_;
  unsigned char buf_[512];
  size_t used_ = 0;
};

// What both MACs start with: the domain tag, then the row's batch, number, client and key.
void WriteRowIdentity(Writer* w, std::string_view tag, const uint8_t batch_id[16], int64_t row_no,
                      std::string_view client_id, std::string_view record_key) {
  w->Str(tag);
  w->Bytes(batch_id, 16);
  w->U64(static_cast<uint64_t>(row_no));
  w->Str(client_id);
  w->Str(record_key);
}

}  // namespace

void InitKey(IntegrityKey* k, const uint8_t* key, size_t key_len) {
  if (key_len != kKeyBytes) {
    throw sdp::Error(sqlstate::kInternal, "the integrity key must be 32 bytes");
  }
  std::memset(k, 0, sizeof(*k));
  uint8_t pad[SHA256_CBLOCK];
  for (size_t i = 0; i < SHA256_CBLOCK; ++i) pad[i] = (i < key_len ? key[i] : 0) ^ 0x36;
  SHA256_Init(Ctx(k->inner));
  SHA256_Update(Ctx(k->inner), pad, sizeof(pad));
  for (size_t i = 0; i < SHA256_CBLOCK; ++i) pad[i] = (i < key_len ? key[i] : 0) ^ 0x5c;
  SHA256_Init(Ctx(k->outer));
  SHA256_Update(Ctx(k->outer), pad, sizeof(pad));
  OPENSSL_cleanse(pad, sizeof(pad));
}

void Wipe(IntegrityKey* k) { OPENSSL_cleanse(k, sizeof(*k)); }

void RecordMac(const IntegrityKey& k, const uint8_t batch_id[16], int64_t row_no,
               std::string_view client_id, std::string_view record_key, int nfields,
               const char* const* fields, const int* lens, uint8_t out[kMacBytes]) {
  Writer w(k);
  WriteRowIdentity(&w, "sdp.record.v1", batch_id, row_no, client_id, record_key);
  w.U32(static_cast<uint32_t>(nfields));
  for (int i = 0; i < nfields; ++i) {
    if (lens[i] < 0) {
      w.U32(0xffffffffu);  // NULL element: no length can collide with it
    } else {
      w.Bytes(fields[i], static_cast<size_t>(lens[i]));
    }
  }
  w.Finish(k, out);
}

void ResultMac(const IntegrityKey& k, const uint8_t batch_id[16], int64_t row_no,
               std::string_view client_id, std::string_view record_key, double score,
               std::string_view risk_band, std::string_view model_version,
               int32_t defaulted_features, uint8_t out[kMacBytes]) {
  Writer w(k);
  WriteRowIdentity(&w, "sdp.result.v1", batch_id, row_no, client_id, record_key);
  uint64_t bits = 0;
  static_assert(sizeof(bits) == sizeof(score), "double is not 64 bits");
  std::memcpy(&bits, &score, sizeof(bits));
  w.U64(bits);
  w.Str(risk_band);
  w.Str(model_version);
  w.U32(static_cast<uint32_t>(defaulted_features));
  w.Finish(k, out);
}

}  // namespace sdp::integrity
