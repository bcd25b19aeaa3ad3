// `sdp-agent vault stats|verify|rotate-key|forget`.
#include <cstdio>
#include <iostream>
#include <string>

#include "agent/cli/command.h"
#include "agent/crypto/key_env.h"
#include "agent/support/exit_status.h"
#include "agent/vault/vault.h"

namespace sdp {
namespace {

struct VaultFlags {
  std::string vault = "token_vault.db";
  std::string new_key_env;
  VaultForgetQuery forget;
};

int OpenVault(const VaultFlags& flags, Vault::Mode mode, KeyRing* keys, Vault* vault) {
  std::string err;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", keys, &err)) return ReportError(kExitConfig, err);
  if (!vault->Open(flags.vault, mode, *keys, &err)) return ReportError(kExitFailure, err);
  return kExitOk;
}

int RunStats(const VaultFlags& flags) {
  KeyRing keys;
  Vault vault;
  if (int rc = OpenVault(flags, Vault::Mode::kReadOnly, &keys, &vault)) return rc;
  VaultStats stats;
  std::string err;
  if (!vault.Stats(&stats, &err)) return ReportError(kExitFailure, err);
  std::printf("vault: %s\nkey id: %s\nentries: %llu\ndomains: %llu\nfile bytes: %llu\n",
              flags.vault.c_str(), stats.key_id.c_str(),
              static_cast<unsigned long long>(stats.entries),
              static_cast<unsigned long long>(stats.domains),
              static_cast<unsigned long long>(stats.file_bytes));
  for (const auto& [domain, n] : stats.per_domain) {
    std::printf("  %s: %llu\n", domain.c_str(), static_cast<unsigned long long>(n));
  }
  return kExitOk;
}

int RunVerify(const VaultFlags& flags) {
  KeyRing keys;
  Vault vault;
  if (int rc = OpenVault(flags, Vault::Mode::kReadOnly, &keys, &vault)) return rc;
  VaultVerifyReport report;
  std::string err;
  if (!vault.Verify(&report, &err)) return ReportError(kExitFailure, err);
  for (const auto& failure : report.failures) std::printf("TAMPERED %s\n", failure.c_str());
  std::printf("%llu entries checked, %llu failed\n",
              static_cast<unsigned long long>(report.checked),
              static_cast<unsigned long long>(report.failed));
  if (report.failed > 0) {
    return ReportError(kExitFailure, "vault " + flags.vault + ": " + std::to_string(report.failed) +
                                         " entries failed authentication; fix: restore the "
                                         "vault from a backup");
  }
  return kExitOk;
}

int RunRotate(const VaultFlags& flags) {
  KeyRing keys, new_keys;
  Vault vault;
  if (int rc = OpenVault(flags, Vault::Mode::kReadWrite, &keys, &vault)) return rc;
  std::string err;
  if (!LoadKeyRingFromEnv(flags.new_key_env, &new_keys, &err)) {
    return ReportError(kExitConfig, err);
  }
  if (new_keys.key_id() == keys.key_id()) {
    return ReportError(kExitUsage, flags.new_key_env +
                                       " holds the current key; fix: generate a new key with "
                                       "`sdp-agent keygen`");
  }
  uint64_t rotated = 0;
  if (!vault.RotateKey(new_keys, &rotated, &err)) return ReportError(kExitFailure, err);
  std::printf("rotated %llu entries from key id %s to %s\n",
              static_cast<unsigned long long>(rotated), keys.key_id().c_str(),
              new_keys.key_id().c_str());
  std::fprintf(stderr,
               "sdp-agent: set SDP_CRYPTO_KEY to the value of %s from now on; HASH tokens made "
               "with the old key stay valid in this vault\n",
               flags.new_key_env.c_str());
  return kExitOk;
}

// `vault forget (--token T [--domain D] | --value V --domain D)`: erasure. `--value -` reads
// the value from the first line of stdin, which keeps it out of argv (ps, /proc/*/cmdline).
int RunForget(VaultFlags flags) {
  if (flags.forget.value == "-") {
    std::string line;
    if (!std::getline(std::cin, line)) {
      return ReportError(kExitUsage, "--value -: no value on stdin; fix: pipe the value in");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    flags.forget.value = line;
  }
  if (flags.forget.token.empty() == flags.forget.value.empty()) {
    return ReportError(kExitUsage,
                       "vault forget: give exactly one of --token or --value; fix: `sdp-agent "
                       "vault forget --token T` or `--value V --domain D`");
  }
  if (!flags.forget.value.empty() && flags.forget.domain.empty()) {
    return ReportError(kExitUsage,
                       "vault forget --value needs --domain (the token domain of the column)");
  }
  KeyRing keys;
  Vault vault;
  if (int rc = OpenVault(flags, Vault::Mode::kReadWrite, &keys, &vault)) return rc;
  VaultForgetReport report;
  std::string err;
  if (!vault.Forget(flags.forget, &report, &err)) return ReportError(kExitFailure, err);
  for (const auto& entry : report.entries) std::printf("FORGOT %s\n", entry.c_str());
  std::printf("forgot %llu entries\n", static_cast<unsigned long long>(report.removed));
  if (report.removed == 0) {
    std::fprintf(stderr, "sdp-agent: warning: no vault entry matched; nothing to forget\n");
  }
  return kExitOk;
}

}  // namespace

void AddVaultCommands(CLI::App* app, CommandList* commands) {
  auto flags = std::make_shared<VaultFlags>();
  CLI::App* vault =
      app->add_subcommand("vault", "Vault maintenance: stats, verify, rotate-key, forget");
  vault->require_subcommand(1);

  auto add_vault_flag = [flags](CLI::App* sub) {
    sub->add_option("--vault", flags->vault, "Vault file")->capture_default_str();
  };
  CLI::App* stats = vault->add_subcommand("stats", "Entries per domain, key id, file size");
  add_vault_flag(stats);
  commands->push_back({stats, [flags] { return RunStats(*flags); }});
  CLI::App* verify =
      vault->add_subcommand("verify", "Decrypt every entry; report tampered or corrupted ones");
  add_vault_flag(verify);
  commands->push_back({verify, [flags] { return RunVerify(*flags); }});
  CLI::App* rotate = vault->add_subcommand(
      "rotate-key", "Re-encrypt every entry under a new key, atomically (all or nothing)");
  add_vault_flag(rotate);
  rotate
      ->add_option("--new-key-env", flags->new_key_env,
                   "Name of the environment variable holding the new key (never the key itself)")
      ->required();
  commands->push_back({rotate, [flags] { return RunRotate(*flags); }});
  CLI::App* forget = vault->add_subcommand(
      "forget",
      "Erase vault entries so their tokens can never be reversed again (crypto-shredding)");
  add_vault_flag(forget);
  forget->add_option("--token", flags->forget.token,
                     "Token to forget (every domain unless --domain)");
  forget->add_option("--value", flags->forget.value,
                     "Original value to forget, in --domain; '-' reads it from stdin (keeps it "
                     "out of the process list)");
  forget->add_option("--domain", flags->forget.domain, "Token domain (the column's domain)");
  commands->push_back({forget, [flags] { return RunForget(*flags); }});
}

}  // namespace sdp
