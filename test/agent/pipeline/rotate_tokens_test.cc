#include "agent/pipeline/rotate_tokens.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "agent/crypto/key_ring_file.h"
#include "agent/tokenize/column_tokenizer.h"
#include "agent/vault/vault.h"
#include "common/base64url.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

// The server side of the rotation protocol in memory: stored tokens of one client, rewritten by
// the pairs it is given, with the contract's refusals; one rotation per domain (the rotation id
// names it), several open at once as on the server. `fail_apply_after` simulates a crash of
// the agent during apply (the call fails as a lost connection would). Every call holds `mu`, so
// the mapping workers' connections (ForwardingTransport) can share it.
class FakeRotationServer : public ServerTransport {
 public:
  std::map<std::string, std::vector<std::string>> rows;  // domain -> stored tokens, one per row
  std::map<std::string, int> version;                    // domain -> current key version
  std::map<std::string, std::map<std::string, std::string>> pairs;  // domain -> old -> new
  int from = 0, to = 0;
  int apply_calls = 0;
  int fail_apply_after = -1;
  std::vector<std::string> received;            // every pairs CSV, for the leak check
  std::recursive_mutex mu;

  bool OpenBatch(const std::string&, const std::string&, const std::string&, const std::string&,
                 const std::string&, BatchInfo*, TransportError*) override {
    return false;
  }
  bool AppendChunk(const std::string&, int, std::string_view, const std::string&, int64_t*,
                   TransportError*) override {
    return false;
  }
  bool SealBatch(const std::string&, int, const std::string&, BatchInfo*,
                 TransportError*) override {
    return false;
  }
  bool AbortBatch(const std::string&, const std::string&, BatchInfo*, TransportError*) override {
    return false;
  }
  bool ProcessBatch(const std::string&, bool, BatchInfo*, TransportError*) override {
    return false;
  }
  bool GetBatch(const std::string&, BatchInfo*, TransportError*) override { return false; }
  bool FetchResultsCsv(const std::string&, std::string*, TransportError*) override { return false; }
  const char* name() const override { return "fake"; }

  bool RekeyStatus(const std::string&, const std::string& domain, RekeyState* out,
                   TransportError*) override {
    *out = RekeyState();
    out->current_version = version.count(domain) ? version[domain] : 1;
    return true;
  }
  bool RekeyBegin(const std::string&, const std::string& domain, int from_version, int to_version,
                  const std::string&, RekeyState* out, TransportError* err) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (rows[domain].empty()) return Refuse("22023", "domain has no data", err);
    from = from_version;
    to = to_version;
    *out = RekeyState();
    out->rotation_id = "rotation:" + domain;
    return true;
  }
  bool RekeyTokens(const std::string& rotation_id, const std::string& after, int max_tokens,
                   std::vector<std::string>* tokens, TransportError*) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    const std::string domain = DomainOf(rotation_id);
    std::set<std::string> old;
    for (const std::string& t : rows[domain]) {
      if (IsOld(domain, t) && t > after) old.insert(t);
    }
    tokens->assign(old.begin(), old.end());
    if (static_cast<int>(tokens->size()) > max_tokens) tokens->resize(max_tokens);
    return true;
  }
  bool RekeyPairs(const std::string& rotation_id, const std::string& csv, RekeyState* out,
                  TransportError* err) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    std::map<std::string, std::string>& pairs = this->pairs[DomainOf(rotation_id)];
    received.push_back(csv);
    std::istringstream in(csv);
    std::string line;
    std::getline(in, line);
    if (line != "old_token,new_token") return Refuse("22023", "bad header", err);
    while (std::getline(in, line)) {
      const size_t comma = line.find(',');
      const std::string o = line.substr(0, comma), n = line.substr(comma + 1);
      if (TokenKeyVersion(o) != 0 && TokenKeyVersion(n) != to) {
        return Refuse("22023", "new token of the wrong version", err);
      }
      auto [it, inserted] = pairs.emplace(o, n);
      if (!inserted && it->second != n) return Refuse("PT409", "conflicting pair", err);
    }
    *out = RekeyState();
    out->pairs = static_cast<int64_t>(pairs.size());
    return true;
  }
  bool RekeyApply(const std::string& rotation_id, int max_rows, RekeyState* out,
                  TransportError* err) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    const std::string domain = DomainOf(rotation_id);
    const std::map<std::string, std::string>& pairs = this->pairs[domain];
    if (fail_apply_after >= 0 && apply_calls++ >= fail_apply_after) {
      err->kind = TransportError::Kind::kFatal;
      err->message = "connection lost";
      return false;
    }
    *out = RekeyState();
    int done = 0;
    for (std::string& t : rows[domain]) {
      if (done >= max_rows) break;
      auto it = pairs.find(t);
      if (IsOld(domain, t) && it != pairs.end()) {
        t = it->second;
        ++done;
      }
    }
    std::set<std::string> unmapped;
    bool left = false;
    for (const std::string& t : rows[domain]) {
      if (!IsOld(domain, t)) continue;
      if (pairs.count(t) == 0) unmapped.insert(t);
      left = left || pairs.count(t) != 0;
    }
    out->unmapped = static_cast<int64_t>(unmapped.size());
    out->done = !left;
    return true;
  }
  bool RekeyFinish(const std::string& rotation_id, RekeyState* out, TransportError* err) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    const std::string domain = DomainOf(rotation_id);
    for (const std::string& t : rows[domain]) {
      if (IsOld(domain, t)) return Refuse("PT409", "rows remain", err);
    }
    version[domain] = to;
    *out = RekeyState();
    out->state = "finished";
    return true;
  }

 private:
  // A token of the rotation's old version: HASH tokens say it; FPE tokens are told apart by
  // whether they were rewritten (a value of the pairs' right-hand side).
  bool IsOld(const std::string& domain, const std::string& t) {
    const int v = TokenKeyVersion(t);
    if (v != 0) return v == from;
    for (const auto& [o, n] : pairs[domain]) {
      if (n == t) return false;
    }
    return true;
  }
  static std::string DomainOf(const std::string& rotation_id) {
    return rotation_id.substr(rotation_id.find(':') + 1);
  }
  static bool Refuse(const char* code, const char* message, TransportError* err) {
    *err = TransportError();
    err->kind = TransportError::Kind::kRejected;
    err->code = code;
    err->message = message;
    return false;
  }
};

// A mapping worker's own connection to the one fake server.
class ForwardingTransport : public FakeRotationServer {
 public:
  explicit ForwardingTransport(FakeRotationServer* server) : server_(server) {}
  bool RekeyTokens(const std::string& id, const std::string& after, int max_tokens,
                   std::vector<std::string>* tokens, TransportError* err) override {
    return server_->RekeyTokens(id, after, max_tokens, tokens, err);
  }
  bool RekeyPairs(const std::string& id, const std::string& csv, RekeyState* out,
                  TransportError* err) override {
    return server_->RekeyPairs(id, csv, out, err);
  }
  bool RekeyApply(const std::string&, int, RekeyState*, TransportError* err) override {
    return Refuse(err);  // workers only map
  }
  bool RekeyFinish(const std::string&, RekeyState*, TransportError* err) override {
    return Refuse(err);
  }

 private:
  static bool Refuse(TransportError* err) {
    err->kind = TransportError::Kind::kFatal;
    err->message = "a mapping worker applied or finished a rotation";
    return false;
  }
  FakeRotationServer* server_;
};

KeyRing Versioned(const char* key, int version) {
  KeyRing keys = testing::Keys(key);
  keys.set_version(version);
  return keys;
}

TokenizationConfig Config() {
  TokenizationConfig config;
  std::string err;
  EXPECT_TRUE(
      ParseTokenizationConfig("version: 1\nsource_table: customers\ncolumns:\n"
                              "  customer_id: { token_type: HASH, domain: customer_id }\n"
                              "  ssn: { token_type: FPE, algorithm: FF1, alphabet: digits }\n"
                              "  last_name: { token_type: RANDOM }\n",
                              "test.yml", &config, &err))
      << err;
  return config;
}

std::string Tokenize(const TokenizationConfig& config, const std::string& column,
                     const KeyRing& keys, const std::string& value) {
  ColumnTokenizer t;
  std::string err, token;
  bool store = false;
  EXPECT_TRUE(t.Init(*config.Find(column), config, keys, &err)) << err;
  EXPECT_TRUE(t.Tokenize(value, &token, &store, &err)) << err;
  return token;
}

class RotateTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = Config();
    old_keys_ = Versioned(testing::kDemoKey, 1);
    new_keys_ = Versioned(testing::kOtherKey, 2);
    Vault vault;
    std::string err;
    ASSERT_TRUE(vault.Open(dir_.File("v.db"), Vault::Mode::kReadWrite, old_keys_, &err)) << err;
    for (int i = 0; i < 250; ++i) {
      const std::string id = "C" + std::to_string(100000 + i);
      const std::string ssn = "123-45-" + std::to_string(1000 + i);
      ids_.push_back(id);
      ssns_.push_back(ssn);
      const std::string tok = Tokenize(config_, "customer_id", old_keys_, id);
      ASSERT_TRUE(vault.Put("customer_id", tok, id, &err)) << err;
      // Two rows per customer: a customer in two batches.
      server_.rows["customer_id"].push_back(tok);
      server_.rows["customer_id"].push_back(tok);
      server_.rows["customers.ssn"].push_back(Tokenize(config_, "ssn", old_keys_, ssn));
    }
    ASSERT_TRUE(vault.Commit(&err)) << err;
    options_.client_id = "acme";
    options_.vault_path = dir_.File("v.db");
    options_.journal_path = dir_.File("rotate.journal");
    options_.page_tokens = 64;
    options_.apply_rows = 100;
  }

  bool Run(Failure* failure) {
    RotateReport report;
    return RotateTokens(options_, config_, old_keys_, new_keys_, &server_, &report, failure);
  }

  testing::ScopedTempDir dir_;
  TokenizationConfig config_;
  KeyRing old_keys_, new_keys_;
  FakeRotationServer server_;
  RotateOptions options_;
  std::vector<std::string> ids_, ssns_;
};

TEST_F(RotateTokensTest, EveryStoredTokenBecomesTheNewKeysTokenAndTheVaultFollows) {
  Failure failure;
  RotateReport report;
  ASSERT_TRUE(RotateTokens(options_, config_, old_keys_, new_keys_, &server_, &report, &failure))
      << failure.message;
  EXPECT_EQ(report.skipped_random, std::vector<std::string>{"customers.last_name"});
  EXPECT_EQ(report.vault_rekeyed, 500u);  // 250 old entries + 250 new-token entries
  for (size_t i = 0; i < ids_.size(); ++i) {
    const std::string now = Tokenize(config_, "customer_id", new_keys_, ids_[i]);
    EXPECT_EQ(now.size(), 26u);
    EXPECT_EQ(now[1], '2');
    EXPECT_EQ(server_.rows["customer_id"][2 * i], now);
    EXPECT_EQ(server_.rows["customer_id"][2 * i + 1], now);
    EXPECT_EQ(server_.rows["customers.ssn"][i], Tokenize(config_, "ssn", new_keys_, ssns_[i]));
  }
  EXPECT_EQ(server_.version["customer_id"], 2);
  EXPECT_EQ(server_.version["customers.ssn"], 2);
  // The vault is under the new key and knows both tokens of each customer.
  Vault vault;
  std::string err, original;
  bool found = false;
  ASSERT_TRUE(vault.Open(options_.vault_path, Vault::Mode::kReadOnly, new_keys_, &err)) << err;
  ASSERT_TRUE(vault.Get("customer_id", server_.rows["customer_id"][0], &original, &found, &err));
  EXPECT_TRUE(found);
  EXPECT_EQ(original, ids_[0]);
  ASSERT_TRUE(vault.Get("customer_id", Tokenize(config_, "customer_id", old_keys_, ids_[0]),
                        &original, &found, &err));
  EXPECT_TRUE(found);
  EXPECT_FALSE(testing::FileExists(options_.journal_path));
  // Only tokens went to the server: no value, no key.
  for (const std::string& csv : server_.received) {
    for (size_t i = 0; i < ids_.size(); ++i) {
      EXPECT_EQ(csv.find(ids_[i] + ","), std::string::npos);
      EXPECT_EQ(csv.find(ssns_[i]), std::string::npos);
    }
    EXPECT_EQ(csv.find(std::string(testing::kDemoKey).substr(0, 12)), std::string::npos);
    EXPECT_EQ(csv.find(std::string(testing::kOtherKey).substr(0, 12)), std::string::npos);
  }
  // A second run finds nothing to do.
  ASSERT_TRUE(RotateTokens(options_, config_, old_keys_, new_keys_, &server_, &report, &failure))
      << failure.message;
  for (const auto& d : report.domains) EXPECT_TRUE(d.skipped) << d.domain;
}

TEST_F(RotateTokensTest, ACrashDuringApplyResumesToTheSameEnd) {
  server_.fail_apply_after = 2;
  Failure failure;
  ASSERT_FALSE(Run(&failure));
  EXPECT_NE(failure.message.find("connection lost"), std::string::npos) << failure.message;
  EXPECT_TRUE(testing::FileExists(options_.journal_path));
  server_.fail_apply_after = -1;
  ASSERT_TRUE(Run(&failure)) << failure.message;
  for (size_t i = 0; i < ids_.size(); ++i) {
    EXPECT_EQ(server_.rows["customer_id"][2 * i],
              Tokenize(config_, "customer_id", new_keys_, ids_[i]));
  }
}

TEST_F(RotateTokensTest, MissingVaultEntriesAreCountedWithTheDomainAndTheFix) {
  server_.rows["customer_id"].push_back(Tokenize(config_, "customer_id", old_keys_, "C999"));
  server_.rows["customer_id"].push_back(Tokenize(config_, "customer_id", old_keys_, "C998"));
  Failure failure;
  ASSERT_FALSE(Run(&failure));
  EXPECT_NE(failure.message.find("2 token(s) of domain 'customer_id'"), std::string::npos)
      << failure.message;
  EXPECT_NE(failure.message.find("fix: pass --vault"), std::string::npos) << failure.message;
  EXPECT_EQ(server_.version["customer_id"], 0);  // not finished
}

// Domains mapped side by side on connections of their own (what rotate-tokens does): the same
// end as one after another, the workers never apply, and a mapping failure stops the run with
// the failing domain's message while nothing of that domain is finished.
TEST_F(RotateTokensTest, DomainsMappedSideBySideEndAsOneAfterAnother) {
  int opened = 0;
  std::mutex opened_mu;
  options_.open_transport = [&](std::unique_ptr<ServerTransport>* out, std::string*) {
    std::lock_guard<std::mutex> lock(opened_mu);
    ++opened;
    *out = std::make_unique<ForwardingTransport>(&server_);
    return true;
  };
  options_.mapping_workers = 2;
  Failure failure;
  RotateReport report;
  ASSERT_TRUE(RotateTokens(options_, config_, old_keys_, new_keys_, &server_, &report, &failure))
      << failure.message;
  EXPECT_EQ(opened, 2);
  ASSERT_EQ(report.domains.size(), 2u);
  EXPECT_EQ(report.domains[0].domain, "customer_id");  // reported in the domains' order
  EXPECT_EQ(report.domains[1].domain, "customers.ssn");
  EXPECT_EQ(report.domains[0].pairs, 250);
  EXPECT_EQ(report.domains[1].pairs, 250);
  for (size_t i = 0; i < ids_.size(); ++i) {
    EXPECT_EQ(server_.rows["customer_id"][2 * i],
              Tokenize(config_, "customer_id", new_keys_, ids_[i]));
    EXPECT_EQ(server_.rows["customers.ssn"][i], Tokenize(config_, "ssn", new_keys_, ssns_[i]));
  }
  EXPECT_EQ(server_.version["customer_id"], 2);
  EXPECT_EQ(server_.version["customers.ssn"], 2);
  EXPECT_FALSE(testing::FileExists(options_.journal_path));
}

TEST_F(RotateTokensTest, AMappingWorkersFailureStopsTheRunWithItsMessage) {
  server_.rows["customer_id"].push_back(Tokenize(config_, "customer_id", old_keys_, "C999"));
  options_.open_transport = [&](std::unique_ptr<ServerTransport>* out, std::string*) {
    *out = std::make_unique<ForwardingTransport>(&server_);
    return true;
  };
  Failure failure;
  ASSERT_FALSE(Run(&failure));
  EXPECT_NE(failure.message.find("1 token(s) of domain 'customer_id'"), std::string::npos)
      << failure.message;
  EXPECT_EQ(server_.version.count("customer_id"), 0u);  // not finished
  // A worker that cannot connect: the run stops with the connection's error.
  options_.open_transport = [](std::unique_ptr<ServerTransport>*, std::string* err) {
    *err = "server postgresql://db.example/sdp: connection refused";
    return false;
  };
  ASSERT_FALSE(Run(&failure));
  EXPECT_NE(failure.message.find("connection refused"), std::string::npos) << failure.message;
}

TEST_F(RotateTokensTest, AWrongOldKeyIsNamed) {
  const KeyRing wrong = Versioned("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1);
  Failure failure;
  RotateReport report;
  ASSERT_FALSE(RotateTokens(options_, config_, wrong, new_keys_, &server_, &report, &failure));
  EXPECT_NE(failure.message.find("wrong old key"), std::string::npos) << failure.message;
  EXPECT_TRUE(server_.pairs.empty());
}

TEST_F(RotateTokensTest, RandomDomainsAreRefusedWhenNamed) {
  options_.domains = {"customers.last_name"};
  Failure failure;
  ASSERT_FALSE(Run(&failure));
  EXPECT_NE(failure.message.find("not deterministic"), std::string::npos) << failure.message;
  EXPECT_EQ(failure.exit_code, 2);
}

TEST_F(RotateTokensTest, VersionsMustGoUp) {
  Failure failure;
  RotateReport report;
  ASSERT_FALSE(RotateTokens(options_, config_, new_keys_, old_keys_, &server_, &report, &failure));
  EXPECT_NE(failure.message.find("from an older key to a newer one"), std::string::npos)
      << failure.message;
}

TEST(RotatePairsCsvTest, FieldsAreQuotedOnlyWhenNeeded) {
  std::string csv;
  AppendPairsCsvRow("hAAA", "h2BBB", &csv);
  AppendPairsCsvRow("12,3", "4\"5", &csv);
  EXPECT_EQ(csv, "hAAA,h2BBB\n\"12,3\",\"4\"\"5\"\n");
}

}  // namespace
}  // namespace sdp
