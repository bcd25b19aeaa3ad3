// Transport options from the environment, choosing libpq or HTTPS by URL, URL redaction, and
// how a transport error is described to the user.
#include "agent/transport/transport.h"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/crypto/secret_env.h"
#include "agent/transport/pg_transport.h"
#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {

// Defined in http_transport.cc.
std::unique_ptr<ServerTransport> NewHttpTransport(const TransportOptions& options,
                                                  std::string* err);

namespace {

bool NotSupported(const ServerTransport& t, TransportError* err) {
  *err = TransportError();
  err->kind = TransportError::Kind::kFatal;
  err->message = std::string("key rotation is not supported over ") + t.name();
  return false;
}

}  // namespace

bool ServerTransport::RekeyBegin(const std::string&, const std::string&, int, int,
                                 const std::string&, RekeyState*, TransportError* err) {
  return NotSupported(*this, err);
}
bool ServerTransport::RekeyTokens(const std::string&, const std::string&, int,
                                  std::vector<std::string>*, TransportError* err) {
  return NotSupported(*this, err);
}
bool ServerTransport::RekeyPairs(const std::string&, const std::string&, RekeyState*,
                                 TransportError* err) {
  return NotSupported(*this, err);
}
bool ServerTransport::RekeyApply(const std::string&, int, RekeyState*, TransportError* err) {
  return NotSupported(*this, err);
}
bool ServerTransport::RekeyFinish(const std::string&, RekeyState*, TransportError* err) {
  return NotSupported(*this, err);
}
bool ServerTransport::TokenVersions(const std::string&, const std::string&,
                                    std::vector<TokenVersionPair>*, TransportError* err) {
  return NotSupported(*this, err);
}
bool ServerTransport::RekeyStatus(const std::string&, const std::string&, RekeyState*,
                                  TransportError* err) {
  return NotSupported(*this, err);
}

bool ParseRekeyJson(std::string_view body, RekeyState* out, std::string* err) {
  *out = RekeyState();
  if (body.size() > (1 << 20)) {
    *err = "reply larger than 1 MiB";
    return false;
  }
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    *err = body.empty() ? "empty reply" : "not a JSON object: " + ShownServerText(body, 120);
    return false;
  }
  auto integer = [&j](const char* key, int64_t* v) {
    const auto it = j.find(key);
    if (it != j.end() && it->is_number_integer()) *v = it->get<int64_t>();
  };
  const auto id = j.find("rotation_id");
  if (id != j.end() && id->is_string()) {
    out->rotation_id = id->get<std::string>();
    if (!IsCanonicalUuid(out->rotation_id)) {
      *err = "rotation_id is not a UUID";
      return false;
    }
  }
  const auto state = j.find("state");
  if (state != j.end() && state->is_string()) {
    out->state = ShownServerText(state->get<std::string>(), 32);
  }
  integer("pairs", &out->pairs);
  integer("accepted", &out->accepted);
  integer("rows_done", &out->rows_done);
  integer("rows_total", &out->rows_total);
  integer("unmapped", &out->unmapped);
  int64_t version = 0;
  integer("key_version", &version);
  if (version == 0) integer("current_version", &version);
  out->current_version = version > 0 && version < 1000 ? static_cast<int>(version) : 0;
  const auto key_id = j.find("key_id");
  if (key_id != j.end() && key_id->is_string()) {
    out->key_id = ShownServerText(key_id->get<std::string>(), 16);
  }
  const auto stored = j.find("stored_versions");
  if (stored != j.end() && stored->is_array()) {
    out->known_stored_versions = true;
    for (const auto& v : *stored) {
      if (v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() < 1000) {
        out->stored_versions.push_back(static_cast<int>(v.get<int64_t>()));
      }
    }
  }
  const auto rotation = j.find("rotation");
  out->open_rotation = rotation != j.end() && rotation->is_object();
  const auto done = j.find("done");
  out->done = done != j.end() && done->is_boolean() && done->get<bool>();
  out->json = ShownServerText(body, 4096);
  return true;
}

TransportOptions TransportOptionsFromEnv(const std::string& url_flag, const std::string& client_id,
                                         bool insecure_http) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  TransportOptions options;
  options.url = url_flag.empty() ? env("SDP_SERVER_URL") : url_flag;
  options.client_id = client_id;
  // Taken out of the environment at start-up (secret_env.h), so never read with getenv().
  if (const SecretBuffer* api_key = TakeSecretEnv("SDP_API_KEY")) {
    options.api_key.assign(reinterpret_cast<const char*>(api_key->data()), api_key->size());
  }
  options.ca_bundle = env("SDP_CA_BUNDLE");
  options.client_cert = env("SDP_CLIENT_CERT");
  options.client_key = env("SDP_CLIENT_KEY");
  options.proxy = env("SDP_PROXY");
  options.insecure_http = insecure_http;
  return options;
}

namespace {

// "%70assword" -> "password": libpq decodes parameter names too, so they are compared decoded.
std::string PercentDecodeLower(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSecretUrlParameter(const std::string& name) {
  return name == "password" || name == "sslpassword" || name == "options" ||
         name.find("key") != std::string::npos || name.find("secret") != std::string::npos ||
         name.find("token") != std::string::npos || name.find("pass") != std::string::npos;
}

}  // namespace

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "(a server URL that is not scheme://...)";
  const size_t host_start = scheme + 3;
  const size_t query = url.find_first_of("?#", host_start);
  std::string head = url.substr(0, query);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  // The authority ends at the last '@' before the path: a password may itself contain '@'.
  const size_t slash = head.find('/', host_start);
  const size_t at = head.rfind('@', slash == std::string::npos ? std::string::npos : slash);
  if (at != std::string::npos && at >= host_start) {
    const std::string userinfo = head.substr(host_start, at - host_start);
    const size_t colon = userinfo.find(':');
    const std::string user = colon == std::string::npos ? userinfo : userinfo.substr(0, colon);
    // https URLs never carry a user; postgresql ones keep the role name, never the password.
    const bool keep_user =
        url.compare(0, 10, "postgresql") == 0 || url.compare(0, 8, "postgres") == 0;
    head = head.substr(0, host_start) + (keep_user && !user.empty() ? user + "@" : "") +
           head.substr(at + 1);
  }
  if (tail.empty()) return head;
  if (tail[0] == '#') return head;  // a fragment means nothing to either transport
  const size_t hash = tail.find('#');
  if (hash != std::string::npos) tail.resize(hash);
  std::string out = head + "?";
  size_t start = 1;
  bool first = true;
  while (start <= tail.size()) {
    size_t end = tail.find('&', start);
    if (end == std::string::npos) end = tail.size();
    const std::string param = tail.substr(start, end - start);
    const size_t eq = param.find('=');
    const std::string name = param.substr(0, eq);
    if (!param.empty()) {
      if (!first) out += '&';
      first = false;
      out += IsSecretUrlParameter(PercentDecodeLower(name)) ? name + "=[redacted]" : param;
    }
    start = end + 1;
  }
  return out;
}

std::string DescribeTransportError(const std::string& what, const TransportError& err) {
  std::string out = what + ": ";
  if (err.http_status != 0) out += "HTTP " + std::to_string(err.http_status) + " ";
  if (!err.code.empty()) out += err.code + ": ";
  out += err.message;
  std::string fix = err.hint;
  if (fix.empty()) {
    switch (err.kind) {
      case TransportError::Kind::kRetryable:
        fix = "the server is unreachable or busy; run the same command again (it resumes)";
        break;
      case TransportError::Kind::kAuth:
        fix = "check SDP_API_KEY and --client-id";
        break;
      case TransportError::Kind::kNotFound:
        fix = "check the batch id (batches of other clients are reported as not found)";
        break;
      case TransportError::Kind::kConflict:
        fix = "the server holds different content under this idempotency key or chunk";
        break;
      case TransportError::Kind::kRejected:
        fix = "correct the input named above";
        break;
      default:
        break;
    }
  }
  if (!fix.empty()) out += "; fix: " + fix;
  return out;
}

bool MakeTransport(const TransportOptions& options, std::unique_ptr<ServerTransport>* out,
                   std::string* err) {
  const std::string& url = options.url;
  if (url.empty()) {
    *err =
        "no server URL; fix: pass --server-url or set SDP_SERVER_URL (postgresql://... or "
        "https://...)";
    return false;
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    *out = NewPgTransport(options, err);
    return *out != nullptr;
  }
  if (url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0) {
    *out = NewHttpTransport(options, err);
    return *out != nullptr;
  }
  *err = "unsupported server URL " + RedactUrl(url) +
         "; fix: use postgresql://... (libpq) or https://... (PostgREST)";
  return false;
}

}  // namespace sdp
