// `sdp-agent keygen`: a new random master key for SDP_CRYPTO_KEY; with --ring, also kept in the
// key ring file as the next key version (docs/key_rotation.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/cli/command.h"
#include "agent/crypto/crypto_keys.h"
#include "agent/crypto/key_ring_file.h"
#include "agent/crypto/secret_buffer.h"
#include "agent/crypto/secret_env.h"
#include "agent/support/exit_status.h"
#include "common/base64url.h"
#include "common/scoped_fd.h"
#include "common/text.h"

namespace sdp {
namespace {

struct KeygenFlags {
  std::string output;
  std::string ring;
  bool import_only = false;
};

// The ring at `path`, or an empty one when the file does not exist yet.
bool LoadOrNewRing(const std::string& path, KeyRingFile* ring, bool* exists, std::string* err) {
  struct stat st {};
  *exists = ::lstat(path.c_str(), &st) == 0;
  if (!*exists) return true;
  return KeyRingFile::Load(path, ring, err);
}

// Adds SDP_CRYPTO_KEY (when set and not in the ring yet) to `ring`: the key in use becomes the
// ring's first (or next) version before a new key is made, so that its tokens stay readable.
bool ImportPrimary(KeyRingFile* ring, bool* added, int* version, std::string* err) {
  *added = false;
  const SecretBuffer* value = TakeSecretEnv("SDP_CRYPTO_KEY");
  if (value == nullptr) return true;
  KeyRing current;
  if (!KeyRing::FromEnvValue(
          std::string_view(reinterpret_cast<const char*>(value->data()), value->size()), &current,
          err)) {
    return false;
  }
  if (const KeyRingEntry* e = ring->FindById(current.key_id())) {
    *version = e->version;
    return true;
  }
  SecretBuffer master;
  std::string decode_err;
  if (!Base64UrlDecode(TrimAsciiSpace(std::string_view(reinterpret_cast<const char*>(value->data()),
                                                       value->size())),
                       &master, &decode_err)) {
    *err = "SDP_CRYPTO_KEY is not URL-safe base64 (" + decode_err + ")";
    return false;
  }
  if (!ring->Add(master, KeyRingTimestamp(), version, err)) return false;
  *added = true;
  return true;
}

int RunKeygenRing(const KeygenFlags& flags, SecretBuffer* key) {
  std::string err;
  KeyRingFile ring;
  bool exists = false;
  if (!LoadOrNewRing(flags.ring, &ring, &exists, &err)) {
    return ReportError(kExitConfig, "keygen: " + err);
  }
  bool imported = false;
  int imported_version = 0;
  if (!ImportPrimary(&ring, &imported, &imported_version, &err)) {
    return ReportError(kExitConfig, "keygen: " + err);
  }
  if (flags.import_only) {
    if (!imported && imported_version == 0) {
      return ReportError(kExitConfig,
                         "keygen --import: SDP_CRYPTO_KEY is not set; fix: set it to the key "
                         "to add to the ring");
    }
    if (imported && !ring.Save(flags.ring, &err))
      return ReportError(kExitFailure, "keygen: " + err);
    std::fprintf(stderr, "sdp-agent: SDP_CRYPTO_KEY is version %d of key ring %s%s\n",
                 imported_version, flags.ring.c_str(), imported ? " (added)" : "");
    return kExitOk;
  }
  SecretBuffer master;
  std::string decode_err;
  if (!Base64UrlDecode(std::string_view(reinterpret_cast<const char*>(key->data()), key->size()),
                       &master, &decode_err)) {
    return ReportError(kExitFailure, "keygen: internal error decoding the new key");
  }
  int version = 0;
  if (!ring.Add(master, KeyRingTimestamp(), &version, &err)) {
    return ReportError(kExitFailure, "keygen: " + err);
  }
  // The ring first: a key printed but not kept would make tokens nothing can read later.
  if (!ring.Save(flags.ring, &err)) return ReportError(kExitFailure, "keygen: " + err);
  std::fprintf(stderr,
               "sdp-agent: key ring %s: %sadded version %d (key id %s); set SDP_CRYPTO_KEY to the "
               "new key, then run `sdp-agent rotate-tokens` (docs/key_rotation.md)\n",
               flags.ring.c_str(),
               imported ? ("the current SDP_CRYPTO_KEY as version " +
                           std::to_string(imported_version) + ", ")
                              .c_str()
                        : "",
               version, ring.FindByVersion(version)->id.c_str());
  return kExitOk;
}

int RunKeygen(const KeygenFlags& flags) {
  SecretBuffer key;
  std::string err;
  if (flags.import_only && flags.ring.empty()) {
    return ReportError(kExitUsage, "keygen: --import needs --ring FILE; fix: add --ring");
  }
  if (!GenerateKeyString(&key, &err)) return ReportError(kExitFailure, "keygen: " + err);
  if (!flags.ring.empty()) {
    const int status = RunKeygenRing(flags, &key);
    if (status != kExitOk || flags.import_only) return status;
  }
  if (flags.output.empty()) {
    // stdout is data: the key and a newline, nothing else.
    std::fwrite(key.data(), 1, key.size(), stdout);
    std::fputc('\n', stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
  }
  // A key file is created 0600 and never overwritten.
  ScopedFd fd(::open(flags.output.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return ReportError(kExitFailure, "keygen: cannot create " + flags.output + ": " +
                                         std::strerror(errno) +
                                         "; fix: choose a new file name (keys are never "
                                         "overwritten)");
  }
  const std::string prefix = "SDP_CRYPTO_KEY=";
  bool ok =
      ::write(fd.get(), prefix.data(), prefix.size()) == static_cast<ssize_t>(prefix.size()) &&
      ::write(fd.get(), key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
      ::write(fd.get(), "\n", 1) == 1 && ::fsync(fd.get()) == 0;
  ok = fd.Close() && ok;
  if (!ok) {
    ::unlink(flags.output.c_str());
    return ReportError(kExitFailure, "keygen: cannot write " + flags.output);
  }
  std::fprintf(stderr, "sdp-agent: wrote a new SDP_CRYPTO_KEY to %s (mode 0600)\n",
               flags.output.c_str());
  return kExitOk;
}

}  // namespace

void AddKeyCommands(CLI::App* app, CommandList* commands) {
  auto flags = std::make_shared<KeygenFlags>();
  CLI::App* sub = app->add_subcommand(
      "keygen", "Print a new random SDP_CRYPTO_KEY (URL-safe base64 of 32 bytes)");
  sub->add_option("--output", flags->output,
                  "Write `SDP_CRYPTO_KEY=...` to this new file (mode 0600) instead of stdout");
  sub->add_option("--ring", flags->ring,
                  "Also add the new key to this key ring file (created 0600 if missing) as the "
                  "next key version; SDP_CRYPTO_KEY, when set and not in the ring, is added "
                  "first");
  sub->add_flag("--import", flags->import_only,
                "With --ring: only add SDP_CRYPTO_KEY to the ring (no new key)");
  commands->push_back({sub, [flags] { return RunKeygen(*flags); }});
}

}  // namespace sdp
