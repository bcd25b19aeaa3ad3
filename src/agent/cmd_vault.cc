// `sdp-agent vault stats|verify|rotate-key`.
#include <cstdio>

#include "command.h"
#include "exit_status.h"
#include "key_env.h"
#include "vault.h"

namespace sdp {
namespace {

struct VaultFlags {
  std::string vault = "token_vault.db";
  std::string new_key_env;
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

}  // namespace

void AddVaultCommands(CLI::App* app, CommandList* commands) {
  auto flags = std::make_shared<VaultFlags>();
  CLI::App* vault = app->add_subcommand("vault", "Vault maintenance: stats, verify, rotate-key");
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
}

}  // namespace sdp
