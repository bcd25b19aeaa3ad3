#include "transport.h"

#include <cstdlib>

#include "agent/secret_env.h"
#include "pg_transport.h"

namespace sdp {

// Defined in http_transport.cc.
std::unique_ptr<ServerTransport> NewHttpTransport(const TransportOptions& options,
                                                  std::string* err);

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
  options.insecure_http = insecure_http;
  return options;
}

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t host_start = scheme + 3;
  const size_t at = url.find('@', host_start);
  const size_t slash = url.find('/', host_start);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  const std::string userinfo = url.substr(host_start, at - host_start);
  const size_t colon = userinfo.find(':');
  const std::string user = colon == std::string::npos ? userinfo : userinfo.substr(0, colon);
  // https URLs never carry a user; postgresql ones keep the role name, never the password.
  const bool keep_user =
      url.compare(0, 10, "postgresql") == 0 || url.compare(0, 8, "postgres") == 0;
  return url.substr(0, host_start) + (keep_user && !user.empty() ? user + "@" : "") +
         url.substr(at + 1);
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
    *out = NewPgTransport(options);
    return true;
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
