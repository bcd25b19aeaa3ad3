// `sdp-agent tokenize-csv | tokenize-config | detokenize`.
#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>

#include "agent/cli/command.h"
#include "agent/crypto/key_env.h"
#include "agent/support/exit_status.h"
#include "agent/support/signals.h"
#include "agent/tokenize/token_type.h"
#include "agent/tokenize/tokenize_file.h"
#include "common/text.h"

namespace sdp {
namespace {

struct TokenizeFlags {
  std::string input, output, config, vault = "token_vault.db";
  std::string source_table = "customers";
  std::vector<std::string> columns;
  std::string token_type = "HASH";
  std::string fpe_algorithm = "FF1";
  std::string alphabet = "digits";
};

std::vector<std::string> SplitColumns(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const auto& item : raw) {
    for (std::string& name : SplitOn(item, ',')) {
      if (!name.empty()) out.push_back(std::move(name));
    }
  }
  return out;
}

// The config that `tokenize-csv --column ... --token-type ...` stands for.
bool ConfigFromFlags(const TokenizeFlags& flags, TokenizationConfig* config, std::string* err) {
  TokenType type;
  if (!ParseTokenType(flags.token_type, &type)) {
    *err = "--token-type " + flags.token_type + " is not one of " + ListTokenTypes(", ");
    return false;
  }
  const std::vector<std::string> columns = SplitColumns(flags.columns);
  if (columns.empty()) {
    *err = "--column is required; fix: name the column(s) to tokenize, e.g. --column email";
    return false;
  }
  config->source_name = "command line";
  config->source_table = flags.source_table;
  config->columns.clear();
  for (const auto& column : columns) {
    ColumnRule rule = DefaultRule(flags.source_table, column, type);
    // --fpe-algorithm and --alphabet have defaults, so they only count for types that take them.
    const TokenOptions takes = TraitsOf(type).allowed;
    if (takes.Has(TokenOption::kAlgorithm) &&
        !ParseFpeAlgorithm(flags.fpe_algorithm, &rule.algorithm, err)) {
      return false;
    }
    if (takes.Has(TokenOption::kAlphabet)) rule.alphabet = flags.alphabet;
    config->columns.push_back(rule);
  }
  return true;
}

bool LoadConfig(const TokenizeFlags& flags, TokenizationConfig* config, std::string* err) {
  if (!flags.config.empty()) return LoadTokenizationConfig(flags.config, config, err);
  return ConfigFromFlags(flags, config, err);
}

void PrintSummary(const char* verb, const FileReport& report, const std::string& output,
                  const std::string& vault) {
  const double rate = report.seconds > 0 ? report.rows / report.seconds : 0;
  std::fprintf(stderr, "sdp-agent: %s %llu rows (%llu cells) in %.2f s (%.0f rows/s) -> %s", verb,
               static_cast<unsigned long long>(report.rows),
               static_cast<unsigned long long>(report.cells), report.seconds, rate, output.c_str());
  if (report.vault_puts > 0) {
    std::fprintf(stderr, "; vault %s (%llu entries written or already present)", vault.c_str(),
                 static_cast<unsigned long long>(report.vault_puts));
  }
  std::fputc('\n', stderr);
}

int ExitFor(const std::string& err) {
  return Interrupted() ? ReportError(kExitInterrupted, err) : ReportError(kExitFailure, err);
}

int RunTokenize(const TokenizeFlags& flags) {
  std::string err;
  TokenizeJob job;
  if (!LoadConfig(flags, &job.config, &err)) return ReportError(kExitConfig, err);
  KeyRing keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) return ReportError(kExitConfig, err);
  job.input = flags.input;
  job.output = flags.output;
  job.vault_path = flags.vault;
  FileReport report;
  if (!TokenizeCsvFile(job, keys, &report, &err)) return ExitFor(err);
  PrintSummary("tokenized", report, flags.output, flags.vault);
  return kExitOk;
}

int RunDetokenize(const TokenizeFlags& flags) {
  std::string err;
  DetokenizeJob job;
  if (!LoadConfig(flags, &job.config, &err)) return ReportError(kExitConfig, err);
  if (!flags.config.empty()) job.only_columns = SplitColumns(flags.columns);
  KeyRing keys;
  if (!LoadKeyRingFromEnv("SDP_CRYPTO_KEY", &keys, &err)) return ReportError(kExitConfig, err);
  job.input = flags.input;
  job.output = flags.output;
  job.vault_path = flags.vault;
  FileReport report;
  if (!DetokenizeCsvFile(job, keys, &report, &err)) return ExitFor(err);
  PrintSummary("restored", report, flags.output, flags.vault);
  return kExitOk;
}

void AddIoFlags(CLI::App* sub, TokenizeFlags* flags) {
  sub->add_option("--input", flags->input, "Input CSV (RFC 4180, header row)")->required();
  sub->add_option("--output", flags->output, "Output CSV (written atomically)")->required();
  sub->add_option("--vault", flags->vault, "Token vault (SQLite, AES-256-GCM)")
      ->capture_default_str();
}

// "HASH, MASKED, RANDOM or FPE" and a line per type saying what it is.
std::string TokenTypeHelp() {
  std::string help = ListTokenTypes(" or ");
  for (const TokenTypeTraits& t : kTokenTypes) {
    std::string name = t.name;
    name.resize(std::max<size_t>(name.size() + 1, 8), ' ');
    help += "\n  " + name + t.description;
  }
  return help;
}

// "FPE only": the types that take `option`.
std::string OnlyFor(TokenOption option) {
  return ListTokenTypes([option](const TokenTypeTraits& t) { return t.allowed.Has(option); },
                        " and ") +
         " only";
}

void AddColumnFlags(CLI::App* sub, TokenizeFlags* flags) {
  sub->add_option("--source-table", flags->source_table, "Domain prefix: <table>.<column>")
      ->capture_default_str();
  sub->add_option("--token-type", flags->token_type, TokenTypeHelp())->capture_default_str();
  sub->add_option("--fpe-algorithm", flags->fpe_algorithm,
                  OnlyFor(TokenOption::kAlgorithm) + ": FF1 or FF3-1")
      ->capture_default_str();
  sub->add_option("--alphabet", flags->alphabet,
                  OnlyFor(TokenOption::kAlphabet) + ": digits, alnum, lower, upper or custom")
      ->capture_default_str();
}

}  // namespace

void AddTokenizeCommands(CLI::App* app, CommandList* commands) {
  {
    auto flags = std::make_shared<TokenizeFlags>();
    CLI::App* sub = app->add_subcommand("tokenize-csv", "Tokenize column(s) of a CSV file");
    AddIoFlags(sub, flags.get());
    sub->add_option("--column", flags->columns, "Column(s) to tokenize (repeat or a,b,c)")
        ->required();
    AddColumnFlags(sub, flags.get());
    commands->push_back({sub, [flags] { return RunTokenize(*flags); }});
  }
  {
    auto flags = std::make_shared<TokenizeFlags>();
    CLI::App* sub =
        app->add_subcommand("tokenize-config", "Tokenize a CSV file with a YAML config");
    AddIoFlags(sub, flags.get());
    sub->add_option("--config", flags->config, "Tokenization config (configs/README.md)")
        ->required();
    commands->push_back({sub, [flags] { return RunTokenize(*flags); }});
  }
  {
    auto flags = std::make_shared<TokenizeFlags>();
    CLI::App* sub = app->add_subcommand(
        "detokenize",
        "Restore originals from the vault (" +
            ListTokenTypes([](const TokenTypeTraits& t) { return t.vault_default; }, ", ") +
            ") or by decryption (" +
            ListTokenTypes([](const TokenTypeTraits& t) { return t.reversible_by_key; }, ", ") +
            ")");
    AddIoFlags(sub, flags.get());
    sub->add_option("--config", flags->config, "The config the file was tokenized with");
    sub->add_option("--columns", flags->columns,
                    "Columns to restore (with --config: a subset; alone: as tokenize-csv made "
                    "them, with the same --token-type and --source-table)");
    AddColumnFlags(sub, flags.get());
    sub->callback([flags] {
      if (flags->config.empty() && flags->columns.empty()) {
        throw CLI::ValidationError("detokenize", "give --config CFG or --columns a,b");
      }
    });
    commands->push_back({sub, [flags] { return RunDetokenize(*flags); }});
  }
}

}  // namespace sdp
