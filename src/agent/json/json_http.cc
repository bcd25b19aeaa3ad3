// cpp-httplib listeners for the JSON services: requests are handed to the service as a
// ServiceRequest (the body as a view), the service answers, nothing else happens here (no body,
// header or key is ever logged).
#include "agent/json/json_http.h"

#include <httplib.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "agent/support/log.h"
#include "agent/support/signals.h"
#include "common/atomic_file.h"

namespace sdp {
namespace {

// The body is moved, not copied (set_content copies: a bulk answer is megabytes).
void Answer(ServiceResponse r, httplib::Response* res) {
  res->status = r.status;
  res->body = std::move(r.body);
  res->set_header("Content-Type", r.content_type);
  if (r.retry_after > 0) res->set_header("Retry-After", std::to_string(r.retry_after));
  res->set_header("Cache-Control", "no-store");
  res->set_header("X-Content-Type-Options", "nosniff");
}

void AnswerUpload(const UploadAnswer& a, httplib::Response* res) {
  res->status = a.status;
  if (!a.body.empty()) res->set_content(a.body, a.content_type.c_str());
  for (const auto& [name, value] : a.headers) res->set_header(name.c_str(), value);
  res->set_header("Cache-Control", "no-store");
  res->set_header("X-Content-Type-Options", "nosniff");
}

UploadRequestHead HeadOf(const httplib::Request& req) {
  UploadRequestHead h;
  h.method = req.method;
  h.path = req.path;
  h.has_host = req.has_header("Host");
  if (h.has_host) h.host = req.get_header_value("Host");
  h.has_origin = req.has_header("Origin");
  if (h.has_origin) h.origin = req.get_header_value("Origin");
  h.has_api_key = req.has_header("X-API-Key");
  if (h.has_api_key) h.api_key = req.get_header_value("X-API-Key");
  if (req.has_header("Content-Length")) {
    const std::string v = req.get_header_value("Content-Length");
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    h.has_content_length =
        !v.empty() && end != nullptr && *end == '\0' &&
        std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    h.content_length = n;
  }
  h.request_method = req.get_header_value("Access-Control-Request-Method");
  h.request_headers = req.get_header_value("Access-Control-Request-Headers");
  h.request_private_network =
      req.get_header_value("Access-Control-Request-Private-Network") == "true";
  return h;
}

// The upload routes go first: the JSON service's catch-all would take them otherwise. Every
// check runs in the pre-routing handler, before a byte of the body is read.
void InstallUpload(httplib::Server* server, LocalUploadService* upload, size_t json_max_body) {
  server->set_pre_routing_handler([upload, json_max_body](const httplib::Request& req,
                                                          httplib::Response& res) {
    if (!LocalUploadService::Owns(req.path)) {
      // The listener takes upload-sized bodies now; the JSON endpoints keep their own limit
      // without buffering a larger body first.
      const UploadRequestHead h = HeadOf(req);
      if (h.has_content_length && h.content_length > json_max_body) {
        Answer(JsonService::Problem(413, "Payload Too Large", "the body is over --max-body-bytes"),
               &res);
        res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    UploadAnswer refusal;
    if (upload->CheckRequest(HeadOf(req), &refusal)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    AnswerUpload(refusal, &res);
    // The body (if any) was not read: the connection cannot carry another request.
    if (req.method == "POST") res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  server->Post("/upload", [upload](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& content_reader) {
    const UploadRequestHead h = HeadOf(req);
    std::string path, err;
    int fd = -1;
    if (!upload->NewBodyFile(&path, &fd, &err)) {
      AnswerUpload(upload->Problem(h, 500, "Internal Server Error", err), &res);
      return;
    }
    uint64_t bytes = 0;
    bool write_ok = true;
    const bool read_ok = content_reader([&](const char* data, size_t len) {
      bytes += len;
      if (bytes > h.content_length) return false;  // more than announced
      while (len > 0) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return write_ok = false;
        data += n;
        len -= static_cast<size_t>(n);
      }
      return true;
    });
    const bool closed = ::close(fd) == 0;
    const bool complete = read_ok && write_ok && closed && bytes == h.content_length;
    AnswerUpload(upload->Start(h, path, bytes, req.get_header_value("X-Processing-Type"), complete),
                 &res);
  });
  server->Get(R"(/upload(/.*)?)", [upload](const httplib::Request& req, httplib::Response& res) {
    AnswerUpload(upload->Get(HeadOf(req)), &res);
  });
}

void Install(httplib::Server* server, JsonService* service, JsonServiceRole role,
             size_t max_body_bytes, int threads, LocalUploadService* upload,
             size_t upload_max_body_bytes) {
  // One byte over the service's limit reaches the service, which answers 413 with a problem
  // document; anything larger is cut off by the library, whose 413 the error handler dresses.
  server->set_payload_max_length(std::max(max_body_bytes, upload_max_body_bytes) + 1);
  if (upload != nullptr) InstallUpload(server, upload, max_body_bytes + 1);
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_read_timeout(10, 0);
  server->set_write_timeout(10, 0);
  const auto handle = [service, role](const httplib::Request& req, httplib::Response& res) {
    ServiceRequest r;
    r.method = req.method;
    r.path = req.path;
    r.has_api_key = req.has_header("X-API-Key");
    if (r.has_api_key) r.api_key = req.get_header_value("X-API-Key");
    r.body = req.body;
    Answer(service->Handle(role, r), &res);
  };
  const char* any = R"(/.*)";
  server->Get(any, handle);
  server->Post(any, handle);
  server->Delete(any, handle);
  server->Put(any, handle);
  server->Patch(any, handle);
  server->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* title = res.status == 413   ? "Payload Too Large"
                        : res.status == 400 ? "Bad Request"
                        : res.status == 404 ? "Not Found"
                                            : "Error";
    Answer(JsonService::Problem(res.status, title, "refused by the HTTP layer"), &res);
  });
}

}  // namespace

bool ServeJson(JsonService* service, const JsonHttpOptions& options, size_t max_body_bytes,
               std::string* err) {
  // A bulk request's body and answer are megabytes each. Above glibc's mmap threshold every such
  // buffer is a fresh mapping whose pages fault in on first touch and go back to the kernel when
  // freed: measured, a sixth of the bulk endpoint's CPU was those page faults. Buffers up to the
  // body limit stay in the heap and are reused. (Freed heap is no more exposed than live heap:
  // the agent runs without core dumps, secret_env.cc.)
  const size_t keep = std::max<size_t>(max_body_bytes * 2, size_t{64} << 20);
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<size_t>(keep, size_t{1} << 30)));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<size_t>(keep * 2, size_t{1} << 30)));
  httplib::Server servers[2];
  const JsonServiceRole roles[2] = {JsonServiceRole::kPseudonymize,
                                    JsonServiceRole::kRepersonalize};
  const int wanted[2] = {options.pseudonymize_port, options.repersonalize_port};
  int ports[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    LocalUploadService* upload = i == 0 ? options.upload : nullptr;
    Install(&servers[i], service, roles[i], max_body_bytes, options.threads, upload,
            upload != nullptr ? options.upload_max_body_bytes : 0);
    if (wanted[i] == 0) {
      ports[i] = servers[i].bind_to_any_port(options.host);
    } else if (servers[i].bind_to_port(options.host, wanted[i])) {
      ports[i] = wanted[i];
    }
    if (ports[i] <= 0) {
      *err = "cannot listen on " + options.host + ":" + std::to_string(wanted[i]) +
             "; fix: choose another port (0 picks a free one)";
      return false;
    }
  }
  if (options.upload != nullptr) options.upload->SetPort(ports[0]);
  if (!options.port_file.empty()) {
    AtomicOutputFile file;
    const std::string text = "pseudonymize=" + std::to_string(ports[0]) +
                             "\nrepersonalize=" + std::to_string(ports[1]) + "\n";
    if (!file.Open(options.port_file, err, 0644) ||
        !file.sink()->Write(text.data(), text.size(), err) || !file.Commit(err)) {
      return false;
    }
  }
  std::thread threads[2];
  for (int i = 0; i < 2; ++i)
    threads[i] = std::thread([&servers, i] { servers[i].listen_after_bind(); });
  log::Event(log::Level::kInfo, "json_service_started", "",
             "\"pseudonymize_port\":" + std::to_string(ports[0]) +
                 ",\"repersonalize_port\":" + std::to_string(ports[1]));
  auto last_purge = std::chrono::steady_clock::now();
  while (!Interrupted()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    service->SetPeerRunning(JsonServiceRole::kPseudonymize, servers[0].is_running());
    service->SetPeerRunning(JsonServiceRole::kRepersonalize, servers[1].is_running());
    if (std::chrono::steady_clock::now() - last_purge > std::chrono::seconds(60)) {
      const uint64_t purged = service->PurgeExpired();
      if (purged > 0) {
        log::Event(log::Level::kInfo, "json_records_purged", "",
                   "\"records\":" + std::to_string(purged));
      }
      last_purge = std::chrono::steady_clock::now();
    }
  }
  for (auto& server : servers) server.stop();
  for (auto& thread : threads) thread.join();
  log::Event(log::Level::kInfo, "json_service_stopped");
  return true;
}

}  // namespace sdp
