// The upload manifest (see upload_manifest.h).
#include "agent/tokenize/upload_manifest.h"

#include <nlohmann/json.hpp>

namespace sdp {

std::string UploadManifestJson(const TokenizationConfig& config) {
  return UploadManifestJson(config, nullptr);
}

std::string UploadManifestJson(const TokenizationConfig& config, const KeyRing* keys) {
  if (config.columns.empty()) return "";
  // ordered_json: config order, so the same config always gives the same bytes.
  nlohmann::ordered_json manifest = nlohmann::ordered_json::object();
  for (const ColumnRule& rule : config.columns) {
    // FPE is named by its algorithm: the server accepts its outputs as declared (a
    // format-preserving ciphertext of a card number looks like one), and the classification
    // table keeps which cipher made them.
    const char* transform =
        rule.type == TokenType::kFpe ? FpeAlgorithmName(rule.algorithm) : TokenTypeName(rule.type);
    manifest[rule.column] = {{"transform", transform}};
    // The class the config names (what `sdp-agent scan` found); never a value.
    if (!rule.pii_class.empty()) manifest[rule.column]["class"] = rule.pii_class;
    if (keys != nullptr && rule.type != TokenType::kMasked) {
      manifest[rule.column]["domain"] = rule.domain;
      manifest[rule.column]["key_version"] = keys->version();
      manifest[rule.column]["key_id"] = keys->key_id();
    }
  }
  return manifest.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace sdp
