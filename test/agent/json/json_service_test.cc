#include "agent/json/json_service.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "agent/json/json_file.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

using nlohmann::json;
using testing::ScopedTempDir;

const char kRules[] = R"(version: 1
rules:
  - { path: "$.email", token_type: HASH, normalize: lowercase_trim }
  - { path: "$.items[*].card", token_type: FPE, alphabet: digits }
  - { path: "$..name", token_type: RANDOM }
)";

SecretBuffer Key(const std::string& s) {
  return SecretBuffer(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class JsonServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(JsonServiceOptions()); }

  void Start(JsonServiceOptions options) {
    std::string err;
    ASSERT_TRUE(ParseJsonRules(kRules, "r.yml", &rules_, &err)) << err;
    ASSERT_TRUE(KeyRing::FromEnvValue(testing::kDemoKey, &keys_, &err)) << err;
    options.vault_path = dir_.File("v.db");
    service_ = std::make_unique<JsonService>();
    ASSERT_TRUE(service_->Init(options, rules_, keys_, Key("pk"), Key("rk"), &err)) << err;
  }

  ServiceResponse Call(JsonServiceRole role, const std::string& method, const std::string& path,
                       const std::string& body = "", const char* key = "default") {
    ServiceRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    if (key != nullptr) {
      r.has_api_key = true;
      r.api_key = std::string(key) == "default"
                      ? (role == JsonServiceRole::kPseudonymize ? "pk" : "rk")
                      : key;
    }
    return service_->Handle(role, r);
  }

  ScopedTempDir dir_;
  JsonRules rules_;
  KeyRing keys_;
  std::unique_ptr<JsonService> service_;
};

constexpr auto P = JsonServiceRole::kPseudonymize;
constexpr auto R = JsonServiceRole::kRepersonalize;

TEST_F(JsonServiceTest, PseudonymizeThenRepersonalizeThenCleanup) {
  const std::string doc =
      R"({"email": " Ann@X.org ", "items": [{"card": "4111 1111 1111 1111"}], "name": "Ann"})";
  const ServiceResponse p = Call(P, "POST", "/pseudonymize", doc);
  ASSERT_EQ(p.status, 200) << p.body;
  const json pj = json::parse(p.body);
  EXPECT_EQ(pj["fields_pseudonymized"], 3);
  const std::string id = pj["pseudonym_id"];
  EXPECT_TRUE(IsPseudonymId(id));
  EXPECT_EQ(p.body.find("Ann"), std::string::npos);
  // The client re-serializes what it got: still verified (canonical MAC).
  const json req = {{"pseudonym_id", id}, {"pseudonymized_data", pj["pseudonymized_data"]}};
  const ServiceResponse r = Call(R, "POST", "/repersonalize", req.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json rj = json::parse(r.body);
  EXPECT_EQ(rj["original_data"], json::parse(doc));
  EXPECT_EQ(rj["verified"], true);
  // Tampered: refused with 409 when verifying.
  json tampered = req;
  tampered["pseudonymized_data"]["items"][0]["extra"] = 1;
  EXPECT_EQ(Call(R, "POST", "/repersonalize", tampered.dump()).status, 409);
  // Verify: plaintext at a rule path is named.
  json leaked = req;
  leaked["pseudonymized_data"]["name"] = "Ann";
  const json v = json::parse(Call(R, "POST", "/verify", leaked.dump()).body);
  EXPECT_EQ(v["verified"], false);
  EXPECT_EQ(v["mac_valid"], false);
  EXPECT_EQ(v["plaintext_paths"], json::array({"/name"}));
  // Hold blocks cleanup; release, cleanup, then the record is gone.
  EXPECT_EQ(Call(R, "POST", "/hold/" + id).status, 200);
  EXPECT_EQ(Call(R, "DELETE", "/cleanup/" + id).status, 409);
  EXPECT_EQ(Call(R, "DELETE", "/hold/" + id).status, 200);
  EXPECT_EQ(Call(R, "DELETE", "/cleanup/" + id).status, 200);
  EXPECT_EQ(Call(R, "POST", "/repersonalize", req.dump()).status, 404);
  const json stats = json::parse(Call(R, "GET", "/stats").body);
  EXPECT_EQ(stats["statistics"]["total_repersonalized"], 1);
}

// One vault, both front ends: the CLI keeps the MAC of a document's bytes, the service that of its
// canonical form. Each finds and verifies the other's records.
TEST_F(JsonServiceTest, RecordsOfTheCliAndOfTheServiceServeEachOther) {
  auto read = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  // A document the CLI pseudonymized (not in canonical form: spaces, member order).
  const std::string doc = R"({"name": "Ann", "email": "ann@x.org", "n": 1.50})";
  { std::ofstream(dir_.File("in.json")) << doc; }
  JsonFileJob job;
  job.input = dir_.File("in.json");
  job.output = dir_.File("out.json");
  job.vault_path = dir_.File("v.db");
  job.ids_output = dir_.File("ids.txt");
  JsonFileReport report;
  std::string err;
  ASSERT_TRUE(PseudonymizeJsonFile(job, rules_, keys_, &report, &err)) << err;
  const std::string cli_out = read(job.output);
  std::string id = read(job.ids_output);
  id.erase(id.find_last_not_of('\n') + 1);
  // Its exact bytes: verified by the service (the MAC of the bytes matches).
  std::string body = R"({"pseudonym_id":")" + id + R"(","pseudonymized_data":)" + cli_out + "}";
  ServiceResponse r = Call(R, "POST", "/repersonalize", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["verified"], true);
  EXPECT_EQ(json::parse(r.body)["original_data"], json::parse(doc));
  // A document the service pseudonymized, restored by the CLI from the bytes it answered.
  const ServiceResponse p = Call(P, "POST", "/pseudonymize", R"({"email": "bob@y.org", "b": [1]})");
  ASSERT_EQ(p.status, 200) << p.body;
  const std::string svc_doc = json::parse(p.body)["pseudonymized_data"].dump(2);  // re-serialized
  { std::ofstream(dir_.File("svc.json")) << svc_doc; }
  JsonFileJob back;
  back.input = dir_.File("svc.json");
  back.output = dir_.File("svc.restored.json");
  back.vault_path = job.vault_path;
  ASSERT_TRUE(RepersonalizeJsonFile(back, rules_, keys_, &report, &err)) << err;
  EXPECT_EQ(json::parse(read(back.output)), json::parse(R"({"email": "bob@y.org", "b": [1]})"));
  // Tampering still shows, whichever form made the record.
  json tampered = json::parse(cli_out);
  tampered["n"] = 2;
  body = R"({"pseudonym_id":")" + id + R"(","pseudonymized_data":)" + tampered.dump() + "}";
  EXPECT_EQ(Call(R, "POST", "/repersonalize", body).status, 409);
}

TEST_F(JsonServiceTest, KeysAreCheckedPerListener) {
  EXPECT_EQ(Call(P, "POST", "/pseudonymize", "{}", nullptr).status, 401);
  EXPECT_EQ(Call(P, "POST", "/pseudonymize", "{}", "rk").status, 401);  // the other role's key
  EXPECT_EQ(Call(R, "GET", "/stats", "", "pk").status, 401);
  EXPECT_EQ(Call(R, "GET", "/stats", "", "").status, 401);
  const ServiceResponse r = Call(P, "POST", "/pseudonymize", "{}", "pk ");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(json::parse(r.body)["status"], 401);
  // Open endpoints.
  EXPECT_EQ(Call(P, "GET", "/health", "", nullptr).status, 200);
  EXPECT_EQ(
      json::parse(Call(R, "GET", "/health", "", nullptr).body)["pseudonymization_service_status"],
      "healthy");
  EXPECT_EQ(json::parse(Call(P, "GET", "/docs", "", nullptr).body)["openapi"], "3.0.3");
  EXPECT_NE(Call(P, "GET", "/metrics", "", nullptr).body.find("sdp_json_unauthorized_total"),
            std::string::npos);
  // Role endpoints exist on their listener only.
  EXPECT_EQ(Call(P, "POST", "/repersonalize", "{}", "pk").status, 404);
  EXPECT_EQ(Call(R, "POST", "/pseudonymize", "{}", "rk").status, 404);
}

TEST_F(JsonServiceTest, BulkReportsEachDocument) {
  const ServiceResponse b = Call(
      P, "POST", "/pseudonymize/bulk",
      R"({"batch_id": "b-1", "datasets": [{"email": "a@x"}, {"items": [{"card": "12"}]}, [1]]})");
  ASSERT_EQ(b.status, 200) << b.body;
  const json bj = json::parse(b.body);
  EXPECT_EQ(bj["batch_id"], "b-1");
  EXPECT_EQ(bj["successful"], 2);
  EXPECT_EQ(bj["failed"], 1);
  EXPECT_EQ(bj["results"][1]["success"], false);
  EXPECT_EQ(bj["results"][1]["status"], 422);
  json items = json::array();
  items.push_back({{"pseudonym_id", bj["results"][0]["pseudonym_id"]},
                   {"pseudonymized_data", bj["results"][0]["pseudonymized_data"]}});
  items.push_back({{"pseudonym_id", "00000000-0000-4000-8000-000000000000"},
                   {"pseudonymized_data", json::object()}});
  items.push_back({{"pseudonym_id", bj["results"][2]["pseudonym_id"]},
                   {"pseudonymized_data", bj["results"][2]["pseudonymized_data"]}});
  json req = {{"items", items}, {"batch_id", "r-1"}, {"continue_on_error", true}};
  json rj = json::parse(Call(R, "POST", "/repersonalize/bulk", req.dump()).body);
  EXPECT_EQ(rj["successful"], 2);
  EXPECT_EQ(rj["failed"], 1);
  EXPECT_EQ(rj["results"][0]["original_data"], json::parse(R"({"email": "a@x"})"));
  EXPECT_EQ(rj["results"][1]["status"], 404);
  req["continue_on_error"] = false;
  rj = json::parse(Call(R, "POST", "/repersonalize/bulk", req.dump()).body);
  EXPECT_EQ(rj["successful"], 1);
  EXPECT_EQ(rj["skipped"], 1);
  EXPECT_EQ(Call(R, "POST", "/repersonalize/bulk", "{}").status, 400);
}

TEST_F(JsonServiceTest, SizeDepthAndRateLimits) {
  JsonServiceOptions options;
  options.max_body_bytes = 100;
  options.max_depth = 4;
  options.rate_per_second = 1;
  options.rate_burst = 2;
  Start(options);
  EXPECT_EQ(Call(P, "POST", "/pseudonymize", std::string(101, ' ') + "{}").status, 413);
  const ServiceResponse deep = Call(P, "POST", "/pseudonymize", "[[[[[1]]]]]");
  EXPECT_EQ(deep.status, 422);
  EXPECT_NE(deep.body.find("nesting deeper than 4"), std::string::npos);
  const ServiceResponse limited = Call(P, "GET", "/health");
  EXPECT_EQ(limited.status, 429);
  EXPECT_GE(limited.retry_after, 1);
  EXPECT_EQ(Call(R, "GET", "/health").status, 200);  // each listener has its own bucket
}

TEST_F(JsonServiceTest, SameKeyForBothRolesIsRefused) {
  JsonService service;
  std::string err;
  EXPECT_FALSE(service.Init(JsonServiceOptions(), rules_, keys_, Key("k"), Key("k"), &err));
  EXPECT_NE(err.find("are the same"), std::string::npos);
  EXPECT_FALSE(service.Init(JsonServiceOptions(), rules_, keys_, Key(""), Key("k"), &err));
  EXPECT_NE(err.find("SDP_PSEUDONYMIZE_API_KEY is not set"), std::string::npos);
}

}  // namespace
}  // namespace sdp
