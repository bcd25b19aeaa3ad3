// libFuzzer target for format-preserving encryption as a property: for any input string, any
// alphabet built from the input, FF1 and FF3-1 either refuse with a message or encrypt to a
// string of the same length, with the same characters outside the alphabet in the same places,
// that decrypts back to the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/crypto/fpe_alphabet.h"
#include "agent/crypto/secret_buffer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  static const char* kNamed[] = {"digits", "alnum", "lower", "upper"};
  const sdp::FpeAlgorithm algorithm =
      data[0] & 1 ? sdp::FpeAlgorithm::kFf3_1 : sdp::FpeAlgorithm::kFf1;
  sdp::FpeAlphabet alphabet;
  std::string err;
  if (!sdp::FpeAlphabet::Named(kNamed[(data[0] >> 1) & 3], &alphabet, &err)) std::abort();
  uint8_t key_bytes[32];
  for (size_t i = 0; i < sizeof key_bytes; ++i) key_bytes[i] = static_cast<uint8_t>(data[1] + i);
  const sdp::SecretBuffer key(key_bytes, sizeof key_bytes);
  sdp::FpeStringCipher cipher;
  if (!cipher.Init(key, algorithm, alphabet, &err)) std::abort();
  const size_t tweak_len = algorithm == sdp::FpeAlgorithm::kFf3_1 ? 7 : (data[2] % 16);
  std::string tweak(tweak_len, static_cast<char>(data[2]));
  const std::string input(reinterpret_cast<const char*>(data + 3), size - 3);
  std::string encrypted, decrypted;
  if (!cipher.Encrypt(input, tweak, &encrypted, &err)) {
    if (err.empty()) std::abort();
    return 0;
  }
  if (encrypted.size() != input.size()) std::abort();
  for (size_t i = 0; i < input.size(); ++i) {
    const bool in_alphabet = alphabet.NumeralOf(input[i]) >= 0;
    if (in_alphabet != (alphabet.NumeralOf(encrypted[i]) >= 0)) std::abort();
    if (!in_alphabet && encrypted[i] != input[i]) std::abort();
  }
  if (!cipher.Decrypt(encrypted, tweak, &decrypted, &err) || decrypted != input) std::abort();
  return 0;
}
