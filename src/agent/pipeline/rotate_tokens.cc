// The token rotation (see rotate_tokens.h and docs/key_rotation.md).
#include "agent/pipeline/rotate_tokens.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "agent/crypto/fpe_alphabet.h"
#include "agent/crypto/key_ring_file.h"
#include "agent/support/exit_status.h"
#include "agent/support/log.h"
#include "agent/support/signals.h"
#include "agent/tokenize/column_tokenizer.h"
#include "agent/transport/uploader.h"
#include "agent/vault/vault.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

using Json = nlohmann::json;

constexpr int kMaxPairsPerCall = 50000;  // the server's limit per sdp_rekey_pairs call
constexpr int kMaxPasses = 3;            // re-pages when tokens arrived during the rotation

// What a re-run needs to know that the server cannot tell it: which domains this rotation
// already finished (a finished domain's begin would find no data of the old version) and
// whether the vault was re-keyed.
struct Journal {
  std::string client_id, from_key_id, to_key_id;
  std::set<std::string> finished;
  bool vault_rekeyed = false;
};

bool LoadJournal(const std::string& path, Journal* j, bool* exists, std::string* err) {
  *exists = false;
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return true;
    *err = "journal " + path + ": " + std::strerror(errno) +
           "; fix: give --journal a plain file in a directory of yours";
    return false;
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 && text.size() < (1 << 20)) {
    text.append(buf, static_cast<size_t>(n));
  }
  const Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.value("client_id", Json()).is_string() ||
      !doc.value("from_key_id", Json()).is_string() ||
      !doc.value("to_key_id", Json()).is_string() ||
      !doc.value("finished_domains", Json()).is_array()) {
    *err = "journal " + path +
           " is not a rotate-tokens journal; fix: move it away (the server and the vault "
           "remember the rotation's progress; only finished domains are re-checked)";
    return false;
  }
  j->client_id = doc["client_id"].get<std::string>();
  j->from_key_id = doc["from_key_id"].get<std::string>();
  j->to_key_id = doc["to_key_id"].get<std::string>();
  for (const Json& d : doc["finished_domains"]) {
    if (d.is_string()) j->finished.insert(d.get<std::string>());
  }
  j->vault_rekeyed = doc.value("vault_rekeyed", false);
  *exists = true;
  return true;
}

// Atomic (temporary file, fsync, rename): a kill -9 leaves the old journal or the new one.
bool SaveJournal(const std::string& path, const Journal& j, std::string* err) {
  Json doc = {
      {"client_id", j.client_id},
      {"from_key_id", j.from_key_id},
      {"to_key_id", j.to_key_id},
      {"finished_domains", Json(std::vector<std::string>(j.finished.begin(), j.finished.end()))},
      {"vault_rekeyed", j.vault_rekeyed}};
  const std::string text = doc.dump(1) + "\n";
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  ScopedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool ok = fd.valid() &&
            ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd.get()) == 0;
  ok = fd.Close() && ok;
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    *err = "journal " + path + ": cannot write it: " + std::strerror(errno) +
           "; fix: check the directory's permissions and free space";
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool NeedsQuotes(const std::string& s) { return s.find_first_of(",\"\r\n") != std::string::npos; }

void AppendCsvField(const std::string& s, std::string* csv) {
  if (!NeedsQuotes(s)) {
    csv->append(s);
    return;
  }
  csv->push_back('"');
  for (char c : s) {
    if (c == '"') csv->push_back('"');
    csv->push_back(c);
  }
  csv->push_back('"');
}

bool TransportFail(Failure* failure, const std::string& what, const TransportError& terr) {
  return Fail(failure, ExitCodeFor(terr), DescribeTransportError(what, terr));
}

// One domain's rotation as it runs.
struct DomainJob {
  const ColumnRule* rule = nullptr;
  ColumnTokenizer old_tokenizer, new_tokenizer;
};

class Rotation {
 public:
  Rotation(const RotateOptions& options, const TokenizationConfig& config, const KeyRing& old_keys,
           const KeyRing& new_keys, ServerTransport* transport, RotateReport* report,
           Failure* failure)
      : options_(options),
        config_(config),
        old_keys_(old_keys),
        new_keys_(new_keys),
        transport_(transport),
        report_(report),
        failure_(failure) {}

  bool Run() {
    report_->from_version = old_keys_.version();
    report_->to_version = new_keys_.version();
    report_->from_key_id = old_keys_.key_id();
    report_->to_key_id = new_keys_.key_id();
    if (old_keys_.key_id() == new_keys_.key_id()) {
      return Fail(failure_, kExitUsage,
                  "the old key (key id " + old_keys_.key_id() +
                      ") is SDP_CRYPTO_KEY itself; fix: set SDP_CRYPTO_KEY to the new key and "
                      "name the old one with --from-key-env");
    }
    if (old_keys_.version() >= new_keys_.version()) {
      return Fail(failure_, kExitUsage,
                  "the old key is version " + std::to_string(old_keys_.version()) +
                      " and SDP_CRYPTO_KEY version " + std::to_string(new_keys_.version()) +
                      " in the key ring; fix: rotate from an older key to a newer one "
                      "(sdp-agent keygen --ring makes the next version)");
    }
    std::vector<std::string> domains;
    if (!PickDomains(&domains)) return false;
    if (!OpenJournal() || !OpenVault()) return false;
    if (!RotateDomains(domains)) return false;
    if (!RekeyVault() || !RetireOldKey()) return false;
    ::unlink(options_.journal_path.c_str());  // done: nothing left to resume
    return true;
  }

 private:
  bool PickDomains(std::vector<std::string>* out) {
    std::set<std::string> random;
    for (const ColumnRule& rule : config_.columns) {
      if (rule.type == TokenType::kRandom) {
        random.insert(rule.domain);
      } else if (rule.type == TokenType::kHash || rule.type == TokenType::kFpe) {
        if (jobs_.count(rule.domain) == 0) {
          jobs_[rule.domain].rule = &rule;
          order_.push_back(rule.domain);
        }
      }
    }
    for (const std::string& d : options_.domains) {
      if (random.count(d) != 0 && jobs_.count(d) == 0) {
        return Fail(failure_, kExitUsage,
                    "domain '" + d +
                        "' is tokenized RANDOM: not deterministic, its tokens do not depend on "
                        "the key and there is nothing to rotate on the server (the vault is "
                        "re-keyed with the other domains); fix: leave it out of --domain");
      }
      if (jobs_.count(d) == 0) {
        return Fail(failure_, kExitConfig,
                    "domain '" + d +
                        "' is not a HASH or FPE domain of the config; fix: name a "
                        "domain the tokenization config uses");
      }
    }
    const std::vector<std::string>& wanted = options_.domains.empty() ? order_ : options_.domains;
    for (const std::string& d : wanted) {
      if (std::find(out->begin(), out->end(), d) == out->end()) out->push_back(d);
    }
    for (const std::string& d : random) {
      if (jobs_.count(d) == 0) report_->skipped_random.push_back(d);
    }
    if (out->empty()) {
      return Fail(failure_, kExitConfig,
                  "the config has no HASH or FPE column: nothing to rotate on the server; fix: "
                  "pass the tokenization config the batches were uploaded with");
    }
    for (const std::string& d : *out) {
      DomainJob& job = jobs_[d];
      std::string err;
      if (!job.old_tokenizer.Init(*job.rule, config_, old_keys_, &err) ||
          !job.new_tokenizer.Init(*job.rule, config_, new_keys_, &err)) {
        return Fail(failure_, kExitConfig, err);
      }
      needs_vault_ =
          needs_vault_ || job.rule->type == TokenType::kHash || job.new_tokenizer.uses_vault();
    }
    return true;
  }

  bool OpenJournal() {
    std::string err;
    bool exists = false;
    if (!LoadJournal(options_.journal_path, &journal_, &exists, &err)) {
      return Fail(failure_, kExitConfig, err);
    }
    if (exists &&
        (journal_.client_id != options_.client_id || journal_.from_key_id != old_keys_.key_id() ||
         journal_.to_key_id != new_keys_.key_id())) {
      return Fail(failure_, kExitConfig,
                  "journal " + options_.journal_path + " belongs to the rotation of client '" +
                      journal_.client_id + "' from key id " + journal_.from_key_id + " to " +
                      journal_.to_key_id +
                      "; fix: finish that rotation first (same keys), or give --journal another "
                      "file");
    }
    journal_.client_id = options_.client_id;
    journal_.from_key_id = old_keys_.key_id();
    journal_.to_key_id = new_keys_.key_id();
    if (!exists && !SaveJournal(options_.journal_path, journal_, &err)) {
      return Fail(failure_, kExitFailure, err);
    }
    return true;
  }

  // The vault opens under the old key, or under the new one when a previous run re-keyed it
  // already; under neither, the old key is the wrong one.
  bool OpenVault() {
    if (options_.vault_path.empty()) {
      if (!needs_vault_) return true;
      return Fail(failure_, kExitUsage,
                  "HASH tokens are mapped to the new key through their originals in the vault; "
                  "fix: pass --vault with the vault the batches were tokenized with");
    }
    struct stat st {};
    if (::stat(options_.vault_path.c_str(), &st) != 0) {
      return Fail(failure_, kExitConfig,
                  "vault " + options_.vault_path + ": " + std::strerror(errno) +
                      "; fix: pass --vault with the vault the batches were tokenized with");
    }
    vault_ = std::make_unique<Vault>();
    std::string old_err, new_err;
    if (vault_->Open(options_.vault_path, Vault::Mode::kReadWrite, old_keys_, &old_err)) {
      return true;
    }
    vault_ = std::make_unique<Vault>();
    if (vault_->Open(options_.vault_path, Vault::Mode::kReadWrite, new_keys_, &new_err)) {
      vault_under_new_key_ = true;
      return true;
    }
    vault_.reset();
    return Fail(failure_, kExitConfig,
                "wrong old key: the old key has key id " + old_keys_.key_id() + " (version " +
                    std::to_string(old_keys_.version()) + ") and " + old_err);
  }

  // A domain whose rotation is begun on the server: mapped (its first pass of pairs) by a mapping
  // worker, then applied and finished by the main thread, in the order of the domains.
  struct StartedDomain {
    RotateDomainReport rep;
    bool mapped = false;  // the first pass ended (ok, or failed with `failure`)
    bool map_ok = false;
    Failure failure;
  };

  // The domains one after another: status and begin (cheap), then the first pass of pairs of
  // every begun domain -- side by side on connections of their own when the caller gave
  // options_.open_transport, since listing tokens and storing pairs of one rotation do not touch
  // another's rows and are most of a rotation's server time -- and the rewrites, one domain at a
  // time on the main connection (two rewrites at once would update the same rows and hold each
  // other's rows back). Each domain is applied as soon as its pairs are in, while the workers map
  // the next ones.
  bool RotateDomains(const std::vector<std::string>& domains) {
    std::vector<StartedDomain> started;
    for (const std::string& domain : domains) {
      if (Interrupted()) return Fail(failure_, kExitInterrupted, "interrupted; run it again");
      if (!StartDomain(domain, &started)) return false;
    }
    const size_t workers =
        options_.open_transport
            ? std::min<size_t>(std::max(1, options_.mapping_workers), started.size())
            : 0;
    if (workers <= 1) {
      for (StartedDomain& d : started) {
        DomainJob& job = jobs_[d.rep.domain];
        if (!MapAndUpload(d.rep.domain, &job, d.rep.rotation_id, &d.rep.pairs, transport_,
                          failure_) ||
            !CompleteDomain(&d)) {
          return false;
        }
      }
      return true;
    }
    std::mutex mu;
    std::condition_variable cv;
    size_t next = 0, alive = workers;
    Failure open_failure;
    bool open_failed = false;
    auto worker = [&]() {
      std::unique_ptr<ServerTransport> transport;
      std::string err;
      const bool opened = options_.open_transport(&transport, &err);
      for (;;) {
        size_t i;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!opened && !open_failed) {
            open_failed = true;
            Fail(&open_failure, kExitConfig, err);
          }
          if (!opened || stop_ || next >= started.size()) break;
          i = next++;
        }
        StartedDomain& d = started[i];
        Failure failure;
        const bool ok = MapAndUpload(d.rep.domain, &jobs_[d.rep.domain], d.rep.rotation_id,
                                     &d.rep.pairs, transport.get(), &failure);
        std::lock_guard<std::mutex> lock(mu);
        d.mapped = true;
        d.map_ok = ok;
        d.failure = failure;
        if (!ok) stop_ = true;
        cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu);
      --alive;
      cv.notify_all();
    };
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(worker);
    bool ok = true;
    for (StartedDomain& d : started) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return d.mapped || alive == 0; });
        if (!d.mapped || !d.map_ok) {
          *failure_ = d.mapped ? d.failure : open_failure;
          if (!d.mapped && !open_failed) {
            Fail(failure_, kExitInterrupted, "interrupted; run it again");
          }
          ok = false;
        }
      }
      if (!ok || !CompleteDomain(&d)) {
        ok = false;
        break;
      }
    }
    stop_ = true;  // a worker still mapping stops at its next page
    for (std::thread& t : threads) t.join();
    return ok;
  }

  // Status, the checks, and begin. A domain with nothing to rotate is reported skipped and
  // journalled finished; a begun one is added to *started.
  bool StartDomain(const std::string& domain, std::vector<StartedDomain>* started) {
    DomainJob& job = jobs_[domain];
    RotateDomainReport rep;
    rep.domain = domain;
    rep.transform = job.rule->type == TokenType::kFpe ? FpeAlgorithmName(job.rule->algorithm)
                                                      : TokenTypeName(job.rule->type);
    TransportError terr;
    RekeyState state;
    if (journal_.finished.count(domain) != 0) {
      rep.skipped = true;
      report_->domains.push_back(rep);
      return true;
    }
    if (!transport_->RekeyStatus(options_.client_id, domain, &state, &terr)) {
      return TransportFail(failure_, "key rotation status of domain '" + domain + "'", terr);
    }
    const bool old_version_stored =
        state.known_stored_versions &&
        std::find(state.stored_versions.begin(), state.stored_versions.end(),
                  old_keys_.version()) != state.stored_versions.end();
    // The domain is on the new key already: done, unless rows of the old key were stored again
    // after that rotation finished (an agent that still had the old key uploaded a batch), which
    // a new rotation of the same versions rewrites.
    if (state.current_version >= new_keys_.version() && !old_version_stored) {
      rep.skipped = true;
      report_->domains.push_back(rep);
      return MarkFinished(domain);
    }
    // Nothing stored under the old key in this domain (no data at all, or all of it uploaded
    // under other keys) and no rotation open: nothing to rotate, and sdp_rekey_begin would
    // refuse it. (An open rotation whose batches are all rewritten still needs its finish.)
    if (state.known_stored_versions && !state.open_rotation && !old_version_stored) {
      rep.skipped = true;
      report_->domains.push_back(rep);
      return MarkFinished(domain);
    }
    if (!state.key_id.empty() && state.current_version == old_keys_.version() &&
        state.key_id != old_keys_.key_id()) {
      return Fail(failure_, kExitConfig,
                  "wrong old key: domain '" + domain + "' is stored under key id " + state.key_id +
                      " (version " + std::to_string(state.current_version) +
                      "), the old key given has key id " + old_keys_.key_id() +
                      "; fix: name the key the batches were uploaded with in --from-key-env");
    }
    if (!transport_->RekeyBegin(options_.client_id, domain, old_keys_.version(),
                                new_keys_.version(), new_keys_.key_id(), &state, &terr)) {
      return TransportFail(failure_, "starting the rotation of domain '" + domain + "'", terr);
    }
    rep.rotation_id = state.rotation_id;
    log::Event(log::Level::kInfo, "rotate_begin", "",
               "\"domain\":" + log::JsonString(domain) +
                   ",\"rotation_id\":" + log::JsonString(state.rotation_id) +
                   ",\"state\":" + log::JsonString(state.state));
    started->emplace_back();
    started->back().rep = rep;
    return true;
  }

  // The rewrite of a mapped domain, more passes of pairs for tokens that arrived meanwhile, and
  // finish. Main thread only (the journal and the report are written here).
  bool CompleteDomain(StartedDomain* d) {
    RotateDomainReport& rep = d->rep;
    const std::string& domain = rep.domain;
    DomainJob& job = jobs_[domain];
    RekeyState state;
    TransportError terr;
    for (int pass = 0;; ++pass) {
      if (pass > 0 &&
          !MapAndUpload(domain, &job, rep.rotation_id, &rep.pairs, transport_, failure_)) {
        return false;
      }
      bool done = false;
      const auto apply_start = std::chrono::steady_clock::now();
      while (!done) {
        if (Interrupted()) return Fail(failure_, kExitInterrupted, "interrupted; run it again");
        if (!transport_->RekeyApply(rep.rotation_id, options_.apply_rows, &state, &terr)) {
          return TransportFail(failure_, "rewriting domain '" + domain + "'", terr);
        }
        done = state.done;
        rep.rows_done = state.rows_done;
        log::Event(log::Level::kDebug, "rotate_apply", "",
                   "\"domain\":" + log::JsonString(domain) +
                       ",\"rows_done\":" + std::to_string(state.rows_done) +
                       ",\"rows_total\":" + std::to_string(state.rows_total));
      }
      rep.apply_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - apply_start).count();
      if (state.unmapped == 0) break;
      // Tokens of the old key that arrived after the pages were read (an upload under the old
      // key during the rotation): map those too.
      if (pass + 1 >= kMaxPasses) {
        return Fail(failure_, kExitRetryable,
                    "domain '" + domain + "' still has " + std::to_string(state.unmapped) +
                        " tokens of the old key after " + std::to_string(kMaxPasses) +
                        " passes (uploads under the old key are still arriving); fix: switch "
                        "every uploader to the new key, then run rotate-tokens again");
      }
    }
    if (!transport_->RekeyFinish(rep.rotation_id, &state, &terr)) {
      return TransportFail(failure_, "finishing the rotation of domain '" + domain + "'", terr);
    }
    log::Event(log::Level::kInfo, "rotate_finished", "",
               "\"domain\":" + log::JsonString(domain) + ",\"rotation_id\":" +
                   log::JsonString(rep.rotation_id) + ",\"pairs\":" + std::to_string(rep.pairs));
    report_->domains.push_back(rep);
    return MarkFinished(domain);
  }

  bool MarkFinished(const std::string& domain) {
    journal_.finished.insert(domain);
    std::string err;
    if (!SaveJournal(options_.journal_path, journal_, &err)) {
      return Fail(failure_, kExitFailure, err);
    }
    return true;
  }

  // Pages through the domain's old tokens; each page's new tokens reach the vault (durably)
  // before their pairs reach the server, so a new token the server stores always detokenizes.
  // Thread-safe for different domains: each caller has its own transport and failure; the
  // vault (one SQLite connection) is used under vault_mu_, one page at a time.
  bool MapAndUpload(const std::string& domain, DomainJob* job, const std::string& rotation_id,
                    int64_t* pairs_sent, ServerTransport* transport, Failure* failure) {
    const bool is_hash = job->rule->type == TokenType::kHash;
    const int page = std::max(1, std::min(options_.page_tokens, kMaxPairsPerCall));
    std::string after, original, check, new_token, csv, err;
    std::vector<std::string> tokens;
    int64_t missing = 0;
    std::string first_missing;
    TransportError terr;
    for (;;) {
      if (Interrupted() || stop_) {
        return Fail(failure, kExitInterrupted, "interrupted; run it again");
      }
      if (!transport->RekeyTokens(rotation_id, after, page, &tokens, &terr)) {
        return TransportFail(failure, "listing the tokens of domain '" + domain + "'", terr);
      }
      if (tokens.empty()) break;
      csv.assign("old_token,new_token\n");
      int64_t rows = 0;
      std::unique_lock<std::mutex> vault_lock(vault_mu_);
      for (const std::string& token : tokens) {
        bool found = false;
        if (is_hash) {
          if (TokenKeyVersion(token) != old_keys_.version()) {
            return Fail(failure, kExitFailure,
                        "the server listed a token of domain '" + domain +
                            "' that is not a HASH token of key version " +
                            std::to_string(old_keys_.version()) +
                            "; fix: check that --from-key-env names the key the batches were "
                            "uploaded with");
          }
          if (!vault_->Get(domain, token, &original, &found, &err)) {
            return Fail(failure, kExitFailure, err);
          }
          if (!found) {
            if (missing++ == 0) first_missing = token;
            continue;
          }
          bool store = false;
          if (!job->old_tokenizer.Tokenize(original, &check, &store, &err)) {
            return Fail(failure, kExitFailure, err);
          }
          if (check != token) {
            OPENSSL_cleanse(original.data(), original.size());
            return Fail(failure, kExitConfig,
                        "wrong old key: the vault's value for a token of domain '" + domain +
                            "' does not hash to that token under key id " + old_keys_.key_id() +
                            "; fix: name the key the batches were uploaded with in "
                            "--from-key-env");
          }
        } else if (!job->old_tokenizer.Detokenize(token, vault_.get(), &original, &err)) {
          return Fail(failure, kExitFailure, "domain '" + domain + "': " + err);
        }
        bool store = false;
        const bool made = job->new_tokenizer.Tokenize(original, &new_token, &store, &err);
        if (made && (store || is_hash) && vault_ != nullptr &&
            !vault_->Put(domain, new_token, original, &err)) {
          OPENSSL_cleanse(original.data(), original.size());
          return Fail(failure, kExitFailure, err);
        }
        OPENSSL_cleanse(original.data(), original.size());
        if (!made) return Fail(failure, kExitFailure, "domain '" + domain + "': " + err);
        AppendPairsCsvRow(token, new_token, &csv);
        ++rows;
      }
      after = tokens.back();
      if (vault_ != nullptr && !vault_->Commit(&err)) return Fail(failure, kExitFailure, err);
      vault_lock.unlock();
      if (rows > 0) {
        RekeyState state;
        if (!transport->RekeyPairs(rotation_id, csv, &state, &terr)) {
          return TransportFail(failure, "uploading token pairs of domain '" + domain + "'", terr);
        }
        *pairs_sent += rows;
        log::Event(
            log::Level::kDebug, "rotate_pairs", "",
            "\"domain\":" + log::JsonString(domain) + ",\"pairs\":" + std::to_string(*pairs_sent));
      }
      if (static_cast<int>(tokens.size()) < page) break;
    }
    if (missing > 0) {
      return Fail(failure, kExitFailure,
                  std::to_string(missing) + " token(s) of domain '" + domain +
                      "' stored on the server are not in vault " + options_.vault_path +
                      " (the first: " + first_missing +
                      "); nothing of them was rotated, the rotation stays open; fix: pass "
                      "--vault with the vault those batches were tokenized with (or merge it), "
                      "then run rotate-tokens again");
    }
    return true;
  }

  // After every domain is finished: the vault's entries are re-encrypted under the new key (one
  // SQLite transaction: all or nothing).
  bool RekeyVault() {
    if (vault_ == nullptr || vault_under_new_key_) return true;
    std::string err;
    log::Event(log::Level::kInfo, "rotate_vault_rekey", options_.vault_path);
    if (!vault_->RotateKey(new_keys_, &report_->vault_rekeyed, &err)) {
      return Fail(failure_, kExitFailure, err);
    }
    journal_.vault_rekeyed = true;
    if (!SaveJournal(options_.journal_path, journal_, &err)) {
      return Fail(failure_, kExitFailure, err);
    }
    return true;
  }

  bool RetireOldKey() {
    if (options_.ring_path.empty()) return true;
    KeyRingFile ring;
    std::string err;
    if (!KeyRingFile::Load(options_.ring_path, &ring, &err) ||
        !ring.Retire(old_keys_.version(), KeyRingTimestamp(), &err) ||
        !ring.Save(options_.ring_path, &err)) {
      return Fail(failure_, kExitFailure, err);
    }
    report_->ring_retired = true;
    return true;
  }

  const RotateOptions& options_;
  const TokenizationConfig& config_;
  const KeyRing& old_keys_;
  const KeyRing& new_keys_;
  ServerTransport* transport_;
  RotateReport* report_;
  Failure* failure_;
  std::map<std::string, DomainJob> jobs_;
  std::vector<std::string> order_;
  bool needs_vault_ = false;
  std::unique_ptr<Vault> vault_;
  bool vault_under_new_key_ = false;
  std::mutex vault_mu_;            // the vault's connection, shared by the mapping workers
  std::atomic<bool> stop_{false};  // a failure somewhere: mapping workers stop at their next page
  Journal journal_;
};

}  // namespace

void AppendPairsCsvRow(const std::string& old_token, const std::string& new_token,
                       std::string* csv) {
  AppendCsvField(old_token, csv);
  csv->push_back(',');
  AppendCsvField(new_token, csv);
  csv->push_back('\n');
}

bool RotateTokens(const RotateOptions& options, const TokenizationConfig& config,
                  const KeyRing& old_keys, const KeyRing& new_keys, ServerTransport* transport,
                  RotateReport* report, Failure* failure) {
  *report = RotateReport();
  const auto start = std::chrono::steady_clock::now();
  Rotation rotation(options, config, old_keys, new_keys, transport, report, failure);
  const bool ok = rotation.Run();
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ok;
}

}  // namespace sdp
