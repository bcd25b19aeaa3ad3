// libcurl implementation of HttpClient (see http_client.h).
#include "agent/transport/http_client.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/transport/http_transport.h"
#include "common/text.h"

namespace sdp {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

// Header lists may hold X-API-Key: wipe every line before libcurl frees it.
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const {
    for (curl_slist* p = list; p != nullptr; p = p->next) {
      if (p->data != nullptr) OPENSSL_cleanse(p->data, std::strlen(p->data));
    }
    curl_slist_free_all(list);
  }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Appends "Name: value" to *list; the temporary line is wiped as well.
bool AppendHeader(CurlSlist* list, const std::string& name, const std::string& value) {
  std::string line;
  line.reserve(name.size() + 2 + value.size());
  line.append(name).append(": ").append(value);
  curl_slist* next = curl_slist_append(list->get(), line.c_str());
  OPENSSL_cleanse(line.data(), line.size());
  if (next == nullptr) return false;
  list->release();
  list->reset(next);
  return true;
}

struct Sink {
  HttpResponse* response;
  int64_t max_bytes;
  bool too_large = false;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (static_cast<int64_t>(sink->response->body.size() + n) > sink->max_bytes) {
    sink->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    sink->response->headers.clear();  // a new response (after 100 Continue or a proxy's reply)
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  sink->response->headers.push_back({std::string(TrimAsciiSpace(line.substr(0, colon))),
                                     std::string(TrimAsciiSpace(line.substr(colon + 1)))});
  return n;
}

// The URL's host is loopback (the same test as for plain http://).
bool IsLoopbackUrl(const std::string& url) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return false;
  char* host = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr) return false;
  const bool loopback = IsLoopbackHost(host);
  curl_free(host);
  return loopback;
}

std::string OneLine(const char* buf, CURLcode code) {
  std::string s = (buf != nullptr && buf[0] != '\0') ? buf : curl_easy_strerror(code);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return std::string(TrimAsciiSpace(s));
}

class CurlHttpClient : public HttpClient {
 public:
  CurlHttpClient(const HttpClientOptions& options, CurlEasy handle)
      : options_(options), handle_(std::move(handle)) {}

  bool Post(const std::string& url, const HttpHeaders& headers, std::string_view body,
            HttpResponse* out, HttpFailure* failure) override {
    return Perform(true, url, headers, body, out, failure);
  }
  bool Get(const std::string& url, const HttpHeaders& headers, HttpResponse* out,
           HttpFailure* failure) override {
    return Perform(false, url, headers, {}, out, failure);
  }

 private:
  bool Perform(bool post, const std::string& url, const HttpHeaders& headers, std::string_view body,
               HttpResponse* out, HttpFailure* failure) {
    *out = HttpResponse();
    *failure = HttpFailure();
    CURL* h = handle_.get();
    // reset keeps the connection, DNS and TLS session caches: keep-alive across requests.
    curl_easy_reset(h);
    CurlSlist list;
    for (const auto& hd : headers) {
      // libcurl sends a value as it is: a CR or LF in it (e.g. from --client-id) would end the
      // header and inject others (header injection). Refused before anything is sent; the
      // value is not echoed (it may be the API key).
      for (char c : hd.value) {
        if (c == '\r' || c == '\n' || c == '\0') {
          return Fail(HttpFailure::Kind::kFatal,
                      "the value of HTTP header " + hd.name +
                          " contains a line break or NUL byte; fix: remove control characters "
                          "from the value (e.g. --client-id, --processing-type, --key-column, "
                          "SDP_API_KEY)",
                      failure);
        }
      }
      if (!AppendHeader(&list, hd.name, hd.value))
        return Fail(HttpFailure::Kind::kFatal, "out of memory", failure);
    }
    // No "Expect: 100-continue" round trip before large bodies.
    if (post && !AppendHeader(&list, "Expect", "")) {
      return Fail(HttpFailure::Kind::kFatal, "out of memory", failure);
    }
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    Sink sink{out, options_.max_response_bytes};

    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_seconds);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    // TLS: verification is never turned off (these are libcurl's defaults, set explicitly so
    // that no later edit can silently drop them).
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (!options_.system_ca_dir.empty()) {
      // In place of libcurl's built-in CA file and directory (tests).
      curl_easy_setopt(h, CURLOPT_CAINFO, nullptr);
      curl_easy_setopt(h, CURLOPT_CAPATH, options_.system_ca_dir.c_str());
    }
    if (!options_.ca_bundle.empty()) {
      // Only the bundle: libcurl would otherwise also trust every CA in its CA directory
      // (CAPATH, /etc/ssl/certs on Debian), so a bundle meant to pin one private CA would pin
      // nothing.
      curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_bundle.c_str());
      curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
    }
    // Proxies: libcurl reads http_proxy, HTTPS_PROXY, ALL_PROXY from the environment and would
    // send X-API-Key (and, for http://, the data) to whatever they name, loopback servers
    // included. "" switches that off; SDP_PROXY is used for other hosts only.
    if (options_.proxy.empty() || IsLoopbackUrl(url)) {
      curl_easy_setopt(h, CURLOPT_PROXY, "");
    } else {
      curl_easy_setopt(h, CURLOPT_PROXY, options_.proxy.c_str());
      curl_easy_setopt(h, CURLOPT_NOPROXY, "");  // NO_PROXY from the environment is not read
    }
    if (!options_.client_cert.empty()) {
      curl_easy_setopt(h, CURLOPT_SSLCERT, options_.client_cert.c_str());
      curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!options_.client_key.empty()) {
      curl_easy_setopt(h, CURLOPT_SSLKEY, options_.client_key.c_str());
      curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    if (post) {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      // Pointer to the caller's bytes, not copied; empty body = "" (never read from stdin).
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }

    const CURLcode rc = curl_easy_perform(h);
    // The list must not outlive this call in the handle.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
      return true;
    }
    if (sink.too_large) {
      return Fail(HttpFailure::Kind::kFatal,
                  "response larger than " + std::to_string(options_.max_response_bytes) + " bytes",
                  failure);
    }
    return Classify(rc, OneLine(errbuf, rc), failure);
  }

  bool Classify(CURLcode rc, const std::string& detail, HttpFailure* failure) {
    const std::string bundle = options_.ca_bundle.empty()
                                   ? "the system CA store (SDP_CA_BUNDLE unset)"
                                   : "SDP_CA_BUNDLE=" + options_.ca_bundle;
    switch (rc) {
      case CURLE_PEER_FAILED_VERIFICATION:
        if (detail.find("subject name") != std::string::npos ||
            detail.find("host name") != std::string::npos) {
          return Fail(HttpFailure::Kind::kTls,
                      "TLS: server certificate does not match the host name in SDP_SERVER_URL (" +
                          detail +
                          "); fix: use the name the certificate was issued for, or reissue it",
                      failure);
        }
        return Fail(HttpFailure::Kind::kTls,
                    "TLS: server certificate not trusted by " + bundle + " (" + detail +
                        "); fix: set SDP_CA_BUNDLE to the PEM file of the CA that signed the "
                        "server's certificate",
                    failure);
      case CURLE_SSL_CACERT_BADFILE:
        return Fail(HttpFailure::Kind::kFatal,
                    "TLS: cannot load " + bundle + " (" + detail +
                        "); fix: point SDP_CA_BUNDLE at a readable PEM file",
                    failure);
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CIPHER:
      case CURLE_SSL_ENGINE_NOTFOUND:
      case CURLE_SSL_ENGINE_SETFAILED:
      case CURLE_SSL_ENGINE_INITFAILED:
        return Fail(HttpFailure::Kind::kFatal,
                    "TLS: cannot use the client certificate or key (" + detail +
                        "); fix: check the mTLS certificate and key files (PEM, matching pair)",
                    failure);
      case CURLE_SSL_CONNECT_ERROR:
        return Fail(HttpFailure::Kind::kTls,
                    "TLS handshake failed (" + detail +
                        "); fix: check that the URL names the HTTPS port and, if the server "
                        "requires one, that a client certificate is configured",
                    failure);
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
      case CURLE_NOT_BUILT_IN:
      case CURLE_OUT_OF_MEMORY:
      case CURLE_TOO_MANY_REDIRECTS:
        return Fail(HttpFailure::Kind::kFatal, detail, failure);
      default:
        // Resolve, connect, reset, timeout, empty reply, partial transfer: transient.
        return Fail(HttpFailure::Kind::kNetwork, detail, failure);
    }
  }

  static bool Fail(HttpFailure::Kind kind, std::string message, HttpFailure* failure) {
    failure->kind = kind;
    failure->message = std::move(message);
    return false;
  }

  HttpClientOptions options_;
  CurlEasy handle_;
};

bool CheckReadable(const std::string& path, const char* what, std::string* err) {
  if (path.empty() || access(path.c_str(), R_OK) == 0) return true;
  *err = std::string(what) + " " + path + ": " + std::strerror(errno);
  return false;
}

}  // namespace

const std::string* HttpResponse::Header(std::string_view name) const {
  for (const auto& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return &h.value;
  }
  return nullptr;
}

std::unique_ptr<HttpClient> NewCurlHttpClient(const HttpClientOptions& options, std::string* err) {
  if (!CheckReadable(options.ca_bundle, "cannot read SDP_CA_BUNDLE", err) ||
      !CheckReadable(options.client_cert, "cannot read the client certificate", err) ||
      !CheckReadable(options.client_key, "cannot read the client key", err)) {
    return nullptr;
  }
  if (!options.client_key.empty() && options.client_cert.empty()) {
    *err = "a client key was given without a client certificate";
    return nullptr;
  }
  CurlEasy handle(curl_easy_init());
  if (!handle) {
    *err = "cannot initialise libcurl";
    return nullptr;
  }
  return std::make_unique<CurlHttpClient>(options, std::move(handle));
}

bool IsSecretHeader(std::string_view name) {
  static constexpr std::string_view kSecret[] = {"x-api-key", "authorization",
                                                 "proxy-authorization", "cookie", "set-cookie"};
  for (std::string_view s : kSecret) {
    if (EqualsIgnoreCase(name, s)) return true;
  }
  return false;
}

std::string RedactHeaders(const HttpHeaders& headers) {
  std::string out;
  for (const auto& h : headers) {
    if (!out.empty()) out += "; ";
    out += h.name;
    out += ": ";
    out += IsSecretHeader(h.name) ? "[redacted]" : h.value;
  }
  return out;
}

}  // namespace sdp
