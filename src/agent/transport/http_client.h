// The HTTP mechanics of the agent behind a small interface, so that HttpTransport (status
// mapping, retries, error parsing) is tested with a fake and never needs a server.
//
//   CurlHttpClient  libcurl, one easy handle reused across requests (keep-alive, TLS session
//                   cache); TLS peer and host verification always on; SDP_CA_BUNDLE as CAINFO
//                   and the only trust anchors; no proxy but SDP_PROXY, never for loopback;
//                   optional client certificate (mTLS); connect and low-speed timeouts;
//                   CURLOPT_NOSIGNAL; http/https only; no redirects; never CURLOPT_VERBOSE.
//
// curl_global_init must have been called once (main does it before any thread starts).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sdp {

struct HttpHeader {
  std::string name;
  std::string value;
};
using HttpHeaders = std::vector<HttpHeader>;

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // of the final response (not of a 100 Continue)
  std::string body;

  // First header with this name (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

// Why a request produced no HTTP response at all.
struct HttpFailure {
  enum class Kind {
    kNone,
    kNetwork,  // DNS, refused, reset, timeout, TLS handshake interrupted: worth retrying
    kTls,      // the server's certificate was not trusted, or ours was refused: never retried
    kFatal,    // bad URL, unreadable CA bundle or client certificate, response too large:
               // never retried
  };
  Kind kind = Kind::kNone;
  std::string message;  // one line, no secrets
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends the request and fills *out with whatever status the server answered (2xx or not).
  // Returns false only when there is no HTTP response; *failure then says why.
  virtual bool Post(const std::string& url, const HttpHeaders& headers, std::string_view body,
                    HttpResponse* out, HttpFailure* failure) = 0;
  virtual bool Get(const std::string& url, const HttpHeaders& headers, HttpResponse* out,
                   HttpFailure* failure) = 0;
};

struct HttpClientOptions {
  // PEM file of trusted CAs: when given, the only trust anchors (libcurl's built-in CA path,
  // /etc/ssl/certs on Debian, is switched off). Empty = the system store.
  std::string ca_bundle;
  // The system store's directory when ca_bundle is empty; empty = libcurl's built-in default.
  // Tests point it at a directory of their own to stand for the system store.
  std::string system_ca_dir;
  // Proxy URL (SDP_PROXY), used for non-loopback servers only. The proxy environment variables
  // (http_proxy, HTTPS_PROXY, ALL_PROXY, ...) are ignored: a proxy is used only when configured
  // here, and a loopback server is never reached through one.
  std::string proxy;
  std::string client_cert;  // PEM client certificate for mTLS (optional)
  std::string client_key;   // PEM private key of client_cert (optional)
  long connect_timeout_seconds = 10;
  // A transfer that moves less than 1 byte/s for this long is aborted (a stalled server or
  // network). Not a total timeout: a large upload on a slow link is fine while it moves.
  long low_speed_seconds = 300;
  int64_t max_response_bytes = int64_t{1} << 30;  // 1 GiB, PostgreSQL's cap on one value
  std::string user_agent = "sdp-agent";
};

// nullptr and *err set when libcurl cannot be initialised or a file named in options is missing.
std::unique_ptr<HttpClient> NewCurlHttpClient(const HttpClientOptions& options, std::string* err);

// Header names whose values are secrets: X-API-Key, Authorization, Proxy-Authorization, Cookie,
// Set-Cookie (case-insensitive).
bool IsSecretHeader(std::string_view name);
// "Name: value" lines joined by "; ", secret values replaced by "[redacted]". For traces only.
std::string RedactHeaders(const HttpHeaders& headers);

}  // namespace sdp
