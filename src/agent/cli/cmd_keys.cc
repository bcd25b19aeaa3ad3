// `sdp-agent keygen`: a new random master key for SDP_CRYPTO_KEY.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/cli/command.h"
#include "agent/crypto/crypto_keys.h"
#include "agent/crypto/secret_buffer.h"
#include "agent/support/exit_status.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

struct KeygenFlags {
  std::string output;
};

int RunKeygen(const KeygenFlags& flags) {
  SecretBuffer key;
  std::string err;
  if (!GenerateKeyString(&key, &err)) return ReportError(kExitFailure, "keygen: " + err);
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
  commands->push_back({sub, [flags] { return RunKeygen(*flags); }});
}

}  // namespace sdp
